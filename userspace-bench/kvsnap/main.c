// SPDX-License-Identifier: GPL-2.0
/*
 * kvsnap: snapshot an in-memory key-value store under write load, by each
 * method of methods/, and measure what the writers and the system pay.
 *
 * One run = one method on a fresh set of writer threads: a baseline window
 * (op latency with no snapshot), then the snapshot: writers paused at an
 * op boundary (the instant), method->begin, writers resumed, method->finish
 * (the file is complete), writers stopped, the file verified byte for byte
 * against the replayed state at the instant, then deleted.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "kvsnap.h"
#include "../parse.h"
#include "../procfs.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define EXIT_SKIP 4

static const struct snap_method *const methods[] = {
	&snap_stw,
	&snap_fork,
	&snap_uffd,
	&snap_mdup,
};
#define NMETHODS (sizeof(methods) / sizeof(methods[0]))

struct opts {
	uint64_t size, reps, threads, seed, warmup_ms;
	const char *dir, *json, *label;
	const struct snap_method *sel[NMETHODS * 4];
	int nsel, verify, thp, quiet;
};

static void usage(FILE *f)
{
	fprintf(f,
		"usage: kvsnap [--size S] [--threads N] [--method LIST] [--reps N]\n"
		"              [--dir DIR] [--json FILE] [--label TEXT] [--thp]\n"
		"              [--warmup-ms MS] [--seed N] [--no-verify] [--quiet] [--help]\n"
		"\n"
		"An in-memory key-value store (open addressing, 64-byte slots, one\n"
		"shard per writer thread, 50%% load) in one anonymous region of S bytes\n"
		"under a steady update load from N threads, snapshotted to a file\n"
		"by each method in LIST, REPS times. For each snapshot: the writers'\n"
		"pause at the start, their op latency p50/p99/max during the snapshot\n"
		"(and without one, as a baseline), the time until the file is\n"
		"complete, the extra memory, and a byte-for-byte check of the file\n"
		"against the store's state at the snapshot instant.\n"
		"\n"
		"  --size S        store size (default 64M; K/M/G suffixes)\n"
		"  --threads N     writer threads, 1-%d (default 2)\n"
		"  --method LIST   comma list of methods (default all):\n",
		KV_MAX_THREADS);
	for (size_t i = 0; i < NMETHODS; i++)
		fprintf(f, "                    %-5s %s\n", methods[i]->name,
			methods[i]->help);
	fprintf(f,
		"  --reps N        repetitions of each method (default 3)\n"
		"  --dir DIR       where snapshot files go (default /tmp)\n"
		"  --json FILE     append one JSON object per snapshot (- = stdout)\n"
		"  --label TEXT    copied into the JSON\n"
		"  --thp           MADV_HUGEPAGE on the store (default MADV_NOHUGEPAGE)\n"
		"  --warmup-ms MS  baseline window before each snapshot (default 200)\n"
		"  --uffd-chunk N  uffd: pages saved and released together (default 1)\n"
		"  --seed N        key sequence seed (default 1)\n"
		"  --no-verify     skip the file check\n"
		"  --quiet         no table on stdout\n"
		"Extra memory: stw its copy; uffd none; fork and mdup 4 KiB per COW\n"
		"copy made while the snapshot lived (/proc/vmstat cow_copy, cowlab\n"
		"kernels; -1 elsewhere). tlb_ipis: TLB shootdown interrupts during the\n"
		"snapshot (/proc/interrupts). KVSNAP_CORRUPT_AT=OFFSET (tests) flips\n"
		"that byte of each file before the check. Exit: 0 ok, 1 a failure or mismatch, 2 usage,\n"
		"4 every selected method unavailable (e.g. mdup: ENOSYS).\n");
}

static int parse_methods(struct opts *o, const char *arg)
{
	char *s = strdup(arg), *save = NULL, *tok;

	o->nsel = 0;
	for (tok = strtok_r(s, ",", &save); tok;
	     tok = strtok_r(NULL, ",", &save)) {
		size_t i;

		for (i = 0; i < NMETHODS; i++)
			if (!strcmp(tok, methods[i]->name))
				break;
		if (i == NMETHODS ||
		    o->nsel == (int)(sizeof(o->sel) / sizeof(o->sel[0]))) {
			fprintf(stderr, "kvsnap: unknown method '%s'\n", tok);
			free(s);
			return -1;
		}
		o->sel[o->nsel++] = methods[i];
	}
	free(s);
	return o->nsel ? 0 : -1;
}

/* TLB shootdown IPIs received, summed over CPUs (/proc/interrupts "TLB:") */
static long long tlb_shootdowns(void)
{
	FILE *f = fopen("/proc/interrupts", "r");
	char line[4096], *p, *end;
	long long n = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		p = line + strspn(line, " ");
		if (strncmp(p, "TLB:", 4))
			continue;
		n = 0;
		for (p += 4;; p = end) {
			long long v = strtoll(p, &end, 10);

			if (end == p)
				break;
			n += v;
		}
		break;
	}
	fclose(f);
	return n;
}

