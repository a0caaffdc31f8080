// SPDX-License-Identifier: GPL-2.0
#include <stdlib.h>
#include <string.h>

#include "output.h"

const char *who_label(const struct bench *b)
{
	if (b->cfg.sc->fork_child)
		return "child";
	return b->cfg.sc->forks ? who_name(b->cfg.who) : "self";
}

static const char *tri(int v)
{
	return v < 0 ? "null" : v ? "true" : "false";
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
	if (c->sc->fork_child) {
		fprintf(f, ",\"child\":\"%s\",\"odf\":\"%s\",\"exec\":",
			child_name(c->child), odf_name(c->odf));
		if (c->child == CHILD_EXEC)
			json_str(f, c->exec_path);
		else
			fprintf(f, "null");
		fprintf(f,
			",\"page_times\":%s,\"odf_supported\":%s,\"odf_sysctl\":",
			c->page_times ? "true" : "false",
			tri(b->odf_supported));
		if (b->odf_sysctl >= 0)
			fprintf(f, "%lld", b->odf_sysctl);
		else
			fprintf(f, "null");
	}
	if (c->sc->windows)
		fprintf(f, ",\"window\":%llu", (unsigned long long)c->window);
	if (c->no_madvise)
		fprintf(f, ",\"no_madvise\":true");
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

static void json_i64(FILE *f, const char *name, int64_t v)
{
	if (v == NA_I64)
		fprintf(f, ",\"%s\":null", name);
	else
		fprintf(f, ",\"%s\":%lld", name, (long long)v);
}

static void json_fork(FILE *f, const struct fork_out *k)
{
	int i;

	fprintf(f,
		",\"total_ns\":%llu,\"total_raw_ns\":%llu,\"child_overhead_ns\":%llu",
		(unsigned long long)k->total_ns,
		(unsigned long long)k->total_raw_ns,
		(unsigned long long)k->child_overhead_ns);
	json_i64(f, "parent_vmpte_kb", k->parent_vmpte_kb);
	json_i64(f, "parent_vmpte_after_kb", k->parent_vmpte_after_kb);
	json_i64(f, "child_vmpte_fork_kb", k->child_vmpte_fork_kb);
	json_i64(f, "child_vmpte_write_kb", k->child_vmpte_write_kb);
	json_i64(f, "sys_pt_kb_before", k->sys_pt_kb_before);
	json_i64(f, "sys_pt_kb_fork", k->sys_pt_kb_fork);
	json_i64(f, "sys_pt_kb_write", k->sys_pt_kb_write);
	json_i64(f, "sys_pt_kb_after", k->sys_pt_kb_after);
	fprintf(f, ",\"sys_pt_exact\":%s", k->sys_pt_exact ? "true" : "false");
	if (k->odf_prctl >= 0)
		fprintf(f, ",\"odf_prctl\":%d", k->odf_prctl);
	else
		fprintf(f, ",\"odf_prctl\":null");
	fprintf(f, ",\"rep_vmstat\":{");
	for (i = 0; k->vm_valid && i < vmstat_count(); i++)
		fprintf(f, "%s\"%s\":%lld", i ? "," : "", vmstat_name(i),
			(long long)k->vm_delta[i]);
	fputc('}', f);
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
	fputc('}', f);
	if (o->fk.valid)
		json_fork(f, &o->fk);
	fprintf(f, "}\n");
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

static int cmp_i64(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return x < y ? -1 : x > y;
}

/* min, median, max of the measured values of v[0..n); how many there were */
static unsigned int mmm_i64(const int64_t *v, unsigned int n, int64_t out[3])
{
	int64_t *t = malloc((n ? n : 1) * sizeof(*t));
	unsigned int i, m = 0;

	if (!t)
		return 0;
	for (i = 0; i < n; i++)
		if (v[i] != NA_I64)
			t[m++] = v[i];
	if (m) {
		qsort(t, m, sizeof(*t), cmp_i64);
		out[0] = t[0];
		out[1] = m % 2 ? t[m / 2] : (t[m / 2 - 1] + t[m / 2]) / 2;
		out[2] = t[m - 1];
	}
	free(t);
	return m;
}

static const char *const fork_series_name[FORK_NSERIES] = {
	[FS_FORK] = "fork_ns",
	[FS_TOTAL] = "total_ns",
	[FS_TOTAL_RAW] = "total_raw_ns",
	[FS_OVERHEAD] = "child_overhead_ns",
	[FS_PARENT_VMPTE] = "parent_vmpte_kb",
	[FS_CHILD_VMPTE_FORK] = "child_vmpte_fork_kb",
	[FS_CHILD_VMPTE_WRITE] = "child_vmpte_write_kb",
	[FS_SYS_PT_FORK_DELTA] = "sys_pt_fork_delta_kb",
	[FS_SYS_PT_WRITE_DELTA] = "sys_pt_write_delta_kb",
};

int fork_agg_init(struct fork_agg *a, unsigned int reps)
{
	int i;

	memset(a, 0, sizeof(*a));
	for (i = 0; i < FORK_NSERIES; i++)
		if (!(a->s[i] = calloc(reps, sizeof(int64_t))))
			return -1;
	for (i = 0; i < vmstat_count() && a->nodf < MAX_ODF_CTR; i++) {
		if (strncmp(vmstat_name(i), "cow_odf_", 8))
			continue;
		a->odf_idx[a->nodf] = i;
		if (!(a->odf[a->nodf] = calloc(reps, sizeof(int64_t))))
			return -1;
		a->nodf++;
	}
	return 0;
}

static int64_t delta_i64(int64_t x, int64_t y)
{
	return x == NA_I64 || y == NA_I64 ? NA_I64 : x - y;
}

void fork_agg_add(struct fork_agg *a, const struct rep_out *o)
{
	const struct fork_out *k = &o->fk;
	const unsigned int i = a->n++;
	int j;

	a->s[FS_FORK][i] = o->has_fork ? (int64_t)o->fork_ns : NA_I64;
	a->s[FS_TOTAL][i] = (int64_t)k->total_ns;
	a->s[FS_TOTAL_RAW][i] = (int64_t)k->total_raw_ns;
	a->s[FS_OVERHEAD][i] = (int64_t)k->child_overhead_ns;
	a->s[FS_PARENT_VMPTE][i] = k->parent_vmpte_kb;
	a->s[FS_CHILD_VMPTE_FORK][i] = k->child_vmpte_fork_kb;
	a->s[FS_CHILD_VMPTE_WRITE][i] = k->child_vmpte_write_kb;
	a->s[FS_SYS_PT_FORK_DELTA][i] =
		delta_i64(k->sys_pt_kb_fork, k->sys_pt_kb_before);
	a->s[FS_SYS_PT_WRITE_DELTA][i] =
		delta_i64(k->sys_pt_kb_write, k->sys_pt_kb_before);
	for (j = 0; j < a->nodf; j++)
		a->odf[j][i] = k->vm_valid ? k->vm_delta[a->odf_idx[j]] :
					     NA_I64;
}

static void json_mmm_i64(FILE *f, const char *name, const int64_t *v,
			 unsigned int n)
{
	int64_t m[3];

	if (!mmm_i64(v, n, m))
		fprintf(f, "\"%s\":null", name);
	else
		fprintf(f, "\"%s\":[%lld,%lld,%lld]", name, (long long)m[0],
			(long long)m[1], (long long)m[2]);
}

static void json_fork_summary(FILE *f, const struct fork_agg *fa)
{
	char name[64];
	int i;

	for (i = 0; i < FORK_NSERIES; i++) {
		snprintf(name, sizeof(name), "%s_reps", fork_series_name[i]);
		fputc(',', f);
		json_mmm_i64(f, name, fa->s[i], fa->n);
	}
	fprintf(f, ",\"rep_vmstat_reps\":{");
	for (i = 0; i < fa->nodf; i++) {
		if (i)
			fputc(',', f);
		json_mmm_i64(f, vmstat_name(fa->odf_idx[i]), fa->odf[i], fa->n);
	}
	fputc('}', f);
}

void json_summary(FILE *f, const struct bench *b, const struct side_agg *a,
		  const struct fork_agg *fa)
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
	if (fa && fa->n)
		json_fork_summary(f, fa);
	json_hist(f, &a->merged);
	fprintf(f, "}\n");
	fflush(f);
}

static void fork_table_header(FILE *f, const struct bench *b)
{
	const struct cfg *c = &b->cfg;
	char sz[32], un[32];

	format_size(c->size, sz, sizeof(sz));
	format_size(c->unit, un, sizeof(un));
	fprintf(f, "# cowbench fork: page=%s child=%s", c->kind.name,
		child_name(c->child));
	if (c->child == CHILD_EXEC)
		fprintf(f, " exec=%s", c->exec_path);
	if (c->child == CHILD_WRITE)
		fprintf(f,
			" touch_frac=%g writes=%zu pattern=%s bytes=%llu page_times=%s",
			c->touch_frac, b->nwrites, pattern_name(c->pattern),
			(unsigned long long)c->bytes,
			c->page_times ? "on" : "off");
	fprintf(f, " odf=%s (prctl %d; PR_SET_COW_ODF %s; vm.cow_odf=",
		odf_name(c->odf), odf_prctl_arg(c->odf),
		b->odf_supported > 0 ? "present" : "absent: vanilla fork");
	if (b->odf_sysctl >= 0)
		fprintf(f, "%lld)", b->odf_sysctl);
	else
		fprintf(f, "n/a)");
	if (c->label)
		fprintf(f, " label=%s", c->label);
	fprintf(f,
		" size=%s (%llu x %s) reps=%llu clock=CLOCK_MONOTONIC\n"
		"# total = fork() to waitpid() return in the parent, minus the child's probes (ovh);"
		" VmPTE and sysPT in kB; sysPT = nr_page_table_pages minus its value before fork\n",
		sz, (unsigned long long)b->npages, un,
		(unsigned long long)c->reps);
	fprintf(f,
		"%-4s %9s %10s %7s %8s %8s %9s %7s %7s %8s %9s %9s %9s %9s %9s %8s %8s %7s\n",
		"rep", "fork_us", "total_us", "ovh_us", "writes", "faults",
		"touch_ms", "p50_ns", "p99_ns", "max_ns", "pVmPTE", "cVmPTE",
		"cVmPTE_w", "sysPT_f", "sysPT_w", "odf_shr", "odf_cpy",
		"page_ok");
}

/* v, or "-" when not measured */
static const char *i64s(int64_t v, char *buf, size_t len)
{
	if (v == NA_I64)
		snprintf(buf, len, "-");
	else
		snprintf(buf, len, "%lld", (long long)v);
	return buf;
}

/* the rep's delta of vmstat counter name, NA_I64 if absent */
static int64_t fork_vm(const struct fork_out *k, const char *name)
{
	int i;

	for (i = 0; k->vm_valid && i < vmstat_count(); i++)
		if (!strcmp(vmstat_name(i), name))
			return k->vm_delta[i];
	return NA_I64;
}

static void fork_table_row(FILE *f, unsigned int rep, const struct rep_out *o,
			   const struct side_result *res)
{
	const struct fork_out *k = &o->fk;
	const struct hist *h = &res->hist;
	char b[7][24];

	fprintf(f,
		"%-4u %9.1f %10.1f %7.1f %8llu %8llu %9.3f %7llu %7llu %8llu %9s %9s %9s %9s %9s %8s %8s %7s\n",
		rep, (double)o->fork_ns / 1e3, (double)k->total_ns / 1e3,
		(double)k->child_overhead_ns / 1e3,
		(unsigned long long)res->writes,
		(unsigned long long)(res->minflt + res->majflt),
		(double)res->wall_ns / 1e6,
		(unsigned long long)hist_quantile(h, 0.50),
		(unsigned long long)hist_quantile(h, 0.99),
		(unsigned long long)h->max,
		i64s(k->parent_vmpte_kb, b[0], sizeof(b[0])),
		i64s(k->child_vmpte_fork_kb, b[1], sizeof(b[1])),
		i64s(k->child_vmpte_write_kb, b[2], sizeof(b[2])),
		i64s(delta_i64(k->sys_pt_kb_fork, k->sys_pt_kb_before), b[3],
		     sizeof(b[3])),
		i64s(delta_i64(k->sys_pt_kb_write, k->sys_pt_kb_before), b[4],
		     sizeof(b[4])),
		i64s(fork_vm(k, "cow_odf_shared"), b[5], sizeof(b[5])),
		i64s(fork_vm(k, "cow_odf_copied"), b[6], sizeof(b[6])),
		o->pc.ok ? "yes" : "NO");
	fflush(f);
}

/* " name a/b/c" of series v scaled by 1/div, or " name -" */
static void table_mmm(FILE *f, const char *name, const int64_t *v,
		      unsigned int n, double div, int prec)
{
	int64_t m[3];

	if (!mmm_i64(v, n, m)) {
		fprintf(f, "  %s -", name);
		return;
	}
	fprintf(f, "  %s %.*f/%.*f/%.*f", name, prec, (double)m[0] / div, prec,
		(double)m[1] / div, prec, (double)m[2] / div);
}

static void fork_table_summary(FILE *f, const struct side_agg *a,
			       const struct fork_agg *fa)
{
	uint64_t p50[3], p99[3], wall[3];
	int i;

	fprintf(f, "summary %s over %u reps (min/median/max):", a->side, fa->n);
	table_mmm(f, "fork_us", fa->s[FS_FORK], fa->n, 1e3, 1);
	table_mmm(f, "total_us", fa->s[FS_TOTAL], fa->n, 1e3, 1);
	table_mmm(f, "ovh_us", fa->s[FS_OVERHEAD], fa->n, 1e3, 1);
	if (a->writes) {
		mmm(a->wall, a->n, wall);
		fprintf(f, "  touch_ms %.3f/%.3f/%.3f", (double)wall[0] / 1e6,
			(double)wall[1] / 1e6, (double)wall[2] / 1e6);
	}
	if (a->merged.count) {
		mmm(a->p50, a->n, p50);
		mmm(a->p99, a->n, p99);
		fprintf(f, "  p50_ns %llu/%llu/%llu  p99_ns %llu/%llu/%llu",
			(unsigned long long)p50[0], (unsigned long long)p50[1],
			(unsigned long long)p50[2], (unsigned long long)p99[0],
			(unsigned long long)p99[1], (unsigned long long)p99[2]);
	}
	fprintf(f, "\nsummary page tables (kB, min/median/max):");
	table_mmm(f, "parent_VmPTE", fa->s[FS_PARENT_VMPTE], fa->n, 1, 0);
	table_mmm(f, "child_VmPTE_fork", fa->s[FS_CHILD_VMPTE_FORK], fa->n, 1,
		  0);
	table_mmm(f, "child_VmPTE_write", fa->s[FS_CHILD_VMPTE_WRITE], fa->n, 1,
		  0);
	table_mmm(f, "sys_delta_fork", fa->s[FS_SYS_PT_FORK_DELTA], fa->n, 1,
		  0);
	table_mmm(f, "sys_delta_write", fa->s[FS_SYS_PT_WRITE_DELTA], fa->n, 1,
		  0);
	fprintf(f, "\nsummary counters per rep (min/median/max):");
	if (!fa->nodf)
		fprintf(f, " no cow_odf_* in /proc/vmstat");
	for (i = 0; i < fa->nodf; i++)
		table_mmm(f, vmstat_name(fa->odf_idx[i]), fa->odf[i], fa->n, 1,
			  0);
	fputc('\n', f);
	fflush(f);
}

void table_header(FILE *f, const struct bench *b)
{
	const struct cfg *c = &b->cfg;
	char sz[32], un[32];

	if (c->sc->fork_child) {
		fork_table_header(f, b);
		return;
	}
	format_size(c->size, sz, sizeof(sz));
	format_size(c->unit, un, sizeof(un));
	fprintf(f, "# cowbench %s: page=%s who=%s%s pattern=%s", c->sc->name,
		c->kind.name, who_label(b), c->exit_early ? " exit-early" : "",
		pattern_name(c->pattern));
	if (c->pattern == PAT_STRIDE)
		fprintf(f, " stride=%llu", (unsigned long long)c->stride);
	if (c->pattern == PAT_RAND)
		fprintf(f, " seed=%llu", (unsigned long long)c->seed);
	if (c->sc->windows)
		fprintf(f, " window=%llu", (unsigned long long)c->window);
	if (c->no_madvise)
		fprintf(f, " no-madvise");
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

	if (b->cfg.sc->fork_child) {
		fork_table_row(f, rep, o, res);
		return;
	}
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

void table_summary(FILE *f, const struct bench *b, const struct side_agg *a,
		   const struct fork_agg *fa)
{
	uint64_t p50[3], p99[3], wall[3];
	const struct hist *h = &a->merged;

	if (!a->n)
		return;
	if (b->cfg.sc->fork_child && fa) {
		fork_table_summary(f, a, fa);
		return;
	}
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
