/* SPDX-License-Identifier: GPL-2.0 */
/* Argument parsers; pure functions, unit-tested in tests/host/parse_test.c. */
#ifndef COWBENCH_PARSE_H
#define COWBENCH_PARSE_H

#include <stddef.h>
#include <stdint.h>

enum who { WHO_CHILD, WHO_PARENT, WHO_BOTH };
enum pattern { PAT_SEQ, PAT_REV, PAT_RAND, PAT_STRIDE };
/* scenario fork: the prctl(PR_SET_COW_ODF) setting, and what the child does */
enum odf_mode { ODF_OFF, ODF_ON, ODF_SYSCTL };
enum child_action { CHILD_EXIT, CHILD_EXEC, CHILD_WRITE };
enum kind_type {
	KIND_4K,
	KIND_THP,
	KIND_MTHP,
	KIND_HUGETLB_2M,
	KIND_HUGETLB_1G,
	KIND_ZERO,
	KIND_FILE,
};

struct kind {
	enum kind_type type;
	uint64_t mthp_size; /* KIND_MTHP only: bytes */
	char name[24]; /* canonical: 4k thp mthp-64k hugetlb-2m hugetlb-1g zero file */
};

/*
 * All parsers return 0 on success, -1 on error with a message in err
 * (errlen bytes). Nothing is printed.
 */

/* "4096", "64K", "64k", "1M", "2G", "1T", optional trailing "B" or "iB" */
int parse_size(const char *s, uint64_t *out, char *err, size_t errlen);
/* unsigned decimal integer in [min, max] */
int parse_u64(const char *s, uint64_t min, uint64_t max, uint64_t *out,
	      char *err, size_t errlen);
/* fraction in (0, 1] */
int parse_frac(const char *s, double *out, char *err, size_t errlen);
int parse_who(const char *s, enum who *out, char *err, size_t errlen);
int parse_pattern(const char *s, enum pattern *out, char *err, size_t errlen);
/* syntax only; whether the kernel offers an mTHP size is checked at run time */
int parse_kind(const char *s, struct kind *out, char *err, size_t errlen);
/* off | on | sysctl */
int parse_odf(const char *s, enum odf_mode *out, char *err, size_t errlen);
/* exit | exec | write */
int parse_child(const char *s, enum child_action *out, char *err,
		size_t errlen);

const char *who_name(enum who w);
const char *pattern_name(enum pattern p);
const char *odf_name(enum odf_mode m);
const char *child_name(enum child_action c);
/* the PR_SET_COW_ODF argument of a mode: off 2 (never), on 1, sysctl 0 */
int odf_prctl_arg(enum odf_mode m);
/* "64K", "2M", "1G" when exact, else bytes */
void format_size(uint64_t v, char *buf, size_t len);

#endif
