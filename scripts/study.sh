#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# make run: measure the host anchors (scripts/host-anchors: the same costs on
# the host kernel, before anything else runs), build what is missing, boot
# the patched kernel once per part of
# the study (the "study" plan RUNS times, and a vanilla kernel of the same
# config RUNS times for the overhead ratio), gather everything under
# results/<stamp>/ and write one report (scripts/report: a front page that
# answers the brief, a section per part, the sources).
set -uo pipefail

usage() {
	cat <<USAGE
usage: scripts/study.sh [--runs N] [--reps N] [--quick] [--no-vanilla] [--no-host] [--no-build] [--native]
                        [--part all|host|overhead|snapshot|hugecow|precopy|odf|redis[,...]]
                        [--accel tcg|icount|kvm] [--jobs N] [--dry-run] [--out DIR] [--help]

  --runs N      guest boots per kernel (default 3): min/median/max are over these
  --reps N      repetitions of each configuration inside a boot (default 3)
  --quick       every part at small sizes, one boot per kernel, one rep
                (make run QUICK=1): the whole report in minutes, its
                figures noisier; the SIZES variables below still win
  --no-vanilla  skip the vanilla kernel (no overhead ratio)
  --no-host     skip the host anchors (the report says they did not run)
  --native      no QEMU: run each part's plan on the running kernel
                (scripts/native-run.sh: as root, on a cowlab kernel, e.g.
                make deb's on a test box; docs/native.md), from
                build/initramfs.cpio.gz; implies --no-build and
                --no-vanilla; each "boot" is then a run on this machine
  --no-build    boot build/obj-base/bzImage and build/initramfs.cpio.gz as
                they are (built elsewhere: a machine without the source
                tree or the compilers); with the vanilla kernel, also
                build/obj-vanilla/bzImage. A missing one is an error
  --part P      all (default): every part below; or some of them, comma-separated:
                host      scripts/host-anchors (--quick with --quick): the
                          unit costs of COW on the host kernel, this
                          machine's CPU, for the report to set beside the
                          emulated ones; first, before any build or boot
                          (wall-clock figures: nothing may run beside it)
                overhead  the study plan: patched kernel RUNS boots
                          (instrumentation overhead, the page-size matrix
                          with every COW logged), vanilla kernel RUNS boots
                          (overhead runs only)
                snapshot  kvsnap: stw, fork, uffd, mdup over SNAP_SIZES
                          (default 64M,1G), SNAP_MEM MB (default 10240)
                hugecow   THP COW policies over HUGE_SIZE (default 512M)
                precopy   10 settings x 5 workloads at PRECOPY_SIZE (64M),
                          then the size sweep over PRECOPY_SIZES (default
                          1M,4M,16M,64M,256M) and PRECOPY_WSIZES (64M);
                          PRECOPY_PART=main skips the sweep
                odf       on-demand fork against a vanilla fork over
                          ODF_SIZES (default 64M,1G): the child exiting,
                          exec'ing, writing 1/10/100 %
                redis     Redis BGSAVE under write load, vanilla behaviour
                          and every COW policy, REDIS_KEYS 1 KiB values
                          (default 1048576: 1 GiB), every RDB checked
                one boot per part but overhead, REPS repetitions in each
  --accel A     tcg (default): the parts that compare CPU work (overhead,
                hugecow, precopy, odf) under -icount (guest time =
                instructions executed: deterministic, independent of the
                host's load), snapshot and redis, whose figures include
                waits that -icount makes free, under plain TCG, alone;
                icount: every part under -icount; kvm: every part under KVM
                (probed first; falls back to TCG)
  --jobs N      boots under -icount run N at a time (default: the host's
                CPUs, $(nproc) here; each uses one), beside the vanilla
                kernel's build; the other boots run alone
  --dry-run     print each boot's run-guest.sh command in the order and
                with the accelerator it would get; build and boot nothing
  --out DIR     results directory (default results/<date-time>; results/latest
                points at the newest)
Guest size and accelerator: GUEST_MEM (MB, default 6144), GUEST_SMP (2),
GUEST_ACCEL (tcg; kvm is opt-in, probed first).
USAGE
}
top=$(cd "$(dirname "$0")/.." && pwd)
args="$*"
runs=3 reps=3 vanilla=1 host=1 build=1 native=0 out= part=all accel=${GUEST_ACCEL:-tcg} quick=0 nlanes=$(nproc) dry=0
while [ $# -gt 0 ]; do
	case "$1" in
	--runs) runs=$2; shift ;;
	--quick) quick=1 ;;
	--reps) reps=$2; shift ;;
	--no-vanilla) vanilla=0 ;;
	--no-host) host=0 ;;
	--no-build) build=0 ;;
	--native) native=1 build=0 vanilla=0 ;;
	--part) part=$2; shift ;;
	--accel) accel=$2; shift ;;
	--jobs) nlanes=$2; shift ;;
	--out) out=$2; shift ;;
	--dry-run) dry=1 ;;
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
for n in "$runs" "$reps" "$nlanes"; do
	case "$n" in '' | *[!0-9]* | 0*) echo "study.sh: --runs/--reps/--jobs take positive numbers" >&2; exit 2 ;; esac
