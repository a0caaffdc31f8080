// SPDX-License-Identifier: GPL-2.0
/* Unit tests for the cowbench argument parsers. */
#include "kselftest_harness.h"
#include "parse.h"

static char err[256];

TEST(sizes)
{
	static const struct {
		const char *s;
		uint64_t v;
	} ok[] = {
		{ "0", 0 },	      { "4096", 4096 },
		{ "4K", 4096 },	      { "4k", 4096 },
		{ "64K", 64 << 10 },  { "1M", 1 << 20 },
		{ "1m", 1 << 20 },    { "64M", 64 << 20 },
		{ "1G", 1ull << 30 }, { "2g", 2ull << 30 },
		{ "1T", 1ull << 40 }, { "1MB", 1 << 20 },
		{ "1MiB", 1 << 20 },  { "16777216", 16777216 },
	};
	unsigned int i;
	uint64_t v;

	for (i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
		v = 1;
		EXPECT_EQ(0, parse_size(ok[i].s, &v, err, sizeof(err)))
		TH_LOG("'%s': %s", ok[i].s, err);
		EXPECT_EQ(ok[i].v, v) TH_LOG("'%s'", ok[i].s);
	}
}

TEST(bad_sizes)
{
	static const char *const bad[] = {
		"",
		"M",
		"12Q",
		"-1",
		" 1M",
		"1M ",
		"1.5M",
		"1MM",
		"1KB2",
		"0x10",
		"+4",
		"99999999999999999999",
		"99999999999G",
		"1 M",
		"1B",
		"k",
	};
	unsigned int i;
	uint64_t v;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = 0;
		EXPECT_EQ(-1, parse_size(bad[i], &v, err, sizeof(err)))
		TH_LOG("'%s' was accepted", bad[i]);
		EXPECT_NE(0, err[0]) TH_LOG("no message for '%s'", bad[i]);
	}
	EXPECT_EQ(-1, parse_size(NULL, &v, err, sizeof(err)));
}

TEST(integers)
{
	uint64_t v;

	ASSERT_EQ(0, parse_u64("3", 1, 10, &v, err, sizeof(err)));
	ASSERT_EQ(3, v);
	ASSERT_EQ(0, parse_u64("18446744073709551615", 0, UINT64_MAX, &v, err,
			       sizeof(err)));
	ASSERT_EQ(UINT64_MAX, v);
	EXPECT_EQ(-1, parse_u64("0", 1, 10, &v, err, sizeof(err)));
	EXPECT_EQ(-1, parse_u64("11", 1, 10, &v, err, sizeof(err)));
	EXPECT_EQ(-1, parse_u64("18446744073709551616", 0, UINT64_MAX, &v, err,
				sizeof(err)));
	EXPECT_EQ(-1, parse_u64("-1", 0, 10, &v, err, sizeof(err)));
	EXPECT_EQ(-1, parse_u64("1k", 0, 10000, &v, err, sizeof(err)));
	EXPECT_EQ(-1, parse_u64("", 0, 10, &v, err, sizeof(err)));
	EXPECT_EQ(-1, parse_u64("abc", 0, 10, &v, err, sizeof(err)));
}

TEST(fractions)
{
	double f;

	ASSERT_EQ(0, parse_frac("0.5", &f, err, sizeof(err)));
	ASSERT_EQ(0.5, f);
	ASSERT_EQ(0, parse_frac("1", &f, err, sizeof(err)));
	ASSERT_EQ(1.0, f);
	ASSERT_EQ(0, parse_frac("1e-3", &f, err, sizeof(err)));
	EXPECT_EQ(-1, parse_frac("0", &f, err, sizeof(err)));
	EXPECT_EQ(-1, parse_frac("1.01", &f, err, sizeof(err)));
	EXPECT_EQ(-1, parse_frac("-0.5", &f, err, sizeof(err)));
	EXPECT_EQ(-1, parse_frac("nan", &f, err, sizeof(err)));
	EXPECT_EQ(-1, parse_frac("0.5x", &f, err, sizeof(err)));
	EXPECT_EQ(-1, parse_frac("", &f, err, sizeof(err)));
	EXPECT_EQ(-1, parse_frac(" 0.5", &f, err, sizeof(err)));
}

