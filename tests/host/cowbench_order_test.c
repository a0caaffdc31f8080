// SPDX-License-Identifier: GPL-2.0
/* Unit tests for the cowbench page orders (rand is a permutation, stride covers its pages). */
#include <stdlib.h>
#include <string.h>

#include "kselftest_harness.h"
#include "order.h"

static uint32_t buf[1 << 17];
static uint8_t seen[1 << 17];

static int is_permutation(const uint32_t *o, size_t n)
{
	size_t i;

	memset(seen, 0, n);
	for (i = 0; i < n; i++) {
		if (o[i] >= n || seen[o[i]])
			return 0;
		seen[o[i]] = 1;
	}
	return 1;
}

TEST(seq_and_rev)
{
	size_t i;

	ASSERT_EQ(1000, order_build(buf, 1000, PAT_SEQ, 1, 1));
	for (i = 0; i < 1000; i++)
		ASSERT_EQ(i, buf[i]);
	ASSERT_EQ(1000, order_build(buf, 1000, PAT_REV, 1, 1));
	for (i = 0; i < 1000; i++)
		ASSERT_EQ(999 - i, buf[i]);
	ASSERT_EQ(0, order_build(buf, 0, PAT_SEQ, 1, 1));
}

TEST(rand_is_a_permutation)
{
	static const size_t ns[] = { 1, 2, 3, 7, 256, 1000, 16384, 1 << 17 };
	uint64_t seed;
	unsigned int i;

	for (i = 0; i < sizeof(ns) / sizeof(ns[0]); i++) {
		for (seed = 0; seed < 5; seed++) {
			ASSERT_EQ(ns[i],
				  order_build(buf, ns[i], PAT_RAND, 1, seed));
			ASSERT_TRUE(is_permutation(buf, ns[i]))
			TH_LOG("n=%zu seed=%llu", ns[i],
			       (unsigned long long)seed);
		}
	}
}

TEST(rand_is_seeded_and_shuffled)
{
	static uint32_t a[4096], b[4096];
	size_t i, fixed = 0;

	order_build(a, 4096, PAT_RAND, 1, 42);
	order_build(b, 4096, PAT_RAND, 1, 42);
	ASSERT_EQ(0, memcmp(a, b, sizeof(a))); /* reproducible */
	order_build(b, 4096, PAT_RAND, 1, 43);
	ASSERT_NE(0, memcmp(a, b, sizeof(a))); /* seed matters */
	for (i = 0; i < 4096; i++)
		fixed += a[i] == i;
	ASSERT_LT(fixed, 20); /* ~1 expected for a random permutation */
}

TEST(rand_is_roughly_uniform)
{
	/* all 24 permutations of 4 elements, 24000 seeds: ~1000 each */
	unsigned int count[256] = { 0 }, i, n = 0;
	uint64_t seed;

	for (seed = 0; seed < 24000; seed++) {
		order_build(buf, 4, PAT_RAND, 1, seed);
		count[buf[0] * 64 + buf[1] * 16 + buf[2] * 4 + buf[3]]++;
	}
	for (i = 0; i < 256; i++) {
		if (!count[i])
			continue;
		n++;
		ASSERT_GT(count[i], 800);
		ASSERT_LT(count[i], 1200);
	}
	ASSERT_EQ(24, n);
}

TEST(stride_covers_every_nth_page)
{
	static const struct {
		size_t n;
		uint64_t s;
	} cases[] = { { 10, 3 },     { 9, 3 },	    { 1, 5 },
		      { 5, 5 },	     { 6, 5 },	    { 1000, 1 },
		      { 16384, 16 }, { 16385, 16 }, { 7, 100 } };
	unsigned int c;
	size_t k, i;

	for (c = 0; c < sizeof(cases) / sizeof(cases[0]); c++) {
		size_t n = cases[c].n, want = (n + cases[c].s - 1) / cases[c].s;

		k = order_build(buf, n, PAT_STRIDE, cases[c].s, 1);
		ASSERT_EQ(want, k)
		TH_LOG("n=%zu s=%llu", n, (unsigned long long)cases[c].s);
		memset(seen, 0, n);
		for (i = 0; i < k; i++) {
			ASSERT_EQ(i * cases[c].s, buf[i]);
			ASSERT_LT(buf[i], n);
			seen[buf[i]] = 1;
		}
		/* every multiple of s below n is written, nothing else */
		for (i = 0; i < n; i++)
			ASSERT_EQ(i % cases[c].s == 0, seen[i]);
	}
	ASSERT_EQ(0, order_build(buf, 10, PAT_STRIDE, 0, 1));
}

TEST(touch_fraction)
{
	ASSERT_EQ(100, order_touch_count(100, 1.0));
	ASSERT_EQ(50, order_touch_count(100, 0.5));
	ASSERT_EQ(34, order_touch_count(100, 0.333));
	ASSERT_EQ(1, order_touch_count(100, 0.0001));
	ASSERT_EQ(1, order_touch_count(1, 0.5));
	ASSERT_EQ(0, order_touch_count(0, 0.5));
	ASSERT_EQ(26, order_touch_count(256, 0.1));
}

TEST(rng_below_in_range)
{
	uint64_t st = 7, i, n;

	for (n = 1; n < 100; n++)
		for (i = 0; i < 100; i++)
			ASSERT_LT(rng_below(&st, n), n);
}

TEST_HARNESS_MAIN
