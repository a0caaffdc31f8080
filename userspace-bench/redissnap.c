// SPDX-License-Identifier: GPL-2.0
/*
 * redissnap: a Redis snapshot (BGSAVE) under a steady write load, measured
 * from the client's side, and the saved RDB checked against the data of
 * the snapshot instant.
 *
 *   redissnap run    --port P --keys N --size B [--before-ms MS]
 *                    [--state FILE] [--label L] [--json FILE]
 *   redissnap verify --port P --state FILE [--sample N] [--label L]
 *                    [--json FILE]
 *
 * run: FLUSHALL, DEBUG POPULATE N keys "key:<i>" of B bytes ("value:<i>"
 * then zeros); SETs of random keys, one at a time, for --before-ms (every
 * request timed: "before"); BGSAVE (Redis forks: the snapshot instant is
 * when BGSAVE returns, after every earlier SET has been answered); the same
 * SETs while rdb_bgsave_in_progress is 1 ("during"). Every SET writes
 * "k<i> v<version>" padded with '.', a new version of the key each time;
 * the versions at the instant and at the end go to --state. Prints one
 * JSON line: the
 * server's latest_fork_usec, rdb_last_cow_size, used_memory, the server's
 * peak RSS (VmHWM) and the latency p50/p99/max of both phases.
 *
 * verify: against a server started on the saved RDB: DBSIZE must be N,
 * every key written during the BGSAVE (where a COW bug would show the
 * parent's later write in the child's file) must hold its value of the
 * instant, and so must --sample more (default 20000): the keys written
 * before the instant, then random ones. Exit 1 on any difference.
 *
 * Plain RESP over one TCP connection (and one for control): no hiredis, so
 * it links statically like the rest of userspace-bench.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "clock.h"
#include "hist.h"
#include "parse.h"

#define EXIT_FAIL 1
#define EXIT_USAGE 2
#define STATE_MAGIC 0x72646e73u /* "rdns" */

struct conn {
	int fd;
	char buf[1 << 16];
	size_t len, off;
};

static void __attribute__((noreturn, format(printf, 1, 2))) die(const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	fprintf(stderr, "redissnap: ");
	vfprintf(stderr, fmt, ap);
	fprintf(stderr, "\n");
	va_end(ap);
	exit(EXIT_FAIL);
}

static void conn_open(struct conn *c, int port)
{
	struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons(port) };
	int one = 1;

	a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	c->len = c->off = 0;
	c->fd = socket(AF_INET, SOCK_STREAM, 0);
	if (c->fd < 0 || connect(c->fd, (struct sockaddr *)&a, sizeof(a)))
		die("connect 127.0.0.1:%d: %s", port, strerror(errno));
	setsockopt(c->fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
}

static void send_all(struct conn *c, const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(c->fd, p, n);

		if (w <= 0)
			die("write: %s", w ? strerror(errno) : "closed");
		p += w;
		n -= w;
	}
}

/* send one command, its arguments as RESP bulk strings */
static void cmd(struct conn *c, int argc, const char *const *argv,
		const size_t *lens)
{
	char hdr[64];

	send_all(c, hdr, snprintf(hdr, sizeof(hdr), "*%d\r\n", argc));
	for (int i = 0; i < argc; i++) {
		size_t n = lens ? lens[i] : strlen(argv[i]);

		send_all(c, hdr, snprintf(hdr, sizeof(hdr), "$%zu\r\n", n));
		send_all(c, argv[i], n);
		send_all(c, "\r\n", 2);
	}
}

static int getbyte(struct conn *c)
{
	if (c->off == c->len) {
		ssize_t r = read(c->fd, c->buf, sizeof(c->buf));

		if (r <= 0)
			die("read: %s", r ? strerror(errno) : "server closed the connection");
		c->len = r;
		c->off = 0;
	}
	return (unsigned char)c->buf[c->off++];
}

