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
usage: scripts/test.sh [--host-only] [--no-debug] [--features LIST] [--only TESTS] [--help]

  --host-only      only the host unit tests (no kernel, no guest)
  --no-debug       skip the debug-kernel pass (configs/debug.config)
  --features LIST  feature sets for the selftests (default: every guest/features/*.conf)
  --only TESTS     comma list of selftest names (guest/selftests.list) to run
Environment: COWLAB_DEBUG=0 is --no-debug.
USAGE
}

top=$(cd "$(dirname "$0")/.." && pwd)
host_only=0 debug=${COWLAB_DEBUG:-1} only=
features=$(cd "$top/guest/features" && ls *.conf | sed 's/\.conf$//' | sort | tr '\n' ',' | sed 's/,$//')
while [ $# -gt 0 ]; do
	case "$1" in
	--host-only) host_only=1 ;;
	--no-debug) debug=0 ;;
	--features) features=$2; shift ;;
	--only) only=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "test.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done

B=$top/build
T=$B/test
mkdir -p "$T"
ktap=$B/test.ktap
echo "KTAP version 1" >"$ktap"
passed=0 failed=0 nsuite=0
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
	grep '^not ok\|^# .*REGRESSION\|^Bail' "$out" | head -n 20
	[ -s "$T/$name.err" ] && [ "$f" != 0 ] && tail -n 20 "$T/$name.err"
	echo "   $name: $p passed, $f failed"
}

# must CMD...: a build step; a failure ends the run with its reason.
must() {
	if ! "$@"; then
		echo "!! build step failed: $*" >&2
		failed=$((failed + 1))
		finish
	fi
}

finish() {
	echo "1..$nsuite" >>"$ktap"
	echo "== done in $(($(date +%s) - t0))s; full KTAP: ${ktap#"$top"/}"
	echo "$passed passed, $failed failed"
	[ "$failed" = 0 ]
	exit $?
}

# guest_suite NAME KERNEL PLAN [run-guest args]: boot, then judge the KTAP.
guest_run() {
	local name=$1 kernel=$2 plan=$3
	shift 3
	scripts/run-guest.sh --plan "$plan" --kernel "$kernel" --out "$T/$name" \
		--timeout "${COWLAB_GUEST_TIMEOUT:-3000}" "$@"
}

cd "$top"
must scripts/deps.sh
must scripts/tree.sh

step "host unit tests"
must make -s -C userspace-bench KSFT_DIR="$B/linux/tools/testing/selftests"
suite host-bench make -s -C userspace-bench test KSFT_DIR="$B/linux/tools/testing/selftests"
suite host-report /usr/bin/python3 tests/host/test_report.py
suite host-scripts tests/host/test_scripts.sh
[ $host_only = 1 ] && finish

must scripts/build-kernel.sh --config base
must scripts/build-selftests.sh
must scripts/build-initramfs.sh --bin "$top/userspace-bench/build/cowbench"

sets=(--set "features=$features")
[ -n "$only" ] && sets+=(--set "only=$only")
guest_run selftests-base "$B/obj-base/bzImage" selftests "${sets[@]}"
suite selftests-base scripts/ktap-compare --tap "$T/selftests-base/result.ktap" tests/baseline/selftests.txt
suite splats-base scripts/splat-scan.sh --tap "$T/selftests-base/console.log" "$T/selftests-base/dmesg.txt"

if [ "$debug" = 1 ]; then
	must scripts/build-kernel.sh --config debug
	guest_run selftests-debug "$B/obj-debug/bzImage" selftests "${sets[@]}"
	suite selftests-debug scripts/ktap-compare --tap "$T/selftests-debug/result.ktap" tests/baseline/selftests.txt
	suite splats-debug scripts/splat-scan.sh --tap "$T/selftests-debug/console.log" "$T/selftests-debug/dmesg.txt"
fi
finish