struct result {
	const char *method;
	int rep, err, verified, verify_ok;
	char msg[256];
	uint64_t pause_ns, begin_ns, total_ns, ops, base_ops;
	struct hist lat, base;
	int64_t extra_bytes;
	long long cow_copies, tlb_ipis, swapouts;
};

static void run_one(struct kv_store *kv, const struct opts *o,
		    const struct snap_method *m, int rep, struct result *r)
{
	char path[4096];
	long long cow0, cow1, tlb0, tlb1, sw0, sw1;
	uint64_t t0, tp, t1, t2, ops0;
	void *priv = NULL;
	int fd, err;

	memset(r, 0, sizeof(*r));
	r->method = m->name;
	r->rep = rep;
	hist_reset(&r->lat);
	hist_reset(&r->base);
	snprintf(path, sizeof(path), "%s/kvsnap-%d-%s.snap", o->dir, getpid(),
		 m->name);
	fd = open(path, O_RDWR | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		r->err = -errno;
		snprintf(r->msg, sizeof(r->msg), "open snapshot file: %s",
			 strerror(errno));
		return;
	}
	err = m->setup ? m->setup(kv, &priv) : 0;
	if (err) {
		r->err = err;
		snprintf(r->msg, sizeof(r->msg), "setup: %s", strerror(-err));
		goto out_close;
	}
	err = kv_start(kv);
	if (err) {
		r->err = err;
		snprintf(r->msg, sizeof(r->msg), "threads: %s", strerror(-err));
		goto out_teardown;
	}
	ops0 = kv_total_ops(kv);
	atomic_store(&kv->baseline, 1);
	usleep(o->warmup_ms * 1000);
	atomic_store(&kv->baseline, 0);
	r->base_ops = kv_total_ops(kv) - ops0;

	cow0 = proc_vmstat("cow_copy");
	tlb0 = tlb_shootdowns();
	sw0 = proc_vmstat("pswpout");
	atomic_store(&kv->measure, 1);
	ops0 = kv_total_ops(kv);
	t0 = clock_ns();
	kv_pause(kv);
	tp = clock_ns();
	err = m->begin(kv, priv, fd);
	t1 = clock_ns();
	kv_resume(kv);
	if (!err)
		err = m->finish(kv, priv, fd);
	t2 = clock_ns();
	atomic_store(&kv->measure, 0);
	cow1 = proc_vmstat("cow_copy");
	tlb1 = tlb_shootdowns();
	sw1 = proc_vmstat("pswpout");
	r->ops = kv_total_ops(kv) - ops0;
	kv_stop(kv);
	for (int t = 0; t < kv->nthreads; t++) {
		hist_merge(&r->lat, &kv->w[t].lat);
		hist_merge(&r->base, &kv->w[t].base);
	}
	r->pause_ns = t1 - t0;
	r->begin_ns = t1 - tp;
	r->swapouts = sw0 >= 0 && sw1 >= 0 ? sw1 - sw0 : -1;
	r->total_ns = t2 - t0;
	r->cow_copies = cow0 >= 0 && cow1 >= 0 ? cow1 - cow0 : -1;
	r->tlb_ipis = tlb0 >= 0 && tlb1 >= 0 ? tlb1 - tlb0 : -1;
	r->extra_bytes = m->extra_bytes	    ? m->extra_bytes(kv, priv) :
			 r->cow_copies >= 0 ? r->cow_copies * (int64_t)KV_PAGE :
					      -1;
	if (err) {
		r->err = err;
		snprintf(r->msg, sizeof(r->msg), "snapshot: %s",
			 strerror(-err));
	} else if (o->verify) {
		const char *bad = getenv("KVSNAP_CORRUPT_AT");

		/* test hook: the verifier must catch one flipped byte */
		if (bad) {
			unsigned char b;
			off_t at = atoll(bad);

			if (pread(fd, &b, 1, at) == 1) {
				b ^= 0x40;
				if (pwrite(fd, &b, 1, at) != 1)
					r->err = -EIO;
			}
		}
		r->verified = 1;
		r->verify_ok =
			!kv_verify_file(kv, path, r->msg, sizeof(r->msg));
	}
out_teardown:
	if (m->teardown)
		m->teardown(kv, priv);
out_close:
	close(fd);
	unlink(path);
}

