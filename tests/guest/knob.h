/* SPDX-License-Identifier: GPL-2.0 */
/*
 * knob.h - read and write the one-line files (sysctls, sysfs, debugfs) that
 * cowlab's guest tests set and restore.
 */
#ifndef COWLAB_KNOB_H
#define COWLAB_KNOB_H

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* Write @val to @path: 0, or -errno (-EIO for a short write). */
static inline int knob_write(const char *path, const char *val)
{
	size_t len = strlen(val);
	int fd = open(path, O_WRONLY), ret = 0;
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = write(fd, val, len);
	if (n < 0)
		ret = -errno;
	else if ((size_t)n != len)
		ret = -EIO;
	close(fd);
	return ret;
}

/* Read @path into @buf without its trailing newline: 0, or -1 and "". */
static inline int knob_read(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY);
	ssize_t n = fd < 0 ? -1 : read(fd, buf, len - 1);

	if (fd >= 0)
		close(fd);
	buf[n > 0 ? n : 0] = '\0';
	if (n <= 0)
		return -1;
	if (buf[n - 1] == '\n')
		buf[n - 1] = '\0';
	return 0;
}

/*
 * The chosen word of a sysfs choice file ("always [madvise] never" ->
 * "madvise") into @mode: 0, or -1 when unreadable, without brackets, or
 * longer than @len - 1.
 */
static inline int knob_read_choice(const char *path, char *mode, size_t len)
{
	char buf[256], *l, *r;

	if (knob_read(path, buf, sizeof(buf)))
		return -1;
	l = strchr(buf, '[');
	r = l ? strchr(l, ']') : NULL;
	if (!r || (size_t)(r - l - 1) >= len)
		return -1;
	memcpy(mode, l + 1, r - l - 1);
	mode[r - l - 1] = '\0';
	return 0;
}

/* The integer in the one-line file @path, or -1 if unreadable. */
static inline long knob_long(const char *path)
{
	char buf[32];

	return knob_read(path, buf, sizeof(buf)) ? -1 : atol(buf);
}

/* Read the integer vm sysctl @name into *@val: 0, or -1 (no such sysctl). */
static inline int sysctl_get(const char *name, int *val)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), "/proc/sys/vm/%s", name);
	if (knob_read(path, buf, sizeof(buf)))
		return -1;
	*val = atoi(buf);
	return 0;
}

/* Set the integer vm sysctl @name to @val: 0, or -errno. */
static inline int sysctl_set(const char *name, int val)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), "/proc/sys/vm/%s", name);
	snprintf(buf, sizeof(buf), "%d", val);
	return knob_write(path, buf);
}

/*
 * Read /proc/vmstat into a static buffer and return it ("" if unreadable).
 * Nothing is allocated, so a child that counts its own faults can call it.
 */
static inline const char *vmstat_load(void)
{
	static char buf[1 << 16];
	int fd = open("/proc/vmstat", O_RDONLY);
	ssize_t n, len = 0;

	while (fd >= 0 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) > 0)
		len += n;
	if (fd >= 0)
		close(fd);
	buf[len] = '\0';
	return buf;
}

/* The counter @name in a vmstat_load() buffer, or -1 if it has none. */
static inline long vmstat_field(const char *vs, const char *name)
{
	size_t l = strlen(name);

	while (vs && *vs) {
		if (!strncmp(vs, name, l) && vs[l] == ' ')
			return strtol(vs + l + 1, NULL, 10);
		vs = strchr(vs, '\n');
		if (vs)
			vs++;
	}
	return -1;
}

/* One /proc/vmstat counter, or -1 if the kernel has none by that name. */
static inline long vmstat_get(const char *name)
{
	return vmstat_field(vmstat_load(), name);
}

/*
 * Make @cg (under /sys/fs/cgroup) a fresh memory cgroup without swap: NULL,
 * or why it cannot be made (a SKIP reason). The caller rmdir()s it.
 */
static inline const char *memcg_fresh(const char *cg)
{
	char path[256];

	if (access("/sys/fs/cgroup/cgroup.subtree_control", W_OK))
		return "no cgroup2 at /sys/fs/cgroup";
	knob_write("/sys/fs/cgroup/cgroup.subtree_control", "+memory");
	rmdir(cg);
	snprintf(path, sizeof(path), "%s/memory.max", cg);
	if (mkdir(cg, 0755) || access(path, W_OK)) {
		rmdir(cg);
		return "no memory controller";
	}
	snprintf(path, sizeof(path), "%s/memory.swap.max", cg);
	if (!access(path, W_OK) && knob_write(path, "0"))
		return "cannot set memory.swap.max";
	return NULL;
}

/*
 * The value of @key in cgroup @cg's flat-keyed file @file ("memory.events",
 * "cgroup.events", ...), or -1.
 */
static inline long cg_key(const char *cg, const char *file, const char *key)
{
	char path[256], k[64];
	long v, r = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fscanf(f, "%63s %ld", k, &v) == 2)
		if (!strcmp(k, key)) {
			r = v;
			break;
		}
	fclose(f);
	return r;
}

#define FEATURES_DIR "/lib/cowlab/features/"

/* Apply one feature file (lines "sysctl.name=value" or "/path=value"). */
static inline int feature_file(const char *name, int strict)
{
	char path[256], line[256], knob[280], *eq, *nl;
	int ret = 0;
	FILE *f;

	snprintf(path, sizeof(path), FEATURES_DIR "%s.conf", name);
	f = fopen(path, "r");
	if (!f)
		return -ENOENT;
	while (fgets(line, sizeof(line), f)) {
		nl = strchr(line, '\n');
		if (nl)
			*nl = '\0';
		eq = strchr(line, '=');
		if (line[0] == '#' || !eq)
			continue;
		*eq = '\0';
		if (line[0] == '/') {
			snprintf(knob, sizeof(knob), "%s", line);
		} else {
			snprintf(knob, sizeof(knob), "/proc/sys/%s", line);
			for (char *c = knob + 10; *c; c++)
				if (*c == '.')
					*c = '/';
		}
		if (knob_write(knob, eq + 1) && strict)
			ret = -ENOENT;
	}
	fclose(f);
	return ret;
}

/*
 * Apply the guest's feature set @name (guest/features/NAME.conf, installed
 * in /lib/cowlab/features/) as /init's feature_apply does: off.conf first
 * (generated from every manifest's "off:" line; a missing knob ignored),
 * then NAME.conf, every knob of which must exist.
 * The knob values live in those files only. Return: 0, or -ENOENT (no such
 * set, or a knob missing on this kernel; everything is off again then).
 */
static inline int feature_set(const char *name)
{
	feature_file("off", 0);
	if (!strcmp(name, "off"))
		return 0;
	if (feature_file(name, 1)) {
		feature_file("off", 0);
		return -ENOENT;
	}
	return 0;
}

#endif /* COWLAB_KNOB_H */
