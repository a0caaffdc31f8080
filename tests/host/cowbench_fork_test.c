// SPDX-License-Identifier: GPL-2.0
/*
 * cowbench --scenario fork (on-demand fork study): the --odf and --child
 * parsers, then the real binary on the host kernel. On a kernel without
 * PR_SET_COW_ODF (the host, normally) --odf off and sysctl run a vanilla
 * fork and --odf on is a skip (exit 4); on a kernel with it, on must run.
 * COWBENCH=<path> overrides the binary.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include "kselftest_harness.h"
#include "cowbench_minijson.h"
#include "parse.h"
#include "cowlab_uapi.h"


#include "cowbench_run.h"

static char err[256];

#define RUN_OK(...)                                                 \
	do {                                                        \
		run_bench(NULL, __VA_ARGS__, NULL);                 \
		ASSERT_EQ(0, R.status) TH_LOG("stderr: %s", R.err); \
	} while (0)

static bool is(const struct jval *o, const char *k, enum jtype t)
{
	const struct jval *v = jget(o, k);

	return v && v->t == t;
}

static bool odf_in_kernel(void)
{
	return prctl(PR_GET_COW_ODF, 0, 0, 0, 0) >= 0 || errno != EINVAL;
}

/* what every line of a run must show */
struct expect {
	const char *child, *odf;
	unsigned int reps;
	double writes; /* per rep */
	bool page_times;
	bool verify;
};

/* the n-th line of R.out (0-based), parsed; NULL at the end */
static struct jval *line_n(unsigned int n)
{
	static char buf[1 << 20];
	char *save = NULL, *l;
	unsigned int i = 0;

	memcpy(buf, R.out, R.outlen + 1);
	for (l = strtok_r(buf, "\n", &save); l; l = strtok_r(NULL, "\n", &save))
		if (i++ == n)
			return json_parse(l, NULL);
	return NULL;
}

