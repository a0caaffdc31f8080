/* SPDX-License-Identifier: GPL-2.0 */
/*
 * harness.h - what cowlab's guest tests share on top of kselftest_harness.h
 * (include after it and knob.h):
 *
 *  - the verdict of a test's own processes: OK, FAIL, RETRY (a system-wide
 *    counter was moved by something else: run the case again) or SKIPPED,
 *    returned by CFAIL/CRETRY/CSKIP with where and why on stderr ("# WHO:
 *    function:line: ..."; set @who in a child);
 *  - supervise(): a case in a process of its own whose whole tree is
 *    reaped (this process is its subreaper), the worst verdict of all;
 *    ATTEMPTS: how often a test repeats a case that said RETRY;
 *  - counters: /proc/vmstat fields by a list of names, read and subtracted
 *    as arrays (counters_read/counters_delta): a test declares a struct of
 *    named longs over an array and the list of names, nothing else.
 */
#ifndef COWLAB_HARNESS_H
#define COWLAB_HARNESS_H

#include <stdio.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#ifndef ATTEMPTS
#define ATTEMPTS 5
#endif

/* exit codes of a test's processes, best first */
enum { OK = 0, FAIL = 1, RETRY = 2, SKIPPED = 4 };

/* which process speaks: "parent", "child"... (set it after fork) */
static const char *who = "parent";

#define CFAIL(fmt, ...)                                                  \
	do {                                                             \
		fprintf(stderr, "# %s: %s:%d: " fmt "\n", who, __func__, \
			__LINE__, ##__VA_ARGS__);                        \
		return FAIL;                                             \
	} while (0)

/* counters disturbed by something else in the system: try again */
#define CRETRY(fmt, ...)                                               \
	do {                                                           \
		fprintf(stderr, "# %s: %s:%d: (retry) " fmt "\n", who, \
			__func__, __LINE__, ##__VA_ARGS__);            \
		return RETRY;                                          \
	} while (0)

#define CSKIP(fmt, ...)                                                       \
	do {                                                                  \
		fprintf(stderr, "# %s: skip: " fmt "\n", who, ##__VA_ARGS__); \
		return SKIPPED;                                               \
	} while (0)

static inline int verdict_rank(int rc)
{
	switch (rc) {
	case OK:
		return 0;
	case SKIPPED:
		return 1;
	case RETRY:
		return 2;
	default:
		return 3;
	}
}

/* the worse of two verdicts; anything unknown is FAIL */
static inline int worst(int a, int b)
{
	int r = verdict_rank(a) > verdict_rank(b) ? a : b;

	return verdict_rank(r) == 3 ? FAIL : r;
}

/* a wait status as a verdict: a signal is FAIL, said for @name */
static inline int status_rc(int st, const char *name)
{
	if (WIFSIGNALED(st)) {
		fprintf(stderr, "# %s: %s killed by signal %d\n", who, name,
			WTERMSIG(st));
		return FAIL;
	}
	return WEXITSTATUS(st);
}

typedef int (*proc_fn)(void *arg);

/*
 * Run @fn in a new process and reap it and every descendant it leaves
 * behind (this process is their subreaper): the worst exit code.
 */
static inline int supervise(proc_fn fn, void *arg)
{
	int st, rc = OK;
	pid_t pid, w;

	if (prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0))
		return FAIL;
	fflush(NULL);
	pid = fork();
	if (pid < 0)
		return FAIL;
	if (!pid)
		_exit(fn(arg));
	while ((w = waitpid(-1, &st, 0)) > 0)
		rc = worst(rc, status_rc(st, w == pid ? "the test process" :
							"an orphaned process"));
	return rc;
}

/*
 * Counters by name: @v[i] = the /proc/vmstat field @names[i], -1 when the
 * kernel has none. One static buffer (vmstat_load): nothing allocated, so
 * reading does not itself fault in new pages.
 */
static inline void counters_read(const char *const *names, int n, long *v)
{
	const char *vs = vmstat_load();

	for (int i = 0; i < n; i++)
		v[i] = vmstat_field(vs, names[i]);
}

/* @d = @b - @a, @n counters */
static inline void counters_delta(int n, long *d, const long *a,
				  const long *b)
{
	for (int i = 0; i < n; i++)
		d[i] = b[i] - a[i];
}

/* 1 when the kernel has every counter of @names */
static inline int counters_present(const char *const *names, int n)
{
	const char *vs = vmstat_load();

	for (int i = 0; i < n; i++)
		if (vmstat_field(vs, names[i]) < 0)
			return 0;
	return 1;
}

/*
 * COUNTERS(vmc, "a", "b") after "struct vmc { union { struct { long a, b;
 * }; long v[2]; }; };": vmc_read(&c), vmc_delta(&d, &a, &b) and
 * vmc_present(), with the list's length checked against the struct's.
 */
#define COUNTERS(type, ...)                                                   \
	static const char *const type##_names[] = { __VA_ARGS__ };            \
	_Static_assert(sizeof(struct type) ==                                 \
			       sizeof(type##_names) / sizeof(char *) *        \
				       sizeof(long),                          \
		       "struct " #type ": one long per counter name");        \
	static inline void type##_read(struct type *c)                        \
	{                                                                     \
		counters_read(type##_names,                                   \
			      sizeof(type##_names) / sizeof(char *), c->v);   \
	}                                                                     \
	static inline void type##_delta(struct type *d, const struct type *a, \
					const struct type *b)                 \
	{                                                                     \
		counters_delta(sizeof(type##_names) / sizeof(char *), d->v,   \
			       a->v, b->v);                                   \
	}                                                                     \
	static inline int type##_present(void)                                \
	{                                                                     \
		return counters_present(type##_names, sizeof(type##_names) /  \
							      sizeof(char *)); \
	}

#endif /* COWLAB_HARNESS_H */