/* one line without CRLF into @out (truncated to @cap - 1) */
static void getline_crlf(struct conn *c, char *out, size_t cap)
{
	size_t n = 0;
	int ch;

	while ((ch = getbyte(c)) != '\r') {
		if (n + 1 < cap)
			out[n++] = ch;
	}
	getbyte(c); /* '\n' */
	out[n] = 0;
}

/*
 * Read one reply. A simple string, integer or bulk string goes to @out
 * (@cap bytes, NUL-terminated, truncated); an error reply is fatal.
 * Returns the bulk length, -1 for a nil bulk, or 0.
 */
static long reply(struct conn *c, char *out, size_t cap)
{
	char line[128];
	int type = getbyte(c);
	long n;

	getline_crlf(c, line, sizeof(line));
	switch (type) {
	case '+':
	case ':':
		snprintf(out, cap, "%s", line);
		return 0;
	case '-':
		die("server error: %s", line);
	case '$':
		n = atol(line);
		if (n < 0)
			return -1;
		for (long i = 0; i < n; i++) {
			int ch = getbyte(c);

			if ((size_t)i + 1 < cap)
				out[i] = ch;
		}
		out[(size_t)n < cap ? (size_t)n : cap - 1] = 0;
		getbyte(c);
		getbyte(c);
		return n;
	default:
		die("unexpected reply type '%c'", type);
	}
	return 0;
}

static char info[1 << 16];

/* INFO @section; the value of @field in it, or -1 */
static long long info_field(struct conn *c, const char *section,
			    const char *field)
{
	const char *argv[] = { "INFO", section };
	size_t fl = strlen(field);

	cmd(c, 2, argv, NULL);
	reply(c, info, sizeof(info));
	for (char *p = info; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : p)
		if (!strncmp(p, field, fl) && p[fl] == ':')
			return atoll(p + fl + 1);
	return -1;
}

static uint64_t rng = 88172645463325252ull;

static uint64_t next_rand(void)
{
	rng ^= rng << 13;
	rng ^= rng >> 7;
	rng ^= rng << 17;
	return rng;
}

/* the value key @k holds at @version (0: DEBUG POPULATE's) */
static size_t value_of(char *v, uint64_t size, uint64_t k, uint32_t version)
{
	int n;

	if (!version) {
		memset(v, 0, size);
		n = snprintf(v, size + 1, "value:%llu", (unsigned long long)k);
		if ((uint64_t)n < size)
			v[n] = 0;
		return size;
	}
	memset(v, '.', size);
	n = snprintf(v, size + 1, "k%llu v%u", (unsigned long long)k, version);
	if ((uint64_t)n < size)
		v[n] = '.';
	return size;
}

/* --state: this header, the versions at the instant, the versions at the end */
struct state {
	uint32_t magic;
	uint32_t pad;
	uint64_t keys, size;
};

struct opts {
	int port;
	uint64_t keys, size, before_ms, sample;
	const char *state, *label, *json;
};

static FILE *json_out(const struct opts *o)
{
	FILE *f = o->json ? fopen(o->json, "a") : stdout;

	if (!f)
		die("%s: %s", o->json, strerror(errno));
	return f;
}

static void phase_json(FILE *f, const char *name, const struct hist *h)
{
	fprintf(f, "\"%s\": {\"n\": %llu, \"p50_us\": %.1f, \"p99_us\": %.1f, \"max_us\": %.1f}",
		name, (unsigned long long)h->count, hist_quantile(h, 0.50) / 1e3,
		hist_quantile(h, 0.99) / 1e3, h->count ? h->max / 1e3 : 0.0);
}

/* one timed SET of a random key, a new version */
static void set_one(struct conn *c, uint32_t *ver, const struct opts *o,
		    char *val, struct hist *h)
{
	char key[32], ok[16];
	uint64_t k = next_rand() % o->keys, t0;
	const char *argv[3] = { "SET", key, val };
	size_t lens[3] = { 3, 0, o->size };

	lens[1] = snprintf(key, sizeof(key), "key:%llu", (unsigned long long)k);
	value_of(val, o->size, k, ++ver[k]);
	t0 = clock_ns();
	cmd(c, 3, argv, lens);
	reply(c, ok, sizeof(ok));
	hist_add(h, clock_ns() - t0);
}