static void json_out(const struct opts *o, const struct kv_store *kv,
		     const struct result *r)
{
	FILE *f = !strcmp(o->json, "-") ? stdout : fopen(o->json, "a");

	if (!f) {
		fprintf(stderr, "kvsnap: %s: %s\n", o->json, strerror(errno));
		return;
	}
	fprintf(f,
		"{\"tool\":\"kvsnap\",\"label\":\"%s\",\"method\":\"%s\",\"size\":%zu,"
		"\"threads\":%d,\"thp\":%d,\"uffd_chunk\":%lu,\"rep\":%d,\"err\":%d,\"msg\":\"",
		o->label ? o->label : "", r->method, kv->size, kv->nthreads,
		kv->thp, kvsnap_uffd_chunk_pages, r->rep, r->err);
	for (const char *c = r->msg; *c; c++)
		fprintf(f, *c == '"' || *c == '\\' ? "\\%c" : "%c", *c);
	fprintf(f,
		"\",\"verify\":\"%s\",\"pause_ns\":%llu,\"begin_ns\":%llu,\"total_ns\":%llu,"
		"\"ops\":%llu,\"lat_p50_ns\":%llu,\"lat_p99_ns\":%llu,"
		"\"lat_max_ns\":%llu,\"base_ops\":%llu,\"base_p50_ns\":%llu,"
		"\"base_p99_ns\":%llu,\"base_max_ns\":%llu,\"extra_bytes\":%lld,"
		"\"cow_copies\":%lld,\"tlb_ipis\":%lld,\"swapouts\":%lld}\n",
		r->err	     ? "error" :
		!r->verified ? "off" :
		r->verify_ok ? "ok" :
			       "mismatch",
		(unsigned long long)r->pause_ns,
		(unsigned long long)r->begin_ns,
		(unsigned long long)r->total_ns, (unsigned long long)r->ops,
		(unsigned long long)hist_quantile(&r->lat, 0.5),
		(unsigned long long)hist_quantile(&r->lat, 0.99),
		(unsigned long long)r->lat.max, (unsigned long long)r->base_ops,
		(unsigned long long)hist_quantile(&r->base, 0.5),
		(unsigned long long)hist_quantile(&r->base, 0.99),
		(unsigned long long)r->base.max, (long long)r->extra_bytes,
		r->cow_copies, r->tlb_ipis, r->swapouts);
	if (f != stdout)
		fclose(f);
	else
		fflush(f);
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "size", required_argument, 0, 's' },
		{ "threads", required_argument, 0, 't' },
		{ "method", required_argument, 0, 'm' },
		{ "reps", required_argument, 0, 'r' },
		{ "dir", required_argument, 0, 'd' },
		{ "json", required_argument, 0, 'j' },
		{ "label", required_argument, 0, 'l' },
		{ "thp", no_argument, 0, 'H' },
		{ "warmup-ms", required_argument, 0, 'w' },
		{ "seed", required_argument, 0, 'S' },
		{ "uffd-chunk", required_argument, 0, 'U' },
		{ "no-verify", no_argument, 0, 'V' },
		{ "quiet", no_argument, 0, 'q' },
		{ "help", no_argument, 0, 'h' },
		{ 0 }
	};
	struct opts o = { .size = 64ull << 20,
			  .reps = 3,
			  .threads = 2,
			  .seed = 1,
			  .warmup_ms = 200,
			  .dir = "/tmp",
			  .verify = 1 };
	int c, fails = 0, skips = 0, runs = 0;
	struct kv_store *kv;
	char err[128];
	uint64_t t;

	for (size_t i = 0; i < NMETHODS; i++)
		o.sel[o.nsel++] = methods[i];
	while ((c = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		int bad = 0;

		switch (c) {
		case 's':
			bad = parse_size(optarg, &o.size, err, sizeof(err));
			break;
		case 't':
			bad = parse_u64(optarg, 1, KV_MAX_THREADS, &o.threads,
					err, sizeof(err));
			break;
		case 'm':
			if (parse_methods(&o, optarg))
				return EXIT_USAGE;
			break;
		case 'r':
			bad = parse_u64(optarg, 1, 1000, &o.reps, err,
					sizeof(err));
			break;
		case 'd':
			o.dir = optarg;
			break;
		case 'j':
			o.json = optarg;
			break;
		case 'l':
			o.label = optarg;
			break;
		case 'H':
			o.thp = 1;
			break;
		case 'w':
			bad = parse_u64(optarg, 0, 60000, &o.warmup_ms, err,
					sizeof(err));
			break;
		case 'S':
			bad = parse_u64(optarg, 0, UINT64_MAX, &o.seed, err,
					sizeof(err));
			break;
		case 'U': {
			uint64_t n;

			bad = parse_u64(optarg, 1, 512, &n, err, sizeof(err));
			kvsnap_uffd_chunk_pages = n;
			break;
		}
		case 'V':
			o.verify = 0;
			break;
		case 'q':
			o.quiet = 1;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
		if (bad) {
			fprintf(stderr, "kvsnap: %s\n", err);
			return EXIT_USAGE;
		}
	}
	if (optind < argc) {
		fprintf(stderr, "kvsnap: unexpected argument '%s'\n",
			argv[optind]);
		return EXIT_USAGE;
	}
	if (o.size % (kvsnap_uffd_chunk_pages * KV_PAGE) ||
	    o.size % (64 * 1024) || o.size < (1ull << 20)) {
		fprintf(stderr,
			"kvsnap: --size must be at least 1M and a multiple of 64 KiB and of the uffd chunk\n");
		return EXIT_USAGE;
	}

	kv = malloc(sizeof(*kv));
	if (!kv)
		return EXIT_FAIL;
	if (!o.quiet)
		printf("# kvsnap: loading %llu MiB, %llu writer threads\n",
		       (unsigned long long)(o.size >> 20),
		       (unsigned long long)o.threads);
	fflush(stdout);
	t = clock_ns();
	c = kv_create(kv, o.size, o.threads, o.seed, o.thp);
	if (c) {
		fprintf(stderr, "kvsnap: store of %llu bytes: %s\n",
			(unsigned long long)o.size, strerror(-c));
		return EXIT_FAIL;
	}
	if (!o.quiet) {
		printf("# loaded in %.2f s\n", (clock_ns() - t) / 1e9);
		printf("# %-5s %3s %10s %10s %9s %9s %10s %9s %10s %s\n",
		       "meth", "rep", "pause_us", "total_ms", "p50_us",
		       "p99_us", "max_us", "base_p99", "extra_MiB", "verify");
	}
	for (uint64_t rep = 0; rep < o.reps; rep++)
		for (int i = 0; i < o.nsel; i++) {
			struct result r;

			run_one(kv, &o, o.sel[i], rep, &r);
			runs++;
			if (r.err == -ENOSYS || r.err == -EPERM) {
				skips++;
				if (!o.quiet)
					printf("# %-5s skipped: %s\n", r.method,
					       r.msg);
				if (o.json)
					json_out(&o, kv, &r);
				continue;
			}
			if (r.err || (r.verified && !r.verify_ok))
				fails++;
			if (!o.quiet)
				printf("  %-5s %3d %10.1f %10.1f %9.1f %9.1f %10.1f %9.1f %10.1f %s%s%s\n",
				       r.method, r.rep, r.pause_ns / 1e3,
				       r.total_ns / 1e6,
				       hist_quantile(&r.lat, 0.5) / 1e3,
				       hist_quantile(&r.lat, 0.99) / 1e3,
				       r.lat.max / 1e3,
				       hist_quantile(&r.base, 0.99) / 1e3,
				       r.extra_bytes < 0 ?
					       -1.0 :
					       r.extra_bytes / 1048576.0,
				       r.err	   ? "ERROR " :
				       !r.verified ? "off" :
				       r.verify_ok ? "ok" :
						     "MISMATCH ",
				       r.msg, "");
			fflush(stdout);
			if (o.json)
				json_out(&o, kv, &r);
		}
	kv_destroy(kv);
	free(kv);
	if (fails)
		return EXIT_FAIL;
	return skips == runs ? EXIT_SKIP : 0;
}
