// SPDX-License-Identifier: GPL-2.0
/* Unit tests for the cowbench histogram and its percentiles. */
#include <math.h>
#include <stdlib.h>

#include "kselftest_harness.h"
#include "hist.h"

static struct hist h, h2, h3;

/* the true rank-ceil(q*n) value of 1..n */
static uint64_t exact_q(uint64_t n, double q)
{
	uint64_t r = (uint64_t)ceil(q * (double)n);

	return r < 1 ? 1 : r;
}

TEST(buckets_tile_the_range)
{
	unsigned int b;

	ASSERT_EQ(0, hist_bucket_lo(0));
	for (b = 0; b + 1 < HIST_NBUCKETS; b++) {
		ASSERT_LE(hist_bucket_lo(b), hist_bucket_hi(b));
		/* contiguous, no gaps, no overlap */
		ASSERT_EQ(hist_bucket_hi(b) + 1, hist_bucket_lo(b + 1));
		/* width <= lo/16 above the exact range */
		if (b >= HIST_SUB)
			ASSERT_LE(hist_bucket_hi(b) - hist_bucket_lo(b) + 1,
				  hist_bucket_lo(b) / HIST_SUB);
	}
	/* 1 ns .. ~10 s at least */
	ASSERT_GE(hist_bucket_hi(HIST_NBUCKETS - 1), 10000000000ull);
}

TEST(value_lands_in_its_bucket)
{
	uint64_t st = 12345, v;
	unsigned int i, b, prev = 0;

	for (v = 0; v < 200000; v++) {
		b = hist_bucket(v);
		ASSERT_LE(hist_bucket_lo(b), v);
		ASSERT_GE(hist_bucket_hi(b), v);
		ASSERT_GE(b, prev); /* monotonic */
		prev = b;
	}
	for (i = 0; i < 100000; i++) {
		st = st * 6364136223846793005ull + 1442695040888963407ull;
		v = (st >> 20) & ((1ull << 34) - 1);
		b = hist_bucket(v);
		ASSERT_LE(hist_bucket_lo(b), v);
		ASSERT_GE(hist_bucket_hi(b), v);
	}
	for (i = 4; i < 34; i++) {
		v = 1ull << i;
		ASSERT_EQ(v, hist_bucket_lo(hist_bucket(v)));
		ASSERT_EQ(v - 1, hist_bucket_hi(hist_bucket(v - 1)));
	}
	/* beyond the range: last bucket */
	ASSERT_EQ(HIST_NBUCKETS - 1, hist_bucket(1ull << 40));
	ASSERT_EQ(HIST_NBUCKETS - 1, hist_bucket(UINT64_MAX));
}

TEST(empty_is_zero)
{
	hist_reset(&h);
	ASSERT_EQ(0, h.count);
	ASSERT_EQ(0, hist_quantile(&h, 0.5));
	ASSERT_EQ(0, hist_quantile(&h, 1.0));
	ASSERT_EQ(0, (long)hist_mean(&h));
}

TEST(small_values_are_exact)
{
	uint64_t v;

	hist_reset(&h);
	for (v = 1; v <= 10; v++)
		hist_add(&h, v);
	ASSERT_EQ(1, h.min);
	ASSERT_EQ(10, h.max);
	ASSERT_EQ(5, hist_quantile(&h, 0.5));
	ASSERT_EQ(9, hist_quantile(&h, 0.9));
	ASSERT_EQ(10, hist_quantile(&h, 0.99));
	ASSERT_EQ(10, hist_quantile(&h, 1.0));
	ASSERT_EQ(1, hist_quantile(&h, 0.0));
	ASSERT_EQ(55, h.sum);
}

TEST(uniform_percentiles_within_bucket_error)
{
	const uint64_t n = 1000000;
	const double qs[] = { 0.5, 0.9, 0.99, 0.999 };
	unsigned int i;
	uint64_t v;

	hist_reset(&h);
	for (v = 1; v <= n; v++)
		hist_add(&h, v);
	ASSERT_EQ(n, h.count);
	ASSERT_EQ(1, h.min);
	ASSERT_EQ(n, h.max);
	ASSERT_EQ(n, hist_quantile(&h, 1.0));
	ASSERT_LT(fabs(hist_mean(&h) - 500000.5), 1e-6);
	for (i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
		double want = (double)exact_q(n, qs[i]);
		double got = (double)hist_quantile(&h, qs[i]);

		ASSERT_LE(fabs(got - want) / want, 1.0 / 32 + 1e-9)
		TH_LOG("q=%g want %.0f got %.0f", qs[i], want, got);
	}
	/* monotonic in q */
	ASSERT_LE(hist_quantile(&h, 0.5), hist_quantile(&h, 0.9));
	ASSERT_LE(hist_quantile(&h, 0.9), hist_quantile(&h, 0.99));
	ASSERT_LE(hist_quantile(&h, 0.99), hist_quantile(&h, 0.999));
}

TEST(skewed_tail)
{
	unsigned int i;

	/* 990 fast writes (~2 us), 10 slow ones (~1 ms): p99 is fast, p99.9 slow */
	hist_reset(&h);
	for (i = 0; i < 990; i++)
		hist_add(&h, 2000 + i % 7);
	for (i = 0; i < 10; i++)
		hist_add(&h, 1000000 + i);
	ASSERT_LT(hist_quantile(&h, 0.99), 2100);
	ASSERT_GE(hist_quantile(&h, 0.991), 1000000 - 1000000 / 32);
	ASSERT_EQ(1000009, h.max);
	ASSERT_EQ(2000, h.min);
}

TEST(single_value_clamped_to_min_max)
{
	hist_reset(&h);
	hist_add(&h, 123457);
	ASSERT_EQ(123457, hist_quantile(&h, 0.5));
	ASSERT_EQ(123457, hist_quantile(&h, 0.999));
}

TEST(out_of_range_keeps_exact_max)
{
	hist_reset(&h);
	hist_add(&h, 5);
	hist_add(&h, 1ull << 40);
	ASSERT_EQ(1ull << 40, h.max);
	ASSERT_EQ(1, h.buckets[HIST_NBUCKETS - 1]);
	ASSERT_EQ(1ull << 40, hist_quantile(&h, 1.0));
}

TEST(merge_equals_combined)
{
	uint64_t st = 99, v;
	unsigned int i, b;

	hist_reset(&h);
	hist_reset(&h2);
	hist_reset(&h3);
	for (i = 0; i < 50000; i++) {
		st = st * 6364136223846793005ull + 1442695040888963407ull;
		v = (st >> 33) % 5000000;
		hist_add(i & 1 ? &h : &h2, v);
		hist_add(&h3, v);
	}
	hist_merge(&h, &h2);
	ASSERT_EQ(h3.count, h.count);
	ASSERT_EQ(h3.sum, h.sum);
	ASSERT_EQ(h3.min, h.min);
	ASSERT_EQ(h3.max, h.max);
	for (b = 0; b < HIST_NBUCKETS; b++)
		ASSERT_EQ(h3.buckets[b], h.buckets[b]);
	ASSERT_EQ(hist_quantile(&h3, 0.99), hist_quantile(&h, 0.99));
	/* merging an empty histogram changes nothing (min stays exact) */
	hist_reset(&h2);
	hist_merge(&h, &h2);
	ASSERT_EQ(h3.min, h.min);
	ASSERT_EQ(h3.count, h.count);
}

TEST_HARNESS_MAIN
