/* SPDX-License-Identifier: GPL-2.0 */
/*
 * cowlab_uapi.h - every number cowlab's series shows user space, in one
 * place, for programs built against any libc: the prctls of patches 0008
 * (pre-copy) and 0013 (on-demand fork), as include/uapi/linux/prctl.h of
 * the patched tree defines them, and mdup(2) of include/uapi/linux/mdup.h
 * (mm-changes/). tests/host/test_scripts.sh checks each value here against
 * the series, so a renumbering there cannot go unnoticed here.
 */
#ifndef COWLAB_UAPI_H
#define COWLAB_UAPI_H

#ifndef PR_SET_COW_PRECOPY
#define PR_SET_COW_PRECOPY 0x434f5750
#define PR_GET_COW_PRECOPY 0x434f5751
#define PR_COW_PRECOPY_DEFAULT 0
#define PR_COW_PRECOPY_DISABLE 1
#define PR_COW_PRECOPY_MAX 2
#endif

#ifndef PR_SET_COW_ODF
#define PR_SET_COW_ODF 0x434f5752
#define PR_GET_COW_ODF 0x434f5753
#define PR_COW_ODF_DEFAULT 0
#define PR_COW_ODF_ALWAYS 1
#define PR_COW_ODF_NEVER 2
#endif

#ifndef __NR_mdup
#define __NR_mdup 600 /* MDUP_SYSCALL_NR_X86_64 */
#endif
#ifndef MDUP_FIXED
#define MDUP_FIXED 0x1UL
#endif

#endif /* COWLAB_UAPI_H */
