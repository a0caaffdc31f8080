#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Boot a cowlab kernel + initramfs in QEMU, run one guest plan, collect its
# KTAP stream and result files, and turn the guest's verdict into our exit
# status. A hung or panicked guest fails by watchdog; the console log is kept.
set -uo pipefail

usage() {
	cat <<USAGE
usage: scripts/run-guest.sh --plan NAME [options]

  --plan NAME       guest plan (guest/plans/NAME.sh): smoke, selftests, study, ...
  --kernel FILE     bzImage (default build/obj-base/bzImage)
  --initrd FILE     initramfs (default build/initramfs.cpio.gz)
  --set KEY=VALUE   pass cowlab.KEY=VALUE to the plan (repeatable), e.g.
                    --set features=off,stat --set only=cow
  --out DIR         output dir (default build/runs/PLAN-<time>)
  --timeout SECS    watchdog for the whole boot (default 900)
  --mem MB          guest memory (default 6144: the 1G huge pages need 1G-aligned RAM above 4G)
  --smp N           guest CPUs (default 2)
  --hugepages "N2M N1G"  huge pages reserved at boot (default "128 2")
  --accel tcg|icount|kvm
                    default tcg (multi-threaded TCG). icount: single-threaded
                    TCG with -icount shift=0, so guest time counts executed
                    instructions (1 ns each): timings no longer depend on host
                    load and differ between kernels only by the code they run.
                    kvm is opt-in: a probe boot must pass first, otherwise
                    the run falls back to tcg with a message
  --cpu MODEL       QEMU -cpu for tcg/icount (default max; e.g. max,-erms,-fsrm)
  --append STR      extra kernel command line
  --quiet           no live progress
  --interactive     the console on this terminal (stdin/stdout) instead of
                    console.log, no watchdog unless --timeout: for plan shell
                    (make shell). Ctrl-C goes to the guest; Ctrl-A x quits
                    QEMU. A pipe works as well as a terminal (host tests)
Outputs in DIR: console.log (serial 0), stream.txt (serial 1, raw),
result.ktap (the KTAP part), files the guest sent, splats.txt, verdict.
Exit status: 0 pass, 1 the guest reported failures or the kernel splatted,
3 no verdict (hang, panic, watchdog), 2 usage.
USAGE
}

top=$(cd "$(dirname "$0")/.." && pwd)
argv="$*"
plan= kernel=$top/build/obj-base/bzImage initrd=$top/build/initramfs.cpio.gz
out= tmo= inter=0 mem=6144 smp=2 hp="128 2" accel=tcg extra= quiet=0 cpu=${COWLAB_QEMU_CPU:-max}
sets=()
while [ $# -gt 0 ]; do
	case "$1" in
	--plan) plan=$2; shift ;;
	--kernel) kernel=$2; shift ;;
	--initrd) initrd=$2; shift ;;
	--set) sets+=("cowlab.$2"); shift ;;
	--out) out=$2; shift ;;
	--timeout) tmo=$2; shift ;;
	--mem) mem=$2; shift ;;
	--smp) smp=$2; shift ;;
	--cpu) cpu=$2; shift ;;
	--hugepages) hp=$2; shift ;;
	--accel) accel=$2; shift ;;
	--append) extra=$2; shift ;;
	--quiet) quiet=1 ;;
	--interactive) inter=1 quiet=1 ;;
	-h | --help) usage; exit 0 ;;
	*) echo "run-guest.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
	[ $# -gt 0 ] && shift
done
[ -n "$plan" ] || { echo "run-guest.sh: --plan is required" >&2; usage >&2; exit 2; }
[ -f "$top/guest/plans/$plan.sh" ] || { echo "run-guest.sh: no plan guest/plans/$plan.sh" >&2; exit 2; }
for f in "$kernel" "$initrd"; do
	[ -r "$f" ] || { echo "run-guest.sh: $f not found (make kernel initramfs)" >&2; exit 2; }
done
# the watchdog: 900 s, none for a person at the console
tmo=${tmo:-$([ $inter = 1 ] && echo 0 || echo 900)}
case "$tmo$mem$smp" in *[!0-9]*) echo "run-guest.sh: --timeout/--mem/--smp take numbers" >&2; exit 2 ;; esac
command -v qemu-system-x86_64 >/dev/null || { echo "run-guest.sh: qemu-system-x86_64 missing (scripts/deps.sh)" >&2; exit 2; }
read -r hp2 hp1g <<<"$hp"
out=${out:-$top/build/runs/$plan-$(date +%Y%m%d-%H%M%S)}
mkdir -p "$out"
rm -f "$out"/{console.log,stream.txt,result.ktap,splats.txt,verdict}

cmdline="console=ttyS0 loglevel=5 panic=-1 oops=panic nokaslr
hugepagesz=1G hugepages=${hp1g:-0} hugepagesz=2M hugepages=${hp2:-0}
transparent_hugepage=madvise cowlab.plan=$plan ${sets[*]} $extra"
cmdline=$(echo $cmdline)

qemu_base() { # $1 accel
	local acc="-accel tcg,thread=multi -cpu $cpu"
	[ "$1" = kvm ] && acc="-accel kvm -cpu host"
	[ "$1" = icount ] && acc="-accel tcg,thread=single -cpu $cpu -icount shift=0,sleep=off"
	echo "qemu-system-x86_64 $acc -smp $smp -m $mem -display none -monitor none
	      -no-reboot -device isa-debug-exit,iobase=0xf4,iosize=0x04
	      -kernel $kernel -initrd $initrd"
}