done
for p in $(echo "$part" | tr , ' ') ''; do
	case "$p" in
	'') [ -n "$part" ] && [ "${part#*,,}" = "$part" ] && [ "${part%,}" = "$part" ] && [ "${part#,}" = "$part" ] && continue ;;
	all | host | overhead | snapshot | hugecow | precopy | odf | redis) continue ;;
	esac
	echo "study.sh: --part takes all, or host, overhead, snapshot, hugecow, precopy, odf and redis, comma-separated" >&2
	exit 2
done
case ",$part," in *,all,* | *,overhead,*) ;; *) vanilla=0 ;; esac
runner=$([ $native = 1 ] && echo native-run.sh || echo run-guest.sh)
# --native: refused now, not after the host anchors, where it cannot run
if [ $native = 1 ] && [ $dry = 0 ]; then
	[ "$(id -u)" = 0 ] || { echo "study.sh: --native must run as root" >&2; exit 2; }
	[ -e /proc/sys/vm/cow_precopy_max ] ||
		{ echo "study.sh: --native: the running kernel ($(uname -r)) is not a cowlab kernel (docs/native.md)" >&2; exit 2; }
fi
case "$accel" in tcg | icount | kvm) ;; *) echo "study.sh: --accel takes tcg, icount or kvm" >&2; exit 2 ;; esac
cd "$top" || exit 1
B=$top/build
mem=${GUEST_MEM:-6144} smp=${GUEST_SMP:-2}
out=${out:-$top/results/$(date +%Y%m%d-%H%M%S)}
t0=$(date +%s)
step() { echo "== $* ($(($(date +%s) - t0))s)"; }
want() { case ",$part," in *,all,* | *,"$1",*) return 0 ;; esac; return 1; }
# the accelerator of a part: under --accel tcg the parts that compare
# CPU work run under -icount (guest time = instructions executed:
# independent of the host's load, so those boots may run side by side and
# beside a build); the snapshot benchmark and Redis measure waits (a
# userfaultfd handler's round trip, a client's request) that -icount's
# sleep=off makes free: plain TCG, alone
acc_of() {
	case "$accel:$1" in
	tcg:snapshot | tcg:redis) echo tcg ;;
	tcg:*) echo icount ;;
	*) echo "$accel" ;;
	esac
}

[ $dry = 1 ] && out=$(mktemp -d)
mkdir -p "$out/raw" || exit 1
rm -f "$out/failed.txt"
# the host anchors first: wall-clock figures of the host kernel, so
# nothing else may run beside them (no build, no boot)
if [ $host = 1 ] && want host; then
	hargs=$([ $quick = 1 ] && echo --quick)
	if [ $dry = 1 ]; then
		echo "host anchors [host]: scripts/host-anchors${hargs:+ $hargs}"
	else
		step "start host anchors: scripts/host-anchors${hargs:+ $hargs} (this machine's CPU, the host kernel)"
		s=$(date +%s)
		# shellcheck disable=SC2086
		if scripts/host-anchors --out "$out" $hargs >"$out/host.log" 2>&1; then
			step "done  host anchors in $(($(date +%s) - s))s ($(grep -c '^host-anchors: \[.*skipped' "$out/host.log") skipped)"
		else
			echo "!! host anchors failed: see ${out#"$top"/}/host.log and host/run.json" >&2
			tail -n 5 "$out/host.log" >&2
			echo "host anchors" >>"$out/failed.txt"
		fi
	fi
