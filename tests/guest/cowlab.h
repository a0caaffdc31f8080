/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cowlab.h - the cowlab kernel's user-visible numbers (as the patches
 * define them: include/uapi/linux/prctl.h of patch 0013, mdup() via
 * userspace-bench/mdup.h) and the probes that skip a test on a kernel
 * without the feature. Include after kselftest_harness.h, knob.h and
 * region.h.
 */
#ifndef COWLAB_GUEST_H
#define COWLAB_GUEST_H

#include <errno.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "../../userspace-bench/mdup.h"


static inline int have_mdup(void)
{
	return !(syscall(__NR_mdup, 0, 0, 0, 0) == -1 && errno == ENOSYS);
}

#define NEED_MDUP()                                                    \
	do {                                                           \
		if (!have_mdup())                                      \
			SKIP(return, "kernel has no mdup() (ENOSYS)"); \
	} while (0)

/* Opt the calling process in to on-demand fork: 1, or 0 (no such prctl). */
static inline int have_odf(void)
{
	return prctl(PR_SET_COW_ODF, PR_COW_ODF_ALWAYS, 0, 0, 0) == 0;
}

#define NEED_ODF()                                                    \
	do {                                                          \
		if (vmstat_get("cow_odf_shared") < 0)                 \
			SKIP(return, "kernel has no on-demand fork"); \
	} while (0)

/*
 * In a grandchild that waits on a pipe: close its copy of the write end
 * (@wfd) and die with its parent, so that a failed case leaves no process
 * behind holding the test's output open.
 */
static inline void orphan_guard(int wfd)
{
	close(wfd);
	prctl(PR_SET_PDEATHSIG, SIGKILL, 0, 0, 0);
}

#define KSM_KNOBS "/sys/kernel/mm/ksm/"

/*
 * Run ksmd flat out until the pages at @a and @b share one PFN (up to 6 s),
 * then restore its knobs. The range holding them must be MADV_MERGEABLE.
 * Needs region.h's pfn(). Return: 1 merged, 0 not merged, -1 no KSM.
 */
static inline int ksm_merge(const void *a, const void *b)
{
	char run[16], scan[16], sleep_ms[16];
	int merged = 0;

	if (knob_read(KSM_KNOBS "run", run, sizeof(run)))
		return -1;
	knob_read(KSM_KNOBS "pages_to_scan", scan, sizeof(scan));
	knob_read(KSM_KNOBS "sleep_millisecs", sleep_ms, sizeof(sleep_ms));
	knob_write(KSM_KNOBS "pages_to_scan", "10000");
	knob_write(KSM_KNOBS "sleep_millisecs", "0");
	knob_write(KSM_KNOBS "run", "1");
	for (int i = 0; i < 300 && !merged; i++) {
		usleep(20000);
		merged = pfn(a) && pfn(a) == pfn(b);
	}
	knob_write(KSM_KNOBS "run", run);
	knob_write(KSM_KNOBS "pages_to_scan", scan);
	knob_write(KSM_KNOBS "sleep_millisecs", sleep_ms);
	return merged;
}

#endif /* COWLAB_GUEST_H */
