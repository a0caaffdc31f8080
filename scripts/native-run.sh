#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
# Run one guest plan on the running kernel, no QEMU (study.sh --native).
# POSIX sh: it also runs inside the guest (busybox), where make test checks it.

usage() {
	cat <<USAGE
usage: scripts/native-run.sh --plan NAME --out DIR [--set KEY=VALUE]...
                             [--initrd FILE | --root DIR] [--hugepages "N2M N1G"]
                             [--timeout SECS] [--help]

Runs guest plan NAME (guest/plans/NAME.sh) on the running kernel instead of
in QEMU: as root, on a cowlab kernel (it refuses a kernel without
/proc/sys/vm/cow_precopy_max, and refuses without root). The initramfs
(default build/initramfs.cpio.gz: make initramfs) is unpacked into a
temporary root; /proc, /sys, /dev, debugfs, tracefs, hugetlbfs and tmpfs
are mounted in it, and the plan runs there in a chroot with cowlab.KEY=VALUE
as \$COWLAB_KEY, its KTAP stream in DIR/stream.txt. --root DIR runs in an
unpacked root that already has them mounted (/ inside the guest).
Every vm.cow_* sysctl, the huge page pools, the THP settings and
tracing_on are saved first and put back at the end (an error, Ctrl-C,
SIGTERM and SIGHUP too; a pool that cannot be given back is warned about).
--hugepages: the pools the plan wants (run-guest.sh reserves them at boot;
default "128 2"). run-guest.sh's options for the virtual machine (--kernel,
--mem, --smp, --accel, --cpu, --append, --quiet) are taken and ignored,
so that study.sh passes the same arguments. The plan runs in its own mount,
network and PID namespaces (unshare): its mounts, its servers and its
processes stay its own. The huge page pools are raised, never shrunk; THP
and tracing settings are put back too.
Outputs in DIR: stream.txt; with bash, as on the host: result.ktap, the files
the plan sent, verdict (scripts/stream-split.sh).
Exit status: 0 pass, 1 the plan reported failures, 2 usage or refused,
3 no verdict (the plan died or ran past --timeout).
USAGE
}

top=$(cd "$(dirname "$0")/.." && pwd)
plan='' out='' initrd=$top/build/initramfs.cpio.gz root='' tmo=3600 hp="128 2" sets=
while [ $# -gt 0 ]; do
	case "$1" in
	--plan) plan=$2; shift ;;
	--out) out=$2; shift ;;
	--set) case "$2" in *=*) ;; *) echo "native-run.sh: --set takes KEY=VALUE" >&2; exit 2 ;; esac
		sets="$sets $2"; shift ;;
	--initrd) initrd=$2; shift ;;
	--root) root=$2; shift ;;
	--hugepages) hp=$2; shift ;;
	--timeout) tmo=$2; shift ;;
	--kernel | --mem | --smp | --accel | --cpu | --append) shift ;;
	--quiet) ;;
	-h | --help) usage; exit 0 ;;
	*) echo "native-run.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
if [ -z "$plan" ] || [ -z "$out" ]; then
	echo "native-run.sh: --plan and --out are needed" >&2
	usage >&2
	exit 2
fi
case "$tmo" in '' | *[!0-9]*) echo "native-run.sh: --timeout takes seconds" >&2; exit 2 ;; esac
# shellcheck disable=SC2086
set -- $hp
hp2=${1:-0} hp1g=${2:-0}
case "$hp2$hp1g" in *[!0-9]*) echo "native-run.sh: --hugepages takes \"N2M N1G\"" >&2; exit 2 ;; esac
[ "$(id -u)" = 0 ] || { echo "native-run.sh: must run as root (it sets vm sysctls and mounts)" >&2; exit 2; }
# COWLAB_NATIVE_ANY_KERNEL=1: skip this check (to try the runner itself on
# another kernel; the plans' cowlab knobs are then missing)
[ -e /proc/sys/vm/cow_precopy_max ] || [ "${COWLAB_NATIVE_ANY_KERNEL:-0}" = 1 ] ||
	{ echo "native-run.sh: the running kernel ($(uname -r)) is not a cowlab kernel (no vm.cow_precopy_max): make deb, install, boot it" >&2; exit 2; }
