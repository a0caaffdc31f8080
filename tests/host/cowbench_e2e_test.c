// SPDX-License-Identifier: GPL-2.0
/*
 * End-to-end: run the real cowbench binary on the host kernel for small
 * regions and check that COW happened (faults >= pages written), that the
 * other side's data is unchanged (--verify, and that --verify does catch a
 * mismatch), and that the JSON lines parse and carry the documented fields.
 * COWBENCH=<path> overrides the binary.
 */
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "cowbench_minijson.h"

#include "cowbench_run.h"

/* the fields docs/formats.md §4 and the README promise on a result line */
static const char *const num_fields[] = {
	"size",
	"bytes",
	"rep",
	"writes",
	"faults",
	"wall_ns",
	"min_ns",
	"p50_ns",
	"p90_ns",
	"p99_ns",
	"p999_ns",
	"max_ns",
	"mean_ns",
	"pages",
	"rss_kb",
	"minflt",
	"clock_overhead_ns",
	"unit",
};
static const char *const str_fields[] = { "type", "bench", "scenario",
					  "page", "who",   "pattern",
					  "side", "clock", "page_info" };

struct expect {
	const char *page, *who, *pattern, *side0;
	unsigned int reps, sides;
	double writes; /* per side per rep */
	bool cow; /* each write must fault */
	bool verify;
};

