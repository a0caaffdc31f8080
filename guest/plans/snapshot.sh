# SPDX-License-Identifier: GPL-2.0
# Plan "snapshot": kvsnap (userspace-bench/kvsnap) snapshots an in-memory
# key-value store under a 2-thread write load four ways (stw, fork, uffd,
# mdup) for each store size, every snapshot file verified byte for byte.
# The huge page reservations of /init and its zram swap are released first:
# the 1 GiB store needs its copy (stw), its file (tmpfs) and the verifier's
# tables beside it, ~3.3 GiB, without reclaim. Results go to snapshot.jsonl. Knobs: cowlab.sizes="64M 256M 1G"
# (comma or space separated), cowlab.reps=N (default 3),
# cowlab.threads=N (2), cowlab.methods=LIST (all).
sizes=$(echo "${COWLAB_SIZES:-64M,256M,1G}" | tr , ' ')
reps=${COWLAB_REPS:-3}
threads=${COWLAB_THREADS:-2}
methods=${COWLAB_METHODS:-stw,fork,uffd,mdup}
J=$RESULTS/snapshot.jsonl
: >"$J"

feature_apply off
for f in /sys/kernel/mm/hugepages/hugepages-*/nr_hugepages; do
	echo 0 >"$f"
done
# No swap: pages moving to zram under the 1 GiB runs' memory pressure would
# time reclaim, not snapshots (run with --mem 10240; see docs/mdup.md).
swapoff -a 2>/dev/null
ktap_diag "snapshot: sizes=$sizes reps=$reps threads=$threads methods=$methods, $(awk '/MemAvailable/ {print $2}' /proc/meminfo) kB available"
cat /proc/vmstat >"$RESULTS/vmstat-before.txt"
for s in $sizes; do
	run_prog "kvsnap:$s" 3600 kvsnap --size "$s" --reps "$reps" --threads "$threads" \
		--method "$methods" --json "$J" --label "$s"
done
cat /proc/vmstat >"$RESULTS/vmstat-after.txt"
send_file snapshot.jsonl "$J"
send_file vmstat-before.txt "$RESULTS/vmstat-before.txt"
send_file vmstat-after.txt "$RESULTS/vmstat-after.txt"