fi
if [ "$part" != host ] && [ $build = 0 ]; then
	for f in $([ $native = 1 ] || echo "$B/obj-base/bzImage") "$B/initramfs.cpio.gz" $([ $vanilla = 1 ] && echo "$B/obj-vanilla/bzImage"); do
		[ -f "$f" ] || { echo "study.sh: --no-build: ${f#"$top"/} missing" >&2; exit 2; }
	done
	[ $dry = 1 ] || [ $native = 1 ] || step "no build (--no-build): $(ls -l --time-style=+%F.%R "$B/obj-base/bzImage" | awk '{print $6}') bzImage, $(ls -l --time-style=+%F.%R "$B/initramfs.cpio.gz" | awk '{print $6}') initramfs"
	[ $dry = 1 ] || [ $native = 0 ] || step "native: each part on this kernel ($(uname -r)), no QEMU; $(ls -l --time-style=+%F.%R "$B/initramfs.cpio.gz" | awk '{print $6}') initramfs"
elif [ "$part" != host ]; then
	[ $dry = 1 ] || step "build: make kernel-base initramfs (tree, patched kernel, selftests, benchmarks, guest tests)"
	[ $dry = 1 ] || make -s -C "$top" kernel-base initramfs || exit 1
fi
if [ $vanilla = 1 ]; then
	# the vanilla kernel builds while the patched kernel's boots run
	[ $dry = 1 ] || [ $build = 0 ] || step "build: make kernel-vanilla (same config, no series), in the background"
	if [ $dry = 1 ] || [ $build = 0 ]; then echo 0 >"$out/.vanilla-rc"; else
		(make -s -C "$top" kernel-vanilla >"$B/vanilla-build.log" 2>&1 </dev/null; echo $? >"$out/.vanilla-rc") &
		vbuild=$!
	fi
fi
# stopped: run-guest.sh passes SIGTERM on to its QEMU
stop() {
	echo "!! interrupted: stopping the guests and the build" >&2
	for p in $(jobs -p); do pkill -TERM -P "$p"; kill "$p"; done 2>/dev/null
	wait
	exit 130
}
trap stop INT TERM

# guest NAME PART DIR PLAN RUN-GUEST-ARGS...: one boot of the study; its
# failure is written down (boots run in the background) and the study
# goes on
guest() {
	local name=$1 acc d=$3 plan=$4 s=$(date +%s)
	acc=$(acc_of "$2")
	[ $native = 1 ] && acc=native
	shift 4
	if [ $dry = 1 ]; then
		echo "$name [$acc]: scripts/$runner --plan $plan --accel $acc --smp $smp $*"
		return
	fi
	step "start $name ($acc)"
	if "scripts/$runner" --plan "$plan" --out "$d" --smp "$smp" --accel "$acc" --quiet "$@" >"$d.log" 2>&1; then
		step "done  $name in $(($(date +%s) - s))s"
	else
		echo "!! $name failed: see ${d#"$top"/} (console.log, result.ktap) and ${d#"$top"/}.log" >&2
		tail -n 5 "$d.log" >&2
		echo "$name" >>"$out/failed.txt"
	fi
}
# launch NAME PART DIR PLAN ARGS...: the guest in the background once a lane
# is free (--jobs), or now and in the foreground for a part not under
# -icount (its wall-clock figures want the machine to itself)
running() { jobs -rp | grep -vxc "${vbuild:-none}"; }
launch() {
	if [ $native = 1 ] || [ "$(acc_of "$2")" != icount ] || [ "$nlanes" = 1 ]; then
		wait_lanes 0
		guest "$@"
		return
	fi
	wait_lanes $((nlanes - 1))
	guest "$@" &
}
# wait_lanes N: until at most N guests run
wait_lanes() { while [ "$(running)" -gt "$1" ]; do wait -n; done; }

study_boot() { # VARIANT RUN KERNEL PART
	local d=$out/raw/$1-$2
	mkdir -p "$d"
	printf '{"kernel_variant": "%s", "run": %d}\n' "$1" "$2" >"$d/meta.json"
	launch "study $1 run $2/$runs" overhead "$d" study --kernel "$3" --mem "$mem" \
		--set reps="$reps" --set part="$4" --timeout 3600
}
K=$B/obj-base/bzImage
# the boots under -icount first, longest first, so that the lanes end
# together
if want odf; then
	launch "on-demand fork (${ODF_SIZES:-64M,1G}, $reps reps)" odf "$out/odf" odf-study --kernel "$K" \
		--mem "$mem" --set reps="$reps" --set sizes="${ODF_SIZES:-64M,1G}" \
		--set fracs=0.01,0.1,1 --set pagetimes=off --timeout 5400
