#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Pack the guest: busybox-static, guest/init + plans + features, cowlab-exit,
# the cowlab binaries that have been built, the static mm selftests, and
# (--dyn) dynamically linked programs with the libraries they load.
set -euo pipefail

usage() {
	cat <<USAGE
usage: scripts/build-initramfs.sh [--selftests DIR] [--bin FILE]... [--dyn PROG]... [--out FILE] [--help]

  --selftests DIR  static mm selftests (default build/selftests/mm)
  --bin FILE       extra static binary for /bin (repeatable); a directory adds
                   every executable in it
  --dyn PROG       a dynamically linked program (a path, or a name on PATH)
                   for /bin, with every library ldd lists, at the same paths
                   (repeatable); e.g. --dyn trinity --dyn stress-ng
  --out FILE       output (default build/initramfs.cpio.gz)
USAGE
}

top=$(cd "$(dirname "$0")/.." && pwd)
st=$top/build/selftests/mm
out=$top/build/initramfs.cpio.gz
bins=() dyns=()
while [ $# -gt 0 ]; do
	case "$1" in
	--selftests) st=$2; shift ;;
	--bin) bins+=("$2"); shift ;;
	--dyn) dyns+=("$2"); shift ;;
	--out) out=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "build-initramfs.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
bb=$(command -v busybox || true)
[ -n "$bb" ] && file -L "$bb" | grep -q 'statically linked' ||
	{ echo "build-initramfs.sh: static busybox not found (scripts/deps.sh: busybox-static)" >&2; exit 1; }

root=$(mktemp -d "$top/build/initramfs.XXXXXX")
# mktemp made it 0700: the guest's / must be searchable by unprivileged users
chmod 755 "$root"
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,run,etc,plans,selftests/mm,lib/cowlab/features}
cp "$bb" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
install -m 755 "$top/guest/init" "$root/init"
# study.sh --native's runner: make test runs it inside the guest (plan native)
install -m 755 "$top/scripts/native-run.sh" "$root/bin/native-run.sh"
cp "$top/guest/lib.sh" "$top/guest/selftests.list" "$root/lib/cowlab/"
cp "$top"/guest/features/*.conf "$root/lib/cowlab/features/"
# "off": every manifest's off values, generated (scripts/features.py)
/usr/bin/python3 "$top/scripts/features.py" off-conf >"$root/lib/cowlab/features/off.conf"
cp "$top"/guest/plans/*.sh "$root/plans/"
gcc -static -O2 -Wall -Wextra -o "$root/bin/cowlab-exit" "$top/guest/cowlab-exit.c"
if [ -d "$st" ]; then cp "$st"/* "$root/selftests/mm/"; else echo ">> initramfs: no selftests at $st"; fi
for b in "${bins[@]}"; do
	if [ -d "$b" ]; then
		find "$b" -maxdepth 1 -type f -perm -u+x -exec cp {} "$root/bin/" \;
	elif [ -x "$b" ]; then
		cp "$b" "$root/bin/"
	else
		echo "build-initramfs.sh: --bin $b: not an executable" >&2; exit 1
	fi
done
for d in "${dyns[@]}"; do
	p=$(command -v "$d" || true)
	[ -n "$p" ] && [ -x "$p" ] || { echo "build-initramfs.sh: --dyn $d: no such program (scripts/deps.sh installs trinity and stress-ng)" >&2; exit 1; }
	cp "$p" "$root/bin/"
	# "lib => /path (addr)" and the loader's own "/path (addr)" lines
	libs=$(ldd "$p" | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }') ||
		{ echo "build-initramfs.sh: --dyn $d: ldd failed" >&2; exit 1; }
	for l in $libs; do
		mkdir -p "$root$(dirname "$l")"
		cp -L "$l" "$root$l"
	done
done
echo "root:x:0:0:root:/:/bin/sh" >"$root/etc/passwd"
echo "nobody:x:65534:65534:nobody:/:/bin/false" >>"$root/etc/passwd"
echo "root:x:0:" >"$root/etc/group"
mkdir -p "$(dirname "$out")"
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"
echo ">> initramfs: ${out#"$top"/} ($(du -h "$out" | cut -f1), $(ls "$root/selftests/mm" | wc -l) selftests, bin: $(ls "$root/bin" | grep -v -e busybox -e '^sh$' | tr '\n' ' '))"
