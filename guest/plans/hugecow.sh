# SPDX-License-Identifier: GPL-2.0
# Plan "hugecow": userspace-bench/hugecow, huge-page COW "measure first"
# (cowlab issue 5). memory: for each kind in cowlab.mkinds (default thp and
# mthp-64k), the child writes one byte per 2 MiB, then one per 4 KiB page;
# sched: for each kind in cowlab.skinds (default 4k thp mthp-64k
# hugetlb-2m hugetlb-1g), a victim's wake-up delay on the CPU of the COW
# writes ("-" for none). Results go to hugecow.jsonl. cowlab.reps=N
# repeats each (3).
reps=${COWLAB_REPS:-3}
mkinds=$(echo "${COWLAB_MKINDS:-thp,mthp-64k}" | tr , ' ')
skinds=$(echo "${COWLAB_SKINDS:-4k,thp,mthp-64k,hugetlb-2m,hugetlb-1g}" | tr , ' ')
[ "$mkinds" = - ] && mkinds=
[ "$skinds" = - ] && skinds=
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
done
send_file hugecow.jsonl "$J"