static long long server_hwm_kb(struct conn *ctl)
{
	long long pid = info_field(ctl, "server", "process_id");
	char path[64], line[128];
	long long kb = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/proc/%lld/status", pid);
	f = fopen(path, "r");
	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (!strncmp(line, "VmHWM:", 6))
			kb = atoll(line + 6);
	fclose(f);
	return kb;
}

static int run(const struct opts *o)
{
	static struct hist before, during;
	struct conn *c = calloc(1, sizeof(*c)), *ctl = calloc(1, sizeof(*ctl));
	uint32_t *ver = calloc(o->keys, sizeof(*ver));
	uint32_t *snap = malloc(o->keys * sizeof(*snap));
	char *val = malloc(o->size + 1), n1[32], n2[32], r[256];
	struct state st = { STATE_MAGIC, 0, o->keys, o->size };
	uint64_t t0, t_fork, t_end, polls = 0;
	long long fork_us, cow, used;
	FILE *f;

	if (!c || !ctl || !ver || !snap || !val)
		die("out of memory");
	hist_reset(&before);
	hist_reset(&during);
	conn_open(c, o->port);
	conn_open(ctl, o->port);
	cmd(ctl, 1, (const char *[]){ "FLUSHALL" }, NULL);
	reply(ctl, r, sizeof(r));
	snprintf(n1, sizeof(n1), "%llu", (unsigned long long)o->keys);
	snprintf(n2, sizeof(n2), "%llu", (unsigned long long)o->size);
	t0 = clock_ns();
	cmd(ctl, 5, (const char *[]){ "DEBUG", "POPULATE", n1, "key", n2 }, NULL);
	reply(ctl, r, sizeof(r));
	fprintf(stderr, "# redissnap: %llu keys of %llu bytes populated in %.1f s\n",
		(unsigned long long)o->keys, (unsigned long long)o->size,
		(clock_ns() - t0) / 1e9);
	used = info_field(ctl, "memory", "used_memory");

	t0 = clock_ns();
	while (clock_ns() - t0 < o->before_ms * 1000000ull)
		set_one(c, ver, o, val, &before);

	/* the instant: every SET so far answered, none in flight */
	memcpy(snap, ver, o->keys * sizeof(*ver));
	t_fork = clock_ns();
	cmd(ctl, 1, (const char *[]){ "BGSAVE" }, NULL);
	reply(ctl, r, sizeof(r));
	for (;;) {
		for (int i = 0; i < 64; i++)
			set_one(c, ver, o, val, &during);
		polls++;
		if (info_field(ctl, "persistence", "rdb_bgsave_in_progress") == 0)
			break;
		if (clock_ns() - t_fork > 3600ull * 1000000000ull)
			die("BGSAVE still running after an hour");
	}
	t_end = clock_ns();
	if (o->state) {
		f = fopen(o->state, "w");
		if (!f || fwrite(&st, sizeof(st), 1, f) != 1 ||
		    fwrite(snap, sizeof(*snap), o->keys, f) != o->keys ||
		    fwrite(ver, sizeof(*ver), o->keys, f) != o->keys || fclose(f))
			die("%s: %s", o->state, strerror(errno));
	}
	cow = info_field(ctl, "persistence", "rdb_last_cow_size");
	if (!strstr(info, "rdb_last_bgsave_status:ok"))
		die("BGSAVE failed:\n%s", info);
	fork_us = info_field(ctl, "stats", "latest_fork_usec");

	f = json_out(o);
	fprintf(f, "{\"tool\": \"redissnap\", \"label\": \"%s\", \"keys\": %llu, \"size\": %llu, "
		"\"used_memory\": %lld, \"latest_fork_usec\": %lld, \"rdb_last_cow_size\": %lld, "
		"\"bgsave_ms\": %.1f, \"server_hwm_kb\": %lld, ",
		o->label ? o->label : "", (unsigned long long)o->keys,
		(unsigned long long)o->size, used, fork_us, cow, (t_end - t_fork) / 1e6,
		server_hwm_kb(ctl));
	phase_json(f, "before", &before);
	fprintf(f, ", ");
	phase_json(f, "during", &during);
	fprintf(f, "}\n");
	if (f != stdout)
		fclose(f);
	return 0;
}

