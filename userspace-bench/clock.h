/* SPDX-License-Identifier: GPL-2.0 */
/* clock.h - CLOCK_MONOTONIC in nanoseconds (vDSO); cowbench, kvsnap, hugecow. */
#ifndef COWLAB_CLOCK_H
#define COWLAB_CLOCK_H

#include <stdint.h>
#include <time.h>

static inline uint64_t clock_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

#endif /* COWLAB_CLOCK_H */
