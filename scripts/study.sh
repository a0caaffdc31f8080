#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make run: build what is missing, boot the patched kernel and a vanilla
# kernel (same config, same initramfs) RUNS times each with the "study" plan,
# then the patched kernel once with the "snapshot" plan (kvsnap: stw, fork,
# uffd, mdup), gather everything under results/<stamp>/ and write the report.
set -uo pipefail

usage() {
	cat <<USAGE
usage: scripts/study.sh [--runs N] [--reps N] [--quick] [--no-vanilla] [--part all|overhead|snapshot|hugecow|precopy|odf|redis]
                        [--accel tcg|icount|kvm] [--out DIR] [--help]

  --runs N      guest boots per kernel (default 3): min/median/max are over these
  --reps N      repetitions of each configuration inside a boot (default 3)
  --quick       every part at small sizes, one boot per kernel, one rep
                (make run QUICK=1): the whole report in minutes, its
                figures noisier; the SIZES variables below still win
  --no-vanilla  skip the vanilla kernel (no overhead ratio)
  --part P      all (default): overhead, the page-size matrix and the snapshot
                benchmark; overhead: only the instrumentation-overhead runs
                (patched vs vanilla); snapshot: only the snapshot benchmark
                (one boot, SNAP_SIZES, default 64M,256M,1G, REPS snapshots each,
                SNAP_MEM MB of guest memory, default 10240); hugecow: only
                the THP COW policy benchmark (one boot, under -icount when
                --accel is tcg, hugecow policy over HUGE_SIZE, default 512M,
                REPS runs each); precopy: only the COW pre-copy study (one
                boot, under -icount when --accel is tcg: 8 settings x 5
                workloads at 64M, then the region-size sweep over
                PRECOPY_SIZES, default 1M,4M,16M,64M,256M,1G, REPS runs each);
                odf: only on-demand fork (delayed allocation) against a
                vanilla fork (one boot, under -icount when --accel is tcg:
                ODF_SIZES, default 64M,256M,1G, the child exiting, exec'ing
                and writing 1/10/100 %, REPS runs each); redis: only Redis
                BGSAVE under write load for vanilla behaviour and every COW
                policy (one boot, REDIS_KEYS 1 KiB values, default 1048576:
                1 GiB; every RDB checked against the snapshot instant)
  --accel A     tcg (default), icount (guest time = instruction count:
                deterministic, for overhead ratios; see run-guest.sh) or kvm
  --out DIR     results directory (default results/<date-time>; results/latest
                points at the newest)
Guest size and accelerator: GUEST_MEM (MB, default 6144), GUEST_SMP (2),
GUEST_ACCEL (tcg; kvm is opt-in, probed first).
USAGE
}
top=$(cd "$(dirname "$0")/.." && pwd)
args="$*"
runs=3 reps=3 vanilla=1 out= part=all accel=${GUEST_ACCEL:-tcg} quick=0
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=$2; shift ;;
	--quick) quick=1 ;;
	--reps) reps=$2; shift ;;
	--no-vanilla) vanilla=0 ;;
	--part) part=$2; shift ;;
	--accel) accel=$2; shift ;;
	--out) out=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "study.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
# --quick: small sizes for every part, unless set in the environment
if [ $quick = 1 ]; then
	runs=1 reps=1
	# pre-copy: the settings x workloads part alone, at 16M
	: "${SNAP_SIZES:=64M}" "${SNAP_MEM:=6144}" "${HUGE_SIZE:=64M}" "${PRECOPY_SIZE:=16M}"
	: "${ODF_SIZES:=64M}" "${REDIS_KEYS:=65536}" "${PRECOPY_PART:=main}"
fi
case "$runs$reps" in *[!0-9]* | 0*) echo "study.sh: --runs/--reps take positive numbers" >&2; exit 2 ;; esac
case "$part" in all | overhead | snapshot | hugecow | precopy | odf | redis) ;; *) echo "study.sh: --part takes all, overhead, snapshot, hugecow, precopy, odf or redis" >&2; exit 2 ;; esac
case "$part" in snapshot | hugecow | precopy | odf | redis) vanilla=0 ;; esac
case "$accel" in tcg | icount | kvm) ;; *) echo "study.sh: --accel takes tcg, icount or kvm" >&2; exit 2 ;; esac
cd "$top"
B=$top/build
mem=${GUEST_MEM:-6144} smp=${GUEST_SMP:-2}
out=${out:-$top/results/$(date +%Y%m%d-%H%M%S)}
t0=$(date +%s)
step() { echo "== $* ($(($(date +%s) - t0))s)"; }