/* GET @k from @c and compare with its value at @version: 0 equal, 1 not */
static int check_key(struct conn *c, uint64_t k, uint32_t version,
		     uint64_t size, char *want, char *got)
{
	char key[32];
	const char *argv[2] = { "GET", key };
	static int shown;
	long len;

	snprintf(key, sizeof(key), "key:%llu", (unsigned long long)k);
	cmd(c, 2, argv, NULL);
	len = reply(c, got, size + 1);
	value_of(want, size, k, version);
	if (len == (long)size && !memcmp(got, want, size))
		return 0;
	if (shown++ < 5)
		fprintf(stderr, "# redissnap verify: %s: want version %u, got \"%.24s\" (%ld bytes)\n",
			key, version, len < 0 ? "(nil)" : got, len);
	return 1;
}

static int verify(const struct opts *o)
{
	struct conn *c = calloc(1, sizeof(*c));
	struct state st;
	uint32_t *snap, *fin;
	char *want, *got, r[64];
	uint64_t checked = 0, during = 0, before = 0, bad = 0, dbsize;
	FILE *f = fopen(o->state, "r");

	if (!f || fread(&st, sizeof(st), 1, f) != 1 || st.magic != STATE_MAGIC ||
	    !st.keys || st.keys > (1ull << 28) || st.size < 24 || st.size > (1 << 20))
		die("%s: not a redissnap state file", o->state);
	snap = calloc(st.keys, sizeof(*snap));
	fin = calloc(st.keys, sizeof(*fin));
	want = malloc(st.size + 1);
	got = malloc(st.size + 1);
	if (!c || !snap || !fin || !want || !got)
		die("out of memory");
	if (fread(snap, sizeof(*snap), st.keys, f) != st.keys ||
	    fread(fin, sizeof(*fin), st.keys, f) != st.keys)
		die("%s: short", o->state);
	fclose(f);
	conn_open(c, o->port);
	while (info_field(c, "persistence", "loading") == 1)
		usleep(100000);
	cmd(c, 1, (const char *[]){ "DBSIZE" }, NULL);
	reply(c, r, sizeof(r));
	dbsize = strtoull(r, NULL, 10);
	if (dbsize != st.keys) {
		fprintf(stderr, "# redissnap verify: DBSIZE %llu, want %llu\n",
			(unsigned long long)dbsize, (unsigned long long)st.keys);
		bad++;
	}
	/* every key written during the save: the RDB must not see those writes */
	for (uint64_t k = 0; k < st.keys; k++) {
		if (fin[k] == snap[k])
			continue;
		during++;
		bad += check_key(c, k, snap[k], st.size, want, got);
	}
	/* then the keys written before the instant, then random ones (a seed
	 * of their own, not run's sequence) */
	rng ^= 0x9e3779b97f4a7c15ull;
	for (uint64_t k = 0; k < st.keys && checked < o->sample; k++) {
		if (!snap[k] || fin[k] != snap[k])
			continue;
		before++;
		checked++;
		bad += check_key(c, k, snap[k], st.size, want, got);
	}
	while (checked < o->sample && checked < st.keys) {
		uint64_t k = next_rand() % st.keys;

		checked++;
		bad += check_key(c, k, snap[k], st.size, want, got);
	}
	f = json_out(o);
	fprintf(f, "{\"tool\": \"redissnap-verify\", \"label\": \"%s\", \"dbsize\": %llu, "
		"\"keys\": %llu, \"written_during\": %llu, \"written_before_checked\": %llu, "
		"\"checked\": %llu, \"bad\": %llu}\n",
		o->label ? o->label : "", (unsigned long long)dbsize,
		(unsigned long long)st.keys, (unsigned long long)during,
		(unsigned long long)before, (unsigned long long)(checked + during),
		(unsigned long long)bad);
	if (f != stdout)
		fclose(f);
	return bad ? EXIT_FAIL : 0;
}

