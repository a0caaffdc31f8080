/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Log-bucketed latency histogram (HDR style): values 0..15 ns get one bucket
 * each, every power of two above gets HIST_SUB sub-buckets, so a bucket is at
 * most 1/16 of its lower bound wide. Range 0 .. 2^34-1 ns (~17 s); larger
 * values land in the last bucket (the exact max is kept separately).
 */
#ifndef COWBENCH_HIST_H
#define COWBENCH_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 4
#define HIST_SUB (1u << HIST_SUB_BITS)
#define HIST_MAX_BITS 34 /* values < 2^34 ns are bucketed exactly */
#define HIST_NBUCKETS (HIST_SUB + (HIST_MAX_BITS - HIST_SUB_BITS) * HIST_SUB)

struct hist {
	uint64_t count;
	uint64_t sum; /* exact, for the mean */
	uint64_t min; /* exact */
	uint64_t max; /* exact */
	uint64_t buckets[HIST_NBUCKETS];
};

void hist_reset(struct hist *h);
unsigned int hist_bucket(uint64_t v);
uint64_t hist_bucket_lo(unsigned int b);
uint64_t hist_bucket_hi(unsigned int b); /* inclusive */
void hist_merge(struct hist *dst, const struct hist *src);
/* q in [0,1]; 0 on an empty histogram; q >= 1 gives the exact max */
uint64_t hist_quantile(const struct hist *h, double q);
double hist_mean(const struct hist *h);

static inline void hist_add(struct hist *h, uint64_t v)
{
	h->buckets[hist_bucket(v)]++;
	h->count++;
	h->sum += v;
	if (v < h->min)
		h->min = v;
	if (v > h->max)
		h->max = v;
}

#endif