step "build: make kernel-base initramfs (tree, patched kernel, selftests, benchmarks, guest tests)"
make -s -C "$top" kernel-base initramfs || exit 1
if [ $vanilla = 1 ]; then
	# the vanilla kernel builds while the patched kernel's boots run
	step "build: make kernel-vanilla (same config, no series), in the background"
	make -s -C "$top" kernel-vanilla >"$B/vanilla-build.log" 2>&1 </dev/null &
	vpid=$!
fi

mkdir -p "$out/raw"
fail=0
boot() { # VARIANT RUN KERNEL
	local d=$out/raw/$1-$2
	step "boot $1 run $2/$runs"
	if ! scripts/run-guest.sh --plan study --kernel "$3" --out "$d" --mem "$mem" --smp "$smp" \
		--accel "$accel" --set reps="$reps" --set part="$part" --timeout 3600 --quiet; then
		echo "!! $1 run $2 failed: see $d (console.log, result.ktap)" >&2
		fail=1
	fi
	printf '{"kernel_variant": "%s", "run": %d, "kernel": "%s"}\n' "$1" "$2" \
		"$(grep -o 'Linux version [^ ]*' "$d/dmesg.txt" 2>/dev/null | head -n 1)" >"$d/meta.json"
}
if [ "$part" = all ] || [ "$part" = overhead ]; then
	for r in $(seq "$runs"); do boot patched "$r" "$B/obj-base/bzImage"; done
fi
if [ "$part" = all ] || [ "$part" = snapshot ]; then
	step "boot patched: snapshot benchmark (sizes ${SNAP_SIZES:-64M,256M,1G}, $reps each)"
	if ! scripts/run-guest.sh --plan snapshot --kernel "$B/obj-base/bzImage" --out "$out/snapshot" \
		--mem "${SNAP_MEM:-10240}" --smp "$smp" --accel "$accel" --set reps="$reps" \
		--set sizes="${SNAP_SIZES:-64M,256M,1G}" --timeout 5400 --quiet; then
		echo "!! snapshot run failed: see $out/snapshot (console.log, result.ktap)" >&2
		fail=1
	fi
fi
if [ "$part" = all ] || [ "$part" = hugecow ]; then
	# per-write latencies from 256 samples: under TCG use -icount, whose
	# emulated time does not depend on the host's load (docs/hugecow.md)
	hacc=$accel
	[ "$accel" = tcg ] && hacc=icount
	step "boot patched: THP COW policy benchmark (${HUGE_SIZE:-512M}, $reps runs each, $hacc)"
	if ! scripts/run-guest.sh --plan hugecow --kernel "$B/obj-base/bzImage" --out "$out/hugecow" \
		--mem "$mem" --smp "$smp" --accel "$hacc" --set reps="$reps" --set mkinds=- --set skinds=- \
		--set psize="${HUGE_SIZE:-512M}" --timeout 3600 --quiet; then
		echo "!! hugecow run failed: see $out/hugecow (console.log, result.ktap)" >&2
		fail=1
	fi
fi
if [ "$part" = all ] || [ "$part" = precopy ]; then
	# wall-time ratios of a few percent: under TCG use -icount (docs/precopy.md)
	pacc=$accel
	[ "$accel" = tcg ] && pacc=icount
	step "boot patched: COW pre-copy study, part ${PRECOPY_PART:-all} (settings at ${PRECOPY_SIZE:-64M}, sweep over ${PRECOPY_SIZES:-1M,4M,16M,64M,256M,1G}), $reps runs each, $pacc"
	if ! scripts/run-guest.sh --plan precopy-study --kernel "$B/obj-base/bzImage" --out "$out/precopy" \
		--mem "$mem" --smp "$smp" --accel "$pacc" --hugepages "0 0" --set reps="$reps" --set part="${PRECOPY_PART:-all}" --set size="${PRECOPY_SIZE:-64M}" \
		--set sizes="${PRECOPY_SIZES:-1M,4M,16M,64M,256M,1G}" --timeout 5400 --quiet; then
		echo "!! precopy run failed: see $out/precopy (console.log, result.ktap)" >&2
		fail=1
	fi
fi
if [ "$part" = all ] || [ "$part" = odf ]; then
	# fork-time ratios: under TCG use -icount (docs/odf.md)
	oacc=$accel
	[ "$accel" = tcg ] && oacc=icount
	step "boot patched: on-demand fork against a vanilla fork (${ODF_SIZES:-64M,256M,1G}, $reps runs each, $oacc)"
	if ! scripts/run-guest.sh --plan odf-study --kernel "$B/obj-base/bzImage" --out "$out/odf" \
		--mem "$mem" --smp "$smp" --accel "$oacc" --set reps="$reps" --set sizes="${ODF_SIZES:-64M,256M,1G}" \
		--set fracs=0.01,0.1,1 --set pagetimes=off --timeout 5400 --quiet; then
		echo "!! odf run failed: see $out/odf (console.log, result.ktap)" >&2
		fail=1
	fi
