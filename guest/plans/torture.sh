# SPDX-License-Identifier: GPL-2.0
# Plan "torture": tests/guest/torture_test for a long run (make stress).
# Knobs: cowlab.seeds=N (default 50), cowlab.steps=N (default 200),
# cowlab.seed=S (replay one seed), cowlab.duration=SECONDS (seeds until the
# time is spent, split over the variants, instead of a count). Each of the test's variants (features off,
# pre-copy modes 0, 1, 2, THP COW policy copy and adaptive, whole-mTHP COW,
# on-demand fork by prctl and by vm.cow_odf=1 on kernels that have it)
# runs every seed; a failure prints its seed.
if [ ! -x /bin/torture_test ]; then
	ktap_result skip torture "no /bin/torture_test in this initramfs"
else
	feature_apply off
	export TORTURE_SEEDS=${COWLAB_SEEDS:-50} TORTURE_STEPS=${COWLAB_STEPS:-200}
	[ -n "${COWLAB_SEED:-}" ] && export TORTURE_SEED=$COWLAB_SEED
	[ -n "${COWLAB_DURATION:-}" ] && export TORTURE_DURATION=$COWLAB_DURATION
	ktap_diag "torture: seeds=$TORTURE_SEEDS steps=$TORTURE_STEPS${TORTURE_SEED:+ seed=$TORTURE_SEED}${TORTURE_DURATION:+ duration=${TORTURE_DURATION}s}"
	run_prog torture_test "${COWLAB_TIMEOUT:-7200}" /bin/torture_test
	# the COW paths the run went through (system-wide counters since boot)
	ktap_diag "vmstat: $(grep -E '^(cow_|thp_split_pmd|thp_collapse_alloc )' /proc/vmstat | tr '\n' ' ')"
	feature_apply off
fi
