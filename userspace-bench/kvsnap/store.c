// SPDX-License-Identifier: GPL-2.0
/*
 * The key-value store of kvsnap: one anonymous region of 64-byte slots,
 * split into one shard per writer thread, open addressing (linear probing)
 * inside a shard, 50% load. Writer t's k-th operation updates a key chosen
 * by a stateless hash of (seed, t, k) to version k + 1, so the state after
 * any cut (ops done per writer) is a pure function of the cut: the verifier
 * replays it and compares every byte of a snapshot file. Shards keep the
 * writers from ever touching the same key, and the slot of every key is
 * fixed by the load, so no operation order between threads matters.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "kvsnap.h"

static pthread_mutex_t kv_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t kv_ack = PTHREAD_COND_INITIALIZER;
static pthread_cond_t kv_go = PTHREAD_COND_INITIALIZER;

int write_full(int fd, const void *buf, size_t len, off_t off)
{
	const char *p = buf;

	while (len) {
		ssize_t n = pwrite(fd, p, len, off);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += n;
		off += n;
		len -= n;
	}
	return 0;
}

static inline uint64_t mix(uint64_t x)
{
	x += 0x9e3779b97f4a7c15ull;
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ull;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebull;
	return x ^ (x >> 31);
}

static inline uint64_t kv_key(int t, uint64_t i)
{
	return ((uint64_t)(t + 1) << 40) | (i + 1);
}

static inline uint64_t kv_value(uint64_t key, uint64_t ver, int j)
{
	return mix(key * 31 + (ver << 8) + j);
}

/* the key index writer t updates in its op k */
static inline uint64_t kv_op_index(const struct kv_store *kv, int t, uint64_t k)
{
	return mix(kv->seed ^ ((uint64_t)t << 56) ^ k) % kv->shard_keys;
}

static inline uint64_t kv_home(const struct kv_store *kv, uint64_t key)
{
	return mix(key ^ kv->seed) % kv->shard_slots;
}

static void kv_fill_slot(struct kv_slot *s, uint64_t key, uint64_t ver)
{
	s->key = key;
	s->ver = ver;
	for (int j = 0; j < KV_VALUE_WORDS; j++)
		s->val[j] = kv_value(key, ver, j);
}

static struct kv_slot *kv_find(struct kv_store *kv, int t, uint64_t key)
{
	struct kv_slot *shard = kv->slots + (uint64_t)t * kv->shard_slots;
	uint64_t h = kv_home(kv, key);

	while (shard[h].key != key)
		h = h + 1 == kv->shard_slots ? 0 : h + 1;
	return &shard[h];
}

