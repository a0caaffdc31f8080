# SPDX-License-Identifier: GPL-2.0
# Plan "hugecow": userspace-bench/hugecow, huge-page COW (cowlab issue 5).
# memory: for each kind in cowlab.mkinds (default thp and mthp-64k), the
# child writes one byte per 2 MiB, then one per 4 KiB page;
# sched: for each kind in cowlab.skinds (default 4k thp mthp-64k
# hugetlb-2m hugetlb-1g), a victim's wake-up delay on the CPU of the COW
# writes; policy: for each THP COW policy in cowlab.policies (default
# split,copy,adaptive; patch 0011) and once for 4k pages, write latency,
# PMDs kept and random-read time, one write per 2 MiB and then every 4 KiB,
# over cowlab.psize (64M); then for each mTHP kind in cowlab.pmthp (default
# mthp-64k) the same with vm.cow_mthp_copy 0 (6.12: copy 4 KiB) and 1 (copy
# the whole folio, patch 0012). "-" for none. Results go to hugecow.jsonl.
# cowlab.reps=N repeats each (3).
reps=${COWLAB_REPS:-3}
mkinds=$(echo "${COWLAB_MKINDS:-thp,mthp-64k}" | tr , ' ')
skinds=$(echo "${COWLAB_SKINDS:-4k,thp,mthp-64k,hugetlb-2m,hugetlb-1g}" | tr , ' ')
policies=$(echo "${COWLAB_POLICIES:-split,copy,adaptive}" | tr , ' ')
psize=${COWLAB_PSIZE:-64M}
pmthp=$(echo "${COWLAB_PMTHP:-mthp-64k}" | tr , ' ')
[ "$pmthp" = - ] && pmthp=
[ "$mkinds" = - ] && mkinds=
[ "$skinds" = - ] && skinds=
[ "$policies" = - ] && policies=
if [ -n "$policies" ] && [ ! -w /proc/sys/vm/cow_thp_policy ]; then
	ktap_diag "no vm.cow_thp_policy on this kernel: policy runs skipped"
	policies=
	pmthp=
fi
if [ -n "$pmthp" ] && [ ! -w /proc/sys/vm/cow_mthp_copy ]; then
	ktap_diag "no vm.cow_mthp_copy on this kernel: whole-mTHP runs skipped"
	pmthp=
fi
J=$RESULTS/hugecow.jsonl
: >"$J"
feature_apply off
for r in $(seq "$reps"); do
	for k in $mkinds; do
		for w in one all; do
			run_prog "memory:$k:$w:$r" 600 hugecow memory --kind "$k" --write "$w" --json "$J"
		done
	done
	for k in $skinds; do
		run_prog "sched:$k:$r" 1800 hugecow sched --kind "$k" --json "$J"
	done
	if [ -n "$policies$pmthp" ]; then
		for w in one all; do
			[ -z "$policies" ] ||
				run_prog "policy:4k:$w:$r" 600 hugecow policy --kind 4k --policy split \
					--size "$psize" --write "$w" --json "$J"
			for pol in $policies; do
				run_prog "policy:$pol:$w:$r" 600 hugecow policy --policy "$pol" \
					--size "$psize" --write "$w" --json "$J"
			done
			for k in $pmthp; do
				for mc in 0 1; do
					run_prog "policy:$k:copy$mc:$w:$r" 600 hugecow policy --policy split \
						--kind "$k" --mthp-copy "$mc" --size "$psize" --write "$w" --json "$J"
				done
			done
		done
		feature_apply off
	fi
done
send_file hugecow.jsonl "$J"