static void check_json(struct __test_metadata *_metadata,
		       const struct expect *e)
{
	static const char *const nums[] = {
		"fork_ns",	   "total_ns",
		"total_raw_ns",	   "child_overhead_ns",
		"parent_vmpte_kb", "child_vmpte_fork_kb",
		"wall_ns",	   "parent_vmpte_after_kb",
	};
	unsigned int results = 0, summaries = 0, i, k;
	struct jval *o;

	for (i = 0; (o = line_n(i)); i++) {
		const struct jval *h, *v;
		double sum = 0;

		EXPECT_STREQ("fork", jstr(o, "scenario"));
		EXPECT_STREQ("child", jstr(o, "who"));
		EXPECT_STREQ(e->child, jstr(o, "child"));
		EXPECT_STREQ(e->odf, jstr(o, "odf"));
		EXPECT_TRUE(is(o, "odf_supported", J_BOOL));
		EXPECT_EQ(odf_in_kernel(), jget(o, "odf_supported")->b);
		EXPECT_TRUE(is(o, "page_times", J_BOOL));
		EXPECT_EQ(e->page_times, jget(o, "page_times")->b);
		if (!strcmp(e->child, "exec")) {
			EXPECT_STREQ("/bin/true", jstr(o, "exec"));
		} else {
			EXPECT_TRUE(is(o, "exec", J_NULL));
		}
		if (!strcmp(jstr(o, "type"), "summary")) {
			summaries++;
			EXPECT_EQ(e->reps, jnum(o, "reps"));
			v = jget(o, "fork_ns_reps");
			ASSERT_TRUE(v && v->t == J_ARR && v->n == 3);
			EXPECT_LE(v->items[0]->num, v->items[1]->num);
			EXPECT_LE(v->items[1]->num, v->items[2]->num);
			EXPECT_GT(v->items[0]->num, 0);
			EXPECT_TRUE(is(o, "total_ns_reps", J_ARR));
			EXPECT_TRUE(is(o, "child_vmpte_fork_kb_reps", J_ARR));
			EXPECT_TRUE(is(o, "child_vmpte_write_kb_reps",
				       e->writes ? J_ARR : J_NULL));
			EXPECT_TRUE(is(o, "rep_vmstat_reps", J_OBJ));
			json_free(o);
			continue;
		}
		EXPECT_STREQ("result", jstr(o, "type"));
		results++;
		for (k = 0; k < sizeof(nums) / sizeof(nums[0]); k++) {
			const char *f = nums[k] ? nums[k] : "?";

			EXPECT_LE(0, jnum(o, f)) TH_LOG("%s missing", f);
		}
		EXPECT_GT(jnum(o, "fork_ns"), 0);
		EXPECT_GT(jnum(o, "total_ns"), 0);
		EXPECT_GE(jnum(o, "total_raw_ns"), jnum(o, "total_ns"));
		EXPECT_EQ(jnum(o, "total_raw_ns"),
			  jnum(o, "total_ns") + jnum(o, "child_overhead_ns"));
		/* the child maps at least the region's tables at fork */
		EXPECT_GE(jnum(o, "child_vmpte_fork_kb"), 4);
		EXPECT_EQ(e->writes, jnum(o, "writes"));
		if (e->writes) {
			EXPECT_GE(jnum(o, "child_vmpte_write_kb"), 4);
			EXPECT_TRUE(is(o, "sys_pt_kb_write", J_NUM) ||
				    is(o, "sys_pt_kb_write", J_NULL));
			/* COW happened: a fault per write */
			EXPECT_GE(jnum(o, "faults"), e->writes);
			EXPECT_GT(jnum(o, "wall_ns"), 0);
		} else {
			EXPECT_TRUE(is(o, "child_vmpte_write_kb", J_NULL));
			EXPECT_TRUE(is(o, "sys_pt_kb_write", J_NULL));
			EXPECT_EQ(0, jnum(o, "wall_ns"));
		}
		EXPECT_TRUE(is(o, "sys_pt_kb_before", J_NUM) ||
			    is(o, "sys_pt_kb_before", J_NULL));
		EXPECT_TRUE(is(o, "sys_pt_exact", J_BOOL));
		EXPECT_TRUE(is(o, "rep_vmstat", J_OBJ));
		if (odf_in_kernel()) {
			EXPECT_TRUE(is(o, "odf_prctl", J_NUM));
		} else {
			EXPECT_TRUE(is(o, "odf_prctl", J_NULL));
		}
		v = jget(o, "verify");
		if (e->verify) {
			EXPECT_TRUE(v && v->t == J_BOOL && v->b);
		} else {
			EXPECT_TRUE(v && v->t == J_NULL);
		}
		v = jget(o, "page_ok");
		EXPECT_TRUE(v && v->t == J_BOOL && v->b)
		TH_LOG("page_ok: %s", jstr(o, "page_info"));
		h = jget(o, "hist");
		ASSERT_TRUE(h && h->t == J_ARR);
		for (k = 0; k < h->n; k++)
			sum += h->items[k]->items[1]->num;
		EXPECT_EQ(e->page_times ? e->writes : 0, sum);
		json_free(o);
	}
	EXPECT_EQ(e->reps, results);
	EXPECT_EQ(1, summaries);
}

