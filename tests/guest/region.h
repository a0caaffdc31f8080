/* SPDX-License-Identifier: GPL-2.0 */
/*
 * region.h - the memory model of cowlab's guest tests that check COW
 * outcomes: regions filled with a pattern of (seed, offset) words, checked
 * word by word, and the process's own view of its mappings.
 */
#ifndef COWLAB_REGION_H
#define COWLAB_REGION_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <fcntl.h>
#include <unistd.h>
#include <sys/mman.h>

#ifndef PG
#define PG 4096UL
#endif
#ifndef PMD_SZ
#define PMD_SZ (2UL << 20)
#endif

/* The word at byte offset 8 * @i of a region filled with @seed. */
static inline uint64_t word(unsigned long seed, size_t i)
{
	return (seed << 40) ^ (i * 0x9e3779b97f4a7c15ULL);
}

static inline void fill(void *p, size_t len, unsigned long seed)
{
	uint64_t *w = p;

	for (size_t i = 0; i < len / 8; i++)
		w[i] = word(seed, i);
}

/*
 * The first word of [@p, @p + @len) that is not @seed's for a region that
 * starts @off bytes before @p (its index from @p), or -1.
 */
static inline long differs(const void *p, size_t off, size_t len,
			   unsigned long seed)
{
	const uint64_t *w = p;

	for (size_t i = 0; i < len / 8; i++)
		if (w[i] != word(seed, off / 8 + i))
			return i;
	return -1;
}

/* 1 if [@p, @p + @len) holds @seed's words for offset @off on. */
static inline int intact_at(const void *p, size_t off, size_t len,
			    unsigned long seed)
{
	return differs(p, off, len, seed) < 0;
}

static inline int intact(const void *p, size_t len, unsigned long seed)
{
	return intact_at(p, 0, len, seed);
}

/*
 * @len bytes of private anonymous memory at a 2 MiB-aligned address, as a
 * VMA of its own: PROT_NONE guards on both sides keep it from merging.
 */
static inline char *map_aligned(size_t len)
{
	size_t total = len + 2 * PMD_SZ;
	char *raw = mmap(NULL, total, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	char *p;

	if (raw == MAP_FAILED)
		return NULL;
	p = (char *)(((uintptr_t)raw + PMD_SZ) & ~(PMD_SZ - 1));
	if (mmap(p, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED, -1, 0) != p)
		return NULL;
	return p;
}

/* Lines of /proc/self/maps: the number of VMAs (plus vsyscall). */
static inline int count_maps(void)
{
	FILE *f = fopen("/proc/self/maps", "r");
	int n = 0, c;

	if (!f)
		return -1;
	while ((c = fgetc(f)) != EOF)
		n += c == '\n';
	fclose(f);
	return n;
}

/* A "Name:  N kB" field of /proc/self/status or /proc/meminfo, or -1. */
static inline long kb_field(const char *file, const char *name)
{
	FILE *f = fopen(file, "r");
	char line[256];
	long v = -1;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, name, strlen(name))) {
			v = atol(line + strlen(name));
			break;
		}
	fclose(f);
	return v;
}

static inline long status_kb(const char *name)
{
	return kb_field("/proc/self/status", name);
}

/* The permission string of the VMA holding @addr ("rw-p"), or "". */
static inline void vma_perms(const void *addr, char perms[5])
{
	FILE *f = fopen("/proc/self/maps", "r");
	unsigned long s, e, a = (uintptr_t)addr;
	char line[512];

	perms[0] = '\0';
	if (!f)
		return;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx %4s", &s, &e, perms) == 3 &&
		    a >= s && a < e)
			break;
		perms[0] = '\0';
	}
	fclose(f);
}

/* ---- /proc/self/pagemap and /proc/kpage* (Documentation/admin-guide/mm/pagemap.rst) ---- */

#define PM_PFN(e)	((e) & ((1ULL << 55) - 1))
#define PM_SOFT_DIRTY	(1ULL << 55)
#define PM_EXCL		(1ULL << 56)
#define PM_PRESENT	(1ULL << 63)
#define KPF_SWAPCACHE	13

/* The pagemap entry of @addr in the calling process (0 on error). */
static inline uint64_t pagemap(const void *addr)
{
	static pid_t owner;
	static int fd = -1;
	uint64_t e = 0;

	/* an fd inherited over fork() would show the parent's page tables */
	if (fd < 0 || owner != getpid()) {
		if (fd >= 0)
			close(fd);
		fd = open("/proc/self/pagemap", O_RDONLY);
		owner = getpid();
	}
	if (fd < 0 || pread(fd, &e, sizeof(e), (uintptr_t)addr / PG * sizeof(e)) !=
	    sizeof(e))
		e = 0;
	return e;
}

/* PFN of the page at @addr (0: not present or no permission). */
static inline uint64_t pfn(const void *addr)
{
	uint64_t e = pagemap(addr);

	return (e & PM_PRESENT) ? PM_PFN(e) : 0;
}

/* The 64-bit word of PFN @f in /proc/kpagecount or /proc/kpageflags (-1). */
static inline long long kpage_word(const char *file, uint64_t f)
{
	int fd = open(file, O_RDONLY);
	uint64_t w;
	long long r = -1;

	if (fd < 0)
		return -1;
	if (pread(fd, &w, 8, f * 8) == 8)
		r = (long long)w;
	close(fd);
	return r;
}

static inline long kpagecount(uint64_t f)
{
	return kpage_word("/proc/kpagecount", f);
}

/* Whether flag bit @bit (KPF_*) is set for PFN @f: 1, 0, or -1. */
static inline int kpageflag(uint64_t f, int bit)
{
	long long w = kpage_word("/proc/kpageflags", f);

	return w < 0 ? -1 : !!(w & (1LL << bit));
}

#endif /* COWLAB_REGION_H */
