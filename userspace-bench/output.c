// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <string.h>

#include "output.h"

const char *who_label(const struct bench *b)
{
	return b->cfg.sc->forks ? who_name(b->cfg.who) : "self";
}

static void json_str(FILE *f, const char *s)
{
	fputc('"', f);
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			fprintf(f, "\\%c", c);
		else if (c < 0x20)
			fprintf(f, "\\u%04x", c);
		else
			fputc(c, f);
	}
	fputc('"', f);
}

static void json_cfg(FILE *f, const struct bench *b, const char *type)
{
	const struct cfg *c = &b->cfg;

	fprintf(f,
		"{\"type\":\"%s\",\"bench\":\"cowbench\",\"scenario\":", type);
	json_str(f, c->sc->name);
	fprintf(f, ",\"page\":");
	json_str(f, c->kind.name);
	fprintf(f,
		",\"who\":\"%s\",\"pattern\":\"%s\",\"size\":%llu,\"unit\":%llu,"
		"\"bytes\":%llu,\"pages\":%llu,\"stride\":%llu,\"seed\":%llu,"
		"\"touch_frac\":%g,\"exit_early\":%s,\"kernel\":",
		who_label(b), pattern_name(c->pattern),
		(unsigned long long)c->size, (unsigned long long)c->unit,
		(unsigned long long)c->bytes, (unsigned long long)b->npages,
		(unsigned long long)c->stride, (unsigned long long)c->seed,
		c->touch_frac, c->exit_early ? "true" : "false");
	json_str(f, b->kernel);
	fprintf(f, ",\"clock\":\"CLOCK_MONOTONIC\"");
	if (c->label) {
		fprintf(f, ",\"label\":");
		json_str(f, c->label);
	}
}

static void json_hist(FILE *f, const struct hist *h)
{
	unsigned int i;
	bool first = true;

	fprintf(f, ",\"hist\":[");
	for (i = 0; i < HIST_NBUCKETS; i++) {
		if (!h->buckets[i])
			continue;
		fprintf(f, "%s[%llu,%llu]", first ? "" : ",",
			(unsigned long long)hist_bucket_lo(i),
			(unsigned long long)h->buckets[i]);
		first = false;
	}
	fputc(']', f);
}

static void json_pcts(FILE *f, const struct hist *h)
{
	fprintf(f,
		",\"min_ns\":%llu,\"p50_ns\":%llu,\"p90_ns\":%llu,\"p99_ns\":%llu,"
		"\"p999_ns\":%llu,\"max_ns\":%llu,\"mean_ns\":%.1f",
		(unsigned long long)(h->count ? h->min : 0),
		(unsigned long long)hist_quantile(h, 0.50),
		(unsigned long long)hist_quantile(h, 0.90),
		(unsigned long long)hist_quantile(h, 0.99),
		(unsigned long long)hist_quantile(h, 0.999),
		(unsigned long long)h->max, hist_mean(h));
}

static const char *tri(int v)
{
	return v < 0 ? "null" : v ? "true" : "false";
}

void json_result(FILE *f, const struct bench *b, unsigned int rep,
		 const struct rep_out *o, const struct side_result *res,
		 int verify)
{
	int i;

	json_cfg(f, b, "result");
	fprintf(f,
		",\"side\":\"%s\",\"rep\":%u,\"writes\":%llu,\"faults\":%llu,"
		"\"minflt\":%llu,\"majflt\":%llu,\"wall_ns\":%llu,",
		res->side, rep, (unsigned long long)res->writes,
		(unsigned long long)(res->minflt + res->majflt),
		(unsigned long long)res->minflt,
		(unsigned long long)res->majflt,
		(unsigned long long)res->wall_ns);
	if (o->has_fork)
		fprintf(f, "\"fork_ns\":%llu", (unsigned long long)o->fork_ns);
	else
		fprintf(f, "\"fork_ns\":null");
	fprintf(f, ",\"clock_overhead_ns\":%llu",
		(unsigned long long)res->clock_overhead_ns);
	json_pcts(f, &res->hist);
	fprintf(f, ",\"rss_kb\":%llu,\"page_ok\":%s,\"page_info\":",
		(unsigned long long)res->rss_kb, o->pc.ok ? "true" : "false");
	json_str(f, o->pc.info);
	fprintf(f, ",\"verify\":%s", tri(verify));
	json_hist(f, &res->hist);
	fprintf(f, ",\"vmstat\":{");
	for (i = 0; res->vm_valid && i < vmstat_count(); i++)
		fprintf(f, "%s\"%s\":%lld", i ? "," : "", vmstat_name(i),
			(long long)res->vm_delta[i]);
	fprintf(f, "}}\n");
	fflush(f);
}

