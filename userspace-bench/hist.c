// SPDX-License-Identifier: GPL-2.0
#include <string.h>

#include "hist.h"

void hist_reset(struct hist *h)
{
	memset(h, 0, sizeof(*h));
	h->min = UINT64_MAX;
}

unsigned int hist_bucket(uint64_t v)
{
	unsigned int e, sub;

	if (v < HIST_SUB)
		return (unsigned int)v;
	if (v >> HIST_MAX_BITS)
		return HIST_NBUCKETS - 1;
	e = 63 - (unsigned int)__builtin_clzll(v); /* e >= HIST_SUB_BITS */
	sub = (unsigned int)(v >> (e - HIST_SUB_BITS)) & (HIST_SUB - 1);
	return HIST_SUB + (e - HIST_SUB_BITS) * HIST_SUB + sub;
}

uint64_t hist_bucket_lo(unsigned int b)
{
	unsigned int e, sub;

	if (b < HIST_SUB)
		return b;
	e = (b - HIST_SUB) / HIST_SUB + HIST_SUB_BITS;
	sub = (b - HIST_SUB) % HIST_SUB;
	return (uint64_t)(HIST_SUB + sub) << (e - HIST_SUB_BITS);
}

uint64_t hist_bucket_hi(unsigned int b)
{
	unsigned int e;

	if (b < HIST_SUB)
		return b;
	e = (b - HIST_SUB) / HIST_SUB + HIST_SUB_BITS;
	return hist_bucket_lo(b) + (1ull << (e - HIST_SUB_BITS)) - 1;
}

void hist_merge(struct hist *dst, const struct hist *src)
{
	unsigned int i;

	if (!src->count)
		return;
	for (i = 0; i < HIST_NBUCKETS; i++)
		dst->buckets[i] += src->buckets[i];
	dst->count += src->count;
	dst->sum += src->sum;
	if (src->min < dst->min)
		dst->min = src->min;
	if (src->max > dst->max)
		dst->max = src->max;
}

/*
 * The value of rank ceil(q * count): the midpoint of the bucket holding it,
 * clamped to the exact [min, max]. Error <= half a bucket (<= 1/32 relative).
 */
uint64_t hist_quantile(const struct hist *h, double q)
{
	uint64_t rank, cum = 0, v;
	unsigned int i;
	double r;

	if (!h->count)
		return 0;
	if (q >= 1.0)
		return h->max;
	if (q <= 0.0)
		return h->min;
	r = q * (double)h->count;
	rank = (uint64_t)r;
	if ((double)rank < r)
		rank++;
	if (rank < 1)
		rank = 1;
	for (i = 0; i < HIST_NBUCKETS; i++) {
		cum += h->buckets[i];
		if (cum >= rank)
			break;
	}
	if (i == HIST_NBUCKETS)
		return h->max;
	v = hist_bucket_lo(i) + (hist_bucket_hi(i) - hist_bucket_lo(i)) / 2;
	if (v < h->min)
		v = h->min;
	if (v > h->max)
		v = h->max;
	return v;
}

double hist_mean(const struct hist *h)
{
	return h->count ? (double)h->sum / (double)h->count : 0.0;
}
