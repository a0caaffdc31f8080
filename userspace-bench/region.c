// SPDX-License-Identifier: GPL-2.0
/*
 * The measured region: mapping each page kind, populating it, checking that
 * the kind really took effect (page_ok) and verifying contents after writes.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "cowbench.h"

#ifndef MAP_HUGE_SHIFT
#define MAP_HUGE_SHIFT 26
#endif
#ifndef MAP_HUGE_2MB
#define MAP_HUGE_2MB (21 << MAP_HUGE_SHIFT)
#endif
#ifndef MAP_HUGE_1GB
#define MAP_HUGE_1GB (30 << MAP_HUGE_SHIFT)
#endif
#ifndef MADV_HUGEPAGE
#define MADV_HUGEPAGE 14
#endif
#ifndef MADV_NOHUGEPAGE
#define MADV_NOHUGEPAGE 15
#endif
#define TMPFS_MAGIC_ 0x01021994
#define BASE_PAGE 4096ull
#define FAULT_SLACK 16

static int madv_errno;

static int fill_file(struct bench *b, int fd, uint64_t extra, char *err,
		     size_t len)
{
	const uint64_t unit = b->cfg.unit;
	static char buf[1 << 20];
	uint64_t i, off;
	size_t chunk;

	for (i = 0; i < b->npages; i++) {
		for (off = 0; off < unit; off += chunk) {
			chunk = (size_t)(unit - off < sizeof(buf) ?
						 unit - off :
						 sizeof(buf));
			memset(buf, pat_byte(i), chunk);
			if (write(fd, buf, chunk) != (ssize_t)chunk) {
				snprintf(err, len, "writing the file: %s",
					 strerror(errno));
				return -1;
			}
		}
	}
	if (extra) {
		memset(buf, 0, extra);
		if (write(fd, buf, extra) != (ssize_t)extra) {
			snprintf(err, len, "writing the file: %s",
				 strerror(errno));
			return -1;
		}
	}
	return 0;
}

int region_create(struct bench *b, struct region *r, char *err, size_t len)
{
	const struct cfg *c = &b->cfg;
	const enum kind_type t = c->kind.type;
	const bool anchor = c->anchor && c->sc->populates &&
			    (t == KIND_ZERO || t == KIND_FILE);
	uint64_t align = BASE_PAGE, extra = anchor ? BASE_PAGE : 0;
	struct statfs sfs;
	char path[512];
	char *m;
	int flags;

	memset(r, 0, sizeof(*r));
	r->fd = -1;
	r->orig_zero = t == KIND_ZERO || (!c->sc->populates && t != KIND_FILE);
	madv_errno = 0;

	if (t == KIND_HUGETLB_2M || t == KIND_HUGETLB_1G) {
		flags = MAP_PRIVATE | MAP_ANONYMOUS | MAP_HUGETLB |
			(t == KIND_HUGETLB_2M ? MAP_HUGE_2MB : MAP_HUGE_1GB);
		m = mmap(NULL, c->size, PROT_READ | PROT_WRITE, flags, -1, 0);
		if (m == MAP_FAILED) {
			snprintf(err, len,
				 "mmap(MAP_HUGETLB %s, %llu bytes): %s",
				 c->kind.name, (unsigned long long)c->size,
				 strerror(errno));
			return 1;
		}
		r->map = r->base = m;
		r->map_len = c->size;
		return 0;
	}

	if (t == KIND_FILE) {
		snprintf(path, sizeof(path), "%s/cowbench.XXXXXX", b->file_dir);
		r->fd = mkstemp(path);
		if (r->fd < 0) {
			snprintf(err, len, "cannot create a file in %s: %s",
				 b->file_dir, strerror(errno));
			return -1;
		}
		unlink(path);
		if (!fstatfs(r->fd, &sfs)) {
			if ((unsigned long)sfs.f_type == TMPFS_MAGIC_)
				snprintf(r->file_fs, sizeof(r->file_fs),
					 "tmpfs");
			else
				snprintf(r->file_fs, sizeof(r->file_fs),
					 "0x%lx", (unsigned long)sfs.f_type);
		}
		if (fill_file(b, r->fd, extra, err, len)) {
			close(r->fd);
			r->fd = -1;
			return -1;
		}
		m = mmap(NULL, c->size + extra, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE, r->fd, 0);
		if (m == MAP_FAILED) {
			snprintf(err, len, "mmap(MAP_PRIVATE file): %s",
				 strerror(errno));
			close(r->fd);
			r->fd = -1;
			return -1;
		}
		r->map = r->base = m;
		r->map_len = c->size + extra;
		if (!c->no_madvise && madvise(m, r->map_len, MADV_NOHUGEPAGE))
			madv_errno = errno;
		r->anchor = anchor ? m + c->size : NULL;
		return 0;
	}

	/* anonymous: over-map, then trim to a folio-aligned region */
	if (t == KIND_THP || t == KIND_MTHP)
		align = b->folio;
	m = mmap(NULL, c->size + extra + align, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED) {
		snprintf(err, len, "mmap(%llu bytes): %s",
			 (unsigned long long)(c->size + extra + align),
			 strerror(errno));
		return -1;
	}
	{
		uintptr_t a = ((uintptr_t)m + align - 1) &
			      ~(uintptr_t)(align - 1);
		size_t head = a - (uintptr_t)m;
		size_t tail = (size_t)(align - head);

		if (head)
			munmap(m, head);
		if (tail)
			munmap((char *)a + c->size + extra, tail);
		m = (char *)a;
	}
	r->map = r->base = m;
	r->map_len = c->size + extra;
	if (t == KIND_THP || t == KIND_MTHP) {
		if (madvise(m, r->map_len, MADV_HUGEPAGE))
			madv_errno = errno;
	} else if (!c->no_madvise && madvise(m, r->map_len, MADV_NOHUGEPAGE)) {
		madv_errno = errno;
	}
	r->anchor = anchor ? m + c->size : NULL;
	return 0;
}

