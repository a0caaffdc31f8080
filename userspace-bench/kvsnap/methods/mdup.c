// SPDX-License-Identifier: GPL-2.0
/*
 * mdup: the writers wait while mdup(2) duplicates the store copy-on-write
 * inside the process; a thread of the process (the driver) writes the
 * duplicate out and unmaps it. As with fork, the writers' first write to
 * each shared page is a COW fault, but no process is created and only the
 * store's page tables are copied.
 */
#include <errno.h>
#include <sys/mman.h>

#include "../kvsnap.h"
#include "../../mdup.h"

static void *mdup_copy;

static int mdup_setup(struct kv_store *kv, void **priv)
{
	/* an ENOSYS probe: a kernel without mdup() cannot run this method */
	if (mdup(NULL, 0, NULL, 0) == MAP_FAILED && errno == ENOSYS)
		return -ENOSYS;
	return 0;
}

static int mdup_begin(struct kv_store *kv, void *priv, int fd)
{
	mdup_copy = mdup(kv->slots, kv->size, NULL, 0);
	return mdup_copy == MAP_FAILED ? -errno : 0;
}

static int mdup_finish(struct kv_store *kv, void *priv, int fd)
{
	int err = write_full(fd, mdup_copy, kv->size, 0);

	munmap(mdup_copy, kv->size);
	return err;
}

const struct snap_method snap_mdup = {
	.name = "mdup",
	.help = "mdup(2): a COW duplicate of the store, written by a thread",
	.setup = mdup_setup,
	.begin = mdup_begin,
	.finish = mdup_finish,
};
