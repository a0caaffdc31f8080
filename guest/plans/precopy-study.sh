# SPDX-License-Identifier: GPL-2.0
# Plan "precopy-study": COW pre-copy (vm.cow_precopy_max/mode) against no
# pre-copy, in one boot. For each write pattern (seq, rev, rand, stride) and
# for --exit-early, cowbench runs with every setting in turn: off, fixed
# windows of 4, 8, 16 and 64 pages, adaptive up to 64, fixed 8 and 64 with
# the copies mapped writable (mode 2, labels fixed8w, fixed64w), and fixed 64
# with vm.cow_precopy_large=1 (aligned batches of 16 copied into one 64K
# folio; labels fixed64l, fixed64wl; cowbench --no-madvise, so the range has
# not refused large folios). 4K pages, the child
# writes 1 byte per page, --verify on. Results go to precopy.jsonl, labelled
# with the setting. Knobs: cowlab.reps=N (default 5), cowlab.size=S (64M),
# cowlab.settings=label:max:mode[:large],... to change the settings (commas:
# the kernel command line splits on spaces).
# cowlab.part=sweep runs the region-size sweep instead (docs/precopy.md,
# "Region sizes and writers"): for each size in cowlab.sizes (default
# 1M,4M,16M,64M,256M,1G) the child writes seq and rand, and the parent
# writes after an early child exit, under off, adaptive64, fixed64w and fixed64wl
# (cowlab.ssettings); then at cowlab.wsizes (64M,1G; - for none) seq with the parent,
# and with both, writing. cowlab.part=all runs both parts.
reps=${COWLAB_REPS:-5}
size=${COWLAB_SIZE:-64M}
part=${COWLAB_PART:-main}
settings=$(echo "${COWLAB_SETTINGS:-off:0:0 fixed4:4:0 fixed8:8:0 fixed16:16:0 fixed64:64:0 adaptive64:64:1 fixed8w:8:2 fixed64w:64:2 fixed64l:64:0:1 fixed64wl:64:2:1}" | tr , ' ')
ssettings=$(echo "${COWLAB_SSETTINGS:-off:0:0 adaptive64:64:1 fixed64w:64:2 fixed64wl:64:2:1}" | tr , ' ')
sizes=$(echo "${COWLAB_SIZES:-1M,4M,16M,64M,256M,1G}" | tr , ' ')
wsizes=$(echo "${COWLAB_WSIZES:-64M,1G}" | tr , ' ')
[ "$wsizes" = - ] && wsizes=
J=$RESULTS/precopy.jsonl
: >"$J"

# precopy_bench LABEL MAX MODE LARGE NAME ARGS...: one cowbench run under a
# setting (--size $size unless ARGS name another)
precopy_bench() {
	label=$1 max=$2 mode=$3 large=$4 name=$5
	shift 5
	feature_apply off
	if [ "$large" = 1 ]; then
		if ! sysctl_set vm.cow_precopy_large 1; then
			ktap_result skip "$label:$name" "kernel without vm.cow_precopy_large"
			return 0
		fi
		set -- --no-madvise "$@"
	fi
	sysctl_set vm.cow_precopy_mode "$mode"
	sysctl_set vm.cow_precopy_max "$max"
	run_prog "$label:$name" 1800 cowbench --quiet --verify --label "$label" \
		--json "$J" --page 4k --size "$size" --bytes 1 --reps "$reps" "$@"
	feature_apply off
}

# each_setting LIST NAME ARGS...: precopy_bench under every label:max:mode[:large]
each_setting() {
	list=$1
	shift
	for s in $list; do
		IFS=: read -r label max mode large <<EOS
$s
EOS
		precopy_bench "$label" "$max" "$mode" "${large:-0}" "$@"
	done
}

main_part() {
	for pat in seq rev rand stride; do
		each_setting "$settings" "$pat" --who child --pattern "$pat"
	done
	each_setting "$settings" exit-early --exit-early --pattern seq
}

sweep_part() {
	for sz in $sizes; do
		# part=all: the main part has run these at $size already
		[ "$part" = all ] && [ "$(echo "$sz" | tr a-z A-Z)" = "$(echo "$size" | tr a-z A-Z)" ] && continue
		for pat in seq rand; do
			each_setting "$ssettings" "$pat:$sz" --size "$sz" --who child --pattern "$pat"
		done
		each_setting "$ssettings" "exit-early:$sz" --size "$sz" --exit-early --pattern seq
	done
	for sz in $wsizes; do
		for who in parent both; do
			each_setting "$ssettings" "seq:$who:$sz" --size "$sz" --who "$who" --pattern seq
		done
	done
}

if [ ! -w /proc/sys/vm/cow_precopy_max ]; then
	ktap_result skip precopy-study "kernel without vm.cow_precopy_max"
else
	ktap_diag "precopy-study: part=$part size=$size reps=$reps settings: $settings"
	cat /proc/vmstat >"$RESULTS/vmstat-before.txt"
	case $part in
	main) main_part ;;
	sweep) sweep_part ;;
	all) main_part; sweep_part ;;
	*) ktap_result fail precopy-study "cowlab.part=$part: not main, sweep or all" ;;
	esac
	cat /proc/vmstat >"$RESULTS/vmstat-after.txt"
	send_file precopy.jsonl "$J"
	send_file vmstat-before.txt "$RESULTS/vmstat-before.txt"
	send_file vmstat-after.txt "$RESULTS/vmstat-after.txt"
fi
