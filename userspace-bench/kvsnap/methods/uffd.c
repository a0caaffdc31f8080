// SPDX-License-Identifier: GPL-2.0
/*
 * uffd: userfaultfd write-protect. At the instant the whole store is
 * write-protected (UFFDIO_WRITEPROTECT); a saver thread (the driver) then
 * writes it out chunk by chunk and lifts the protection of each saved
 * chunk. A writer that hits a protected page blocks until the handler
 * thread has saved that page's chunk and lifted its protection, so the
 * file holds the bytes as of the instant with no copy in memory. The unit
 * of saving and unprotecting is --uffd-chunk pages (default 1: "save each
 * page before releasing the writer"; larger chunks block fewer writes but
 * each for longer).
 */
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <sched.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/userfaultfd.h>

#include "../kvsnap.h"

unsigned long kvsnap_uffd_chunk_pages = 1;
#define CHUNK (kvsnap_uffd_chunk_pages * KV_PAGE)

enum { C_PROTECTED, C_SAVING, C_SAVED };

struct uffd_priv {
	struct kv_store *kv;
	int uffd, stop_pipe[2], fd, err;
	size_t nchunks;
	_Atomic unsigned char *state;
	pthread_t handler;
};

static struct uffd_priv uffd_state;

static int wp(struct uffd_priv *p, size_t off, size_t len, int protect)
{
	struct uffdio_writeprotect w = {
		.range = { .start = (uintptr_t)p->kv->slots + off, .len = len },
		.mode = protect ? UFFDIO_WRITEPROTECT_MODE_WP : 0,
	};

	return ioctl(p->uffd, UFFDIO_WRITEPROTECT, &w) ? -errno : 0;
}

/* save chunk c unless someone else does; return when it is saved */
static void save_chunk(struct uffd_priv *p, size_t c)
{
	unsigned char want = C_PROTECTED;

	if (atomic_compare_exchange_strong(&p->state[c], &want, C_SAVING)) {
		int err = write_full(p->fd, (char *)p->kv->slots + c * CHUNK,
				     CHUNK, c * CHUNK);

		if (!err)
			err = wp(p, c * CHUNK, CHUNK, 0);
		if (err)
			p->err = err;
		atomic_store(&p->state[c], C_SAVED);
		return;
	}
	while (atomic_load(&p->state[c]) != C_SAVED)
		sched_yield();
}

static void *uffd_handler(void *arg)
{
	struct uffd_priv *p = arg;
	struct pollfd pfd[2] = { { .fd = p->uffd, .events = POLLIN },
				 { .fd = p->stop_pipe[0], .events = POLLIN } };
	struct uffd_msg msg;

	for (;;) {
		if (poll(pfd, 2, -1) < 0) {
			if (errno == EINTR)
				continue;
			p->err = -errno;
			return NULL;
		}
		if (pfd[1].revents)
			return NULL;
		if (read(p->uffd, &msg, sizeof(msg)) != sizeof(msg))
			continue;
		if (msg.event != UFFD_EVENT_PAGEFAULT)
			continue;
		size_t off =
			msg.arg.pagefault.address - (uintptr_t)p->kv->slots;

		save_chunk(p, off / CHUNK);
		/* wake the writer (again, if the saver lifted it first) */
		wp(p, off / CHUNK * CHUNK, CHUNK, 0);
	}
}

static int uffd_setup(struct kv_store *kv, void **priv)
{
	struct uffd_priv *p = &uffd_state;
	struct uffdio_api api = { .api = UFFD_API,
				  .features = UFFD_FEATURE_PAGEFAULT_FLAG_WP };
	struct uffdio_register reg = {
		.range = { .start = (uintptr_t)kv->slots, .len = kv->size },
		.mode = UFFDIO_REGISTER_MODE_WP,
	};
	int err;

	memset(p, 0, sizeof(*p));
	p->kv = kv;
	if (kv->size % CHUNK)
		return -EINVAL;
	p->nchunks = kv->size / CHUNK;
	p->state = calloc(p->nchunks, 1);
	if (!p->state)
		return -ENOMEM;
	p->uffd = syscall(__NR_userfaultfd, O_CLOEXEC | O_NONBLOCK);
	if (p->uffd < 0) {
		err = -errno;
		goto free;
	}
	if (ioctl(p->uffd, UFFDIO_API, &api) ||
	    ioctl(p->uffd, UFFDIO_REGISTER, &reg)) {
		err = -errno;
		goto close;
	}
	if (pipe(p->stop_pipe)) {
		err = -errno;
		goto close;
	}
	err = -pthread_create(&p->handler, NULL, uffd_handler, p);
	if (err)
		goto pipe;
	*priv = p;
	return 0;
pipe:
	close(p->stop_pipe[0]);
	close(p->stop_pipe[1]);
close:
	close(p->uffd);
free:
	free(p->state);
	return err;
}

static int uffd_begin(struct kv_store *kv, void *priv, int fd)
{
	struct uffd_priv *p = priv;

	p->fd = fd;
	p->err = 0;
	for (size_t c = 0; c < p->nchunks; c++)
		atomic_store(&p->state[c], C_PROTECTED);
	return wp(p, 0, kv->size, 1);
}

static int uffd_finish(struct kv_store *kv, void *priv, int fd)
{
	struct uffd_priv *p = priv;

	for (size_t c = 0; c < p->nchunks; c++)
		save_chunk(p, c);
	return p->err;
}

static void uffd_teardown(struct kv_store *kv, void *priv)
{
	struct uffd_priv *p = priv;
	struct uffdio_range r = { .start = (uintptr_t)kv->slots,
				  .len = kv->size };

	if (write(p->stop_pipe[1], "x", 1) == 1)
		pthread_join(p->handler, NULL);
	ioctl(p->uffd, UFFDIO_UNREGISTER, &r);
	close(p->stop_pipe[0]);
	close(p->stop_pipe[1]);
	close(p->uffd);
	free(p->state);
}

static int64_t uffd_extra(struct kv_store *kv, void *priv)
{
	return 0; /* pages go from the store to the file, never copied */
}

const struct snap_method snap_uffd = {
	.name = "uffd",
	.help = "userfaultfd write-protect; a handler saves a page before its writer goes on",
	.setup = uffd_setup,
	.begin = uffd_begin,
	.finish = uffd_finish,
	.teardown = uffd_teardown,
	.extra_bytes = uffd_extra,
};
