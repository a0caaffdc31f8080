/* SPDX-License-Identifier: GPL-2.0 */
/*
 * procfs.h - one number from /proc/vmstat or from the smaps entry of a
 * mapping; shared by kvsnap, hugecow and cowlab's guest tests (libc only).
 */
#ifndef COWLAB_PROCFS_H
#define COWLAB_PROCFS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The value of @name in /proc/vmstat, or -1 (no such counter). */
static inline long long proc_vmstat(const char *name)
{
	FILE *f = fopen("/proc/vmstat", "r");
	long long v, r = -1;
	char key[64];

	if (!f)
		return -1;
	while (fscanf(f, "%63s %lld", key, &v) == 2)
		if (!strcmp(key, name)) {
			r = v;
			break;
		}
	fclose(f);
	return r;
}

/*
 * The field @name ("Rss:", "AnonHugePages:", ...) in kB of the
 * /proc/self/smaps entry of the mapping that contains @addr, or -1.
 */
static inline long proc_smaps_kb(const void *addr, const char *name)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	unsigned long s, e, a = (uintptr_t)addr;
	char line[256];
	long v = -1;
	int in = 0;

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &s, &e) == 2)
			in = a >= s && a < e;
		else if (in && !strncmp(line, name, strlen(name))) {
			v = atol(line + strlen(name));
			break;
		}
	}
	fclose(f);
	return v;
}

#endif /* COWLAB_PROCFS_H */
