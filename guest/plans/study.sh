# SPDX-License-Identifier: GPL-2.0
# Plan "study": the Observer measurements, on a patched or a vanilla kernel.
#  1. overhead: fork-and-write (4k, seq, child, 1 byte, 64M) with the
#     instrumentation off ("off") and sampling 1 in 1000 ("sample1000");
#  2. the page-size matrix with every COW event logged ("stat"): 4K, each
#     mTHP size, THP 2M, hugetlb 2M and 1G, zero page, file-backed private;
#     1-byte and 4096-byte first writes.
# Knobs: cowlab.reps=N (default 3), cowlab.size=S (4K matrix size, default 16M),
# cowlab.part=overhead (only part 1; default all).
# Sends bench.jsonl, dmesg.txt, vmstat-before/after.txt, cow_hist.txt.
reps=${COWLAB_REPS:-3}
size4k=${COWLAB_SIZE:-16M}
part=${COWLAB_PART:-all}
case $part in all | overhead) ;; *) ktap_bail "study: unknown part '$part' (all, overhead)" ;; esac
J=$RESULTS/bench.jsonl
: >"$J"
patched=0
[ -e /proc/sys/vm/cow_log_sample ] && patched=1
ktap_diag "study: kernel $(uname -r), cowlab instrumentation: $([ $patched = 1 ] && echo yes || echo no)"

# bench LABEL NAME ARGS...: one cowbench configuration as a KTAP test; every
# JSON record is tagged with the label (the feature set it ran under).
bench() {
	label=$1 name=$2
	shift 2
	run_prog "$label:$name" 1200 cowbench --quiet --label "$label" --json "$J" "$@"
	# drain the kernel log after every logged configuration: the 2 MiB log
	# buffer holds ~16k sample lines, one configuration fewer than that
	[ "$label" = stat ] && dmesg -c >>"$RESULTS/dmesg.txt"
}

# 1. instrumentation overhead
for label in off sample1000; do
	feature_apply off
	[ $label = sample1000 ] && sysctl_set vm.cow_log_sample 1000
	bench $label fork-write-4k --page 4k --size 64M --who child --pattern seq --bytes 1 --reps "$reps"
done
feature_apply off
if [ "$part" = overhead ]; then
	send_file bench.jsonl "$J"
	return 0
fi

# 2. the page-size matrix, every event logged
cat /proc/vmstat >"$RESULTS/vmstat-before.txt"
dmesg -c >"$RESULTS/dmesg-overhead.txt"
hist=/sys/kernel/tracing/events/cow/cow_fault/trigger
[ -w $hist ] && echo 'hist:keys=kind,order:vals=hitcount,copy_ns,total_ns:sort=kind' >$hist
if feature_apply stat; then
	sysctl_set vm.cow_log_sample 1 # every COW event logged
else
	ktap_diag "study: no instrumentation on this kernel: user-space figures only"
fi
kinds="4k:$size4k thp:32M zero:$size4k file:$size4k hugetlb-2m:64M hugetlb-1g:1G"
for m in $(cowbench --list 2>/dev/null | grep -o 'mthp-[0-9]*k' | sort -u); do kinds="$kinds $m:$size4k"; done
for ks in $kinds; do
	k=${ks%%:*} sz=${ks#*:}
	r=$reps
	[ "$k" = hugetlb-1g ] && r=1 # 1 GiB: ~50 s a repetition under TCG
	for by in 1 4096; do
		bench stat "$k-b$by" --page "$k" --size "$sz" --who child --pattern seq --bytes "$by" --reps "$r"
	done
done
feature_apply off
cat /proc/vmstat >"$RESULTS/vmstat-after.txt"
[ -r /sys/kernel/tracing/events/cow/cow_fault/hist ] && cat /sys/kernel/tracing/events/cow/cow_fault/hist >"$RESULTS/cow_hist.txt"
[ -w $hist ] && echo '!hist:keys=kind,order:vals=hitcount,copy_ns,total_ns:sort=kind' >$hist

send_file bench.jsonl "$J"
for f in vmstat-before.txt vmstat-after.txt cow_hist.txt dmesg-overhead.txt; do
	[ -f "$RESULTS/$f" ] && send_file "$f" "$RESULTS/$f"
done
