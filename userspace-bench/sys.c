// SPDX-License-Identifier: GPL-2.0
/*
 * THP / mTHP / hugetlb sysfs: which page kinds this kernel offers, switching
 * the wanted size on when root, and restoring every knob we touched on exit
 * (normal exit, error exit, SIGINT/SIGTERM/SIGHUP/SIGQUIT).
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cowbench.h"

#define THP_DIR "/sys/kernel/mm/transparent_hugepage"
#define HUGETLB_DIR "/sys/kernel/mm/hugepages"

int read_str(const char *path, char *buf, size_t len)
{
	ssize_t n;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -1;
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		n--;
	buf[n] = 0;
	return 0;
}

int read_u64(const char *path, uint64_t *v)
{
	char buf[64], *end;

	if (read_str(path, buf, sizeof(buf)) || !buf[0])
		return -1;
	*v = strtoull(buf, &end, 10);
	return *end ? -1 : 0;
}

static int write_str(const char *path, const char *s)
{
	size_t len = strlen(s);
	ssize_t n;
	int fd = open(path, O_WRONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	n = write(fd, s, len);
	close(fd);
	return n == (ssize_t)len ? 0 : -1;
}

/* "always [madvise] never" -> "madvise" */
static int read_mode(const char *path, char *mode, size_t len)
{
	char buf[128], *l, *r;

	if (read_str(path, buf, sizeof(buf)))
		return -1;
	l = strchr(buf, '[');
	r = l ? strchr(l, ']') : NULL;
	if (!l || !r || (size_t)(r - l - 1) >= len)
		return -1;
	memcpy(mode, l + 1, (size_t)(r - l - 1));
	mode[r - l - 1] = 0;
	return 0;
}

/* ---- save / restore ---- */

struct saved_knob {
	char path[128];
	char val[24];
};
static struct saved_knob saved[48];
static int nsaved;
static pid_t owner;

void sysfs_restore(void)
{
	int i;

	if (getpid() != owner)
		return;
	for (i = nsaved - 1; i >= 0; i--)
		write_str(saved[i].path, saved[i].val);
	nsaved = 0;
}

static void restore_on_signal(int sig)
{
	sysfs_restore();
	signal(sig, SIG_DFL);
	raise(sig);
}

static void restore_install(void)
{
	static bool done;
	static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT };
	unsigned int i;

	if (done)
		return;
	done = true;
	owner = getpid();
	atexit(sysfs_restore);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		signal(sigs[i], restore_on_signal);
}

static int set_mode(const char *path, const char *mode, char *reason,
		    size_t len)
{
	char cur[24];
	int i;

	if (read_mode(path, cur, sizeof(cur))) {
		snprintf(reason, len, "cannot read %s", path);
		return -1;
	}
	if (!strcmp(cur, mode))
		return 0;
	restore_install();
	for (i = 0; i < nsaved; i++)
		if (!strcmp(saved[i].path, path))
			break;
	if (i == nsaved) {
		if (nsaved == (int)(sizeof(saved) / sizeof(saved[0]))) {
			snprintf(reason, len, "too many sysfs knobs");
			return -1;
		}
		snprintf(saved[i].path, sizeof(saved[i].path), "%s", path);
		snprintf(saved[i].val, sizeof(saved[i].val), "%s", cur);
		nsaved++;
	}
	if (write_str(path, mode)) {
		snprintf(reason, len, "cannot write '%s' to %s: %s", mode, path,
			 strerror(errno));
		return -1;
	}
	return 0;
}

/* ---- THP sizes ---- */

