/* SPDX-License-Identifier: GPL-2.0 */
/*
 * kvsnap: an in-memory key-value store under a steady multi-threaded write
 * load, snapshotted to a file by one of several methods (methods/NAME.c). The
 * driver (main.c) owns options, repetition, timing, statistics and output;
 * the store (store.c) owns the table, the writer threads, the snapshot
 * instant and the byte-for-byte verification of a snapshot file.
 */
#ifndef KVSNAP_H
#define KVSNAP_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>

#include "../clock.h"
#include "../hist.h"

#define KV_PAGE 4096UL
#define KV_MAX_THREADS 16
#define KV_VALUE_WORDS 6

/* one 64-byte slot of the open-addressing table */
struct kv_slot {
	uint64_t key; /* 0: empty */
	uint64_t ver; /* version of the value: 0 after load, then op + 1 */
	uint64_t val[KV_VALUE_WORDS]; /* kv_value(key, ver, i) */
};

struct kv_writer {
	struct kv_store *kv;
	pthread_t th;
	int id;
	_Atomic uint64_t ops; /* operations completed */
	struct hist lat; /* latency of each op while kv->measure */
	struct hist base; /* latency of each op while kv->baseline */
};

struct kv_store {
	struct kv_slot *slots; /* the region: size bytes, page aligned */
	size_t size;
	uint64_t nslots, shard_slots, shard_keys; /* per writer shard */
	int nthreads;
	uint64_t seed;
	int thp; /* MADV_HUGEPAGE on the region (else MADV_NOHUGEPAGE) */
	uint64_t *layout; /* key of each slot after the load (verification) */

	struct kv_writer w[KV_MAX_THREADS];
	_Atomic int stop;
	_Atomic int pause; /* writers wait at their next op boundary */
	_Atomic int paused; /* writers waiting */
	_Atomic int measure; /* record op latencies into w[].lat */
	_Atomic int baseline; /* record op latencies into w[].base */
	uint64_t cut[KV_MAX_THREADS]; /* ops of each writer at the instant */
};

/* how a snapshot is taken (methods/<name>.c) */
struct snap_method {
	const char *name;
	const char *help;
	/* once per run, writers stopped: register, preallocate, ... */
	int (*setup)(struct kv_store *kv, void **priv);
	/* writers paused at the snapshot instant: the part they wait for */
	int (*begin)(struct kv_store *kv, void *priv, int fd);
	/* writers running: finish writing fd; return when it is complete */
	int (*finish)(struct kv_store *kv, void *priv, int fd);
	/* once per run, writers stopped */
	void (*teardown)(struct kv_store *kv, void *priv);
	/* extra memory of the snapshot beyond its file, in bytes, if the
	 * method knows it better than the driver's COW count (or -1)
	 */
	int64_t (*extra_bytes)(struct kv_store *kv, void *priv);
};

extern const struct snap_method snap_stw, snap_fork, snap_uffd, snap_mdup;
extern unsigned long kvsnap_uffd_chunk_pages; /* methods/uffd.c */

/* store.c */
int kv_create(struct kv_store *kv, size_t size, int nthreads, uint64_t seed,
	      int thp);
void kv_destroy(struct kv_store *kv);
int kv_start(struct kv_store *kv);
void kv_stop(struct kv_store *kv);
void kv_pause(struct kv_store *kv); /* returns with writers at the instant */
void kv_resume(struct kv_store *kv);
uint64_t kv_total_ops(struct kv_store *kv);
/* 0, or -1 with a message naming the first differing byte */
int kv_verify_file(struct kv_store *kv, const char *path, char *msg,
		   size_t msglen);

/* write all of [buf, buf+len) to fd at offset: 0 or -errno */
int write_full(int fd, const void *buf, size_t len, off_t off);

#endif