TEST(who_and_pattern)
{
	enum who w;
	enum pattern p;

	ASSERT_EQ(0, parse_who("child", &w, err, sizeof(err)));
	ASSERT_EQ(WHO_CHILD, w);
	ASSERT_EQ(0, parse_who("parent", &w, err, sizeof(err)));
	ASSERT_EQ(WHO_PARENT, w);
	ASSERT_EQ(0, parse_who("both", &w, err, sizeof(err)));
	ASSERT_EQ(WHO_BOTH, w);
	EXPECT_EQ(-1, parse_who("Child", &w, err, sizeof(err)));
	EXPECT_EQ(-1, parse_who("", &w, err, sizeof(err)));
	ASSERT_EQ(0, parse_pattern("seq", &p, err, sizeof(err)));
	ASSERT_EQ(PAT_SEQ, p);
	ASSERT_EQ(0, parse_pattern("rev", &p, err, sizeof(err)));
	ASSERT_EQ(PAT_REV, p);
	ASSERT_EQ(0, parse_pattern("rand", &p, err, sizeof(err)));
	ASSERT_EQ(PAT_RAND, p);
	ASSERT_EQ(0, parse_pattern("stride", &p, err, sizeof(err)));
	ASSERT_EQ(PAT_STRIDE, p);
	EXPECT_EQ(-1, parse_pattern("random", &p, err, sizeof(err)));
	ASSERT_STREQ("both", who_name(WHO_BOTH));
	ASSERT_STREQ("stride", pattern_name(PAT_STRIDE));
}

TEST(page_kinds)
{
	static const char *const bad[] = { "",	       "4K",	    "mthp-",
					   "mthp-64",  "mthp-3k",   "mthp-4k",
					   "mthp-64K", "mthp-64kB", "hugetlb",
					   "thp2m",    "mthp-x" };
	struct kind k;
	unsigned int i;

	ASSERT_EQ(0, parse_kind("4k", &k, err, sizeof(err)));
	ASSERT_EQ(KIND_4K, k.type);
	ASSERT_EQ(0, parse_kind("thp", &k, err, sizeof(err)));
	ASSERT_EQ(KIND_THP, k.type);
	ASSERT_EQ(0, parse_kind("zero", &k, err, sizeof(err)));
	ASSERT_EQ(KIND_ZERO, k.type);
	ASSERT_EQ(0, parse_kind("file", &k, err, sizeof(err)));
	ASSERT_EQ(KIND_FILE, k.type);
	ASSERT_EQ(0, parse_kind("hugetlb-2m", &k, err, sizeof(err)));
	ASSERT_EQ(KIND_HUGETLB_2M, k.type);
	ASSERT_EQ(0, parse_kind("hugetlb-1g", &k, err, sizeof(err)));
	ASSERT_EQ(KIND_HUGETLB_1G, k.type);
	ASSERT_EQ(0, parse_kind("mthp-64k", &k, err, sizeof(err)));
	ASSERT_EQ(KIND_MTHP, k.type);
	ASSERT_EQ(64 << 10, k.mthp_size);
	ASSERT_STREQ("mthp-64k", k.name);
	ASSERT_EQ(0, parse_kind("mthp-16k", &k, err, sizeof(err)));
	ASSERT_EQ(16 << 10, k.mthp_size);
	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT_EQ(-1, parse_kind(bad[i], &k, err, sizeof(err)))
	TH_LOG("bad kind #%u was accepted", i);
}

TEST(format_sizes)
{
	char b[32];

	format_size(64 << 20, b, sizeof(b));
	ASSERT_STREQ("64M", b);
	format_size(4096, b, sizeof(b));
	ASSERT_STREQ("4K", b);
	format_size(1ull << 30, b, sizeof(b));
	ASSERT_STREQ("1G", b);
	format_size(5000, b, sizeof(b));
	ASSERT_STREQ("5000", b);
}

TEST_HARNESS_MAIN
