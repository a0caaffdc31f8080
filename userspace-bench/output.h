/* SPDX-License-Identifier: GPL-2.0 */
/* JSON lines (docs/formats.md §4) and the human table. */
#ifndef COWBENCH_OUTPUT_H
#define COWBENCH_OUTPUT_H

#include <stdio.h>

#include "cowbench.h"

/* per side, over reps: for the summary row/line */
struct side_agg {
	const char *side;
	unsigned int n;
	uint64_t *p50, *p99, *wall; /* one per rep */
	uint64_t writes, faults;
	bool page_ok; /* every rep */
	int verify; /* -1 not run, 0 failed, 1 ok (every rep) */
	struct hist merged;
};

void json_result(FILE *f, const struct bench *b, unsigned int rep,
		 const struct rep_out *o, const struct side_result *res,
		 int verify);
void json_skip(FILE *f, const struct bench *b, const char *reason);
void json_summary(FILE *f, const struct bench *b, const struct side_agg *a);

void table_header(FILE *f, const struct bench *b);
void table_row(FILE *f, const struct bench *b, unsigned int rep,
	       const struct rep_out *o, const struct side_result *res);
void table_summary(FILE *f, const struct bench *b, const struct side_agg *a);

const char *who_label(const struct bench *b);

#endif
