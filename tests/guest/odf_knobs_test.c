// SPDX-License-Identifier: GPL-2.0
/*
 * odf_knobs_test.c - how on-demand fork is switched: the prctl (defaults,
 * not inherited by fork, reset by exec, one setting per mm, EINVAL for bad
 * input) and, as root, vm.cow_odf (1 shares without the prctl,
 * prctl(PR_SET_COW_ODF, 2) opts out, bad values refused).
 */

#include "odf.h"

/* ---- the prctl: fixture odf ---- */

/* exec reset probe: a re-executed odf_test reports PR_GET_COW_ODF and exits */
static void __attribute__((constructor)) exec_probe(void)
{
	int v;

	if (!getenv("COWLAB_ODF_EXEC_PROBE"))
		return;
	v = odf_get();
	_exit(v < 0 ? 100 : v);
}

/* clang-format off */
ODF_FIXTURE(odf);
/* clang-format on */

TEST_F(odf, prctl_default_and_values)
{
	ASSERT_EQ(PR_COW_ODF_DEFAULT, odf_get());
	for (int v = PR_COW_ODF_NEVER; v >= PR_COW_ODF_DEFAULT; v--) {
		ASSERT_EQ(0, odf_set(v));
		ASSERT_EQ(v, odf_get());
	}
}

TEST_F(odf, prctl_bad_input)
{
	static const unsigned long bad[][4] = {
		{ 3, 0, 0, 0 },
		{ 4, 0, 0, 0 },
		{ ULONG_MAX, 0, 0, 0 },
		{ (1UL << 32) | 1, 0, 0, 0 }, /* no truncation to int */
		{ 1, 1, 0, 0 },
		{ 1, 0, 1, 0 },
		{ 1, 0, 0, 1 },
		{ 0, 0, 0, 1 },
		{ 2, ULONG_MAX, 0, 0 },
	};

	ASSERT_EQ(0, odf_set(PR_COW_ODF_ALWAYS));
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		EXPECT_EQ(-1, prctl(PR_SET_COW_ODF, bad[i][0], bad[i][1],
				    bad[i][2], bad[i][3]))
		{
			TH_LOG("PR_SET_COW_ODF(%#lx, %#lx, %#lx, %#lx) accepted",
			       bad[i][0], bad[i][1], bad[i][2], bad[i][3]);
		}
		EXPECT_EQ(EINVAL, errno);
		/* and the setting is untouched */
		ASSERT_EQ(PR_COW_ODF_ALWAYS, odf_get());
	}
	ASSERT_EQ(0, odf_set(PR_COW_ODF_DEFAULT));
}

/* The setting lives on the mm: not inherited by a child of fork. */
TEST_F(odf, prctl_not_inherited)
{
	for (int v = PR_COW_ODF_ALWAYS; v <= PR_COW_ODF_NEVER; v++) {
		int st;
		pid_t pid;

		ASSERT_EQ(0, odf_set(v));
		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid)
			_exit(odf_get());
		ASSERT_EQ(pid, waitpid(pid, &st, 0));
		ASSERT_TRUE(WIFEXITED(st));
		EXPECT_EQ(PR_COW_ODF_DEFAULT, WEXITSTATUS(st))
		{
			TH_LOG("a child of a process with %d starts with %d", v,
			       WEXITSTATUS(st));
		}
		ASSERT_EQ(v, odf_get());
	}
	ASSERT_EQ(0, odf_set(PR_COW_ODF_DEFAULT));
}

/* ... and reset by exec (the re-executed test reports it: exec_probe()) */
TEST_F(odf, prctl_reset_by_exec)
{
	for (int v = PR_COW_ODF_ALWAYS; v <= PR_COW_ODF_NEVER; v++) {
		char *const argv[] = { "odf_test", NULL };
		char *const envp[] = { "COWLAB_ODF_EXEC_PROBE=1", NULL };
		int st;
		pid_t pid;

		pid = fork();
		ASSERT_LE(0, pid);
		if (!pid) {
			if (odf_set(v) || odf_get() != v)
				_exit(101);
			execve("/proc/self/exe", argv, envp);
			_exit(102);
		}
		ASSERT_EQ(pid, waitpid(pid, &st, 0));
		ASSERT_TRUE(WIFEXITED(st));
		ASSERT_NE(102, WEXITSTATUS(st))
		{
			TH_LOG("execve /proc/self/exe failed");
		}
		ASSERT_NE(101, WEXITSTATUS(st))
		{
			TH_LOG("PR_SET_COW_ODF %d failed", v);
		}
		EXPECT_EQ(PR_COW_ODF_DEFAULT, WEXITSTATUS(st))
		{
			TH_LOG("after exec PR_GET_COW_ODF is %d (was %d)",
			       WEXITSTATUS(st), v);
		}
	}
}

static void *set_from_thread(void *arg)
{
	*(int *)arg = odf_set(PR_COW_ODF_NEVER);
	return NULL;
}

/* one setting per mm: a thread's PR_SET is the process's */
TEST_F(odf, prctl_per_mm_threads)
{
	pthread_t t;
	int rc = -1;

	ASSERT_EQ(0, odf_set(PR_COW_ODF_ALWAYS));
	ASSERT_EQ(0, pthread_create(&t, NULL, set_from_thread, &rc));
	ASSERT_EQ(0, pthread_join(t, NULL));
	ASSERT_EQ(0, rc);
	ASSERT_EQ(PR_COW_ODF_NEVER, odf_get());
	ASSERT_EQ(0, odf_set(PR_COW_ODF_DEFAULT));
}


/* ---- vm.cow_odf: fixture odf_sysctl (root) ---- */