fi
if want precopy; then
	pp=${PRECOPY_PART:-all}
	launch "pre-copy, part $pp (settings at ${PRECOPY_SIZE:-64M}$([ "$pp" = main ] || echo ", sweep ${PRECOPY_SIZES:-1M,4M,16M,64M,256M}"), $reps reps)" \
		precopy "$out/precopy" precopy-study --kernel "$K" --mem "$mem" --hugepages "0 0" \
		--set reps="$reps" --set part="$pp" --set size="${PRECOPY_SIZE:-64M}" \
		--set sizes="${PRECOPY_SIZES:-1M,4M,16M,64M,256M}" --set wsizes="${PRECOPY_WSIZES:-64M}" --timeout 5400
fi
if want overhead; then
	# the patched kernel: the overhead runs and the page-size matrix
	for r in $(seq "$runs"); do study_boot patched "$r" "$K" all; done
fi
if want hugecow; then
	launch "THP COW policies (${HUGE_SIZE:-512M}, $reps reps)" hugecow "$out/hugecow" hugecow --kernel "$K" \
		--mem "$mem" --set reps="$reps" --set mkinds=- --set skinds=- --set psize="${HUGE_SIZE:-512M}" --timeout 3600
fi
if [ $vanilla = 1 ]; then
	# the vanilla kernel: the overhead runs only (no instrumentation to
	# sample, so the page-size matrix would say nothing new)
	[ -f "$out/.vanilla-rc" ] || step "wait for the vanilla kernel's build"
	while [ ! -f "$out/.vanilla-rc" ]; do sleep 2; done
	if [ "$(cat "$out/.vanilla-rc")" != 0 ]; then
		echo "!! vanilla kernel build failed: $B/vanilla-build.log" >&2
		tail -n 20 "$B/vanilla-build.log" >&2
		echo "vanilla kernel build" >>"$out/failed.txt"
	else
		for r in $(seq "$runs"); do study_boot vanilla "$r" "$B/obj-vanilla/bzImage" overhead; done
	fi
fi
# then the boots that want the machine to themselves
if want snapshot; then
	launch "snapshot benchmark (${SNAP_SIZES:-64M,1G}, $reps reps)" snapshot "$out/snapshot" snapshot \
		--kernel "$K" --mem "${SNAP_MEM:-10240}" --set reps="$reps" \
		--set sizes="${SNAP_SIZES:-64M,1G}" --timeout 5400
fi
if want redis; then
	launch "Redis BGSAVE, every COW policy (${REDIS_KEYS:-1048576} keys of 1 KiB, $reps reps)" redis "$out/redis" redis \
		--kernel "$K" --mem "$mem" --set keys="${REDIS_KEYS:-1048576}" --set reps="$reps" --timeout 5400
fi
wait_lanes 0
wait
rm -f "$out/.vanilla-rc"
fail=0
[ -s "$out/failed.txt" ] && fail=1

if [ $dry = 1 ]; then
	rm -rf "$out"
	exit 0
fi
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
cat >"$out/meta.json" <<JSON
{"kernel": "$([ $native = 1 ] && echo "$(uname -r) (native)" || cat "$B/linux/.cowlab-version" 2>/dev/null || echo "${COWLAB_KERNEL_VERSION:-unknown}") + cowlab series ($(grep -vc '^\s*\(#\|$\)' patches/series) patches)",
 "accel": "$([ $native = 1 ] && echo native || echo "$accel")", "jobs": $nlanes, "secs": $(($(date +%s) - t0)), "cpu": "$cpu", "smp": $smp, "mem_mb": $mem, "host": "$(uname -srm), $(nproc) cores",
 "date": "$(date -u +%Y-%m-%dT%H:%M:%SZ)", "runs": $runs, "reps": $reps, "plan": "study", "part": "$part",
 "qemu": "$(qemu-system-x86_64 --version | head -n 1)", "command": "scripts/study.sh $args"}
JSON
ln -sfn "$(basename "$out")" "$top/results/latest" 2>/dev/null || true
step "report: scripts/report ${out#"$top"/} (report.md, summary.json, plots/)"
/usr/bin/python3 scripts/report "$out" || fail=1
if [ -s "$out/failed.txt" ]; then
	echo "!! failed: $(paste -sd, "$out/failed.txt") (the report covers what ran)" >&2
fi
step "done: ${out#"$top"/}/report.md"
exit $fail
