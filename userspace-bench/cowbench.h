/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cowbench: fork-and-write Copy-on-Write benchmark. The driver (cowbench.c)
 * owns options, repetition, statistics and output; each scenario lives in
 * scenarios/<name>.c and registers itself with SCENARIO().
 */
#ifndef COWBENCH_H
#define COWBENCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/resource.h>

#include "hist.h"
#include "order.h"
#include "parse.h"

#define MAX_VMSTAT 64
#define VMSTAT_NAME_LEN 48
#define MSG_LEN 256

/* exit codes */
#define EXIT_OK 0
#define EXIT_FAIL 1 /* run-time failure: verify mismatch, child died, ... */
#define EXIT_USAGE 2 /* bad command line */
#define EXIT_SKIP \
	4 /* kselftest KSFT_SKIP: this configuration cannot run here */

/* value written by each side: orig ^ xor (distinct, never equal to orig) */
#define XOR_CHILD 0xff
#define XOR_PARENT 0x5a

enum side_id { SIDE_CHILD = 0, SIDE_PARENT = 1, NSIDES = 2 };

struct cfg {
	const struct scenario *sc;
	enum who who;
	bool who_set;
	enum pattern pattern;
	uint64_t stride;
	bool stride_set;
	uint64_t seed;
	uint64_t bytes;
	uint64_t size;
	uint64_t unit;
	bool unit_set;
	struct kind kind;
	uint64_t reps;
	const char *json; /* NULL, "-" or a path (appended to) */
	bool quiet;
	bool verify;
	bool exit_early;
	double touch_frac;
	const char *file_dir; /* NULL: /dev/shm if tmpfs, else /tmp */
	bool anchor;
	bool no_madvise; /* 4k/zero/file: no MADV_NOHUGEPAGE */
	const char *label; /* free-form tag copied into the JSON */
	/* scenario fork (sc->fork_child) only */
	enum odf_mode odf; /* prctl(PR_SET_COW_ODF) before each fork */
	enum child_action child; /* what the child does after fork */
	const char *exec_path; /* --child exec: program to execve */
	bool page_times; /* time every write (false: the loop's total only) */
	bool bytes_set; /* --bytes given */
	const char
		*write_opt; /* first of --pattern/--seed/--bytes/--touch-frac */
	uint64_t window; /* populate: pages per MADV_POPULATE_WRITE call */
};

/* what one writing process measured; lives in the MAP_SHARED result area */
struct side_result {
	char side[8]; /* "child", "parent" or "self" */
	int wrote; /* this side ran the timed loop */
	int verified; /* this side checked its own view */
	int verify_ok;
	int err;
	char msg[MSG_LEN]; /* error or verify mismatch */
	uint64_t writes;
	uint64_t wall_ns;
	uint64_t minflt;
	uint64_t majflt;
	uint64_t rss_kb;
	uint64_t clock_overhead_ns;
	int vm_valid;
	int64_t vm_delta[MAX_VMSTAT];
	struct hist hist;
};

struct shared {
	struct side_result r[NSIDES];
};

struct page_check {
	bool ok;
	char info[MSG_LEN];
};

#define NA_I64 INT64_MIN /* a fork_out value that was not measured */

/* scenario fork: what one rep measured besides the child's writes */
struct fork_out {
	bool valid;
	uint64_t total_ns; /* fork() call to waitpid() return, minus overhead */
	uint64_t total_raw_ns; /* the same, overhead included */
	uint64_t child_overhead_ns; /* the child's own measuring (probes) */
	int64_t parent_vmpte_kb; /* VmPTE of the parent before fork */
	int64_t parent_vmpte_after_kb; /* ... after waitpid */
	int64_t child_vmpte_fork_kb; /* the child's VmPTE right after fork */
	int64_t child_vmpte_write_kb; /* ... after its writes (write only) */
	int64_t sys_pt_kb_before; /* nr_page_table_pages in kB: before fork */
	int64_t sys_pt_kb_fork; /* read by the child right after fork */
	int64_t sys_pt_kb_write; /* read by the child after its writes */
	int64_t sys_pt_kb_after; /* read by the parent after waitpid */
	bool sys_pt_exact; /* per-cpu counters folded (vm.stat_refresh) */
	int odf_prctl; /* PR_GET_COW_ODF after the set; -1 unknown */
	int vm_valid;
	int64_t vm_delta[MAX_VMSTAT]; /* fork() call to waitpid() return */
};

struct rep_out {
	struct page_check pc;
	bool has_fork;
	uint64_t fork_ns;
	bool failed; /* something went wrong (message already printed) */
	struct fork_out fk; /* scenario fork only */
};

