// SPDX-License-Identifier: GPL-2.0
/*
 * trap: the cheapest page fault. Read one byte of each --unit of a fresh
 * private anonymous mapping (MADV_NOHUGEPAGE), each read timed alone: every
 * read maps the shared zero page (trap, page-table walk, PTE install; no
 * allocation, no copy). page_ok: one minor fault per read, and the mapping
 * holds no page of its own (smaps Rss 0: zero-page mappings are not
 * counted; without smaps, the process's RSS grew by 128K at most). A host
 * anchor
 * (docs/host-anchors.md): what a COW fault costs beyond its trap.
 */
#include <stdio.h>

#include "../cowbench.h"

#define RSS_SLACK_KB 128 /* without smaps: the measuring's own stack */

struct read_ctx {
	const char *base;
	uint64_t unit;
	const uint32_t *order;
	uint8_t sink;
};

static int read_one(void *ctx, uint64_t k)
{
	struct read_ctx *c = ctx;

	c->sink += *(const volatile uint8_t *)(c->base +
					       (size_t)c->order[k] * c->unit);
	return 0;
}

static int trap_check(struct cfg *c, char *err, size_t len)
{
	if (c->bytes_set) {
		snprintf(
			err, len,
			"--bytes does not apply to --scenario trap (it reads one byte a unit)");
		return -1;
	}
	return 0;
}

static int trap_run(struct bench *b, unsigned int rep, struct rep_out *out)
{
	struct side_result *me = &b->sh->r[SIDE_PARENT];
	struct read_ctx c = { 0 };
	char err[MSG_LEN];
	struct region r;
	long long rss0, rss, slack = 0;
	const char *src = "smaps_rss_kb";
	uint64_t faults;

	(void)rep;
	if (region_create(b, &r, err, sizeof(err))) {
		fprintf(stderr, "cowbench: %s\n", err);
		return -1;
	}
	c.base = r.base;
	c.unit = b->cfg.unit;
	c.order = b->order;
	rss0 = (long long)statm_rss_kb();
	timed_run(me, "self", b->nwrites, read_one, &c);
	rss = region_rss_kb(&r);
	if (rss < 0) {
		rss = (long long)statm_rss_kb() - rss0;
		slack = RSS_SLACK_KB;
		src = "rss_delta_kb";
	}
	faults = me->minflt + me->majflt;
	out->pc.ok = faults == b->nwrites && rss <= slack;
	snprintf(out->pc.info, sizeof(out->pc.info),
		 "faults=%llu expected=%zu%s %s=%lld%s",
		 (unsigned long long)faults, b->nwrites,
		 faults == b->nwrites ? "" : " (BAD)", src, rss,
		 rss <= slack ? "" : " (BAD: not the zero page)");
	if (b->cfg.verify)
		verify_side(b, &r, me, 0);
	region_destroy(&r);
	return 0;
}

static const struct scenario trap = {
	.name = "trap",
	.help = "read each unit of a fresh mapping: zero-page fault, no alloc or copy",
	.kinds = KIND_BIT(KIND_4K) | KIND_BIT(KIND_ZERO),
	.check = trap_check,
	.run = trap_run,
};
SCENARIO(trap);
