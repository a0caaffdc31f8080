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
Every vm.cow_* sysctl and the 2 MiB and 1 GiB huge page pools are saved
first and put back at the end (an error, Ctrl-C and SIGTERM too).
--hugepages: the pools the plan wants (run-guest.sh reserves them at boot;
default "128 2"). run-guest.sh's options for the virtual machine (--kernel,
--mem, --smp, --accel, --cpu, --append, --quiet) are taken and ignored,
so that study.sh passes the same arguments.
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

# what the plan may change, to put back
hpdir=/sys/kernel/mm/hugepages
saved=$(for f in /proc/sys/vm/cow_* $hpdir/hugepages-2048kB/nr_hugepages $hpdir/hugepages-1048576kB/nr_hugepages; do
	[ -w "$f" ] && echo "$f=$(cat "$f")"
done)
mounted=''
tmp=''
# shellcheck disable=SC2317
cleanup() {
	for m in $mounted; do umount -l "$m" 2>/dev/null; done
	echo "$saved" | while IFS='=' read -r f v; do [ -n "$f" ] && echo "$v" >"$f" 2>/dev/null; done
	[ -n "$tmp" ] || return
	# never rm -rf through a mount left behind: the root's /dev and /sys are
	# the machine's own
	if grep -q " $tmp/" /proc/mounts; then
		echo "native-run.sh: mounts remain under $tmp (see /proc/mounts): not removing it" >&2
	else
		rm -rf "$tmp"
	fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

if [ -z "$root" ]; then
	tmp=$(mktemp -d /tmp/cowlab-native.XXXXXX) || exit 2
	root=$tmp/root
	mkdir -p "$root"
	echo ">> native: unpacking $initrd into $root"
	(cd "$root" && gzip -dc "$initrd" | cpio -idm --quiet) || { echo "native-run.sh: cannot unpack $initrd" >&2; exit 2; }
	mnt() { # TYPE-or-bind SOURCE DIR
		mkdir -p "$root$3"
		if [ "$1" = bind ]; then
			# rslave: unmounting the copy never reaches the machine's own mounts
			mount --rbind "$2" "$root$3" && { mount --make-rslave "$root$3" 2>/dev/null || true; }
		else
			mount -t "$1" "$2" "$root$3"
		fi && mounted="$root$3 $mounted"
	}
	mnt proc proc /proc
	mnt bind /sys /sys
	mnt bind /dev /dev
	mnt tmpfs tmpfs /tmp
	mnt tmpfs tmpfs /run
	mnt hugetlbfs none /dev/hugepages
	mnt hugetlbfs none /mnt/huge
fi
echo "$hp2" >$hpdir/hugepages-2048kB/nr_hugepages 2>/dev/null
[ -w $hpdir/hugepages-1048576kB/nr_hugepages ] && echo "$hp1g" >$hpdir/hugepages-1048576kB/nr_hugepages 2>/dev/null

env=
for kv in $sets; do
	k=$(echo "${kv%%=*}" | tr 'a-z.-' 'A-Z__')
	env="$env COWLAB_$k=${kv#*=}"
done
echo ">> native: plan=$plan kernel=$(uname -r) root=$root out=$out"
start=$(date +%s)
# the plan as /init runs it, fd 3 (the stream) on DIR/stream.txt
# shellcheck disable=SC2086,SC2016
timeout "$tmo" env COWLAB_NATIVE=1 COWLAB_RESULTS=/tmp/results-native COWLAB_PLAN="$plan" $env chroot "$root" /bin/sh -c '
	export PATH=/bin:/sbin:/usr/bin:/usr/sbin
	. /lib/cowlab/lib.sh
	ktap_open
	if [ -f "/plans/$COWLAB_PLAN.sh" ]; then . "/plans/$COWLAB_PLAN.sh"
	else ktap_bail "no plan $COWLAB_PLAN in this initramfs"; fi
	ktap_close' 3>"$out/stream.txt"
rc=$?
secs=$(($(date +%s) - start))
if command -v bash >/dev/null && [ -x "$top/scripts/stream-split.sh" ]; then
	"$top/scripts/stream-split.sh" "$out/stream.txt" "$out"
fi
verdict=$(sed -n 's/^@@cowlab-verdict //p' "$out/stream.txt" | tr -d '\r' | tail -n 1)
nok=$(grep -c '^ok ' "$out/stream.txt")
nnok=$(grep -c '^not ok ' "$out/stream.txt")
echo ">> native: plan=$plan verdict=${verdict:-none} ok=$nok not_ok=$nnok in ${secs}s (exit $rc)"
case "$verdict" in
pass) exit 0 ;;
fail) exit 1 ;;
*) exit 3 ;;
esac