TEST(parsers)
{
	enum odf_mode m;
	enum child_action c;

	ASSERT_EQ(0, parse_odf("off", &m, err, sizeof(err)));
	ASSERT_EQ(ODF_OFF, m);
	ASSERT_EQ(0, parse_odf("on", &m, err, sizeof(err)));
	ASSERT_EQ(ODF_ON, m);
	ASSERT_EQ(0, parse_odf("sysctl", &m, err, sizeof(err)));
	ASSERT_EQ(ODF_SYSCTL, m);
	/* the prctl arguments of the interface: 0 follow the sysctl, 1, 2 */
	EXPECT_EQ(2, odf_prctl_arg(ODF_OFF));
	EXPECT_EQ(1, odf_prctl_arg(ODF_ON));
	EXPECT_EQ(0, odf_prctl_arg(ODF_SYSCTL));
	EXPECT_STREQ("sysctl", odf_name(ODF_SYSCTL));
	ASSERT_EQ(0, parse_child("exit", &c, err, sizeof(err)));
	ASSERT_EQ(CHILD_EXIT, c);
	ASSERT_EQ(0, parse_child("exec", &c, err, sizeof(err)));
	ASSERT_EQ(CHILD_EXEC, c);
	ASSERT_EQ(0, parse_child("write", &c, err, sizeof(err)));
	ASSERT_EQ(CHILD_WRITE, c);
	EXPECT_STREQ("write", child_name(CHILD_WRITE));
	err[0] = 0;
	EXPECT_EQ(-1, parse_odf("On", &m, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "off|on|sysctl"));
	EXPECT_EQ(-1, parse_odf("", &m, err, sizeof(err)));
	EXPECT_EQ(-1, parse_odf(NULL, &m, err, sizeof(err)));
	EXPECT_EQ(-1, parse_odf("1", &m, err, sizeof(err)));
	err[0] = 0;
	EXPECT_EQ(-1, parse_child("sleep", &c, err, sizeof(err)));
	EXPECT_NE(NULL, strstr(err, "exit|exec|write"));
	EXPECT_EQ(-1, parse_child("writes", &c, err, sizeof(err)));
	EXPECT_EQ(-1, parse_child(NULL, &c, err, sizeof(err)));
}

TEST(exit_vanilla)
{
	struct expect e = { "exit", "off", 2, 0, true, false };

	RUN_OK("--scenario", "fork", "--odf", "off", "--child", "exit",
	       "--size", "4M", "--reps", "2", "--quiet", "--json", "-");
	check_json(_metadata, &e);
}

TEST(default_is_exit_following_the_sysctl)
{
	struct expect e = { "exit", "sysctl", 2, 0, true, true };

	RUN_OK("--scenario", "fork", "--size", "2M", "--reps", "2", "--verify",
	       "--quiet", "--json", "-");
	check_json(_metadata, &e);
}

TEST(write_half_rand_verified)
{
	struct expect e = { "write", "off", 2, 512, true, true };

	RUN_OK("--scenario", "fork", "--odf", "off", "--child", "write",
	       "--touch-frac", "0.5", "--pattern", "rand", "--size", "4M",
	       "--reps", "2", "--verify", "--quiet", "--json", "-");
	check_json(_metadata, &e);
}

TEST(write_without_page_times)
{
	struct expect e = { "write", "off", 2, 1024, false, true };

	RUN_OK("--scenario", "fork", "--odf", "off", "--child", "write",
	       "--no-page-times", "--bytes", "64", "--size", "4M", "--reps",
	       "2", "--verify", "--quiet", "--json", "-");
	check_json(_metadata, &e);
}

TEST(exec_true)
{
	struct expect e = { "exec", "off", 2, 0, true, false };

	if (access("/bin/true", X_OK))
		SKIP(return, "no /bin/true");
	RUN_OK("--scenario", "fork", "--odf", "off", "--child", "exec",
	       "--size", "2M", "--reps", "2", "--quiet", "--json", "-");
	check_json(_metadata, &e);
}

TEST(exec_of_a_failing_program_fails)
{
	if (access("/bin/false", X_OK))
		SKIP(return, "no /bin/false");
	run_bench(NULL, "--scenario", "fork", "--child", "exec", "--exec",
		  "/bin/false", "--size", "2M", "--reps", "1", "--quiet", NULL);
	ASSERT_EQ(1, R.status);
	ASSERT_NE(NULL,
		  strstr(R.err, "cowbench: the exec'd /bin/false exited 1"))
	TH_LOG("%s", R.err);
}