static void usage(FILE *f)
{
	fprintf(f,
		"usage: redissnap run --port P [--keys N] [--size B] [--before-ms MS] [--state FILE]\n"
		"                     [--label L] [--json FILE]\n"
		"       redissnap verify --port P --state FILE [--sample N] [--label L] [--json FILE]\n"
		"run: populate N keys (default 1M) of B bytes (default 1K) with DEBUG POPULATE,\n"
		"time single SETs for MS (default 3000) ms, BGSAVE, time SETs until it ends;\n"
		"one JSON line: latest_fork_usec, rdb_last_cow_size, p50/p99/max before and\n"
		"during the snapshot. verify: the server loaded from the RDB holds every\n"
		"sampled key's value of the snapshot instant (default 20000 keys).\n"
		"The server needs enable-debug-command. Exit 0 ok, 1 failure, 2 usage.\n");
}

int main(int argc, char **argv)
{
	static const struct option lo[] = {
		{ "port", 1, 0, 'p' },	 { "keys", 1, 0, 'k' },
		{ "size", 1, 0, 's' },	 { "before-ms", 1, 0, 'b' },
		{ "state", 1, 0, 'S' },	 { "sample", 1, 0, 'n' },
		{ "label", 1, 0, 'l' },	 { "json", 1, 0, 'j' },
		{ "help", 0, 0, 'h' },	 { 0, 0, 0, 0 },
	};
	struct opts o = { .port = 0, .keys = 1 << 20, .size = 1024,
			  .before_ms = 3000, .sample = 20000 };
	char err[128];
	uint64_t v;
	int ch;

	if (argc < 2 || !strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
		usage(argc < 2 ? stderr : stdout);
		return argc < 2 ? EXIT_USAGE : 0;
	}
	optind = 2;
	while ((ch = getopt_long(argc, argv, "h", lo, NULL)) != -1) {
		switch (ch) {
		case 'p':
			if (parse_u64(optarg, 1, 65535, &v, err, sizeof(err)))
				goto bad;
			o.port = v;
			break;
		case 'k':
			if (parse_u64(optarg, 1, 1ull << 28, &o.keys, err, sizeof(err)))
				goto bad;
			break;
		case 's':
			if (parse_size(optarg, &o.size, err, sizeof(err)))
				goto bad;
			if (o.size < 24 || o.size > (1 << 20)) {
				snprintf(err, sizeof(err), "--size: 24 bytes to 1M");
				goto bad;
			}
			break;
		case 'b':
			if (parse_u64(optarg, 0, 3600000, &o.before_ms, err, sizeof(err)))
				goto bad;
			break;
		case 'n':
			if (parse_u64(optarg, 1, 1ull << 32, &o.sample, err, sizeof(err)))
				goto bad;
			break;
		case 'S':
			o.state = optarg;
			break;
		case 'l':
			o.label = optarg;
			break;
		case 'j':
			o.json = optarg;
			break;
		case 'h':
			usage(stdout);
			return 0;
		default:
			usage(stderr);
			return EXIT_USAGE;
		}
	}
	if (!o.port) {
		snprintf(err, sizeof(err), "--port is required");
		goto bad;
	}
	if (!strcmp(argv[1], "run"))
		return run(&o);
	if (!strcmp(argv[1], "verify")) {
		if (!o.state) {
			snprintf(err, sizeof(err), "verify needs --state");
			goto bad;
		}
		return verify(&o);
	}
	snprintf(err, sizeof(err), "unknown command '%s' (run or verify)", argv[1]);
bad:
	fprintf(stderr, "redissnap: %s\n", err);
	usage(stderr);
	return EXIT_USAGE;
}
