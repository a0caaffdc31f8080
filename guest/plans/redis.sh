# SPDX-License-Identifier: GPL-2.0
# Plan "redis": a real client of fork-based snapshots. Debian's redis-server
# (dynamic, shipped with its libraries) snapshots with BGSAVE under a steady
# write load, once for vanilla behaviour ("off") and once per cowlab COW
# policy, in one boot (userspace-bench/redissnap.c):
#   a fresh redis-server on tmpfs (no persistence but the BGSAVE, debug
#   commands on, THP in the policy's mode (below));
#   redissnap run: FLUSHALL, DEBUG POPULATE keys x size, timed single SETs
#   for before_ms, BGSAVE, timed SETs until it ends (latest_fork_usec,
#   rdb_last_cow_size, p50/p99/max before vs during, the server's VmHWM);
#   SHUTDOWN NOSAVE, a server on the saved RDB, redissnap verify: every
#   sampled key holds its value of the snapshot instant (a policy that loses
#   data fails its test point).
# Results: redis.jsonl (one "redissnap" and one "redissnap-verify" line a
# policy, "label" the policy). Report: scripts/redis-report RUN_DIR.
# Knobs: cowlab.policies=POLICY@THP,... (default off@madvise,odf@madvise,
#   precopy-adaptive@madvise,off@always,thp-adaptive@always,thp-copy@always,
#   mthp-copy@always,ALL@always): a guest/features set (ALL: every feature
#   on) and the THP mode it runs under (default madvise). madvise is what Redis asks for (THP
#   off for its heap: fork then copies one PTE per 4 KiB page, the cost
#   on-demand fork removes); always (and hugepages-64kB always, Redis told
#   not to turn THP off for itself) gives the THP and mTHP policies huge
#   folios to act on, and fork copies one PMD per 2 MiB instead. Each policy
#   is compared with "off" under the same THP mode;
#   cowlab.keys=N (default 1048576: 1 GiB of 1 KiB values), cowlab.size=1024,
#   cowlab.before_ms=3000, cowlab.sample=20000, cowlab.reps=3 (every policy
#   in turn, then again: min/median/max).
policies=$(echo "${COWLAB_POLICIES:-off@madvise,odf@madvise,precopy-adaptive@madvise,off@always,thp-adaptive@always,thp-copy@always,mthp-copy@always,ALL@always}" | tr , ' ')
keys=${COWLAB_KEYS:-1048576}
size=${COWLAB_SIZE:-1024}
before=${COWLAB_BEFORE_MS:-3000}
sample=${COWLAB_SAMPLE:-20000}
reps=${COWLAB_REPS:-3}
J=$RESULTS/redis.jsonl
D=/tmp/redis
: >"$J"
THP=/sys/kernel/mm/transparent_hugepage
thp0=$(sed 's/.*\[\(.*\)\].*/\1/' $THP/enabled)
m0=$(sed 's/.*\[\(.*\)\].*/\1/' $THP/hugepages-64kB/enabled 2>/dev/null)
ktap_diag "redis: $(redis-server --version | cut -d' ' -f1-3), $keys keys x $size bytes"
# thp_mode always|madvise: THP (and 64 KiB mTHP) for the next server
thp_mode() {
	echo "$1" >$THP/enabled || return 1
	[ -z "$m0" ] && return 0
	if [ "$1" = always ]; then echo always >$THP/hugepages-64kB/enabled; else echo "$m0" >$THP/hugepages-64kB/enabled; fi
}

# what the report must find: every policy, reps times (scripts/redis-report)
printf '{"tool": "redis-plan", "policies": ["%s"], "reps": %d, "keys": %d}\n' \
	"$(echo $policies | sed 's/ /", "/g')" "$reps" "$keys" >>"$J"

# redis_stop PORT: SHUTDOWN NOSAVE, then wait for the process to be gone
# (a server left behind would answer the next start's PING)
redis_stop() {
	_pid=$(cat $D/server-$1.pid 2>/dev/null)
	redis-cli -p "$1" shutdown nosave >/dev/null 2>&1
	[ -n "$_pid" ] || return 0
	for _ in $(seq 300); do
		kill -0 "$_pid" 2>/dev/null || return 0
		sleep 0.1
	done
	kill -9 "$_pid" 2>/dev/null
	sleep 0.2
}
# redis_start PORT: a server on $D, answering PING within 600 s (loading a
# 1 GiB RDB under TCG takes a while: LOADING is waited for); on failure it
# is stopped, so nothing stays on the port
redis_start() {
	redis-server --port "$1" --bind 127.0.0.1 --protected-mode no --save '' --appendonly no \
		--dir $D --dbfilename dump.rdb --enable-debug-command yes --disable-thp no \
		--daemonize yes --logfile $D/server-$1.log --pidfile $D/server-$1.pid || return 1
	for _ in $(seq 6000); do
		[ "$(redis-cli -p "$1" ping 2>/dev/null)" = PONG ] && return 0
		sleep 0.1
	done
	redis_stop "$1"
	return 1
}

for rep in $(seq "$reps"); do
	for pol in $policies; do
		feats=${pol%@*}
		mode=madvise
		case $pol in *@*) mode=${pol#*@} ;; esac
		[ "$feats" = ALL ] && feats=$(features_all)
		rm -rf $D && mkdir -p $D
		if ! thp_mode "$mode"; then
			ktap_result fail "redis:$pol:$rep" "THP mode '$mode': not always or madvise"
			continue
		fi
		if ! feature_apply "$feats"; then
			ktap_result skip "redis:$pol:$rep" "feature set $feats not on this kernel"
			continue
		fi
		if ! redis_start 6379; then
			ktap_result fail "redis:$pol:$rep" "redis-server did not start ($(tail -n 3 $D/server-6379.log 2>/dev/null | tr '\n' ' '))"
			continue
		fi
		run_prog "redis:$pol:$rep" 3600 redissnap run --port 6379 --keys "$keys" --size "$size" \
			--before-ms "$before" --state $D/state --label "$pol" --json "$J"
		redis_stop 6379
		feature_apply off
		if [ -f $D/dump.rdb ] && redis_start 6380; then
			run_prog "redis-verify:$pol:$rep" 1800 redissnap verify --port 6380 --state $D/state \
				--sample "$sample" --label "$pol" --json "$J"
			redis_stop 6380
		else
			ktap_result fail "redis-verify:$pol:$rep" "no RDB or no server on it"
		fi
	done
done
rm -rf $D
echo "$thp0" >$THP/enabled
[ -n "$m0" ] && echo "$m0" >$THP/hugepages-64kB/enabled
feature_apply off
send_file redis.jsonl "$J"
