#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Out-of-tree (O=) kernel build of one cowlab config from one source tree.
set -euo pipefail

usage() {
	cat <<USAGE
usage: scripts/build-kernel.sh [--config base|debug|native] [--tree DIR] [--out DIR]
                              [--target T] [--config-only] [--help]

Builds bzImage: tinyconfig + configs/base.config (+ configs/debug.config for
--config debug, + configs/native.config for --config native, the real
machines' kernel of make deb; + configs/cowlab.config when the tree has the
series; a later fragment's value wins), with
ccache when it is installed. Progress is printed every 30 s; the full log is OUT/build.log and a failure prints its first errors.
  --config NAME  base (default), debug or native
  --tree DIR     kernel source (default build/linux)
  --out DIR      object dir (default build/obj-NAME)
  --config-only  stop after writing and checking OUT/.config
  --target T     the kbuild target (default bzImage; bindeb-pkg for make deb,
                 which leaves the packages in OUT/..)
Environment: JOBS (default nproc), COWLAB_NO_CCACHE=1 to build without ccache,
COWLAB_NO_LOCK=1 not to wait for other kernel builds (they share 2 cores).
USAGE
}

top=$(cd "$(dirname "$0")/.." && pwd)
cfg=base
tree=$top/build/linux
out=
config_only=0
target=bzImage
while [ $# -gt 0 ]; do
	case "$1" in
	--config-only) config_only=1 ;;
	--config) cfg=$2; shift ;;
	--tree) tree=$2; shift ;;
	--out) out=$2; shift ;;
	--target) target=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "build-kernel.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
case "$cfg" in
base) frags=("$top/configs/base.config") ;;
debug) frags=("$top/configs/base.config" "$top/configs/debug.config") ;;
native) frags=("$top/configs/base.config" "$top/configs/native.config") ;;
*) echo "build-kernel.sh: unknown config '$cfg' (base, debug or native)" >&2; exit 2 ;;
esac
out=${out:-$top/build/obj-$cfg}
[ -f "$tree/Makefile" ] || { echo "build-kernel.sh: no kernel tree at $tree (make tree)" >&2; exit 1; }
tree=$(cd "$tree" && pwd)
# A tree with the series applied also gets the cowlab feature symbols.
[ -f "$tree/.cowlab-applied" ] && frags+=("$top/configs/cowlab.config")
mkdir -p "$out"
out=$(cd "$out" && pwd)
jobs=${JOBS:-$(nproc)}
cc=gcc
if [ -z "${COWLAB_NO_CCACHE:-}" ] && command -v ccache >/dev/null; then
	cc="ccache gcc"
	export CCACHE_DIR=${CCACHE_DIR:-$top/build/ccache}
	export CCACHE_BASEDIR=$top/build CCACHE_MAXSIZE=${CCACHE_MAXSIZE:-5G}
	export CCACHE_NOHASHDIR=1 CCACHE_SLOPPINESS=time_macros,include_file_mtime
fi
mk=(make -C "$tree" O="$out" ARCH=x86_64 "CC=$cc" HOSTCC=gcc)
tag="[kernel $cfg]"

# One kernel build at a time on this machine (2 cores): wait for the lock.
mkdir -p "$top/build"
if [ -z "${COWLAB_NO_LOCK:-}" ]; then
	exec 9>"$top/build/.kbuild.lock"
	flock -n 9 || { echo "$tag waiting for another kernel build to finish"; flock 9; }
fi

# (Re)configure when a fragment changed or the tree was re-extracted.
want=$(cat "${frags[@]}" "$tree/.cowlab-version" | sha1sum | cut -d' ' -f1)
if [ "$(cat "$out/.cowlab-config" 2>/dev/null)" != "$want" ]; then
	echo "$tag configuring: tinyconfig + ${frags[*]##*/}"
	"${mk[@]}" -s tinyconfig >/dev/null
	KCONFIG_CONFIG="$out/.config" "$tree/scripts/kconfig/merge_config.sh" -m -O "$out" \
		"$out/.config" "${frags[@]}" >"$out/merge.log" 2>&1
	"${mk[@]}" -s olddefconfig >/dev/null
	# Every option a fragment asks for must have survived olddefconfig
	# (an option set twice: the later fragment's value).
	bad=0
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=n) opt=${line%%=*}; grep -q "^$opt=" "$out/.config" && { echo "$tag $opt: asked n, got $(grep "^$opt=" "$out/.config")" >&2; bad=1; } ;;
		CONFIG_*) grep -qx "$line" "$out/.config" || { echo "$tag $line not set (dependency missing?)" >&2; bad=1; } ;;
		esac
	done < <(cat "${frags[@]}" | grep '^CONFIG_' | tac | awk -F= '!seen[$1]++' | tac)
	[ $bad = 0 ] || { echo "$tag config fragment not honoured; see $out/merge.log" >&2; exit 1; }
	echo "$want" >"$out/.cowlab-config"
fi
[ $config_only = 1 ] && { echo "$tag config ok: $out/.config"; exit 0; }

echo "$tag building $target with -j$jobs ($cc) in ${out#"$top"/}"
start=$(date +%s)
# progress counts the objects newer than a stamp made at the start (make -s
# from a parent make silences kbuild's CC lines, so the log cannot be
# counted; nor can its time, which moves whenever kbuild does print)
: >"$out/.build-start"
"${mk[@]}" -j"$jobs" "$target" >"$out/build.log" 2>&1 &
pid=$!
while kill -0 $pid 2>/dev/null; do
	for _ in $(seq 30); do kill -0 $pid 2>/dev/null && sleep 1; done
	kill -0 $pid 2>/dev/null &&
		echo "$tag $(find "$out" -name '*.o' -newer "$out/.build-start" | wc -l) objects built, $(($(date +%s) - start))s"
done
if ! wait $pid; then
	echo "$tag FAILED after $(($(date +%s) - start))s; first errors (full log: $out/build.log):" >&2
	grep -m 20 -E 'error:|Error [0-9]|undefined reference' "$out/build.log" >&2 || tail -n 30 "$out/build.log" >&2
	exit 1
fi
cp "$out/arch/x86/boot/bzImage" "$out/bzImage"
echo "$tag done in $(($(date +%s) - start))s: ${out#"$top"/}/bzImage$([ "$target" = bzImage ] || echo " and $target") ($(make -s -C "$tree" kernelversion))"