/* parse R.out as JSON lines and check every result/summary line */
static int check_json(struct __test_metadata *_metadata, const struct expect *e)
{
	unsigned int results = 0, summaries = 0, i;
	char *save = NULL, *line;
	const char *perr;

	for (line = strtok_r(R.out, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct jval *o = json_parse(line, &perr);
		const struct jval *h, *vm, *v;
		double sum = 0, prev = -1;

		EXPECT_NE(NULL, o)
		TH_LOG("unparseable (%s): %.200s", perr, line);
		if (!o)
			return -1;
		EXPECT_EQ(J_OBJ, o->t);
		EXPECT_STREQ("cowbench", jstr(o, "bench"));
		EXPECT_STREQ(e->page, jstr(o, "page"));
		EXPECT_STREQ(e->who, jstr(o, "who"));
		EXPECT_STREQ(e->pattern, jstr(o, "pattern"));
		if (!strcmp(jstr(o, "type"), "summary")) {
			summaries++;
			EXPECT_EQ(e->reps, jnum(o, "reps"));
			EXPECT_EQ(e->writes * e->reps, jnum(o, "writes"));
			json_free(o);
			continue;
		}
		EXPECT_STREQ("result", jstr(o, "type"));
		results++;
		for (i = 0; i < sizeof(num_fields) / sizeof(num_fields[0]);
		     i++) {
			const char *f = num_fields[i] ? num_fields[i] : "?";

			EXPECT_LE(0, jnum(o, f))
			TH_LOG("field %s missing or not a number", f);
		}
		for (i = 0; i < sizeof(str_fields) / sizeof(str_fields[0]);
		     i++) {
			const char *f = str_fields[i] ? str_fields[i] : "?";

			EXPECT_NE(NULL, jget(o, f))
			TH_LOG("field %s missing", f);
		}
		EXPECT_EQ(e->writes, jnum(o, "writes"));
		EXPECT_LE(jnum(o, "writes"), jnum(o, "pages"));
		if (e->cow) {
			/* COW happened: one fault per page written */
			EXPECT_GE(jnum(o, "faults"), jnum(o, "writes"));
			EXPECT_GE(jnum(o, "minflt"), jnum(o, "writes"));
			/* and the measuring added (almost) none of its own */
			EXPECT_LE(jnum(o, "faults"), jnum(o, "writes") + 2);
		}
		v = jget(o, "page_ok");
		EXPECT_TRUE(v && v->t == J_BOOL && v->b)
		TH_LOG("page_ok: %s", jstr(o, "page_info"));
		v = jget(o, "verify");
		if (e->verify) {
			EXPECT_TRUE(v && v->t == J_BOOL && v->b);
		} else {
			EXPECT_TRUE(v && v->t == J_NULL);
		}
		EXPECT_LE(jnum(o, "min_ns"), jnum(o, "p50_ns"));
		EXPECT_LE(jnum(o, "p50_ns"), jnum(o, "p90_ns"));
		EXPECT_LE(jnum(o, "p90_ns"), jnum(o, "p99_ns"));
		EXPECT_LE(jnum(o, "p99_ns"), jnum(o, "p999_ns"));
		EXPECT_LE(jnum(o, "p999_ns"), jnum(o, "max_ns"));
		EXPECT_GT(jnum(o, "wall_ns"), 0);
		/* hist: [[lo, count], ..], ascending, counts add up to writes */
		h = jget(o, "hist");
		ASSERT_NE(NULL, h);
		ASSERT_EQ(J_ARR, h->t);
		for (i = 0; i < h->n; i++) {
			const struct jval *p = h->items[i];

			ASSERT_EQ(J_ARR, p->t);
			ASSERT_EQ(2, p->n);
			EXPECT_GT(p->items[0]->num, prev);
			prev = p->items[0]->num;
			sum += p->items[1]->num;
		}
		EXPECT_EQ(jnum(o, "writes"), sum);
		/* vmstat: an object of numbers; pgfault counts our faults */
		vm = jget(o, "vmstat");
		ASSERT_NE(NULL, vm);
		ASSERT_EQ(J_OBJ, vm->t);
		for (i = 0; i < vm->n; i++)
			EXPECT_EQ(J_NUM, vm->items[i]->t);
		if (e->cow && jget(vm, "pgfault")) {
			EXPECT_GE(jnum(vm, "pgfault"), jnum(o, "writes"));
		}
		if (e->sides == 1) {
			EXPECT_STREQ(e->side0, jstr(o, "side"));
		}
		json_free(o);
	}
	EXPECT_EQ(e->reps * e->sides, results);
	EXPECT_EQ(e->sides, summaries);
	return 0;
}

#define RUN_OK(...)                                                 \
	do {                                                        \
		run_bench(NULL, __VA_ARGS__, NULL);                 \
		ASSERT_EQ(0, R.status) TH_LOG("stderr: %s", R.err); \
	} while (0)

/*
 * Does this kernel map the shared zero page on a read fault of private
 * anonymous memory?  Some do not (a host kernel seen here, 6.18.44-fc,
 * maps a real page): then the zero-page figures have nothing to measure.
 * Reads 64 pages and looks at the mapping's Rss in /proc/self/smaps.
 */
static int host_maps_zero_page(void)
{
	const size_t n = 64 * 4096;
	char *p = mmap(NULL, n, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char line[256], start[32];
	long rss = -1;
	int in = 0;
	FILE *f;

	if (p == MAP_FAILED)
		return 1;
	madvise(p, n, MADV_NOHUGEPAGE);
	for (size_t i = 0; i < n; i += 4096)
		(void)*(volatile char *)(p + i);
	snprintf(start, sizeof(start), "%lx-", (unsigned long)p);
	f = fopen("/proc/self/smaps", "r");
	while (f && rss < 0 && fgets(line, sizeof(line), f)) {
		if (!strncmp(line, start, strlen(start)))
			in = 1;
		else if (in && !strncmp(line, "Rss:", 4))
			rss = atol(line + 4);
	}
	if (f)
		fclose(f);
	munmap(p, n);
	return rss <= 0;	/* unknown (-1) counts as yes: run the test */
}

#define NEED_ZERO_PAGE()                                                      \
	do {                                                                  \
		if (!host_maps_zero_page())                                   \
			SKIP(return, "this kernel maps a real page on a read " \
				     "fault (no shared zero page)");          \
	} while (0)

TEST(child_writes_4k_seq)
{
	struct expect e = {
		"4k", "child", "seq", "child", 2, 1, 256, true, true
	};

	RUN_OK("--page", "4k", "--size", "1M", "--who", "child", "--pattern",
	       "seq", "--bytes", "1", "--reps", "2", "--verify", "--quiet",
	       "--json", "-");
	check_json(_metadata, &e);
}

TEST(parent_writes_4k_rand_memset)
{
	struct expect e = { "4k", "parent", "rand", "parent", 2,
			    1,	  256,	    true,   true };

	RUN_OK("--page", "4k", "--size", "1M", "--who", "parent", "--pattern",
	       "rand", "--bytes", "4096", "--reps", "2", "--verify", "--quiet",
	       "--json", "-");
	check_json(_metadata, &e);
}

TEST(both_write)
{
	struct expect e = { "4k", "both", "rev", NULL, 1, 2, 256, true, true };

	RUN_OK("--size", "1M", "--who", "both", "--pattern", "rev", "--bytes",
	       "64", "--reps", "1", "--verify", "--quiet", "--json", "-");
	check_json(_metadata, &e);
}

/* --no-madvise: recorded in every JSON line, absent without it */
TEST(no_madvise_is_recorded)
{
	struct expect e = { "4k", "child", "seq", "child", 1,
			    1,	  256,	   true,    true };

	RUN_OK("--page", "4k", "--size", "1M", "--reps", "1", "--verify",
	       "--no-madvise", "--quiet", "--json", "-");
	check_json(_metadata, &e);
	EXPECT_NE(NULL, strstr(R.out, "\"no_madvise\":true"));
	RUN_OK("--page", "4k", "--size", "1M", "--reps", "1", "--quiet",
	       "--json", "-");
	EXPECT_EQ(NULL, strstr(R.out, "no_madvise"));
}

TEST(zero_page_cow)
{
	struct expect e = { "zero", "child", "seq", "child", 1,
			    1,	    256,     true,  true };

	NEED_ZERO_PAGE();
	RUN_OK("--page", "zero", "--size", "1M", "--reps", "1", "--verify",
	       "--quiet", "--json", "-");
	check_json(_metadata, &e);
}

TEST(file_private_cow)
{
	struct expect e = { "file", "parent", "stride", "parent", 1,
			    1,	    64,	      true,	true };

	RUN_OK("--page", "file", "--size", "1M", "--who", "parent", "--pattern",
	       "stride", "--stride", "4", "--reps", "1", "--verify", "--quiet",
	       "--json", "-");
	check_json(_metadata, &e);
}

TEST(touch_frac_and_no_verify)
{
	struct expect e = { "4k", "child", "rand", "child", 1,
			    1,	  64,	   true,   false };

	RUN_OK("--size", "1M", "--pattern", "rand", "--touch-frac", "0.25",
	       "--reps", "1", "--quiet", "--json", "-");
	check_json(_metadata, &e);
}

TEST(nofork_takes_no_faults)
{
	struct expect e = {
		"4k", "self", "seq", "self", 1, 1, 256, false, true
	};

	RUN_OK("--scenario", "nofork", "--size", "1M", "--reps", "1",
	       "--verify", "--quiet", "--json", "-");
	ASSERT_NE(NULL, strstr(R.out, "\"faults\":0,"))
	TH_LOG("the timed loop itself faulted: %.300s", R.out);
	check_json(_metadata, &e);
}

/*
 * The result lines of R.out whose field a equals field b (b a field name)
 * or the number v (b NULL); -1 when a line does not parse.
 */
static int results_with(const char *a, const char *b, double v)
{
	static char buf[1 << 20];
	char *save = NULL, *line;
	int n = 0;

	memcpy(buf, R.out, R.outlen + 1);
	for (line = strtok_r(buf, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save)) {
		struct jval *o = json_parse(line, NULL);

		if (!o)
			return -1;
		if (!strcmp(jstr(o, "type"), "result") &&
		    jnum(o, a) == (b ? jnum(o, b) : v))
			n++;
		json_free(o);
	}
	return n;
}

/* memcpy: every unit copied once a rep, no fault; --bytes defaults to the unit */
TEST(memcpy_copies_without_faults)
{
	struct expect e = { "4k", "self", "seq", "self", 2, 1, 64, false, true };

	RUN_OK("--scenario", "memcpy", "--size", "256K", "--reps", "2",
	       "--verify", "--quiet", "--json", "-");
	EXPECT_EQ(2, results_with("faults", NULL, 0))
	TH_LOG("the copies faulted: %.300s", R.out);
	EXPECT_EQ(2, results_with("bytes", "unit", 0));
	check_json(_metadata, &e);
	RUN_OK("--scenario", "memcpy", "--unit", "2M", "--size", "4M",
	       "--pattern", "rand", "--reps", "1", "--verify", "--quiet",
	       "--json", "-");
	EXPECT_EQ(1, results_with("bytes", NULL, 2 << 20));
	EXPECT_EQ(1, results_with("writes", NULL, 2));
	/* --verify checks the copies: a corrupted destination fails */
	run_bench("COWBENCH_TEST_CORRUPT=1", "--scenario", "memcpy", "--size",
		  "256K", "--reps", "1", "--verify", "--quiet", NULL);
	ASSERT_EQ(1, R.status);
	ASSERT_NE(NULL, strstr(R.err, "VERIFY FAILED")) TH_LOG("%s", R.err);
}

/* memset: every unit zeroed once a rep, no fault; --verify sees the zeros */
TEST(memset_zeroes_without_faults)
{
	struct expect e = { "4k", "self", "seq", "self", 2, 1, 64, false, true };

	RUN_OK("--scenario", "memset", "--size", "256K", "--reps", "2",
	       "--verify", "--quiet", "--json", "-");
	EXPECT_EQ(2, results_with("faults", NULL, 0))
	TH_LOG("the zeroing faulted: %.300s", R.out);
	EXPECT_EQ(2, results_with("bytes", "unit", 0));
	check_json(_metadata, &e);
	run_bench("COWBENCH_TEST_CORRUPT=1", "--scenario", "memset", "--size",
		  "256K", "--reps", "1", "--verify", "--quiet", NULL);
	ASSERT_EQ(1, R.status);
	ASSERT_NE(NULL, strstr(R.err, "VERIFY FAILED: 1 byte(s) not zeroed"))
	TH_LOG("%s", R.err);
}

/* trap: one minor fault per read, each mapping the zero page (page_ok) */
TEST(trap_maps_the_zero_page)
{
	struct expect e = {
		"4k", "self", "rand", "self", 2, 1, 256, true, true
	};

	NEED_ZERO_PAGE();
	RUN_OK("--scenario", "trap", "--size", "1M", "--pattern", "rand",
	       "--reps", "2", "--verify", "--quiet", "--json", "-");
	EXPECT_EQ(2, results_with("minflt", "pages", 0))
	TH_LOG("minflt != pages: %.300s", R.out);
	EXPECT_NE(NULL, strstr(R.out, "smaps_rss_kb=0"));
	check_json(_metadata, &e); /* last: it cuts R.out into lines */
}

/* populate: one timed call a window, one fault a page, the window in the JSON */
TEST(populate_windows)
{
	struct expect e = {
		"4k", "child", "seq", "child", 2, 1, 16, false, true
	};

	run_bench(NULL, "--scenario", "populate", "--window", "16", "--size",
		  "1M", "--reps", "2", "--verify", "--quiet", "--json", "-",
		  NULL);
	if (R.status == 4)
		SKIP(return, "%.200s", R.err);
	ASSERT_EQ(0, R.status) TH_LOG("stderr: %s", R.err);
	EXPECT_EQ(2, results_with("window", NULL, 16));
	EXPECT_EQ(2, results_with("faults", "pages", 0))
	TH_LOG("COW not broken once a page: %.300s", R.out);
	EXPECT_NE(NULL, strstr(R.out, "\"type\":\"summary\""));
	check_json(_metadata, &e);
	RUN_OK("--scenario", "populate", "--size", "64K", "--reps", "1",
	       "--quiet", "--json", "-");
	EXPECT_EQ(1, results_with("window", NULL, 1));
	EXPECT_EQ(1, results_with("writes", NULL, 16));
	/* the other scenarios' lines have no window */
	RUN_OK("--size", "64K", "--reps", "1", "--quiet", "--json", "-");
	EXPECT_EQ(NULL, strstr(R.out, "\"window\""));
}

TEST(verify_catches_a_mismatch)
{
	run_bench("COWBENCH_TEST_CORRUPT=1", "--size", "1M", "--reps", "1",
		  "--verify", "--quiet", NULL);
	ASSERT_EQ(1, R.status);
	ASSERT_NE(NULL, strstr(R.err, "VERIFY FAILED")) TH_LOG("%s", R.err);
}

TEST(table_has_rows_and_summary)
{
	RUN_OK("--size", "1M", "--reps", "3");
	ASSERT_NE(NULL, strstr(R.out, "p50_ns"));
	ASSERT_NE(NULL, strstr(R.out, "\n2    child"));
	ASSERT_NE(NULL,
		  strstr(R.out, "summary child over 3 reps (min/median/max)"));
}

TEST(bad_input_exits_2)
{
	static const char *const bad[][3] = {
		{ "--size", "12Q", NULL },	 { "--who", "nobody", NULL },
		{ "--bytes", "0", NULL },	 { "--page", "mthp-3k", NULL },
		{ "--pattern", "zigzag", NULL }, { "--reps", "0", NULL },
		{ "--frobnicate", NULL, NULL },	 { "--touch-frac", "2", NULL },
		{ "--size", NULL, NULL },
	};
	/* the anchors' options: each wrong use is a usage error */
	static const char *const bad_scn[][5] = {
		{ "populate", "--window", "0", NULL, NULL },
		{ "populate", "--window", "513", NULL, NULL },
		{ "populate", "--window", "3", NULL, NULL }, /* 1M % 12K */
		{ "cow", "--window", "4", NULL, NULL },
		{ "populate", "--pattern", "rand", NULL, NULL },
		{ "populate", "--who", "parent", NULL, NULL },
		{ "populate", "--unit", "8K", NULL, NULL },
		{ "populate", "--page", "thp", NULL, NULL },
		{ "trap", "--bytes", "64", NULL, NULL },
		{ "trap", "--page", "file", NULL, NULL },
		{ "memcpy", "--page", "zero", NULL, NULL },
		{ "memcpy", "--bytes", "8K", NULL, NULL },
	};
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		run_bench(NULL, bad[i][0], bad[i][1], NULL);
		EXPECT_EQ(2, R.status) TH_LOG("%s %s", bad[i][0], bad[i][1]);
		EXPECT_NE(NULL, strstr(R.err, "cowbench: "));
	}
	for (i = 0; i < sizeof(bad_scn) / sizeof(bad_scn[0]); i++) {
		run_bench(NULL, "--size", "1M", "--scenario", bad_scn[i][0],
			  bad_scn[i][1], bad_scn[i][2], NULL);
		EXPECT_EQ(2, R.status)
		TH_LOG("%s %s %s", bad_scn[i][0], bad_scn[i][1], bad_scn[i][2]);
		EXPECT_NE(NULL, strstr(R.err, "cowbench: "));
	}
}

TEST(unavailable_kind_skips)
{
	struct jval *o;

	/* mTHP sizes are below the PMD size: 4M never exists */
	run_bench(NULL, "--page", "mthp-4096k", "--size", "4M", "--json", "-",
		  NULL);
	ASSERT_EQ(4, R.status);
	ASSERT_NE(NULL, strstr(R.err, "skip: ")) TH_LOG("%s", R.err);
	o = json_parse(R.out, NULL);
	ASSERT_NE(NULL, o);
	ASSERT_NE(NULL, jget(o, "skipped"));
	EXPECT_STREQ("mthp-4096k", jstr(o, "page"));
	json_free(o);
}

TEST(help_and_list)
{
	RUN_OK("--help");
	ASSERT_NE(NULL, strstr(R.out, "--touch-frac"));
	/* the anchors: --window, and which memcpy --size is hot or cold */
	ASSERT_NE(NULL, strstr(R.out, "--window N"));
	ASSERT_NE(NULL, strstr(R.out, "HOT (e.g. 256K"));
	ASSERT_NE(NULL, strstr(R.out, "COLD (e.g."));
	RUN_OK("--list");
	ASSERT_NE(NULL, strstr(R.out, "cow "));
	ASSERT_NE(NULL, strstr(R.out, "hugetlb-2m"));
	ASSERT_NE(NULL, strstr(R.out, "memcpy "));
	ASSERT_NE(NULL, strstr(R.out, "trap "));
	ASSERT_NE(NULL, strstr(R.out, "populate "));
}

TEST_HARNESS_MAIN
