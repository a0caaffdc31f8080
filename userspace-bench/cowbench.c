// SPDX-License-Identifier: GPL-2.0
/*
 * cowbench: fork-and-write Copy-on-Write benchmark (driver).
 * See README.md for every option and JSON field.
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cowbench.h"
#include "output.h"

#define DEFAULT_SCENARIO "cow"
#define DEFAULT_EXEC "/bin/true"

static const struct scenario *scenario_find(const char *name)
{
	const struct scenario *const *s;

	for (s = __start_cowbench_scenarios; s < __stop_cowbench_scenarios; s++)
		if (!strcmp((*s)->name, name))
			return *s;
	return NULL;
}

static void scenario_list(FILE *f, int indent)
{
	const struct scenario *const *s;

	for (s = __start_cowbench_scenarios; s < __stop_cowbench_scenarios; s++)
		fprintf(f, "%*s%-12s %s\n", indent, "", (*s)->name, (*s)->help);
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: cowbench [options]\n"
		"Fork-and-write Copy-on-Write benchmark: time every first write to each page.\n"
		"\n"
		"  --scenario NAME   what to run (default " DEFAULT_SCENARIO
		"):\n");
	scenario_list(f, 20);
	fprintf(f,
		"  --who W           cow: who writes: child|parent|both (default child); the\n"
		"                    other side waits on a pipe and keeps the pages shared\n"
		"  --pattern P       seq|rev|rand|stride (default seq)\n"
		"  --stride N        with --pattern stride: write pages 0, N, 2N, .. (default 16)\n"
		"  --seed N          seed of the rand permutation (default 1)\n"
		"  --bytes N         bytes written per page, 1..unit (default 1); 1 = a single\n"
		"                    byte store, more = memset of N bytes (e.g. 64, 4096);\n"
		"                    memcpy/memset: bytes copied or zeroed per unit (default the unit)\n"
		"  --size S          region size, K/M/G suffixes (default 64M)\n"
		"  --unit S          write granule (default 4K; hugetlb: its page size)\n"
		"  --page KIND       4k | thp | mthp-<N>k | hugetlb-2m | hugetlb-1g | zero | file\n"
		"                    (default 4k; --list shows what this kernel offers)\n"
		"  --reps N          repetitions, fresh mmap + fork each (default 3)\n"
		"  --touch-frac F    write only the first F (0<F<=1) of the pattern (default 1)\n"
		"  --exit-early      cow: the child exits right after fork, then the parent\n"
		"                    writes (fork-then-exit); implies --who parent\n"
		"  --child A         fork: what the child does after fork: exit (_exit at once,\n"
		"                    default), exec (execve --exec), write (--touch-frac of\n"
		"                    the pattern, each write timed)\n"
		"  --odf M           fork: on-demand fork (shared page tables at fork) via\n"
		"                    prctl(PR_SET_COW_ODF) before each fork: off (2, never),\n"
		"                    on (1, always), sysctl (0, follow vm.cow_odf; default).\n"
		"                    Kernel without the prctl: off and sysctl run a vanilla\n"
		"                    fork, on is skipped (exit 4)\n"
		"  --exec PATH       fork --child exec: program to execve (default " DEFAULT_EXEC
		")\n"
		"  --window N        populate: pages per madvise(MADV_POPULATE_WRITE) call,\n"
		"                    1..512 (default 1); each call is one timed operation\n"
		"  --no-page-times   fork --child write: no clock reads around each write, only\n"
		"                    the loop's total (no histogram); for clean total times\n"
		"  --verify          check parent and child contents after the writes; a\n"
		"                    mismatch prints VERIFY FAILED and exits 1\n"
		"  --json FILE|-     append JSON lines to FILE ('-': stdout, table to stderr)\n"
		"  --label TEXT      add \"label\":TEXT to every JSON line (e.g. a kernel variant)\n"
		"  --file-dir DIR    directory for --page file (default /dev/shm if tmpfs,\n"
		"                    else /tmp)\n"
		"  --no-anchor       zero/file: do not write the extra anchor page (see README)\n"
		"  --no-madvise      4k/zero/file: no MADV_NOHUGEPAGE on the region: the\n"
		"                    system's THP settings decide its pages (4K under THP\n"
		"                    'madvise'), and the range has not refused large folios\n"
		"                    (vm.cow_precopy_large copies into them)\n"
		"  --quiet           no table\n"
		"  --list            list scenarios and page kinds available on this kernel\n"
		"  --help            this text\n"
		"\n"
		"The anchors (scripts/host-anchors; docs/host-anchors.md): memcpy times the\n"
		"copy of each --unit (4K or 2M) between two populated buffers of --size\n"
		"bytes, no fault: a --size that fits the caches is HOT (e.g. 256K: the copy\n"
		"of data just touched), one far above the last-level cache is COLD (e.g.\n"
		"256M: the copy of a page not touched for long, as in a COW fault); memset\n"
		"times the same loop zeroing one buffer (an allocation's clear_page). trap\n"
		"times reads of a fresh mapping, each mapping the shared zero page: the\n"
		"cheapest fault. populate times MADV_POPULATE_WRITE over --window pages in\n"
		"a forked child: COW broken in the kernel without a trap per page.\n"
		"\n"
		"Exit: 0 ok, 1 failure (verify mismatch, child died, ...), 2 bad usage,\n"
		"4 skipped (the page kind is not available here, --odf on without\n"
		"on-demand fork, or populate without MADV_POPULATE_WRITE; prints 'skip: ...').\n");
}

static void __attribute__((noreturn, format(printf, 1, 2)))
die_usage(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "cowbench: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fprintf(stderr, "\n(try cowbench --help)\n");
	exit(EXIT_USAGE);
}

static const char *default_file_dir(void)
{
	const char *env = getenv("TMPDIR");
	struct statfs s;

	if (!statfs("/dev/shm", &s) && (unsigned long)s.f_type == 0x01021994 &&
	    !access("/dev/shm", W_OK))
		return "/dev/shm";
	if (!access("/tmp", W_OK))
		return "/tmp";
	return env && *env ? env : ".";
}

static void do_list(void)
{
	static const char *const fixed[] = { "4k", "thp" };
	static const char *const tail[] = { "hugetlb-2m", "hugetlb-1g", "zero",
					    "file" };
	struct thp_sizes t;
	struct kind k;
	char info[512], err[MSG_LEN], name[32];
	unsigned int i;
	int j;

	printf("scenarios:\n");
	scenario_list(stdout, 2);
	printf("page kinds on this kernel (%s):\n",
	       geteuid() ?
		       "not root: THP knobs are left as they are" :
		       "root: THP knobs are switched for the run and restored");
	for (i = 0; i < 2; i++) {
		parse_kind(fixed[i], &k, err, sizeof(err));
		kind_status(&k, info, sizeof(info));
		printf("  %-12s %s\n", k.name, info);
	}
	thp_probe(&t);
	for (j = 0; j < t.n; j++) {
		snprintf(name, sizeof(name), "mthp-%lluk",
			 (unsigned long long)(t.size[j] >> 10));
		parse_kind(name, &k, err, sizeof(err));
		kind_status(&k, info, sizeof(info));
		printf("  %-12s %s\n", k.name, info);
	}
	for (i = 0; i < 4; i++) {
		parse_kind(tail[i], &k, err, sizeof(err));
		kind_status(&k, info, sizeof(info));
		if (k.type == KIND_FILE)
			printf("  %-12s %s (dir %s)\n", k.name, info,
			       default_file_dir());
		else
			printf("  %-12s %s\n", k.name, info);
	}
}

enum {
	OPT_SCENARIO = 256,
	OPT_WHO,
	OPT_PATTERN,
	OPT_STRIDE,
	OPT_SEED,
	OPT_BYTES,
	OPT_SIZE,
	OPT_UNIT,
	OPT_PAGE,
	OPT_REPS,
	OPT_JSON,
	OPT_QUIET,
	OPT_LIST,
	OPT_VERIFY,
	OPT_EXIT_EARLY,
	OPT_TOUCH_FRAC,
	OPT_FILE_DIR,
	OPT_NO_ANCHOR,
	OPT_NO_MADVISE,
	OPT_LABEL,
	OPT_ODF,
	OPT_CHILD,
	OPT_EXEC,
	OPT_NO_PAGE_TIMES,
	OPT_WINDOW,
	OPT_HELP,
};

static const struct option opts[] = {
	{ "scenario", required_argument, NULL, OPT_SCENARIO },
	{ "who", required_argument, NULL, OPT_WHO },
	{ "pattern", required_argument, NULL, OPT_PATTERN },
	{ "stride", required_argument, NULL, OPT_STRIDE },
	{ "seed", required_argument, NULL, OPT_SEED },
	{ "bytes", required_argument, NULL, OPT_BYTES },
	{ "size", required_argument, NULL, OPT_SIZE },
	{ "unit", required_argument, NULL, OPT_UNIT },
	{ "page", required_argument, NULL, OPT_PAGE },
	{ "reps", required_argument, NULL, OPT_REPS },
	{ "json", required_argument, NULL, OPT_JSON },
	{ "quiet", no_argument, NULL, OPT_QUIET },
	{ "list", no_argument, NULL, OPT_LIST },
	{ "verify", no_argument, NULL, OPT_VERIFY },
	{ "exit-early", no_argument, NULL, OPT_EXIT_EARLY },
	{ "touch-frac", required_argument, NULL, OPT_TOUCH_FRAC },
	{ "file-dir", required_argument, NULL, OPT_FILE_DIR },
	{ "no-anchor", no_argument, NULL, OPT_NO_ANCHOR },
	{ "no-madvise", no_argument, NULL, OPT_NO_MADVISE },
	{ "label", required_argument, NULL, OPT_LABEL },
	{ "odf", required_argument, NULL, OPT_ODF },
	{ "child", required_argument, NULL, OPT_CHILD },
	{ "exec", required_argument, NULL, OPT_EXEC },
	{ "no-page-times", no_argument, NULL, OPT_NO_PAGE_TIMES },
	{ "window", required_argument, NULL, OPT_WINDOW },
	{ "help", no_argument, NULL, OPT_HELP },
	{ NULL, 0, NULL, 0 },
};

static bool list_only;

static void parse_args(int argc, char **argv, struct cfg *c)
{
	char err[MSG_LEN];
	const char *bytes_arg = "1";
	const char *fork_opt = NULL; /* the first --odf/--child/.. given */
	const char *write_opt = NULL; /* the first write-only option given */
	bool exec_set = false, window_set = false;
	int o;

	memset(c, 0, sizeof(*c));
	c->who = WHO_CHILD;
	c->pattern = PAT_SEQ;
	c->stride = 16;
	c->seed = 1;
	c->size = 64ull << 20;
	c->reps = 3;
	c->touch_frac = 1.0;
	c->anchor = true;
	c->odf = ODF_SYSCTL;
	c->child = CHILD_EXIT;
	c->exec_path = DEFAULT_EXEC;
	c->page_times = true;
	c->window = 1;
	parse_kind("4k", &c->kind, err, sizeof(err));

	opterr = 0;
	while ((o = getopt_long(argc, argv, ":", opts, NULL)) != -1) {
		switch (o) {
		case OPT_SCENARIO:
			c->sc = scenario_find(optarg);
			if (!c->sc)
				die_usage(
					"unknown --scenario '%s' (--list shows them)",
					optarg);
			break;
		case OPT_WHO:
			if (parse_who(optarg, &c->who, err, sizeof(err)))
				die_usage("%s", err);
			c->who_set = true;
			break;
		case OPT_PATTERN:
			write_opt = write_opt ? write_opt : "--pattern";
			if (parse_pattern(optarg, &c->pattern, err,
					  sizeof(err)))
				die_usage("%s", err);
			break;
		case OPT_STRIDE:
			if (parse_u64(optarg, 1, UINT32_MAX, &c->stride, err,
				      sizeof(err)))
				die_usage("--stride: %s", err);
			c->stride_set = true;
			break;
		case OPT_SEED:
			write_opt = write_opt ? write_opt : "--seed";
			if (parse_u64(optarg, 0, UINT64_MAX, &c->seed, err,
				      sizeof(err)))
				die_usage("--seed: %s", err);
			break;
		case OPT_BYTES:
			write_opt = write_opt ? write_opt : "--bytes";
			bytes_arg = optarg;
			c->bytes_set = true;
			break;
		case OPT_SIZE:
			if (parse_size(optarg, &c->size, err, sizeof(err)))
				die_usage("--size: %s", err);
			break;
		case OPT_UNIT:
			if (parse_size(optarg, &c->unit, err, sizeof(err)))
				die_usage("--unit: %s", err);
			c->unit_set = true;
			break;
		case OPT_PAGE:
			if (parse_kind(optarg, &c->kind, err, sizeof(err)))
				die_usage("%s", err);
			break;
		case OPT_REPS:
			if (parse_u64(optarg, 1, 100000, &c->reps, err,
				      sizeof(err)))
				die_usage("--reps: %s", err);
			break;
		case OPT_JSON:
			if (!*optarg)
				die_usage("--json needs a file name or '-'");
			c->json = optarg;
			break;
		case OPT_QUIET:
			c->quiet = true;
			break;
		case OPT_LIST:
			list_only = true;
			break;
		case OPT_VERIFY:
			c->verify = true;
			break;
		case OPT_EXIT_EARLY:
			c->exit_early = true;
			break;
		case OPT_TOUCH_FRAC:
			write_opt = write_opt ? write_opt : "--touch-frac";
			if (parse_frac(optarg, &c->touch_frac, err,
				       sizeof(err)))
				die_usage("--touch-frac: %s", err);
			break;
		case OPT_FILE_DIR:
			c->file_dir = optarg;
			break;
		case OPT_NO_ANCHOR:
			c->anchor = false;
			break;
		case OPT_NO_MADVISE:
			c->no_madvise = true;
			break;
		case OPT_LABEL:
			c->label = optarg;
			break;
		case OPT_ODF:
			fork_opt = fork_opt ? fork_opt : "--odf";
			if (parse_odf(optarg, &c->odf, err, sizeof(err)))
				die_usage("%s", err);
			break;
		case OPT_CHILD:
			fork_opt = fork_opt ? fork_opt : "--child";
			if (parse_child(optarg, &c->child, err, sizeof(err)))
				die_usage("%s", err);
			break;
		case OPT_EXEC:
			fork_opt = fork_opt ? fork_opt : "--exec";
			if (!*optarg)
				die_usage("--exec needs a program path");
			exec_set = true;
			c->exec_path = optarg;
			break;
		case OPT_NO_PAGE_TIMES:
			fork_opt = fork_opt ? fork_opt : "--no-page-times";
			c->page_times = false;
			break;
		case OPT_WINDOW:
			if (parse_u64(optarg, 1, 512, &c->window, err,
				      sizeof(err)))
				die_usage("--window: %s", err);
			window_set = true;
			break;
		case OPT_HELP:
			usage(stdout);
			exit(EXIT_OK);
		case ':':
			die_usage("option '%s' needs an argument",
				  argv[optind - 1]);
		default:
			die_usage("unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc)
		die_usage("unexpected argument '%s'", argv[optind]);
	if (list_only)
		return;
	if (!c->sc)
		c->sc = scenario_find(DEFAULT_SCENARIO);

	if (c->sc->fork_child && (c->who_set || c->exit_early))
		die_usage(
			"--who and --exit-early apply to --scenario cow; fork's child action is --child");
	if (!c->sc->forks && (c->who_set || c->exit_early))
		die_usage(
			"--who and --exit-early apply to forking scenarios (cow), not '%s'",
			c->sc->name);
	if (fork_opt && !c->sc->fork_child)
		die_usage(
			"%s applies to --scenario fork (--odf, --child, --exec, --no-page-times), not '%s'",
			fork_opt, c->sc->name);
	if (c->sc->fork_child) {
		if (exec_set && c->child != CHILD_EXEC)
			die_usage("--exec applies to --child exec");
		if (!c->page_times && c->child != CHILD_WRITE)
			die_usage("--no-page-times applies to --child write");
		if (write_opt && c->child != CHILD_WRITE)
			die_usage(
				"%s applies to --child write (the child does not write with --child %s)",
				write_opt, child_name(c->child));
		if (c->child == CHILD_EXEC && access(c->exec_path, X_OK))
			die_usage("--exec %s: not an executable file (%s)",
				  c->exec_path, strerror(errno));
	}
	if (c->exit_early) {
		if (c->who_set && c->who != WHO_PARENT)
			die_usage(
				"--exit-early: the child exits, so only --who parent can write");
		c->who = WHO_PARENT;
	}
	if (c->stride_set && c->pattern != PAT_STRIDE)
		die_usage("--stride only applies to --pattern stride");
	if (!c->unit_set)
		c->unit = (c->kind.type == KIND_HUGETLB_2M ||
			   c->kind.type == KIND_HUGETLB_1G) ?
				  hugetlb_size(c->kind.type) :
				  4096;
	if (c->unit < 4096 || (c->unit & (c->unit - 1)))
		die_usage("--unit must be a power of two >= 4K");
	if (c->size < c->unit || c->size % c->unit)
		die_usage(
			"--size must be a non-zero multiple of the unit (%llu bytes)",
			(unsigned long long)c->unit);
	if (c->size > (1ull << 40))
		die_usage("--size is limited to 1T");
	if (parse_size(bytes_arg, &c->bytes, err, sizeof(err)))
		die_usage("--bytes: %s", err);
	if (c->bytes < 1 || c->bytes > c->unit)
		die_usage("--bytes must be in [1, unit=%llu]",
			  (unsigned long long)c->unit);
	if (c->size / c->unit > UINT32_MAX)
		die_usage("too many pages (size/unit > 2^32)");
	if (window_set && !c->sc->windows)
		die_usage("--window applies to --scenario populate, not '%s'",
			  c->sc->name);
	if (c->sc->kinds && !(c->sc->kinds & KIND_BIT(c->kind.type)))
		die_usage("--page %s does not apply to --scenario %s",
			  c->kind.name, c->sc->name);
	c->write_opt = write_opt;
	if (c->sc->check && c->sc->check(c, err, sizeof(err)))
		die_usage("%s", err);
}

/* the allocation granule of the kind; 0 if THP is not there */
static uint64_t kind_folio(const struct kind *k)
{
	struct thp_sizes t;

	switch (k->type) {
	case KIND_THP:
		thp_probe(&t);
		return t.present ? t.pmd_size : 2ull << 20;
	case KIND_MTHP:
		return k->mthp_size;
	case KIND_HUGETLB_2M:
	case KIND_HUGETLB_1G:
		return hugetlb_size(k->type);
	default:
		return 4096;
	}
}

static int setup(struct bench *b)
{
	const struct cfg *c = &b->cfg;
	uint64_t nfolios, k, f;
	uint8_t *seen;
	struct utsname u;
	size_t n;

	b->folio = kind_folio(&c->kind);
	if (c->size % b->folio)
		die_usage(
			"--size must be a multiple of the %s page size (%llu bytes)",
			c->kind.name, (unsigned long long)b->folio);
	b->npages = c->size / c->unit;
	b->order = malloc(b->npages * sizeof(*b->order));
	b->written = calloc(b->npages, 1);
	nfolios = c->size / b->folio;
	seen = calloc(nfolios, 1);
	if (!b->order || !b->written || !seen) {
		fprintf(stderr, "cowbench: out of memory\n");
		return -1;
	}
	n = order_build(b->order, b->npages, c->pattern, c->stride, c->seed);
	b->nwrites = order_touch_count(n, c->touch_frac);
	for (k = 0; k < b->nwrites; k++) {
		b->written[b->order[k]] = 1;
		f = b->order[k] * c->unit / b->folio;
		if (!seen[f]) {
			seen[f] = 1;
			b->touched_folios++;
		}
	}
	free(seen);

	b->sh = mmap(NULL, sizeof(*b->sh), PROT_READ | PROT_WRITE,
		     MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	if (b->sh == MAP_FAILED) {
		perror("cowbench: mmap(result area)");
		return -1;
	}
	memset(b->sh, 0, sizeof(*b->sh));
	mlock(b->sh, sizeof(*b->sh)); /* best effort */

	b->file_dir = c->file_dir ? c->file_dir : default_file_dir();
	if (!uname(&u))
		snprintf(b->kernel, sizeof(b->kernel), "%s", u.release);
	vmstat_init();
	return 0;
}

static void agg_add(struct side_agg *a, const struct rep_out *o,
		    const struct side_result *r, int verify)
{
	a->side = r->side;
	a->p50[a->n] = hist_quantile(&r->hist, 0.50);
	a->p99[a->n] = hist_quantile(&r->hist, 0.99);
	a->wall[a->n] = r->wall_ns;
	a->n++;
	a->writes += r->writes;
	a->faults += r->minflt + r->majflt;
	a->page_ok = a->page_ok && o->pc.ok;
	if (verify >= 0)
		a->verify = (a->verify < 0 ? 1 : a->verify) && verify;
	hist_merge(&a->merged, &r->hist);
}

int main(int argc, char **argv)
{
	static struct bench bench;
	struct bench *b = &bench;
	struct side_agg agg[NSIDES];
	struct fork_agg fagg, *fa = NULL;
	FILE *json = NULL, *hout = stdout;
	char reason[768];
	unsigned int rep, s;
	int ret = EXIT_OK, verify;

	parse_args(argc, argv, &b->cfg);
	if (list_only) {
		do_list();
		return EXIT_OK;
	}
	if (b->cfg.json) {
		if (!strcmp(b->cfg.json, "-")) {
			json = stdout;
			hout = stderr;
		} else {
			json = fopen(b->cfg.json, "a");
			if (!json)
				die_usage("--json %s: %s", b->cfg.json,
					  strerror(errno));
		}
	}
	if (setup(b))
		return EXIT_FAIL;
	signal(SIGPIPE, SIG_IGN);

	b->odf_supported = -1;
	b->odf_sysctl = -1;
	ret = b->cfg.sc->prepare ?
		      b->cfg.sc->prepare(b, reason, sizeof(reason)) :
		      0;
	if (ret < 0) {
		fprintf(stderr, "cowbench: %s\n", reason);
		return EXIT_FAIL;
	}
	if (ret) {
		fprintf(hout, "skip: %s %s: %s\n", b->cfg.sc->name,
			b->cfg.kind.name, reason);
		if (json)
			json_skip(json, b, reason);
		return EXIT_SKIP;
	}
	ret = EXIT_OK;
	if (kind_prepare(b, reason, sizeof(reason))) {
		fprintf(hout, "skip: %s %s: %s\n", b->cfg.sc->name,
			b->cfg.kind.name, reason);
		if (json)
			json_skip(json, b, reason);
		return EXIT_SKIP;
	}

	for (s = 0; s < NSIDES; s++) {
		memset(&agg[s], 0, sizeof(agg[s]));
		agg[s].p50 = calloc(b->cfg.reps, sizeof(uint64_t));
		agg[s].p99 = calloc(b->cfg.reps, sizeof(uint64_t));
		agg[s].wall = calloc(b->cfg.reps, sizeof(uint64_t));
		agg[s].page_ok = true;
		agg[s].verify = -1;
		hist_reset(&agg[s].merged);
		if (!agg[s].p50 || !agg[s].p99 || !agg[s].wall) {
			fprintf(stderr, "cowbench: out of memory\n");
			return EXIT_FAIL;
		}
	}
	if (b->cfg.sc->fork_child) {
		fa = &fagg;
		if (fork_agg_init(fa, (unsigned int)b->cfg.reps)) {
			fprintf(stderr, "cowbench: out of memory\n");
			return EXIT_FAIL;
		}
	}
	if (!b->cfg.quiet)
		table_header(hout, b);

	for (rep = 0; rep < b->cfg.reps; rep++) {
		struct rep_out o;

		memset(&o, 0, sizeof(o));
		for (s = 0; s < NSIDES; s++)
			result_reset(&b->sh->r[s], s ? "parent" : "child");
		if (b->cfg.sc->run(b, rep, &o)) {
			ret = EXIT_FAIL;
			break;
		}
		/* one verdict for the rep: every side that checked its view */
		verify = -1;
		for (s = 0; s < NSIDES; s++) {
			if (!b->sh->r[s].verified)
				continue;
			verify = (verify < 0 ? 1 : verify) &&
				 b->sh->r[s].verify_ok;
		}
		for (s = 0; s < NSIDES; s++) {
			const struct side_result *r = &b->sh->r[s];

			/* fork: one row per rep, the child's, written or not */
			if (fa ? s != SIDE_CHILD : !r->wrote)
				continue;
			if (!b->cfg.quiet)
				table_row(hout, b, rep, &o, r);
			if (json)
				json_result(json, b, rep, &o, r, verify);
			agg_add(&agg[s], &o, r, verify);
		}
		if (fa)
			fork_agg_add(fa, &o);
		if (verify == 0) {
			fprintf(stderr, "cowbench: VERIFY FAILED in rep %u\n",
				rep);
			ret = EXIT_FAIL;
			break;
		}
	}
	for (s = 0; s < NSIDES; s++) {
		if (!b->cfg.quiet)
			table_summary(hout, b, &agg[s], fa);
		if (json)
			json_summary(json, b, &agg[s], fa);
	}
	if (json && json != stdout)
		fclose(json);
	return ret;
}
