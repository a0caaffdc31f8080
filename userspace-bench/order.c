// SPDX-License-Identifier: GPL-2.0
#include <math.h>

#include "order.h"

uint64_t rng_next(uint64_t *state)
{
	uint64_t z = (*state += 0x9e3779b97f4a7c15ull);

	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

uint64_t rng_below(uint64_t *state, uint64_t n)
{
	/* reject the top partial range so every residue is equally likely */
	uint64_t limit = UINT64_MAX - UINT64_MAX % n;
	uint64_t r;

	do
		r = rng_next(state);
	while (r >= limit);
	return r % n;
}

size_t order_build(uint32_t *out, size_t n, enum pattern p, uint64_t stride,
		   uint64_t seed)
{
	uint64_t st = seed;
	size_t i, k = 0;

	if (!n)
		return 0;
	switch (p) {
	case PAT_SEQ:
		for (i = 0; i < n; i++)
			out[i] = (uint32_t)i;
		return n;
	case PAT_REV:
		for (i = 0; i < n; i++)
			out[i] = (uint32_t)(n - 1 - i);
		return n;
	case PAT_RAND:
		for (i = 0; i < n; i++)
			out[i] = (uint32_t)i;
		for (i = n - 1; i > 0; i--) {
			size_t j = (size_t)rng_below(&st, i + 1);
			uint32_t t = out[i];

			out[i] = out[j];
			out[j] = t;
		}
		return n;
	case PAT_STRIDE:
		if (!stride)
			return 0;
		for (i = 0; i < n; i += stride) {
			out[k++] = (uint32_t)i;
			if (n - i <= stride)
				break;
		}
		return k;
	}
	return 0;
}

size_t order_touch_count(size_t n, double frac)
{
	double c;
	size_t k;

	if (!n)
		return 0;
	c = ceil(frac * (double)n - 1e-9);
	k = c < 1.0 ? 1 : (size_t)c;
	return k > n ? n : k;
}