if [ -z "$root" ]; then
	[ -f "$initrd" ] || { echo "native-run.sh: no initramfs $initrd (make initramfs)" >&2; exit 2; }
fi
mkdir -p "$out" || exit 2
out=$(cd "$out" && pwd)
rm -f "$out/stream.txt" "$out/result.ktap" "$out/verdict"

# what the plan may change, to put back: every vm.cow_* knob, the huge page
# pools, the THP settings (global and per size), tracing
hpdir=/sys/kernel/mm/hugepages
thp=/sys/kernel/mm/transparent_hugepage
saved=$(for f in /proc/sys/vm/cow_* "$hpdir"/hugepages-*/nr_hugepages $thp/enabled $thp/defrag \
	"$thp"/hugepages-*/enabled /sys/kernel/tracing/tracing_on; do
	[ -w "$f" ] || continue
	v=$(cat "$f")
	case "$f" in
	$thp/*) v=$(echo "$v" | sed -n 's/.*\[\(.*\)\].*/\1/p') ;; # "always [madvise] never"
	esac
	echo "$f=$v"
done)
tmp=''
pid=''
# shellcheck disable=SC2317
cleanup() {
	# the plan's processes, daemons too, end with its PID namespace: KILL,
	# since unshare waits out TERM and INT; --kill-child passes it on
	[ -n "$pid" ] && kill -KILL "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
	echo "$saved" | while IFS='=' read -r f v; do
		[ -n "$f" ] || continue
		echo "$v" >"$f" 2>/dev/null
		# a pool shrunk and raised again can come back smaller (fragmentation)
		case "$f" in
		*/nr_hugepages) [ "$(cat "$f")" = "$v" ] ||
			echo "native-run.sh: WARNING: $f is $(cat "$f"), was $v: memory too fragmented to give it back" >&2 ;;
		esac
	done
	[ -n "$tmp" ] || return
	# the mounts lived in the plan's own mount namespace, gone with it;
	# never rm -rf through one left behind all the same
	if grep -q " $tmp/" /proc/mounts; then
		echo "native-run.sh: mounts remain under $tmp (see /proc/mounts): not removing it" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM
trap 'exit 129' HUP