void region_destroy(struct region *r)
{
	if (r->map)
		munmap(r->map, r->map_len);
	if (r->fd >= 0)
		close(r->fd);
	memset(r, 0, sizeof(*r));
	r->fd = -1;
}

/* ---- /proc/self/smaps of one VMA ---- */

struct smaps_vma {
	bool found;
	long long rss_kb, anon_kb, anon_huge_kb, kernel_page_kb;
};

static char *slurp(const char *path)
{
	size_t cap = 1 << 16, got = 0;
	ssize_t n;
	char *buf = malloc(cap), *nb;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0 || !buf) {
		if (fd >= 0)
			close(fd);
		free(buf);
		return NULL;
	}
	for (;;) {
		if (got + 4096 > cap) {
			nb = realloc(buf, cap * 2);
			if (!nb)
				break;
			buf = nb;
			cap *= 2;
		}
		n = read(fd, buf + got, cap - got - 1);
		if (n <= 0)
			break;
		got += (size_t)n;
	}
	close(fd);
	buf[got] = 0;
	return buf;
}

static long long field_kb(const char *p, const char *name)
{
	size_t l = strlen(name);

	if (strncmp(p, name, l) || p[l] != ':')
		return -1;
	return strtoll(p + l + 1, NULL, 10);
}

static void smaps_for(const void *addr, struct smaps_vma *v)
{
	char *buf = slurp("/proc/self/smaps"), *p, *nl;
	unsigned long lo, hi;
	bool in = false;
	long long x;

	memset(v, 0, sizeof(*v));
	v->rss_kb = v->anon_kb = v->anon_huge_kb = v->kernel_page_kb = -1;
	if (!buf)
		return;
	for (p = buf; *p; p = nl + 1) {
		nl = strchr(p, '\n');
		if (!nl)
			break;
		if (sscanf(p, "%lx-%lx ", &lo, &hi) == 2 && strchr(p, '-') &&
		    strchr(p, '-') < strchr(p, ' ')) {
			if (in)
				break;
			in = (uintptr_t)addr >= lo && (uintptr_t)addr < hi;
			v->found = in;
			continue;
		}
		if (!in)
			continue;
		if ((x = field_kb(p, "Rss")) >= 0)
			v->rss_kb = x;
		else if ((x = field_kb(p, "Anonymous")) >= 0)
			v->anon_kb = x;
		else if ((x = field_kb(p, "AnonHugePages")) >= 0)
			v->anon_huge_kb = x;
		else if ((x = field_kb(p, "KernelPageSize")) >= 0)
			v->kernel_page_kb = x;
	}
	free(buf);
}

