/* SPDX-License-Identifier: GPL-2.0 WITH Linux-syscall-note */
/*
 * mdup(2): duplicate a private anonymous memory range copy-on-write inside
 * the calling process (cowlab).
 *
 *	long mdup(unsigned long addr, unsigned long len,
 *		  unsigned long new_addr, unsigned long flags);
 *
 * Returns the start of the duplicate, or -1 with errno set. See mdup(2) in
 * cowlab's docs/mdup.2.
 */
#ifndef _UAPI_LINUX_MDUP_H
#define _UAPI_LINUX_MDUP_H

/*
 * x86_64 syscall number. Upstream allocates x86_64 numbers one by one from
 * 463 up (6.12 ends at 462, mseal); 512-547 are the legacy x32 range. 600
 * lies beyond both with room for well over a decade of upstream additions.
 */
#define MDUP_SYSCALL_NR_X86_64	600

/* Place the duplicate exactly at new_addr, which must be unmapped. */
#define MDUP_FIXED		0x1UL

#endif /* _UAPI_LINUX_MDUP_H */
