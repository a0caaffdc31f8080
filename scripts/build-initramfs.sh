#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Pack the guest: busybox-static, guest/init + plans + features, cowlab-exit,
# the cowlab binaries that have been built, and the static mm selftests.
set -euo pipefail

usage() {
	cat <<USAGE
usage: scripts/build-initramfs.sh [--selftests DIR] [--bin FILE]... [--out FILE] [--help]

  --selftests DIR  static mm selftests (default build/selftests/mm)
  --bin FILE       extra static binary for /bin (repeatable); a directory adds
                   every executable in it
  --out FILE       output (default build/initramfs.cpio.gz)
USAGE
}

top=$(cd "$(dirname "$0")/.." && pwd)
st=$top/build/selftests/mm
out=$top/build/initramfs.cpio.gz
bins=()
while [ $# -gt 0 ]; do
	case "$1" in
	--selftests) st=$2; shift ;;
	--bin) bins+=("$2"); shift ;;
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
trap 'rm -rf "$root"' EXIT
mkdir -p "$root"/{bin,sbin,proc,sys,dev,tmp,run,etc,plans,selftests/mm,lib/cowlab/features}
cp "$bb" "$root/bin/busybox"
ln -s busybox "$root/bin/sh"
install -m 755 "$top/guest/init" "$root/init"
cp "$top/guest/lib.sh" "$top/guest/selftests.list" "$root/lib/cowlab/"
cp "$top"/guest/features/*.conf "$root/lib/cowlab/features/"
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
echo "root:x:0:0:root:/:/bin/sh" >"$root/etc/passwd"
echo "nobody:x:65534:65534:nobody:/:/bin/false" >>"$root/etc/passwd"
echo "root:x:0:" >"$root/etc/group"
mkdir -p "$(dirname "$out")"
(cd "$root" && find . | LC_ALL=C sort | cpio -o -H newc --quiet -R 0:0) | gzip -1 >"$out.tmp"
mv "$out.tmp" "$out"
echo ">> initramfs: ${out#"$top"/} ($(du -h "$out" | cut -f1), $(ls "$root/selftests/mm" | wc -l) selftests, bin: $(ls "$root/bin" | grep -v -e busybox -e '^sh$' | tr '\n' ' '))"