long long region_rss_kb(struct region *r)
{
	struct smaps_vma v;

	smaps_for(r->base, &v);
	return v.found ? v.rss_kb : -1;
}

static int mthp_stat(uint64_t size, uint64_t *v)
{
	char path[160];

	snprintf(
		path, sizeof(path),
		"/sys/kernel/mm/transparent_hugepage/hugepages-%llukB/stats/anon_fault_alloc",
		(unsigned long long)(size >> 10));
	return read_u64(path, v);
}

#define INFO(...)                                                              \
	(off +=                                                                \
	 (size_t)snprintf(pc->info + off,                                      \
			  off < sizeof(pc->info) ? sizeof(pc->info) - off : 0, \
			  __VA_ARGS__))

/*
 * faults: the minflt delta of the phase that created the mapping's pages;
 * exp_faults 0 = not checkable; rss_delta_kb < 0 = not measured.
 * folios: how many folios the phase should have created.
 */
static void check_kind(struct bench *b, struct region *r, uint64_t faults,
		       uint64_t exp_faults, bool read_populated,
		       long long rss_delta_kb, uint64_t folios,
		       long long mthp_allocs, struct page_check *pc)
{
	const enum kind_type t = b->cfg.kind.type;
	const long long size_kb = (long long)(b->cfg.size >> 10);
	struct smaps_vma v;
	size_t off = 0;
	bool ok = true;

	if (exp_faults) {
		INFO("faults=%llu expected=%llu", (unsigned long long)faults,
		     (unsigned long long)exp_faults);
		if (faults < exp_faults || faults > exp_faults + FAULT_SLACK) {
			ok = false;
			INFO(" (BAD)");
		}
	}
	if (rss_delta_kb != -1 && t != KIND_HUGETLB_2M &&
	    t != KIND_HUGETLB_1G) {
		INFO("%srss_delta_kb=%lld", off ? " " : "", rss_delta_kb);
		if (t == KIND_ZERO && read_populated &&
		    rss_delta_kb > 4 * FAULT_SLACK) {
			ok = false; /* zero page mappings are not in RSS */
			INFO(" (BAD: not the zero page)");
		} else if (t == KIND_FILE && read_populated &&
			   rss_delta_kb < size_kb - 4 * FAULT_SLACK) {
			ok = false;
			INFO(" (BAD: file pages not mapped)");
		}
	}
	smaps_for(r->base, &v);
	if (!v.found || v.anon_huge_kb < 0) {
		INFO("%ssmaps=n/a", off ? " " : "");
	} else if (t == KIND_HUGETLB_2M || t == KIND_HUGETLB_1G) {
		INFO(" KernelPageSize_kb=%lld", v.kernel_page_kb);
		if (v.kernel_page_kb != (long long)(hugetlb_size(t) >> 10)) {
			ok = false;
			INFO(" (BAD)");
		}
	} else {
		INFO(" AnonHugePages_kb=%lld", v.anon_huge_kb);
		if (t == KIND_THP) {
			if (v.anon_huge_kb <
			    (long long)(folios * (b->folio >> 10))) {
				ok = false;
				INFO(" (BAD: want %llu)",
				     (unsigned long long)(folios *
							  (b->folio >> 10)));
			}
		} else if (v.anon_huge_kb != 0) {
			ok = false;
			INFO(" (BAD: PMD THP present)");
		}
		if (v.anon_kb >= 0 && t == KIND_FILE && read_populated)
			INFO(" Anonymous_kb=%lld", v.anon_kb);
	}
	if (t == KIND_MTHP && mthp_allocs >= 0) {
		INFO(" mthp_anon_fault_alloc=%lld", mthp_allocs);
		if (mthp_allocs < (long long)folios) {
			ok = false;
			INFO(" (BAD: want %llu)", (unsigned long long)folios);
		}
	}
	if (t == KIND_FILE)
		INFO(" fs=%s", r->file_fs[0] ? r->file_fs : "?");
	if (madv_errno)
		INFO(" madvise=%s", strerror(madv_errno));
	pc->ok = ok;
}

