// SPDX-License-Identifier: GPL-2.0
/*
 * memcpy: the copy a COW fault makes, without the fault. Two regions of
 * --size bytes are mapped and populated (the source then rewritten with a
 * value the destination does not hold, so --verify sees every copy); an
 * untimed pass copies the units once, then each memcpy() of --bytes (default
 * the whole --unit: 4K or 2M) from source to destination is timed alone, in
 * --pattern order. Nothing faults in the timed loop. --size decides where
 * the data is: a size that fits the caches is hot (256K: the untimed pass
 * leaves it there), one far above the last-level cache is cold (256M: each
 * unit was evicted long before it is copied again, as the source page of a
 * COW fault after a large populate). A host anchor (docs/host-anchors.md).
 */
#include <stdio.h>
#include <string.h>

#include "../cowbench.h"

#define barrier() __asm__ __volatile__("" ::: "memory")

struct copy_ctx {
	char *dst;
	const char *src;
	uint64_t unit, bytes;
	const uint32_t *order;
};

static int copy_one(void *ctx, uint64_t k)
{
	const struct copy_ctx *c = ctx;
	const size_t off = (size_t)c->order[k] * c->unit;

	memcpy(c->dst + off, c->src + off, c->bytes);
	barrier();
	return 0;
}

static int memcpy_check(struct cfg *c, char *err, size_t len)
{
	(void)err;
	(void)len;
	if (!c->bytes_set)
		c->bytes = c->unit;
	return 0;
}

static int memcpy_run(struct bench *b, unsigned int rep, struct rep_out *out)
{
	struct side_result *me = &b->sh->r[SIDE_PARENT];
	const uint64_t unit = b->cfg.unit;
	struct region src, dst;
	struct page_check pc;
	struct copy_ctx c;
	char err[MSG_LEN];
	uint64_t i;
	size_t n;

	(void)rep;
	if (region_create(b, &dst, err, sizeof(err))) {
		fprintf(stderr, "cowbench: %s\n", err);
		return -1;
	}
	region_populate(b, &dst, &out->pc);
	if (region_create(b, &src, err, sizeof(err))) {
		fprintf(stderr, "cowbench: %s\n", err);
		region_destroy(&dst);
		return -1;
	}
	region_populate(b, &src, &pc);
	if (!pc.ok) {
		n = strlen(out->pc.info);
		snprintf(out->pc.info + n, sizeof(out->pc.info) - n,
			 "; source: %s", pc.info);
		out->pc.ok = false;
	}
	for (i = 0; i < b->npages; i++)
		memset(src.base + i * unit, pat_byte(i) ^ XOR_PARENT, unit);

	c.dst = dst.base;
	c.src = src.base;
	c.unit = unit;
	c.bytes = b->cfg.bytes;
	c.order = b->order;
	for (i = 0; i < b->nwrites; i++) /* warm: hot sizes stay cached */
		copy_one(&c, i);
	timed_run(me, "self", b->nwrites, copy_one, &c);
	if (b->cfg.verify)
		verify_side(b, &dst, me, XOR_PARENT);
	region_destroy(&src);
	region_destroy(&dst);
	return 0;
}

static const struct scenario memcpy_scn = {
	.name = "memcpy",
	.help = "copy each --unit between populated buffers, no fault (256K: hot, 256M: cold)",
	.populates = true,
	.kinds = KINDS_ANON,
	.check = memcpy_check,
	.run = memcpy_run,
};
SCENARIO(memcpy_scn);