void json_skip(FILE *f, const struct bench *b, const char *reason)
{
	json_cfg(f, b, "result");
	fprintf(f, ",\"skipped\":");
	json_str(f, reason);
	fprintf(f, "}\n");
	fflush(f);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* min, median, max of v[0..n) (v is sorted in place) */
static void mmm(uint64_t *v, unsigned int n, uint64_t out[3])
{
	qsort(v, n, sizeof(*v), cmp_u64);
	out[0] = v[0];
	out[1] = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	out[2] = v[n - 1];
}

void json_summary(FILE *f, const struct bench *b, const struct side_agg *a)
{
	uint64_t p50[3], p99[3], wall[3];

	if (!a->n)
		return;
	mmm(a->p50, a->n, p50);
	mmm(a->p99, a->n, p99);
	mmm(a->wall, a->n, wall);
	json_cfg(f, b, "summary");
	fprintf(f,
		",\"side\":\"%s\",\"reps\":%u,\"writes\":%llu,\"faults\":%llu",
		a->side, a->n, (unsigned long long)a->writes,
		(unsigned long long)a->faults);
	json_pcts(f, &a->merged);
	fprintf(f,
		",\"p50_ns_reps\":[%llu,%llu,%llu],\"p99_ns_reps\":[%llu,%llu,%llu],"
		"\"wall_ns_reps\":[%llu,%llu,%llu],\"page_ok\":%s,\"verify\":%s",
		(unsigned long long)p50[0], (unsigned long long)p50[1],
		(unsigned long long)p50[2], (unsigned long long)p99[0],
		(unsigned long long)p99[1], (unsigned long long)p99[2],
		(unsigned long long)wall[0], (unsigned long long)wall[1],
		(unsigned long long)wall[2], a->page_ok ? "true" : "false",
		tri(a->verify));
	json_hist(f, &a->merged);
	fprintf(f, "}\n");
	fflush(f);
}

void table_header(FILE *f, const struct bench *b)
{
	const struct cfg *c = &b->cfg;
	char sz[32], un[32];

	format_size(c->size, sz, sizeof(sz));
	format_size(c->unit, un, sizeof(un));
	fprintf(f, "# cowbench %s: page=%s who=%s%s pattern=%s", c->sc->name,
		c->kind.name, who_label(b), c->exit_early ? " exit-early" : "",
		pattern_name(c->pattern));
	if (c->pattern == PAT_STRIDE)
		fprintf(f, " stride=%llu", (unsigned long long)c->stride);
	if (c->pattern == PAT_RAND)
		fprintf(f, " seed=%llu", (unsigned long long)c->seed);
	if (c->label)
		fprintf(f, " label=%s", c->label);
	fprintf(f,
		" bytes=%llu size=%s (%llu x %s) writes=%zu reps=%llu clock=CLOCK_MONOTONIC (not subtracted)\n",
		(unsigned long long)c->bytes, sz, (unsigned long long)b->npages,
		un, b->nwrites, (unsigned long long)c->reps);
	fprintf(f,
		"%-4s %-6s %8s %8s %9s %10s %6s %8s %8s %8s %8s %8s %9s %7s\n",
		"rep", "side", "writes", "faults", "fork_us", "wall_ms",
		"clk_ns", "min_ns", "p50_ns", "p90_ns", "p99_ns", "p999_ns",
		"max_ns", "page_ok");
}

void table_row(FILE *f, const struct bench *b, unsigned int rep,
	       const struct rep_out *o, const struct side_result *res)
{
	const struct hist *h = &res->hist;
	char fork[32];

	(void)b;
	if (o->has_fork)
		snprintf(fork, sizeof(fork), "%.1f", (double)o->fork_ns / 1e3);
	else
		snprintf(fork, sizeof(fork), "-");
	fprintf(f,
		"%-4u %-6s %8llu %8llu %9s %10.3f %6llu %8llu %8llu %8llu %8llu %8llu %9llu %7s\n",
		rep, res->side, (unsigned long long)res->writes,
		(unsigned long long)(res->minflt + res->majflt), fork,
		(double)res->wall_ns / 1e6,
		(unsigned long long)res->clock_overhead_ns,
		(unsigned long long)(h->count ? h->min : 0),
		(unsigned long long)hist_quantile(h, 0.50),
		(unsigned long long)hist_quantile(h, 0.90),
		(unsigned long long)hist_quantile(h, 0.99),
		(unsigned long long)hist_quantile(h, 0.999),
		(unsigned long long)h->max, o->pc.ok ? "yes" : "NO");
	fflush(f);
}

void table_summary(FILE *f, const struct bench *b, const struct side_agg *a)
{
	uint64_t p50[3], p99[3], wall[3];
	const struct hist *h = &a->merged;

	(void)b;
	if (!a->n)
		return;
	fprintf(f,
		"%-4s %-6s %8llu %8llu %9s %10s %6s %8llu %8llu %8llu %8llu %8llu %9llu %7s\n",
		"all", a->side, (unsigned long long)a->writes,
		(unsigned long long)a->faults, "-", "-", "-",
		(unsigned long long)(h->count ? h->min : 0),
		(unsigned long long)hist_quantile(h, 0.50),
		(unsigned long long)hist_quantile(h, 0.90),
		(unsigned long long)hist_quantile(h, 0.99),
		(unsigned long long)hist_quantile(h, 0.999),
		(unsigned long long)h->max, a->page_ok ? "yes" : "NO");
	mmm(a->p50, a->n, p50);
	mmm(a->p99, a->n, p99);
	mmm(a->wall, a->n, wall);
	fprintf(f,
		"summary %s over %u reps (min/median/max): p50_ns %llu/%llu/%llu  p99_ns %llu/%llu/%llu  wall_ms %.3f/%.3f/%.3f\n",
		a->side, a->n, (unsigned long long)p50[0],
		(unsigned long long)p50[1], (unsigned long long)p50[2],
		(unsigned long long)p99[0], (unsigned long long)p99[1],
		(unsigned long long)p99[2], (double)wall[0] / 1e6,
		(double)wall[1] / 1e6, (double)wall[2] / 1e6);
	fflush(f);
}