void region_populate(struct bench *b, struct region *r, struct page_check *pc)
{
	const enum kind_type t = b->cfg.kind.type;
	const uint64_t unit = b->cfg.unit, size = b->cfg.size;
	struct rusage ru0, ru1;
	uint64_t i, m0 = 0, m1 = 0, exp = 0;
	long long rss0;
	bool have_m;
	volatile uint8_t sink = 0;

	if (r->anchor)
		*(volatile char *)r->anchor = 1; /* gives the VMA an anon_vma */
	have_m = t == KIND_MTHP && !mthp_stat(b->folio, &m0);
	rss0 = (long long)statm_rss_kb();
	getrusage(RUSAGE_SELF, &ru0);
	if (t == KIND_ZERO || t == KIND_FILE) {
		for (i = 0; i < size; i += BASE_PAGE)
			sink += *(volatile uint8_t *)(r->base + i);
	} else {
		for (i = 0; i < b->npages; i++)
			memset(r->base + i * unit, pat_byte(i), unit);
	}
	getrusage(RUSAGE_SELF, &ru1);
	(void)sink;
	if (have_m)
		have_m = !mthp_stat(b->folio, &m1);
	if (t != KIND_FILE) /* file read faults map fault-around batches */
		exp = size / (t == KIND_ZERO ? BASE_PAGE : b->folio);
	check_kind(b, r, (uint64_t)(ru1.ru_minflt - ru0.ru_minflt), exp, true,
		   (long long)statm_rss_kb() - rss0, size / b->folio,
		   have_m ? (long long)(m1 - m0) : -1, pc);
}

void region_check_touched(struct bench *b, struct region *r,
			  const struct side_result *res, struct page_check *pc)
{
	check_kind(b, r, res->minflt, b->touched_folios, false, -1,
		   b->touched_folios, -1, pc);
}

/* first offset in p[0..len) whose byte is not c, or len */
static size_t find_not(const uint8_t *p, size_t len, uint8_t c)
{
	const uint64_t w = 0x0101010101010101ull * c;
	size_t i = 0;

	for (; i < len && ((uintptr_t)(p + i) & 7); i++)
		if (p[i] != c)
			return i;
	for (; i + 8 <= len; i += 8)
		if (*(const uint64_t *)(p + i) != w)
			break;
	for (; i < len; i++)
		if (p[i] != c)
			return i;
	return len;
}

int region_verify(struct bench *b, struct region *r, uint8_t xor, char *msg,
		  size_t len)
{
	const uint64_t unit = b->cfg.unit, bytes = b->cfg.bytes;
	const char *hook = getenv("COWBENCH_TEST_CORRUPT");
	uint64_t i;

	if (hook && *hook == '1') /* test hook: simulate a leaked write */
		r->base[unit - 1] ^= 0x01;
	for (i = 0; i < b->npages; i++) {
		const uint8_t *p = (const uint8_t *)r->base + i * unit;
		const uint8_t orig = r->orig_zero ? 0 : pat_byte(i);
		const uint8_t want = (xor&&b->written[i]) ? orig ^ xor : orig;
		size_t at = find_not(p, bytes, want);

		if (at == bytes) {
			at = find_not(p + bytes, unit - bytes, orig);
			if (at == unit - bytes)
				continue;
			at += bytes;
		}
		snprintf(
			msg, len,
			"page %llu (of %llu) offset %zu: expected 0x%02x, found 0x%02x (%s)",
			(unsigned long long)i, (unsigned long long)b->npages,
			at, at < bytes ? want : orig, p[at],
			xor&&b->written[i] ? "written by this side" :
					     "must be unchanged");
		return -1;
	}
	return 0;
}

void verify_side(struct bench *b, struct region *r, struct side_result *res,
		 uint8_t xor)
{
	char msg[MSG_LEN];

	res->verified = 1;
	res->verify_ok = !region_verify(b, r, xor, msg, sizeof(msg));
	if (!res->verify_ok) {
		snprintf(res->msg, sizeof(res->msg), "%s", msg);
		fprintf(stderr,
			"cowbench: VERIFY FAILED in the %s's view: %s\n",
			res->side, msg);
	}
}