static void size_path(uint64_t sz, char *buf, size_t len)
{
	snprintf(buf, len, THP_DIR "/hugepages-%llukB/enabled",
		 (unsigned long long)(sz >> 10));
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

void thp_probe(struct thp_sizes *t)
{
	char path[160], mode[24];
	struct dirent *de;
	unsigned long long kb;
	char tail[8];
	DIR *d;

	memset(t, 0, sizeof(*t));
	t->present = !read_mode(THP_DIR "/enabled", mode, sizeof(mode));
	if (!t->present)
		return;
	if (read_u64(THP_DIR "/hpage_pmd_size", &t->pmd_size))
		t->pmd_size = 2ull << 20;
	d = opendir(THP_DIR);
	if (!d)
		return;
	while ((de = readdir(d))) {
		if (sscanf(de->d_name, "hugepages-%llu%7s", &kb, tail) != 2 ||
		    strcmp(tail, "kB"))
			continue;
		size_path(kb << 10, path, sizeof(path));
		if (access(path, R_OK))
			continue; /* e.g. hugepages-8kB without an anon knob */
		if ((kb << 10) >= t->pmd_size ||
		    t->n == (int)(sizeof(t->size) / sizeof(t->size[0])))
			continue;
		t->size[t->n++] = kb << 10;
	}
	closedir(d);
	qsort(t->size, (size_t)t->n, sizeof(t->size[0]), cmp_u64);
}

/* the effective mode of one size: always, madvise or never */
static void eff_mode(uint64_t sz, char *mode, size_t len, char *raw,
		     size_t rawlen)
{
	char path[160];

	size_path(sz, path, sizeof(path));
	if (read_mode(path, raw, rawlen))
		snprintf(raw, rawlen, "inherit"); /* pre-mTHP kernels */
	if (strcmp(raw, "inherit"))
		snprintf(mode, len, "%s", raw);
	else if (read_mode(THP_DIR "/enabled", mode, len))
		snprintf(mode, len, "never");
}

static bool mode_on(const char *m)
{
	return !strcmp(m, "always") || !strcmp(m, "madvise");
}

static bool thp_offers(const struct thp_sizes *t, uint64_t sz)
{
	int i;

	for (i = 0; i < t->n; i++)
		if (t->size[i] == sz)
			return true;
	return false;
}

static void offered_list(const struct thp_sizes *t, char *buf, size_t len)
{
	size_t off = 0;
	int i;

	buf[0] = 0;
	for (i = 0; i < t->n && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%smthp-%lluk",
					i ? " " : "",
					(unsigned long long)(t->size[i] >> 10));
	if (!t->n)
		snprintf(buf, len, "none");
}

uint64_t hugetlb_size(enum kind_type t)
{
	return t == KIND_HUGETLB_1G ? 1ull << 30 : 2ull << 20;
}

static int hugetlb_counts(enum kind_type t, uint64_t *nr, uint64_t *freep)
{
	char path[160];

	snprintf(path, sizeof(path),
		 HUGETLB_DIR "/hugepages-%llukB/nr_hugepages",
		 (unsigned long long)(hugetlb_size(t) >> 10));
	if (read_u64(path, nr))
		return -1;
	snprintf(path, sizeof(path),
		 HUGETLB_DIR "/hugepages-%llukB/free_hugepages",
		 (unsigned long long)(hugetlb_size(t) >> 10));
	return read_u64(path, freep);
}

int kind_status(const struct kind *k, char *info, size_t len)
{
	struct thp_sizes t;
	char mode[24], raw[24], list[256];
	uint64_t sz, nr, fr;
	bool root = geteuid() == 0;

	switch (k->type) {
	case KIND_4K:
	case KIND_ZERO:
	case KIND_FILE:
		snprintf(info, len, "available");
		return 0;
	case KIND_THP:
	case KIND_MTHP:
		thp_probe(&t);
		if (!t.present) {
			snprintf(info, len, "no THP support (%s missing)",
				 THP_DIR);
			return 1;
		}
		sz = k->type == KIND_THP ? t.pmd_size : k->mthp_size;
		if (k->type == KIND_MTHP && !thp_offers(&t, sz)) {
			offered_list(&t, list, sizeof(list));
			snprintf(
				info, len,
				"kernel offers no mTHP size %llukB (offered: %s)",
				(unsigned long long)(sz >> 10), list);
			return 1;
		}
		eff_mode(sz, mode, sizeof(mode), raw, sizeof(raw));
		if (mode_on(mode)) {
			snprintf(info, len, "available (%llukB enabled=%s%s%s)",
				 (unsigned long long)(sz >> 10), raw,
				 strcmp(raw, mode) ? "->" : "",
				 strcmp(raw, mode) ? mode : "");
			return 0;
		}
		if (root) {
			snprintf(
				info, len,
				"available (%llukB enabled=%s; switched on for the run)",
				(unsigned long long)(sz >> 10), raw);
			return 0;
		}
		snprintf(info, len,
			 "%llukB disabled (enabled=%s%s%s) and not root",
			 (unsigned long long)(sz >> 10), raw,
			 strcmp(raw, mode) ? "->" : "",
			 strcmp(raw, mode) ? mode : "");
		return 1;
	case KIND_HUGETLB_2M:
	case KIND_HUGETLB_1G:
		if (hugetlb_counts(k->type, &nr, &fr)) {
			snprintf(info, len, "kernel has no %s hugetlb pages",
				 k->name);
			return 1;
		}
		if (!fr) {
			snprintf(info, len,
				 "none reserved (nr_hugepages=%llu free=0)",
				 (unsigned long long)nr);
			return 1;
		}
		snprintf(info, len, "available (nr_hugepages=%llu free=%llu)",
			 (unsigned long long)nr, (unsigned long long)fr);
		return 0;
	}
	return 1;
}

int kind_prepare(struct bench *b, char *reason, size_t len)
{
	const struct kind *k = &b->cfg.kind;
	struct thp_sizes t;
	char path[160], mode[24], raw[24];
	uint64_t sz, nr, fr, need, copies;
	bool root = geteuid() == 0;
	int i;

	switch (k->type) {
	case KIND_4K:
	case KIND_ZERO:
	case KIND_FILE:
		return 0;
	case KIND_THP:
	case KIND_MTHP:
		if (kind_status(k, reason, len))
			return 1;
		thp_probe(&t);
		sz = k->type == KIND_THP ? t.pmd_size : k->mthp_size;
		eff_mode(sz, mode, sizeof(mode), raw, sizeof(raw));
		if (!root)
			return 0; /* enabled as it is; page_ok tells */
		if (k->type == KIND_THP) {
			if (mode_on(mode))
				return 0;
			size_path(sz, path, sizeof(path));
			if (access(path, W_OK))
				snprintf(path, sizeof(path),
					 THP_DIR "/enabled");
			return set_mode(path, "madvise", reason, len) ? 1 : 0;
		}
		/* mTHP: this size only (MADV_HUGEPAGE), every other size off */
		for (i = 0; i <= t.n; i++) {
			uint64_t s = i < t.n ? t.size[i] : t.pmd_size;

			size_path(s, path, sizeof(path));
			if (set_mode(path, s == sz ? "madvise" : "never",
				     reason, len))
				return 1;
		}
		return 0;
	case KIND_HUGETLB_2M:
	case KIND_HUGETLB_1G:
		sz = hugetlb_size(k->type);
		if (hugetlb_counts(k->type, &nr, &fr)) {
			snprintf(reason, len, "kernel has no %s hugetlb pages",
				 k->name);
			return 1;
		}
		copies = 0;
		if (b->cfg.sc->forks && !b->cfg.exit_early)
			copies = b->touched_folios *
				 (b->cfg.who == WHO_BOTH ? 2 : 1);
		if (b->cfg.sc->fork_child && b->cfg.child == CHILD_WRITE)
			copies = b->touched_folios;
		need = b->cfg.size / sz + copies;
		if (fr < need) {
			snprintf(
				reason, len,
				"need %llu free %s pages (region %llu + copies %llu), have %llu free (nr_hugepages=%llu); reserve with: echo %llu > " HUGETLB_DIR
				"/hugepages-%llukB/nr_hugepages",
				(unsigned long long)need, k->name,
				(unsigned long long)(b->cfg.size / sz),
				(unsigned long long)copies,
				(unsigned long long)fr, (unsigned long long)nr,
				(unsigned long long)(nr - fr + need),
				(unsigned long long)(sz >> 10));
			return 1;
		}
		return 0;
	}
	return 1;
}
