/* SPDX-License-Identifier: GPL-2.0 */
/* Page visiting orders; unit-tested in tests/host/order_test.c. */
#ifndef COWBENCH_ORDER_H
#define COWBENCH_ORDER_H

#include <stddef.h>
#include <stdint.h>

#include "parse.h"

/* splitmix64 */
uint64_t rng_next(uint64_t *state);
/* uniform in [0, n), n > 0, unbiased (rejection) */
uint64_t rng_below(uint64_t *state, uint64_t n);

/*
 * Fill out[] with page indices in visiting order and return how many:
 *   seq     0, 1, .., n-1
 *   rev     n-1, .., 0
 *   rand    a permutation of 0..n-1 (Fisher-Yates seeded with seed)
 *   stride  0, s, 2s, .. < n  (every s-th page once: ceil(n/s) entries)
 * out must have room for n entries. Returns 0 if n == 0 or s == 0.
 */
size_t order_build(uint32_t *out, size_t n, enum pattern p, uint64_t stride,
		   uint64_t seed);

/* pages written with --touch-frac: ceil(frac * n), at least 1 (n > 0) */
size_t order_touch_count(size_t n, double frac);

#endif
