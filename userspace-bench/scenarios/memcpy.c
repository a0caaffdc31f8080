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
 *
 * memset: the same loop zeroing each unit of the destination (no source):
 * the clear_page() an allocation fault makes where a COW fault copies. The
 * cost model (docs/cost-model.md) takes it out of a first-touch fault.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../cowbench.h"

#define barrier() __asm__ __volatile__("" ::: "memory")

struct copy_ctx {
	char *dst;
	const char *src; /* NULL: memset */
	uint64_t unit, bytes;
	const uint32_t *order;
};

static int copy_one(void *ctx, uint64_t k)
{
	const struct copy_ctx *c = ctx;
	const size_t off = (size_t)c->order[k] * c->unit;

	if (c->src)
		memcpy(c->dst + off, c->src + off, c->bytes);
	else
		memset(c->dst + off, 0, c->bytes);
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

/* every --bytes of each unit of r zero (memset --verify) */
static void check_zeroed(struct bench *b, struct region *r, struct side_result *me)
{
	const char *hook = getenv("COWBENCH_TEST_CORRUPT");
	uint64_t i, k, bad = 0;

	if (hook && *hook == '1') /* test hook, as region_verify()'s */
		r->base[0] ^= 0x01;
	for (i = 0; i < b->npages; i++)
		for (k = 0; k < b->cfg.bytes; k++)
			bad += r->base[i * b->cfg.unit + k] != 0;
	me->verified = 1;
	me->verify_ok = !bad;
	if (bad) {
		snprintf(me->msg, sizeof(me->msg), "%llu byte(s) not zeroed",
			 (unsigned long long)bad);
		fprintf(stderr, "cowbench: VERIFY FAILED: %s\n", me->msg);
	}
}

static int copy_or_zero(struct bench *b, struct rep_out *out, bool zero)
{
	struct side_result *me = &b->sh->r[SIDE_PARENT];
	const uint64_t unit = b->cfg.unit;
	struct region src, dst;
	struct page_check pc;
	struct copy_ctx c;
	char err[MSG_LEN];
	uint64_t i;
	size_t n;

	if (region_create(b, &dst, err, sizeof(err))) {
		fprintf(stderr, "cowbench: %s\n", err);
		return -1;
	}
	region_populate(b, &dst, &out->pc);
	c.dst = dst.base;
	c.src = NULL;
	c.unit = unit;
	c.bytes = b->cfg.bytes;
	c.order = b->order;
	if (zero) {
		for (i = 0; i < b->nwrites; i++) /* warm, then dirty again */
			copy_one(&c, i);
		for (i = 0; i < b->npages; i++)
			memset(dst.base + i * unit, pat_byte(i), unit);
		timed_run(me, "self", b->nwrites, copy_one, &c);
		if (b->cfg.verify)
			check_zeroed(b, &dst, me);
		region_destroy(&dst);
		return 0;
	}
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

	c.src = src.base;
	for (i = 0; i < b->nwrites; i++) /* warm: hot sizes stay cached */
		copy_one(&c, i);
	timed_run(me, "self", b->nwrites, copy_one, &c);
	if (b->cfg.verify)
		verify_side(b, &dst, me, XOR_PARENT);
	region_destroy(&src);
	region_destroy(&dst);
	return 0;
}

static int memcpy_run(struct bench *b, unsigned int rep, struct rep_out *out)
{
	(void)rep;
	return copy_or_zero(b, out, false);
}

static int memset_run(struct bench *b, unsigned int rep, struct rep_out *out)
{
	(void)rep;
	return copy_or_zero(b, out, true);
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

static const struct scenario memset_scn = {
	.name = "memset",
	.help = "zero each --unit of a populated buffer, no fault (the clear_page of an allocation)",
	.populates = true,
	.kinds = KINDS_ANON,
	.check = memcpy_check,
	.run = memset_run,
};
SCENARIO(memset_scn);