struct bench {
	struct cfg cfg;
	uint64_t folio; /* allocation granule of the kind (4K, 2M, N) */
	uint64_t npages; /* size / unit */
	uint32_t *order; /* visiting order, nwrites entries used */
	size_t nwrites;
	uint8_t *written; /* written[i]: unit i is written (npages entries) */
	uint64_t touched_folios; /* distinct folios the writes hit */
	struct shared *sh; /* MAP_SHARED, mlocked if possible */
	const char *file_dir;
	char kernel[65];
	/* scenario fork: probed by its prepare() before the first rep */
	int odf_supported; /* -1 not probed, 0 no PR_SET_COW_ODF, 1 yes */
	long long odf_sysctl; /* vm.cow_odf, -1 if absent */
};

struct region {
	char *map; /* whole mapping (munmap) */
	size_t map_len;
	char *base; /* measured region: size bytes, unit-aligned */
	char *anchor; /* extra written page in the same VMA, or NULL */
	int fd;
	bool orig_zero; /* original content is zero, not the pattern */
	char file_fs[16];
};

struct scenario {
	const char *name;
	const char *help;
	bool forks; /* uses --who / --exit-early */
	bool populates; /* region is populated before the timed writes */
	/*
	 * Uses --odf / --child / --exec / --no-page-times; one row per rep
	 * (the child's), whether or not it wrote, with out->fk.
	 */
	bool fork_child;
	bool windows; /* uses --window (populate) */
	unsigned int kinds; /* KIND_BIT()s of the page kinds it takes; 0: all */
	/*
	 * optional, at the end of option parsing: check the options this
	 * scenario takes (and set its defaults); 0 ok, -1 a usage error (err)
	 */
	int (*check)(struct cfg *c, char *err, size_t len);
	/* optional, before the first rep: 0 run, 1 skip, -1 failure (reason) */
	int (*prepare)(struct bench *b, char *reason, size_t len);
	/* 0 ok, -1 failure (message printed); fills out and b->sh->r[] */
	int (*run)(struct bench *b, unsigned int rep, struct rep_out *out);
};

#define KIND_BIT(t) (1u << (t))
#define KINDS_ANON                                                      \
	(KIND_BIT(KIND_4K) | KIND_BIT(KIND_THP) | KIND_BIT(KIND_MTHP) | \
	 KIND_BIT(KIND_HUGETLB_2M) | KIND_BIT(KIND_HUGETLB_1G))

#define SCENARIO(var)                                            \
	static const struct scenario *const __cowbench_scn_##var \
		__attribute__((used, section("cowbench_scenarios"))) = &var

extern const struct scenario *const __start_cowbench_scenarios[];
extern const struct scenario *const __stop_cowbench_scenarios[];

static inline uint8_t pat_byte(uint64_t unit_idx)
{
	return (uint8_t)(unit_idx * 37 + 11);
}

/* measure.c */
uint64_t now_ns(void);
uint64_t clock_overhead_ns(void);
int vmstat_init(void); /* choose the counters; before the first fork */
int vmstat_count(void);
const char *vmstat_name(int i);
int vmstat_snapshot(uint64_t *vals); /* 0 ok, -1 unavailable */
uint64_t statm_rss_kb(void);
void writer_run(struct bench *b, struct region *r, struct side_result *res,
		const char *side, uint8_t xor);
void result_reset(struct side_result *res, const char *side);
/* time op(ctx, k) for k < n, each alone; 0, or the errno that stopped it */
int timed_run(struct side_result *res, const char *side, uint64_t n,
	      int (*op)(void *ctx, uint64_t k), void *ctx);

/* region.c */
int region_create(struct bench *b, struct region *r, char *err, size_t len);
void region_destroy(struct region *r);
/* populate (write the pattern / read for zero and file) and check the kind */
void region_populate(struct bench *b, struct region *r, struct page_check *pc);
/* after first-touch writes: check the kind from the writer's faults */
void region_check_touched(struct bench *b, struct region *r,
			  const struct side_result *res, struct page_check *pc);
/* Rss of the region's VMA in /proc/self/smaps (kB), -1 without smaps */
long long region_rss_kb(struct region *r);
/* xor 0: expect the original content everywhere */
int region_verify(struct bench *b, struct region *r, uint8_t xor, char *msg,
		  size_t len);
void verify_side(struct bench *b, struct region *r, struct side_result *res,
		 uint8_t xor);

/* sys.c: THP/mTHP/hugetlb sysfs, availability, restore */
struct thp_sizes {
	bool present;
	uint64_t pmd_size;
	int n;
	uint64_t size[16]; /* mTHP sizes < PMD that have an 'enabled' knob */
};
void thp_probe(struct thp_sizes *t);
/* 0: usable (sysfs adjusted if root, restored at exit); 1: skip (reason) */
int kind_prepare(struct bench *b, char *reason, size_t len);
/* for --list: 0 available, 1 not (reason); changes nothing */
int kind_status(const struct kind *k, char *info, size_t len);
void sysfs_restore(void);
int read_str(const char *path, char *buf, size_t len); /* trimmed */
int read_u64(const char *path, uint64_t *v);
uint64_t hugetlb_size(enum kind_type t);

#endif