TEST(odf_on)
{
	struct jval *o;

	run_bench(NULL, "--scenario", "fork", "--odf", "on", "--size", "2M",
		  "--reps", "1", "--json", "-", NULL);
	if (odf_in_kernel()) {
		struct expect e = { "exit", "on", 1, 0, true, false };

		ASSERT_EQ(0, R.status) TH_LOG("%s", R.err);
		check_json(_metadata, &e);
		o = line_n(0);
		ASSERT_NE(NULL, o);
		EXPECT_EQ(1, jnum(o, "odf_prctl"));
		json_free(o);
		return;
	}
	ASSERT_EQ(4, R.status) TH_LOG("%s", R.err);
	ASSERT_NE(
		NULL,
		strstr(R.err,
		       "skip: fork 4k: --odf on: this kernel has no on-demand fork"))
	TH_LOG("%s", R.err);
	o = json_parse(R.out, NULL);
	ASSERT_NE(NULL, o);
	EXPECT_NE(NULL, strstr(jstr(o, "skipped"), "PR_SET_COW_ODF"));
	EXPECT_STREQ("on", jstr(o, "odf"));
	EXPECT_TRUE(is(o, "odf_supported", J_BOOL) &&
		    !jget(o, "odf_supported")->b);
	json_free(o);
}

TEST(verify_catches_a_mismatch)
{
	run_bench("COWBENCH_TEST_CORRUPT=1", "--scenario", "fork", "--child",
		  "write", "--size", "2M", "--reps", "1", "--verify", "--quiet",
		  NULL);
	ASSERT_EQ(1, R.status);
	ASSERT_NE(NULL, strstr(R.err, "VERIFY FAILED")) TH_LOG("%s", R.err);
}

TEST(table)
{
	RUN_OK("--scenario", "fork", "--child", "write", "--touch-frac", "0.1",
	       "--size", "4M", "--reps", "3", "--odf", "off");
	ASSERT_NE(NULL, strstr(R.out, "# cowbench fork: page=4k child=write"));
	ASSERT_NE(NULL, strstr(R.out, "fork_us"));
	ASSERT_NE(NULL, strstr(R.out, "\n2 "));
	ASSERT_NE(NULL,
		  strstr(R.out, "summary child over 3 reps (min/median/max):"));
	ASSERT_NE(NULL, strstr(R.out, "summary page tables (kB"));
	ASSERT_NE(NULL, strstr(R.out, "summary counters per rep"));
}

TEST(bad_input_exits_2)
{
	static const char *const bad[][6] = {
		{ "--scenario", "fork", "--odf", "maybe" },
		{ "--scenario", "fork", "--child", "sleep" },
		{ "--odf", "on" }, /* not the fork scenario */
		{ "--scenario", "nofork", "--child", "exit" },
		{ "--scenario", "cow", "--no-page-times" },
		{ "--scenario", "fork", "--exec",
		  "/bin/true" }, /* child exit */
		{ "--scenario", "fork", "--child", "exec", "--exec",
		  "/nonexistent/prog" },
		{ "--scenario", "fork", "--child", "exec", "--exec", "" },
		{ "--scenario", "fork", "--touch-frac", "0.5" }, /* exit */
		{ "--scenario", "fork", "--child", "exec", "--pattern",
		  "rand" },
		{ "--scenario", "fork", "--no-page-times" }, /* child exit */
		{ "--scenario", "fork", "--who", "child" },
		{ "--scenario", "fork", "--exit-early" },
		{ "--scenario", "fork", "--odf" },
	};
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		run_bench(NULL, bad[i][0], bad[i][1], bad[i][2], bad[i][3],
			  bad[i][4], bad[i][5], NULL);
		EXPECT_EQ(2, R.status)
		TH_LOG("%s %s %s %s %s", bad[i][0], bad[i][1],
		       bad[i][2] ? bad[i][2] : "", bad[i][3] ? bad[i][3] : "",
		       bad[i][4] ? bad[i][4] : "");
		EXPECT_NE(NULL, strstr(R.err, "cowbench: "))
		TH_LOG("%s", R.err);
	}
}

TEST(help_and_list)
{
	RUN_OK("--help");
	ASSERT_NE(NULL, strstr(R.out, "--odf M"));
	ASSERT_NE(NULL, strstr(R.out, "--child A"));
	ASSERT_NE(NULL, strstr(R.out, "--exec PATH"));
	ASSERT_NE(NULL, strstr(R.out, "--no-page-times"));
	RUN_OK("--list");
	ASSERT_NE(NULL, strstr(R.out, "  fork "));
}

TEST_HARNESS_MAIN
