// SPDX-License-Identifier: GPL-2.0
/*
 * stw: stop the world. The writers wait while the whole store is copied
 * into a preallocated, prefaulted buffer; the buffer is written out after
 * they resume. Extra memory: the whole store.
 */
#include <errno.h>
#include <string.h>
#include <sys/mman.h>

#include "../kvsnap.h"

static int stw_setup(struct kv_store *kv, void **priv)
{
	void *buf = mmap(NULL, kv->size, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);

	if (buf == MAP_FAILED)
		return -errno;
	*priv = buf;
	return 0;
}

static int stw_begin(struct kv_store *kv, void *priv, int fd)
{
	memcpy(priv, kv->slots, kv->size);
	return 0;
}

static int stw_finish(struct kv_store *kv, void *priv, int fd)
{
	return write_full(fd, priv, kv->size, 0);
}

static void stw_teardown(struct kv_store *kv, void *priv)
{
	munmap(priv, kv->size);
}

static int64_t stw_extra(struct kv_store *kv, void *priv)
{
	return kv->size;
}

const struct snap_method snap_stw = {
	.name = "stw",
	.help = "stop the world: copy the store while the writers wait",
	.setup = stw_setup,
	.begin = stw_begin,
	.finish = stw_finish,
	.teardown = stw_teardown,
	.extra_bytes = stw_extra,
};