fi
if [ "$part" = all ] || [ "$part" = redis ]; then
	step "boot patched: Redis BGSAVE under write load, every COW policy (${REDIS_KEYS:-1048576} keys of 1 KiB)"
	if ! scripts/run-guest.sh --plan redis --kernel "$B/obj-base/bzImage" --out "$out/redis" \
		--mem "$mem" --smp "$smp" --accel "$accel" --set keys="${REDIS_KEYS:-1048576}" --set reps="$reps" \
		--timeout 5400 --quiet; then
		echo "!! redis run failed: see $out/redis (console.log, result.ktap)" >&2
		fail=1
	fi
fi
if [ $vanilla = 1 ]; then
	if ! wait $vpid; then
		echo "!! vanilla kernel build failed: $B/vanilla-build.log" >&2
		tail -n 20 "$B/vanilla-build.log" >&2
		exit 1
	fi
	for r in $(seq "$runs"); do boot vanilla "$r" "$B/obj-vanilla/bzImage"; done
fi

cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
cat >"$out/meta.json" <<JSON
{"kernel": "$(cat "$B/linux/.cowlab-version") + cowlab series ($(grep -vc '^\s*\(#\|$\)' patches/series) patches)",
 "accel": "$accel", "cpu": "$cpu", "smp": $smp, "mem_mb": $mem, "host": "$(uname -srm), $(nproc) cores",
 "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "runs": $runs, "reps": $reps, "plan": "study", "part": "$part",
 "qemu": "$(qemu-system-x86_64 --version | head -n 1)", "command": "scripts/study.sh $args"}
JSON
ln -sfn "$(basename "$out")" "$top/results/latest" 2>/dev/null || true
step "report"
if [ "$part" = all ] || [ "$part" = overhead ]; then
	/usr/bin/python3 scripts/report "$out" || fail=1
fi
# section FILE TITLE INTRO REPORT ARGS...: when FILE exists, append to the
# report "## TITLE", INTRO (what ran, how, where the columns are explained)
# and what the report script REPORT prints
section() {
	local f=$1 title=$2 intro=$3
	shift 3
	[ -f "$f" ] || return 0
	{ printf '\n## %s\n\n%s\n\n' "$title" "$intro"; /usr/bin/python3 "$@" || fail=1; } >>"$out/report.md"
}
section "$out/snapshot/snapshot.jsonl" "Snapshot of a key-value store under write load: stw, fork, uffd, mdup" \
	"kvsnap (userspace-bench/kvsnap), one boot, guest memory ${SNAP_MEM:-10240} MB, no swap;
plots: plots/snapshot-pause.png, plots/snapshot-p99.png. What the columns mean:
docs/mdup.md. Every snapshot file is verified byte for byte." \
	scripts/snapshot-report "$out/snapshot" --plot "$out/plots"
section "$out/hugecow/hugecow.jsonl" "Huge-page COW: THP COW policy split, copy, adaptive (vm.cow_thp_policy)" \
	"hugecow policy (userspace-bench/hugecow.c), one boot (accel ${hacc:-}); plot:
plots/hugecow-policy.png; what the columns mean: docs/hugecow.md. Read times under
QEMU TCG and -icount do not model the TLB." \
	scripts/hugecow-report "$out/hugecow" --plot "$out/plots"
section "$out/precopy/precopy.jsonl" "COW pre-copy (vm.cow_precopy_max / vm.cow_precopy_mode) against off" \
	"cowbench (userspace-bench), guest/plans/precopy-study.sh part=all, one boot (accel
${pacc:-}); plots: plots/precopy-settings.png, plots/precopy-sweep.png; what the columns
mean: docs/precopy.md. Every run verifies parent and child bytes (--verify)." \
	scripts/precopy-report "$out/precopy" --plot "$out/plots"
section "$out/odf/odf.jsonl" "Delayed allocation: on-demand fork (page tables shared at fork) against a vanilla fork" \
	"cowbench --scenario fork (userspace-bench), guest/plans/odf-study.sh, one boot (accel
${oacc:-}); vanilla (prctl PR_SET_COW_ODF 2) and on-demand (1) side by side; plot:
plots/odf-fork.png; what the columns mean: docs/odf.md. Every rep verifies both sides' bytes." \
	scripts/odf-report "$out/odf" --plot "$out/plots"
section "$out/redis/redis.jsonl" "A real client: Redis BGSAVE under every COW policy" \
	"Debian's redis-server in the guest, userspace-bench/redissnap.c as the client
(guest/plans/redis.sh, accel $accel): one BGSAVE per policy under single SETs; every
saved RDB loaded and checked against the snapshot instant. What the columns mean:
docs/redis.md." \
	scripts/redis-report "$out/redis" --json "$out/redis/redis-rows.json"
step "done: $out/report.md"
exit $fail