int kv_create(struct kv_store *kv, size_t size, int nthreads, uint64_t seed,
	      int thp)
{
	size_t align = 2ul << 20;
	char *raw;

	memset(kv, 0, sizeof(*kv));
	if (nthreads < 1 || nthreads > KV_MAX_THREADS || size % KV_PAGE ||
	    size / sizeof(struct kv_slot) < 64ul * nthreads)
		return -EINVAL;
	kv->size = size;
	kv->nthreads = nthreads;
	kv->seed = seed;
	kv->thp = thp;
	kv->nslots = size / sizeof(struct kv_slot);
	kv->shard_slots = kv->nslots / nthreads;
	kv->shard_keys = kv->shard_slots / 2;

	raw = mmap(NULL, size + align, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (raw == MAP_FAILED)
		return -errno;
	kv->slots =
		(struct kv_slot *)(((uintptr_t)raw + align - 1) & ~(align - 1));
	if ((char *)kv->slots > raw)
		munmap(raw, (char *)kv->slots - raw);
	munmap((char *)kv->slots + size,
	       raw + size + align - ((char *)kv->slots + size));
	madvise(kv->slots, size, thp ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
	memset(kv->slots, 0, size); /* every page present, as in a live store */

	kv->layout = calloc(kv->nslots, sizeof(uint64_t));
	if (!kv->layout) {
		munmap(kv->slots, size);
		return -ENOMEM;
	}
	for (int t = 0; t < nthreads; t++) {
		struct kv_slot *shard =
			kv->slots + (uint64_t)t * kv->shard_slots;

		for (uint64_t i = 0; i < kv->shard_keys; i++) {
			uint64_t key = kv_key(t, i), h = kv_home(kv, key);

			while (shard[h].key)
				h = h + 1 == kv->shard_slots ? 0 : h + 1;
			kv_fill_slot(&shard[h], key, 0);
			kv->layout[(uint64_t)t * kv->shard_slots + h] = key;
		}
	}
	return 0;
}

void kv_destroy(struct kv_store *kv)
{
	munmap(kv->slots, kv->size);
	free(kv->layout);
}

static void *kv_writer_main(void *arg)
{
	struct kv_writer *w = arg;
	struct kv_store *kv = w->kv;
	uint64_t k = atomic_load(&w->ops);

	while (!atomic_load_explicit(&kv->stop, memory_order_relaxed)) {
		int m = atomic_load_explicit(&kv->measure,
					     memory_order_relaxed);
		int b = atomic_load_explicit(&kv->baseline,
					     memory_order_relaxed);
		uint64_t t0 = (m || b) ? clock_ns() : 0;
		uint64_t key;

		if (atomic_load_explicit(&kv->pause, memory_order_acquire)) {
			pthread_mutex_lock(&kv_lock);
			atomic_fetch_add(&kv->paused, 1);
			pthread_cond_broadcast(&kv_ack);
			while (atomic_load(&kv->pause))
				pthread_cond_wait(&kv_go, &kv_lock);
			atomic_fetch_sub(&kv->paused, 1);
			pthread_mutex_unlock(&kv_lock);
			if (atomic_load(&kv->stop))
				break;
		}
		key = kv_key(w->id, kv_op_index(kv, w->id, k));
		kv_fill_slot(kv_find(kv, w->id, key), key, k + 1);
		k++;
		atomic_store_explicit(&w->ops, k, memory_order_release);
		if (m)
			hist_add(&w->lat, clock_ns() - t0);
		else if (b)
			hist_add(&w->base, clock_ns() - t0);
	}
	return NULL;
}

int kv_start(struct kv_store *kv)
{
	atomic_store(&kv->stop, 0);
	for (int t = 0; t < kv->nthreads; t++) {
		struct kv_writer *w = &kv->w[t];
		int err;

		w->kv = kv;
		w->id = t;
		hist_reset(&w->lat);
		hist_reset(&w->base);
		err = pthread_create(&w->th, NULL, kv_writer_main, w);
		if (err) {
			kv->nthreads = t;
			kv_stop(kv);
			return -err;
		}
	}
	return 0;
}

void kv_stop(struct kv_store *kv)
{
	atomic_store(&kv->stop, 1);
	kv_resume(kv);
	for (int t = 0; t < kv->nthreads; t++)
		pthread_join(kv->w[t].th, NULL);
}

void kv_pause(struct kv_store *kv)
{
	pthread_mutex_lock(&kv_lock);
	atomic_store(&kv->pause, 1);
	while (atomic_load(&kv->paused) < kv->nthreads)
		pthread_cond_wait(&kv_ack, &kv_lock);
	pthread_mutex_unlock(&kv_lock);
	for (int t = 0; t < kv->nthreads; t++)
		kv->cut[t] = atomic_load_explicit(&kv->w[t].ops,
						  memory_order_acquire);
}

void kv_resume(struct kv_store *kv)
{
	pthread_mutex_lock(&kv_lock);
	atomic_store(&kv->pause, 0);
	pthread_cond_broadcast(&kv_go);
	pthread_mutex_unlock(&kv_lock);
}

uint64_t kv_total_ops(struct kv_store *kv)
{
	uint64_t n = 0;

	for (int t = 0; t < kv->nthreads; t++)
		n += atomic_load(&kv->w[t].ops);
	return n;
}

int kv_verify_file(struct kv_store *kv, const char *path, char *msg,
		   size_t msglen)
{
	const size_t chunk = 1ul << 20;
	uint64_t *ver = calloc(kv->shard_keys * kv->nthreads, sizeof(*ver));
	struct kv_slot *buf = malloc(chunk), want;
	int fd = open(path, O_RDONLY), ret = -1;
	off_t off = 0, fsize;

	if (!ver || !buf || fd < 0) {
		snprintf(msg, msglen, "verify: %s", strerror(errno));
		goto out;
	}
	fsize = lseek(fd, 0, SEEK_END);
	if (fsize != (off_t)kv->size) {
		snprintf(msg, msglen, "snapshot is %lld bytes, store %zu",
			 (long long)fsize, kv->size);
		goto out;
	}
	/* replay the cut: the last version each key got before the instant */
	for (int t = 0; t < kv->nthreads; t++)
		for (uint64_t k = 0; k < kv->cut[t]; k++)
			ver[t * kv->shard_keys + kv_op_index(kv, t, k)] = k + 1;
	for (off = 0; off < fsize; off += chunk) {
		size_t n = fsize - off < (off_t)chunk ? (size_t)(fsize - off) :
							chunk;
		uint64_t s0 = off / sizeof(struct kv_slot);

		if (pread(fd, buf, n, off) != (ssize_t)n) {
			snprintf(msg, msglen, "short read at %lld",
				 (long long)off);
			goto out;
		}
		for (uint64_t i = 0; i < n / sizeof(struct kv_slot); i++) {
			uint64_t key = kv->layout[s0 + i];

			memset(&want, 0, sizeof(want));
			if (key) {
				int t = (int)(key >> 40) - 1;
				uint64_t idx = (key & ((1ull << 40) - 1)) - 1;

				kv_fill_slot(&want, key,
					     ver[t * kv->shard_keys + idx]);
			}
			if (memcmp(&want, &buf[i], sizeof(want))) {
				const unsigned char *a = (void *)&want,
						    *b = (void *)&buf[i];
				size_t j = 0;

				while (a[j] == b[j])
					j++;
				snprintf(
					msg, msglen,
					"byte %llu: 0x%02x, want 0x%02x (slot key %llx, file ver %llu, want %llu)",
					(unsigned long long)((s0 +
							      i) * sizeof(want) +
							     j),
					b[j], a[j], (unsigned long long)key,
					(unsigned long long)buf[i].ver,
					(unsigned long long)want.ver);
				goto out;
			}
		}
	}
	ret = 0;
out:
	if (fd >= 0)
		close(fd);
	free(buf);
	free(ver);
	return ret;
}
