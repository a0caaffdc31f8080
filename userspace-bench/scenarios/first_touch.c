// SPDX-License-Identifier: GPL-2.0
/*
 * first-touch: write to a freshly mapped, never populated region: the
 * allocation fault (zero-fill, or for file the private copy of a file page
 * done by do_cow_fault) that a COW fault is compared against.
 */
#include <stdio.h>

#include "../cowbench.h"

static int first_touch_run(struct bench *b, unsigned int rep,
			   struct rep_out *out)
{
	struct side_result *me = &b->sh->r[SIDE_PARENT];
	char err[MSG_LEN];
	struct region r;

	(void)rep;
	if (region_create(b, &r, err, sizeof(err))) {
		fprintf(stderr, "cowbench: %s\n", err);
		return -1;
	}
	writer_run(b, &r, me, "self", XOR_PARENT);
	region_check_touched(b, &r, me, &out->pc);
	if (b->cfg.verify)
		verify_side(b, &r, me, XOR_PARENT);
	region_destroy(&r);
	return 0;
}

static const struct scenario first_touch = {
	.name = "first-touch",
	.help = "write to a fresh unpopulated mapping (allocation fault baseline)",
	.run = first_touch_run,
};
SCENARIO(first_touch);
