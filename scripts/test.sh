#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make test: host unit tests, then the guest plan on the built kernel: the
# upstream mm selftests with every cowlab feature off (judged against the
# hand-reviewed baseline in tests/baseline/) and again with each feature on,
# then cowlab's own guest tests. Every suite speaks TAP; the full stream is
# kept in build/test.ktap and the run ends with one line "N passed, N failed".
set -uo pipefail

usage() {
	cat <<USAGE
usage: scripts/test.sh [--host-only] [--full] [--no-debug] [--features LIST] [--only TESTS] [--dry-run] [--help]

Default (make test): on the base kernel, the upstream mm selftests with every
feature off, then with every feature on at once (ALL: the union of
guest/features/*.conf, except "off" and the sets marked "[variant]"), then each
set with a "# selftests:" line with only those tests, and the cowlab guest
tests; on the debug kernel (KASAN, lockdep, DEBUG_VM) the quick selftests
(DEBUG_ONLY below) with ALL on, the cowlab guest tests, and trinity and
stress-ng for COWLAB_FUZZ_SECONDS each with ALL on (guest/plans/fuzz.sh). Each
is one boot;
the boots run in lanes, one per host CPU (memory allowing), and are judged in
a fixed order when all have ended.
  --host-only      only the host unit tests (no kernel, no guest)
  --full           every feature set on its own too, and every selftest on the
                   debug kernel (make test-full; hours under TCG)
  --no-debug       skip the debug-kernel pass (configs/debug.config)
  --features LIST  feature sets for the base-kernel selftests (default off,ALL),
                   one boot each
  --only TESTS     comma list of selftest names (guest/selftests.list) to run
  --dry-run        print the boots, in start order, with their run-guest.sh
                   arguments ("boot NAME: ..."); build and run nothing
Environment: COWLAB_DEBUG=0 is --no-debug; COWLAB_LANES=N guests at once
(default: host CPUs, at most one per 7 GB of available memory);
COWLAB_TEST_CPU=MODEL the guests' QEMU -cpu (default max,-erms,-fsrm);
COWLAB_SELFTEST_SMP=N vCPUs of the upstream selftest boots (default 1; the
cowlab tests always get 2);
COWLAB_GUEST_TIMEOUT=SECS the watchdog of each boot (default 4000);
COWLAB_FUZZ_SECONDS=N each fuzzer's budget on the debug kernel (default 45;
0 skips the fuzz boot).
USAGE
}

top=$(cd "$(dirname "$0")/.." && pwd)
host_only=0 debug=${COWLAB_DEBUG:-1} only= full=0 features= dry=0
# every feature on at once: the union of the feature sets that are not "off"
# and not marked "[variant]" (an alternative setting of the same knobs)
all=$(cd "$top/guest/features" && for f in *.conf; do
	[ "$f" = off.conf ] || grep -q '\[variant\]' "$f" || echo "${f%.conf}"; done | sort | tr '\n' + | sed 's/+$//')
singles=$(cd "$top/guest/features" && ls *.conf | sed 's/\.conf$//' | grep -vx off | sort | tr '\n' , | sed 's/,$//')
# [variant] sets that name their own selftests ("# selftests: a b ..."): make
# test runs them too, with only those tests (guest/plans/selftests.sh)
listed=$(cd "$top/guest/features" && grep -l '^# selftests:' *.conf 2>/dev/null | sed 's/\.conf$//' | sort | tr '\n' , | sed 's/,$//')
# quick upstream selftests for the debug kernel (KASAN + lockdep under TCG run
# them 3-50x slower; the full list runs with --full). Not here, though in
# the base passes with every feature on: soft-dirty (10000 clear_refs
# rounds: 58-216 s on debug, 4 s on base) and ksm_functional_tests (57-209 s
# on debug, waiting for ksmd's scans); on the debug kernel, precopy_test
# covers pre-copy with soft-dirty and KSM pages.
DEBUG_ONLY=mkdirty,pagemap_ioctl,madv_populate,map_populate,mremap_test,mremap_dontunmap,uffd-stress-anon,gup_test_ct,hugepage-mmap,map_hugetlb
while [ $# -gt 0 ]; do
	case "$1" in
	--host-only) host_only=1 ;;
	--full) full=1 ;;
	--no-debug) debug=0 ;;
	--features) features=$2; shift ;;
	--only) only=$2; shift ;;
	--dry-run) dry=1 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "test.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

B=$top/build
T=$B/test
mkdir -p "$T"
ktap=$B/test.ktap
[ $dry = 1 ] && ktap=/dev/null
echo "KTAP version 1" >"$ktap"
passed=0 failed=0 nsuite=0
failures=()
t0=$(date +%s)

step() { echo "== $* ($(($(date +%s) - t0))s)"; }

# suite NAME CMD...: run a TAP-speaking command, nest its output in test.ktap,
# count its top-level test points.
suite() {
	local name=$1 out=$T/$1.tap rc p f
	shift
	step "suite $name"
	"$@" >"$out" 2>"$T/$name.err"
	rc=$?
	p=$(grep -c '^ok ' "$out")
	f=$(grep -c '^not ok ' "$out")
	if [ $rc != 0 ] && [ "$f" = 0 ]; then
		f=1
		echo "not ok 0 $name exited $rc" >>"$out"
	fi
	passed=$((passed + p))
	failed=$((failed + f))
	nsuite=$((nsuite + 1))
	sed 's/^/    /' "$out" >>"$ktap"
	if [ "$f" = 0 ]; then echo "ok $nsuite $name" >>"$ktap"; else echo "not ok $nsuite $name" >>"$ktap"; fi
	[ "$f" = 0 ] || failures+=("suite $name: $f failed ($(grep '^not ok' "$out" | head -n 5 | cut -c1-80 | tr '\n' ';'))")
	# what failed, with the failing program's last lines (ktap-compare
	# prints them as "# | ..."): CI logs may keep only this stdout
	grep '^not ok\|^# .*REGRESSION\|^# .*: last [0-9]* lines\|^# |\|^# retried\|^Bail' "$out" | head -n 150
	[ -s "$T/$name.err" ] && [ "$f" != 0 ] && tail -n 20 "$T/$name.err"
	echo "   $name: $p passed, $f failed"
}

# must CMD...: a build step; a failure ends the run with its reason.
must() {
	if ! "$@"; then
		echo "!! build step failed: $*" >&2
		failures+=("build step failed after $(($(date +%s) - t0))s: $*")
		failed=$((failed + 1))
		# what a CI log needs to tell a full disk or memory from a bug
		df -h "$top" /tmp 2>&1 | sed 's/^/!! /' >&2
		free -m 2>&1 | sed 's/^/!! /' >&2
		# the guests already started still count
		[ ${#jobs_names[@]} -gt 0 ] && guest_judge_all
		finish
	fi
}

finish() {
	echo "1..$nsuite" >>"$ktap"
	echo "== done in $(($(date +%s) - t0))s; full KTAP: ${ktap#"$top"/}"
	if [ ${#failures[@]} -gt 0 ]; then
		echo "== failures:"
		printf '   %s\n' "${failures[@]}"
	fi
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
	exit $?
}

# Guest runs go in lanes: up to $lanes QEMU guests at once (COWLAB_LANES,
# default one per host CPU while memory allows 7 GB per guest). A TCG guest
# running the mostly single-threaded selftests keeps one host CPU busy, so
# two lanes keep both CPUs of a 2-core machine busy. Every run writes its own directory;
# they are judged afterwards, in submission order, so the KTAP stream and the
# counts do not depend on which finished first.
jobs_names=()
declare -A jobs_judge
# guest_start NAME JUDGE KERNEL PLAN [run-guest args]: wait for a free lane,
# then boot in the background. JUDGE is the function that judges its results.
guest_start() {
	local name=$1 judge=$2 kernel=$3 plan=$4
	shift 4
	if [ -n "${jobs_judge[$name]:-}" ]; then
		echo "test.sh: two boots named $name (one output directory)" >&2
		exit 2
	fi
	jobs_judge[$name]=$judge
	if [ $dry = 1 ]; then
		local args="$*"
		echo "boot $name: --plan $plan --kernel ${kernel#"$top"/} --cpu $qcpu ${args//"$top"\//}"
		return 0
	fi
	while [ "$(running_guests)" -ge "$lanes" ]; do wait -n; done
	step "guest $name: start ($plan${*:+ $*})"
	jobs_names+=("$name")
	rm -f "$T/$name.rc"
	(
		scripts/run-guest.sh --plan "$plan" --kernel "$kernel" --initrd "$T/initramfs.cpio.gz" --out "$T/$name" \
			--timeout "${COWLAB_GUEST_TIMEOUT:-4000}" --cpu "$qcpu" --quiet "$@" >"$T/$name.log" 2>&1
		echo $? >"$T/$name.rc"
		echo "== guest $name: done ($(grep -c '^ok ' "$T/$name/result.ktap" 2>/dev/null) ok, $(grep -c '^not ok ' "$T/$name/result.ktap" 2>/dev/null) not ok; $(($(date +%s) - t0))s)"
	) &
	guest_pids+=($!)
}
guest_pids=()
# running_guests: how many guests are still running (a kernel build in the
# background does not take a lane)
running_guests() {
	local n=0 p
	for p in "${guest_pids[@]}"; do kill -0 "$p" 2>/dev/null && n=$((n + 1)); done
	echo $n
}

# guest_judge_all: wait for every guest, then judge each in submission order.
# A guest that ends without a verdict (hang, panic, watchdog) is one failure
# of its own; what it did report is still judged.
guest_judge_all() {
	local name rc
	wait
	for name in "${jobs_names[@]}"; do
		rc=$(cat "$T/$name.rc" 2>/dev/null || echo 3)
		if [ "$rc" -ge 2 ]; then
			nsuite=$((nsuite + 1))
			failed=$((failed + 1))
			echo "not ok $nsuite $name: guest ended without a verdict (run-guest.sh exit $rc)" >>"$ktap"
			failures+=("guest $name ended without a verdict (run-guest.sh exit $rc; $T/$name/console.log)")
			sed -n '/^!!/,$p' "$T/$name.log" | head -n 30
		fi
		# shellcheck disable=SC2086
		set -- ${jobs_judge[$name]}
		"$1" "$name" "${@:2}"
	done
}

cd "$top"
# the machine, first: a CI log that ends early then still says what it had
echo "== $(nproc) CPUs, $(free -m | awk '/^Mem:/ {print $2 " MB memory, " $7 " MB available"}'), $(df -Pm "$top" | awk 'NR == 2 {print $4 " MB free on " $6}')"
avail=$(df -Pm "$top" | awk 'NR == 2 {print $4}')
[ "${avail:-0}" -lt 6000 ] && echo "!! less than 6 GB free under $top: the kernel tree and two builds need about 4 GB" >&2
if [ $dry = 0 ]; then
	must scripts/deps.sh
	must scripts/tree.sh

	step "host unit tests"
	must make -s -C userspace-bench KSFT_DIR="$B/linux/tools/testing/selftests"
	suite host-bench make -s -C userspace-bench test KSFT_DIR="$B/linux/tools/testing/selftests"
	suite host-report /usr/bin/python3 tests/host/test_report.py
	suite host-scripts tests/host/test_scripts.sh
	suite host-kvsnap tests/host/kvsnap_test.sh
	suite host-hugecow tests/host/hugecow_test.sh
	[ $host_only = 1 ] && finish

	must scripts/build-kernel.sh --config base
	must scripts/build-selftests.sh
	guest_tests=
	if [ -f tests/guest/Makefile ]; then
		must make -s -C tests/guest KSFT_DIR="$B/linux/tools/testing/selftests" OUT="$B/guest-tests"
		guest_tests=$B/guest-tests
	fi
	must scripts/build-initramfs.sh --out "$T/initramfs.cpio.gz" --bin "$top/userspace-bench/build/cowbench" --bin "$top/userspace-bench/build/kvsnap" ${guest_tests:+--bin "$guest_tests"}
	# the fuzz boot's own initramfs: Debian's trinity and stress-ng with
	# their libraries (13 MB; the other boots do without them)
	must scripts/build-initramfs.sh --out "$T/fuzz.cpio.gz" --selftests /nonexistent --dyn trinity --dyn stress-ng
else
	guest_tests=
	[ -f tests/guest/Makefile ] && guest_tests=$B/guest-tests
fi

if [ -z "$features" ]; then
	features=off${all:+,$all}
	[ $full = 1 ] && features=$features,$singles
else
	listed=
fi
# judges, called by guest_judge_all with the run's NAME (then their own args)
judge_selftests() { # NAME [ktap-compare args]
	local name=$1
	shift
	suite "$name" scripts/ktap-compare --tap "$@" "$T/$name/result.ktap" tests/baseline/selftests.txt
	suite "$name-splats" scripts/splat-scan.sh --tap "$T/$name/console.log" "$T/$name/dmesg.txt"
}
judge_fuzz() { # NAME
	suite "$1" grep -v '^    ' "$T/$1/result.ktap"
	grep -B 30 '^not ok' "$T/$1/result.ktap" | head -n 80
	suite "$1-splats" scripts/splat-scan.sh --tap "$T/$1/console.log" "$T/$1/dmesg.txt"
}
judge_cowlab() { # NAME
	suite "$1" grep -v '^    ' "$T/$1/result.ktap"
	# the failing subtests with the lines before them
	grep -B 8 '^    .*not ok' "$T/$1/result.ktap" | head -n 80
	suite "$1-splats" scripts/splat-scan.sh --tap "$T/$1/console.log" "$T/$1/dmesg.txt"
}
# selftests NAME KERNEL FEATURES ONLY [ktap-compare args]: one boot, the
# upstream selftests with one feature set, every case judged against the
# baseline. The boot gets $sargs (one vCPU) and $gargs (debug: memory).
selftests() {
	local name=$1 kernel=$2 feats=$3 list=$4
	shift 4
	local sets=(--set "features=$feats")
	[ -n "$list" ] && sets+=(--set "only=$list")
	guest_start "$name" "judge_selftests $*" "$kernel" selftests "${sets[@]}" "${sargs[@]}" "${gargs[@]}"
}
# cowlab's own guest tests (tests/guest): they set the knobs they test; two
# vCPUs, for their races (Dirty COW, GUP-fast against unshare, threads)
cowlab_tests() { # NAME KERNEL [run-guest args]
	guest_start "$1" judge_cowlab "$2" cowlab-tests "${gargs[@]}" "${@:3}"
}
# The debug kernel's cowlab tests take ~15 min under KASAN: two boots, so
# that the two lanes share them. The first runs these (~440 s measured on
# 2026-12-03), the second every other test binary, new ones included.
DEBUG_SPLIT=kinds_test,odf_sweep_test,odf_test,cowstat_test,thpcow_test

# lanes: one per CPU, 7 GB of available memory each (guests get 6 GB)
mem_avail=$(free -m | awk '/^Mem:/ {print $7}')
lanes=${COWLAB_LANES:-$(nproc)}
[ $((mem_avail / 7000)) -lt "$lanes" ] && lanes=$((mem_avail / 7000))
[ "$lanes" -ge 1 ] || lanes=1
# The guests' CPU: QEMU's "max" without ERMS and FSRM. TCG runs "rep movsb"
# and "rep stosb" one byte per step, so with them the kernel's clear_page,
# copy_mc and memcpy and glibc's large memset/memcpy are slow (cow 225 s
# with them, 55 s without, gup_longterm 87 s vs 7 s, both mostly the 1 GiB
# hugetlb cases). The kernel and glibc pick other string routines; what the
# tests check does not change. COWLAB_TEST_CPU=max restores the default.
qcpu=${COWLAB_TEST_CPU:-max,-erms,-fsrm}
# The upstream selftests get one vCPU (COWLAB_SELFTEST_SMP). They are
# mostly single-threaded, and a 2-vCPU MTTCG guest beside another guest on
# two host CPUs keeps waiting for its other vCPU's host thread (IPIs, TLB
# shootdowns, exclusive sections): one pass took 445 s with two vCPUs, 176 s
# with one (uffd-unit-tests 186 s vs 11 s); the cases are judged the same.
sargs=(--smp "${COWLAB_SELFTEST_SMP:-1}")
step "guests: $lanes at once (COWLAB_LANES), -cpu $qcpu (COWLAB_TEST_CPU), selftests on ${sargs[1]} vCPU (COWLAB_SELFTEST_SMP)"

# Longest first, so that the lanes end together: every feature on (ALL);
# when the debug kernel is up to date, its cowlab tests (the longest boot)
# and quick selftests; every feature off; the single sets (--full); the
# [variant] sets that name their selftests; the cowlab tests on base; when
# the debug kernel had to be built, its two boots last. A run narrowed with
# --only judges the programs it ran, not the missing ones.
gargs=()
rest=
for feat in $(echo "$features" | tr , ' '); do
	if [ "$feat" = "$all" ]; then
		selftests selftests-all "$B/obj-base/bzImage" "$feat" "$only" ${only:+--allow-missing}
	else
		rest="$rest $feat"
	fi
done
# The debug kernel builds in the background beside the first boot. Up to
# date (warm: seconds), its long cowlab-tests boot goes next; otherwise (cold:
# minutes) the base kernel's boots go first and the debug ones after it.
dpid=
if [ "$debug" = 1 ] && [ $dry = 1 ]; then
	dpid=dry # as if the debug kernel were up to date
elif [ "$debug" = 1 ]; then
	step "kernel debug: building in the background (log: ${T#"$top"/}/build-debug.log)"
	scripts/build-kernel.sh --config debug >"$T/build-debug.log" 2>&1 &
	dpid=$!
	for _ in $(seq 45); do kill -0 $dpid 2>/dev/null || break; sleep 2; done
fi
debug_runs() { # after the debug kernel's build: its two boots
	local rc
	[ -n "$dpid" ] || return 0
	rc=0
	if [ "$dpid" != dry ]; then
		wait "$dpid"
		rc=$?
		grep -v 'files compiled' "$T/build-debug.log" | tail -n 3
	fi
	dpid=
	if [ $rc != 0 ]; then
		echo "!! build step failed: scripts/build-kernel.sh --config debug" >&2
		tail -n 30 "$T/build-debug.log" >&2
		failures+=("build step failed after $(($(date +%s) - t0))s: scripts/build-kernel.sh --config debug ($T/build-debug.log); no debug boots")
		failed=$((failed + 1))
		return 0
	fi
	# 3 GB and no 1 GiB pages: kmemleak's scans and the boot are shorter
	# (the quick list uses 2 MiB hugetlb pages only; --full keeps 6 GB)
	[ $full = 1 ] || gargs=(--mem 3072 --hugepages "128 0")
	if [ -n "$guest_tests" ]; then
		cowlab_tests cowlab-tests-debug "$B/obj-debug/bzImage" --set "only=$DEBUG_SPLIT"
		cowlab_tests cowlab-tests-debug-2 "$B/obj-debug/bzImage" --set "except=$DEBUG_SPLIT"
	fi
	dbg_only=$DEBUG_ONLY
	[ $full = 1 ] && dbg_only=
	[ -n "$only" ] && dbg_only=$only
	selftests selftests-debug "$B/obj-debug/bzImage" "${all:-off}" "$dbg_only" --allow-missing
	# fuzzers cowlab did not write (guest/plans/fuzz.sh), every feature on,
	# COWLAB_FUZZ_SECONDS each (make stress runs them longer)
	[ "${COWLAB_FUZZ_SECONDS:-45}" -gt 0 ] &&
		guest_start fuzz-debug judge_fuzz "$B/obj-debug/bzImage" fuzz "${gargs[@]}" \
			--initrd "$T/fuzz.cpio.gz" --set "duration=${COWLAB_FUZZ_SECONDS:-45}"
	gargs=()
}
# warm: the debug kernel is there already
[ -n "$dpid" ] && { [ "$dpid" = dry ] || ! kill -0 "$dpid" 2>/dev/null; } && debug_runs
for feat in $rest; do
	selftests "selftests-$feat" "$B/obj-base/bzImage" "$feat" "$only" ${only:+--allow-missing}
done
# the [variant] sets that name their selftests: one boot each, only those
[ -n "$only" ] && listed=
for set in $(echo "$listed" | tr , ' '); do
	# --full ran the whole list with it already
	case " $rest " in *" $set "*) continue ;; esac
	selftests "selftests-$set" "$B/obj-base/bzImage" "$set" \
		"$(sed -n 's/^# selftests: //p' "$top/guest/features/$set.conf" | tr ' ' ,)" --allow-missing
done
[ -n "$guest_tests" ] && cowlab_tests cowlab-tests-base "$B/obj-base/bzImage"
# cold: the debug kernel's boots once it is built
debug_runs
[ $dry = 1 ] && exit 0
guest_judge_all
finish
