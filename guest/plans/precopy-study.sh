# SPDX-License-Identifier: GPL-2.0
# Plan "precopy-study": COW pre-copy (vm.cow_precopy_max/mode) against no
# pre-copy, in one boot. For each write pattern (seq, rev, rand, stride) and
# for --exit-early, cowbench runs with every setting in turn: off, fixed
# windows of 4, 8, 16 and 64 pages, adaptive up to 64, fixed 8 and 64 with
# the copies mapped writable (mode 2, labels fixed8w, fixed64w). 4K pages, the child
# writes 1 byte per page, --verify on. Results go to precopy.jsonl, labelled
# with the setting. Knobs: cowlab.reps=N (default 5), cowlab.size=S (64M),
# cowlab.settings="label:max:mode ..." to change the settings.
reps=${COWLAB_REPS:-5}
size=${COWLAB_SIZE:-64M}
settings=${COWLAB_SETTINGS:-off:0:0 fixed4:4:0 fixed8:8:0 fixed16:16:0 fixed64:64:0 adaptive64:64:1 fixed8w:8:2 fixed64w:64:2}
J=$RESULTS/precopy.jsonl
: >"$J"

# precopy_bench LABEL MAX MODE NAME ARGS...: one cowbench run under a setting
precopy_bench() {
	label=$1 max=$2 mode=$3 name=$4
	shift 4
	feature_apply off
	sysctl_set vm.cow_precopy_mode "$mode"
	sysctl_set vm.cow_precopy_max "$max"
	run_prog "$label:$name" 1800 cowbench --quiet --verify --label "$label" \
		--json "$J" --page 4k --size "$size" --bytes 1 --reps "$reps" "$@"
	feature_apply off
}

if [ ! -w /proc/sys/vm/cow_precopy_max ]; then
	ktap_result skip precopy-study "kernel without vm.cow_precopy_max"
else
	ktap_diag "precopy-study: size=$size reps=$reps settings: $settings"
	cat /proc/vmstat >"$RESULTS/vmstat-before.txt"
	for pat in seq rev rand stride; do
		for s in $settings; do
			IFS=: read -r label max mode <<EOS
$s
EOS
			precopy_bench "$label" "$max" "$mode" "$pat" --who child --pattern "$pat"
		done
	done
	for s in $settings; do
		IFS=: read -r label max mode <<EOS
$s
EOS
		precopy_bench "$label" "$max" "$mode" exit-early --exit-early --pattern seq
	done
	cat /proc/vmstat >"$RESULTS/vmstat-after.txt"
	send_file precopy.jsonl "$J"
	send_file vmstat-before.txt "$RESULTS/vmstat-before.txt"
	send_file vmstat-after.txt "$RESULTS/vmstat-after.txt"
fi
