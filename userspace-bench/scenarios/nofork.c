// SPDX-License-Identifier: GPL-2.0
/*
 * nofork: populate, then write without forking: the baseline cost of the store
 * on exclusive pages (no COW at all for anonymous kinds; for zero it is the
 * zero-page COW and for file the private file COW, neither needs a fork).
 */
#include <stdio.h>

#include "../cowbench.h"

static int nofork_run(struct bench *b, unsigned int rep, struct rep_out *out)
{
	struct side_result *me = &b->sh->r[SIDE_PARENT];
	char err[MSG_LEN];
	struct region r;

	(void)rep;
	if (region_create(b, &r, err, sizeof(err))) {
		fprintf(stderr, "cowbench: %s\n", err);
		return -1;
	}
	region_populate(b, &r, &out->pc);
	writer_run(b, &r, me, "self", XOR_PARENT);
	if (b->cfg.verify)
		verify_side(b, &r, me, XOR_PARENT);
	region_destroy(&r);
	return 0;
}

static const struct scenario nofork = {
	.name = "nofork",
	.help = "populate, then write without a fork (baseline: no anon COW)",
	.populates = true,
	.run = nofork_run,
};
SCENARIO(nofork);
