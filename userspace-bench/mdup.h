/* SPDX-License-Identifier: GPL-2.0 */
/*
 * mdup.h - user-space wrapper of cowlab's mdup(2) system call (x86_64),
 * which duplicates a private anonymous range copy-on-write inside the
 * calling process. See docs/mdup.2 (man ./docs/mdup.2).
 *
 *	void *copy = mdup(buf, len, NULL, 0);
 *	if (copy == MAP_FAILED)
 *		err(1, "mdup");
 *
 * Needs only libc: the constants are in cowlab_uapi.h.
 */
#ifndef COWLAB_MDUP_H
#define COWLAB_MDUP_H

#include <errno.h>
#include <stddef.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "cowlab_uapi.h"

/*
 * mdup() - duplicate [addr, addr + len) copy-on-write
 * @addr: page-aligned start of private anonymous memory
 * @len: page-aligned nonzero length
 * @new_addr: where to put the copy with MDUP_FIXED, else NULL
 * @flags: 0 or MDUP_FIXED
 *
 * Return: the copy's address, or MAP_FAILED with errno set (ENOSYS on a
 * kernel without it).
 */
static inline void *mdup(void *addr, size_t len, void *new_addr,
			 unsigned long flags)
{
	long ret = syscall(__NR_mdup, addr, len, new_addr, flags);

	return ret == -1 ? MAP_FAILED : (void *)ret;
}

#endif /* COWLAB_MDUP_H */