case "$initrd" in /*) ;; *) initrd=$(pwd)/$initrd ;; esac
# mount, network and PID namespaces (CONFIG_NAMESPACES, NET_NS, PID_NS:
# configs/native.config has them); without them only --root runs, in the
# machine's own (the guest of make test, whose base config has none)
ns="-m -n -p -f --propagation private"
# shellcheck disable=SC2086
if ! unshare $ns true 2>/dev/null; then
	if [ -z "$root" ]; then
		echo "native-run.sh: this kernel has no mount/network/PID namespaces (unshare $ns fails): the plan cannot be kept from the machine's own mounts, servers and processes" >&2
		exit 2
	fi
	echo ">> native: no namespaces here: the plan runs in this system's own (--root $root)" >&2
	ns=''
fi
fresh=0
if [ -z "$root" ]; then
	tmp=$(mktemp -d /tmp/cowlab-native.XXXXXX) || exit 2
	root=$tmp/root
	mkdir -p "$root"
	echo ">> native: unpacking $initrd into $root"
	(cd "$root" && gzip -dc "$initrd" | cpio -idm --quiet) || { echo "native-run.sh: cannot unpack $initrd" >&2; exit 2; }
	fresh=1
fi
# the pools the plan wants: raised, never shrunk (a machine's pool shrunk
# may not come back)
for p in "2048kB $hp2" "1048576kB $hp1g"; do
	# shellcheck disable=SC2086
	set -- $p
	f=$hpdir/hugepages-$1/nr_hugepages
	[ -w "$f" ] && [ "$2" -gt "$(cat "$f")" ] && echo "$2" >"$f" 2>/dev/null
done

env=
set -f
for kv in $sets; do
	k=$(echo "${kv%%=*}" | tr 'a-z.-' 'A-Z__')
	env="$env COWLAB_$k=${kv#*=}"
done
set +f
echo ">> native: plan=$plan kernel=$(uname -r) root=$root out=$out"
start=$(date +%s)
# The plan as /init runs it, fd 3 (the stream) on DIR/stream.txt, in its
# own mount, network and PID namespaces: its mounts never touch the
# machine's, its servers (Redis on 127.0.0.1:6379) never meet the machine's,
# and every process it leaves ends with it (after --timeout too). In the
# background, so that a signal reaches the trap at once.
# util-linux's --kill-child: when unshare ends (the timeout, a signal), the
# namespace's first process and with it every process of the plan end too
kc=''
[ -n "$ns" ] && unshare --help 2>&1 | grep -q -- --kill-child && kc=--kill-child
set -f
# shellcheck disable=SC2086,SC2016
env COWLAB_NATIVE=1 COWLAB_RESULTS=/tmp/results-native COWLAB_PLAN="$plan" $env \
	${ns:+unshare $ns $kc} /bin/sh -c '
	root=$1
	if [ "$2" = 1 ]; then
		for d in proc sys dev tmp run dev/hugepages mnt/huge; do mkdir -p "$root/$d"; done
		mount -t proc proc "$root/proc" && mount --rbind /sys "$root/sys" && mount --rbind /dev "$root/dev" &&
			mount -t tmpfs tmpfs "$root/tmp" && mount -t tmpfs tmpfs "$root/run" &&
			mount -t hugetlbfs none "$root/dev/hugepages" && mount -t hugetlbfs none "$root/mnt/huge" ||
			{ echo "native-run.sh: mounts failed" >&2; exit 2; }
	elif [ "$4" = ns ]; then
		mount -t proc proc /proc
	fi
	chroot "$root" ip link set lo up 2>/dev/null
	# the timeout inside: this shell (the namespace'"'"'s first process) outlives
	# the plan, and when it returns every process the plan left ends with it
	timeout "$3" chroot "$root" /bin/sh -c "
		export PATH=/bin:/sbin:/usr/bin:/usr/sbin
		. /lib/cowlab/lib.sh
		ktap_open
		if [ -f \"/plans/\$COWLAB_PLAN.sh\" ]; then . \"/plans/\$COWLAB_PLAN.sh\"
		else ktap_bail \"no plan \$COWLAB_PLAN in this initramfs\"; fi
		ktap_close"' native-run "$root" "$fresh" "$tmo" "${ns:+ns}" 3>"$out/stream.txt" &
set +f
pid=$!
wait "$pid"
rc=$?
pid=''
secs=$(($(date +%s) - start))
if command -v bash >/dev/null && [ -x "$top/scripts/stream-split.sh" ]; then
	"$top/scripts/stream-split.sh" "$out/stream.txt" "$out"
fi
verdict=$(sed -n 's/^@@cowlab-verdict //p' "$out/stream.txt" | tr -d '\r' | tail -n 1)
nok=$(grep -c '^ok ' "$out/stream.txt")
nnok=$(grep -c '^not ok ' "$out/stream.txt")
# GNU timeout's 124 (137 after its kill), busybox timeout's 143 (its TERM):
# the plan ran past --timeout, whatever it printed
case "$rc" in 124 | 137 | 143) verdict=timeout ;; esac
echo ">> native: plan=$plan verdict=${verdict:-none} ok=$nok not_ok=$nnok in ${secs}s (exit $rc)"
case "$verdict" in
pass) exit 0 ;;
fail) exit 1 ;;
*) exit 3 ;;
esac
