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

#endif /* COWLAB_KNOB_H */