struct probe {
	int optin; /* PR_SET_COW_ODF value, or -1: leave the default */
	int share; /* the fork must share (1) or must not (0) */
};

static int probe_main(void *arg)
{
	const struct probe *pr = arg;
	struct odfc a, b, c, d1, d2;
	int go[2], st, rc, sysctl = -1;
	struct region r;
	char x = 0;
	pid_t pid;

	sysctl_get("cow_odf", &sysctl);
	if (pr->optin >= 0 && odf_set(pr->optin))
		CFAIL("PR_SET_COW_ODF %d: %s", pr->optin, strerror(errno));
	if (odf_get() != (pr->optin >= 0 ? pr->optin : PR_COW_ODF_DEFAULT))
		CFAIL("PR_GET_COW_ODF: %d", odf_get());
	if (region_new(&r) || pipe(go))
		CFAIL("setup: %s", strerror(errno));
	pid = counted_fork(&a, "child");
	if (pid < 0)
		CFAIL("fork: %s", strerror(errno));
	if (!pid) {
		close(go[1]);
		if (read(go[0], &x, 1) != 1)
			_exit(OK);
		rc = verify(r.p, 0);
		if (rc)
			_exit(rc);
		for (int i = 0; i < NR; i++)
			stamp(r.p, i * PPR + 1, T_CHILD);
		_exit(verify(r.p, 1));
	}
	close(go[0]);
	odfc_read(&b);
	if (write(go[1], &x, 1) != 1)
		CFAIL("the child is gone");
	close(go[1]);
	if (waitpid(pid, &st, 0) != pid)
		CFAIL("waitpid: %s", strerror(errno));
	odfc_read(&c);
	rc = status_rc(st, "the child");
	if (!rc)
		rc = verify(r.p, 1);
	if (rc)
		return rc;
	odfc_delta(&d1, &a, &b);
	odfc_delta(&d2, &b, &c);
	if (pr->share) {
		if (d1.shared < NR)
			CFAIL("vm.cow_odf=%d, PR_GET_COW_ODF %d: the fork shared %ld page tables, want >= %d",
			      sysctl, odf_get(), d1.shared, NR);
		if (d2.copied < NR)
			CFAIL("the child wrote every shared range: cow_odf_copied +%ld, want >= %d",
			      d2.copied, NR);
	} else if (d1.shared || d1.fallback || d2.copied || d2.reused) {
		CRETRY("vm.cow_odf=%d, PR_GET_COW_ODF %d: cow_odf_shared +%ld fallback +%ld copied +%ld reused +%ld, want 0",
		       sysctl, odf_get(), d1.shared, d1.fallback, d2.copied,
		       d2.reused);
	}
	region_unmap(&r);
	return OK;
}

static int probe_run(const struct probe *pr)
{
	int rc = RETRY;

	for (int t = 0; t < ATTEMPTS && rc == RETRY; t++)
		rc = supervise(probe_main, (void *)pr);
	return rc;
}

/* clang-format off */
FIXTURE(odf_sysctl) {
	int saved;
	int have;
};
/* clang-format on */

FIXTURE_SETUP(odf_sysctl)
{
	NEED_ODF_COUNTERS();
	self->have = !sysctl_get("cow_odf", &self->saved);
	ASSERT_TRUE(self->have)
	{
		TH_LOG("PR_GET_COW_ODF works but there is no vm.cow_odf");
	}
	if (geteuid())
		SKIP(return, "needs root to set vm.cow_odf");
}

FIXTURE_TEARDOWN_PARENT(odf_sysctl)
{
	if (self->have)
		sysctl_set("cow_odf", self->saved);
}

TEST_F(odf_sysctl, values)
{
	static const char *const bad[] = { "2", "-1", "abc" };
	int v = -1;

	for (int i = 1; i >= 0; i--) {
		ASSERT_EQ(0, sysctl_set("cow_odf", i));
		ASSERT_EQ(0, sysctl_get("cow_odf", &v));
		ASSERT_EQ(i, v);
	}
	for (unsigned int i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int ret = knob_write("/proc/sys/vm/cow_odf", bad[i]);

		EXPECT_EQ(-EINVAL, ret)
		{
			TH_LOG("vm.cow_odf: writing \"%s\" returned %d", bad[i],
			       ret);
		}
		ASSERT_EQ(0, sysctl_get("cow_odf", &v));
		ASSERT_EQ(0, v)
		{
			TH_LOG("vm.cow_odf is %d after \"%s\"", v, bad[i]);
		}
	}
}

TEST_F_TIMEOUT(odf_sysctl, one_shares_every_fork, 120)
{
	const struct probe pr = { -1, 1 };

	ASSERT_EQ(0, sysctl_set("cow_odf", 1));
	ASSERT_EQ(OK, probe_run(&pr));
}

TEST_F_TIMEOUT(odf_sysctl, prctl_never_opts_out, 120)
{
	const struct probe pr = { PR_COW_ODF_NEVER, 0 };

	ASSERT_EQ(0, sysctl_set("cow_odf", 1));
	ASSERT_EQ(OK, probe_run(&pr));
}

TEST_F_TIMEOUT(odf_sysctl, zero_shares_only_opted_in, 120)
{
	const struct probe none = { -1, 0 }, dflt = { PR_COW_ODF_DEFAULT, 0 };
	const struct probe always = { PR_COW_ODF_ALWAYS, 1 };

	ASSERT_EQ(0, sysctl_set("cow_odf", 0));
	ASSERT_EQ(OK, probe_run(&none));
	ASSERT_EQ(OK, probe_run(&dflt));
	ASSERT_EQ(OK, probe_run(&always));
}

TEST_HARNESS_MAIN
