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

/* scenario fork: per-rep series for the summary's [min, median, max] */
enum fork_series {
	FS_FORK,
	FS_TOTAL,
	FS_TOTAL_RAW,
	FS_OVERHEAD,
	FS_PARENT_VMPTE,
	FS_CHILD_VMPTE_FORK,
	FS_CHILD_VMPTE_WRITE,
	FS_SYS_PT_FORK_DELTA,
	FS_SYS_PT_WRITE_DELTA,
	FORK_NSERIES,
};
#define MAX_ODF_CTR 8

struct fork_agg {
	unsigned int n; /* reps added */
	int64_t *s[FORK_NSERIES]; /* n entries each; NA_I64 = not measured */
	int nodf; /* cow_odf_* counters among the vmstat ones */
	int odf_idx[MAX_ODF_CTR];
	int64_t *odf[MAX_ODF_CTR]; /* their deltas over each rep */
};

/* 0 ok, -1 out of memory; after vmstat_init() */
int fork_agg_init(struct fork_agg *a, unsigned int reps);
void fork_agg_add(struct fork_agg *a, const struct rep_out *o);

void json_result(FILE *f, const struct bench *b, unsigned int rep,
		 const struct rep_out *o, const struct side_result *res,
		 int verify);
void json_skip(FILE *f, const struct bench *b, const char *reason);
/* fa: scenario fork's series, else NULL */
void json_summary(FILE *f, const struct bench *b, const struct side_agg *a,
		  const struct fork_agg *fa);

void table_header(FILE *f, const struct bench *b);
void table_row(FILE *f, const struct bench *b, unsigned int rep,
	       const struct rep_out *o, const struct side_result *res);
void table_summary(FILE *f, const struct bench *b, const struct side_agg *a,
		   const struct fork_agg *fa);

const char *who_label(const struct bench *b);

#endif
