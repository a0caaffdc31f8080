/* SPDX-License-Identifier: GPL-2.0 */
/*
 * inject.h - fault injection for cowlab's guest tests (debug kernel:
 * CONFIG_FAULT_INJECTION, FAIL_PAGE_ALLOC, FAILSLAB): fail-nth sweeps and
 * make-it-fail for one task. Include after kselftest_harness.h and knob.h.
 */
#ifndef COWLAB_INJECT_H
#define COWLAB_INJECT_H

#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

#define FPA "/sys/kernel/debug/fail_page_alloc/"
#define FSL "/sys/kernel/debug/failslab/"

/*
 * Count every page and slab allocation, sleeping ones too, for fail-nth and
 * for the tasks that set make-it-fail (@prob 100), or none (@on 0). The
 * probability is written last: until the task filter is on, every task
 * would fail.
 */
static inline int inject_setup(int on, int prob)
{
	static const char *const dirs[] = { FPA, FSL };
	char path[128], val[8];

	snprintf(path, sizeof(path), FPA "probability");
	if (access(path, W_OK))
		return -1;
	for (unsigned int i = 0; i < 2; i++) {
		const char *d = dirs[i];

		snprintf(path, sizeof(path), "%sprobability", d);
		knob_write(path, "0");
		if (!on) {
			snprintf(path, sizeof(path), "%stask-filter", d);
			knob_write(path, "N");
			snprintf(path, sizeof(path), "%signore-gfp-wait", d);
			knob_write(path, "Y");
			continue;
		}
		snprintf(path, sizeof(path), "%stask-filter", d);
		knob_write(path, "Y");
		snprintf(path, sizeof(path), "%sinterval", d);
		knob_write(path, "1");
		snprintf(path, sizeof(path), "%stimes", d);
		knob_write(path, "-1");
		snprintf(path, sizeof(path), "%sverbose", d);
		knob_write(path, "0");
		snprintf(path, sizeof(path), "%signore-gfp-wait", d);
		knob_write(path, "N");
		if (i == 0) { /* fail_page_alloc */
			snprintf(path, sizeof(path), "%smin-order", d);
			knob_write(path, "0");
			snprintf(path, sizeof(path), "%signore-gfp-highmem", d);
			knob_write(path, "N");
		}
		snprintf(path, sizeof(path), "%sprobability", d);
		snprintf(val, sizeof(val), "%d", prob);
		knob_write(path, val);
	}
	return 0;
}

#define NEED_INJECTION(prob)                                                \
	do {                                                                \
		if (inject_setup(1, prob) ||                                \
		    access("/proc/thread-self/fail-nth", W_OK))             \
			SKIP(return, "no fault injection (debug kernel only)"); \
	} while (0)

/*
 * make-it-fail of the calling task: 0, or -1. The file is opened once,
 * before: with every allocation of the task failing, an open() to turn
 * it off again would fail too.
 */
static inline int make_it_fail(int on)
{
	static int fd = -1;

	if (fd < 0)
		fd = open("/proc/self/make-it-fail", O_WRONLY);
	if (fd < 0)
		return -1;
	return pwrite(fd, on ? "1" : "0", 1, 0) == 1 ? 0 : -1;
}


#endif /* COWLAB_INJECT_H */