if [ "$accel" = kvm ]; then
	probe=$(mktemp -d)
	if [ -w /dev/kvm ] && (timeout 60 $(qemu_base kvm) -append "console=ttyS0 panic=-1 cowlab.plan=smoke" \
		-serial file:"$probe/c" -serial file:"$probe/s" >/dev/null 2>&1) 2>/dev/null &&
		grep -q '@@cowlab-verdict' "$probe/s"; then
		echo ">> kvm probe boot passed: using kvm"
	else
		echo ">> kvm probe boot failed (no usable /dev/kvm or guest did not boot): falling back to tcg"
		accel=tcg
	fi
	rm -rf "$probe"
elif [ "$accel" != tcg ] && [ "$accel" != icount ]; then
	echo "run-guest.sh: --accel takes tcg, icount or kvm" >&2; exit 2
fi

echo ">> guest: plan=$plan accel=$accel smp=$smp mem=${mem}M kernel=${kernel#"$top"/} out=${out#"$top"/}"
start=$(date +%s)
: >"$out/stream.txt"
if [ $inter = 1 ]; then
	# serial 0 on stdio (and into console.log); QEMU's monitor behind Ctrl-A c.
	# --foreground: QEMU stays in the terminal's process group, so it may put
	# the terminal in raw mode (in a background group it would be stopped)
	# shellcheck disable=SC2046
	timeout --foreground -k 10 "$tmo" $(qemu_base "$accel") -append "$cmdline" \
		-chardev stdio,id=con0,mux=on,signal=off,logfile="$out/console.log" \
		-serial chardev:con0 -mon chardev=con0,mode=readline -serial file:"$out/stream.txt" \
		2>"$out/qemu.log"
	qrc=$?
	# the terminal as it was (QEMU leaves it raw when killed)
	[ -t 0 ] && stty sane 2>/dev/null
else
	# shellcheck disable=SC2046
	timeout -k 10 "$tmo" $(qemu_base "$accel") -append "$cmdline" \
		-serial file:"$out/console.log" -serial file:"$out/stream.txt" \
		</dev/null >"$out/qemu.log" 2>&1 &
	qpid=$!
	# stopped (Ctrl-C, make test's SIGTERM): timeout passes it on to QEMU
	trap 'kill $qpid 2>/dev/null; wait $qpid; echo "!! interrupted" >&2; exit 130' INT TERM
fi
if [ $quiet = 0 ]; then
	# live progress: top-level KTAP results and diagnostics, not nested output
	tail -n +1 -s 1 -f --pid=$qpid "$out/stream.txt" 2>/dev/null |
		awk '/^@@cowlab-file/ {f=1} /^@@cowlab-end/ {f=0; next} !f && /^(ok|not ok|# |Bail)/ {print "   " $0; fflush()}' &
	tpid=$!
fi
[ $inter = 1 ] || { wait $qpid; qrc=$?; }
[ $quiet = 0 ] && { sleep 1; kill $tpid 2>/dev/null; wait $tpid 2>/dev/null; }
secs=$(($(date +%s) - start))

"$top/scripts/stream-split.sh" "$out/stream.txt" "$out"

"$top/scripts/splat-scan.sh" "$out/console.log" "$out/dmesg.txt" >"$out/splats.txt"
nsplat=$(grep -c . "$out/splats.txt")
verdict=$(cat "$out/verdict" 2>/dev/null || echo none)
nok=$(grep -c '^ok ' "$out/result.ktap")
nnok=$(grep -c '^not ok ' "$out/result.ktap")

rc=0
if [ "$qrc" = 124 ] || [ "$qrc" = 137 ]; then
	echo "!! watchdog: guest did not finish in ${tmo}s; last console lines:" >&2
	tail -n 15 "$out/console.log" >&2
	rc=3
elif [ "$verdict" = none ]; then
	echo "!! guest ended without a verdict (qemu exit $qrc: panic or crash?); last console lines:" >&2
	tail -n 25 "$out/console.log" >&2
	rc=3
elif [ "$verdict" != pass ] || [ "$qrc" != 1 ]; then
	rc=1
fi
if [ "$nsplat" -gt 0 ]; then
	echo "!! kernel splats ($nsplat lines, $out/splats.txt):" >&2
	head -n 20 "$out/splats.txt" >&2
	[ $rc = 0 ] && rc=1
fi
echo ">> guest: plan=$plan verdict=$verdict ok=$nok not_ok=$nnok splats=$nsplat in ${secs}s (qemu exit $qrc)"
echo "$rc" >"$out/status"
# what made this directory, for the report: the command, the accelerator
# actually used (kvm falls back to tcg), the kernel that booted, the time
jstr() { printf '%s' "$1" | sed 's/\\/\\\\/g; s/"/\\"/g'; }
printf '{"command": "scripts/run-guest.sh %s", "plan": "%s", "accel": "%s", "cpu": "%s", "smp": %s, "mem_mb": %s, "hugepages": "%s", "settings": "%s", "kernel": "%s", "secs": %s, "status": %s}\n' \
	"$(jstr "${argv//"$top"\//}")" "$plan" "$accel" "$(jstr "$cpu")" "$smp" "$mem" "$hp" "$(jstr "${sets[*]}")" \
	"$(grep -o 'Linux version [^ ]*' "$out/dmesg.txt" 2>/dev/null | head -n 1 | cut -d' ' -f3)" "$secs" "$rc" >"$out/run.json"
exit $rc
