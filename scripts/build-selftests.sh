#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Build the upstream mm selftests named in guest/selftests.list, statically,
# from the same kernel tree cowlab builds (uapi headers from that tree).
set -euo pipefail

usage() {
	cat <<USAGE
usage: scripts/build-selftests.sh [--tree DIR] [--out DIR] [--help]

  --tree DIR  kernel source (default build/linux)
  --out DIR   output (default build/selftests); binaries land in DIR/mm
Only rebuilds a test whose sources are newer than its binary.
USAGE
}

top=$(cd "$(dirname "$0")/.." && pwd)
tree=$top/build/linux
out=$top/build/selftests
while [ $# -gt 0 ]; do
	case "$1" in
	--tree) tree=$2; shift ;;
	--out) out=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "build-selftests.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
tree=$(cd "$tree" && pwd)
src=$tree/tools/testing/selftests/mm
[ -d "$src" ] || { echo "build-selftests.sh: no $src (make tree)" >&2; exit 1; }
mkdir -p "$out/mm" "$out/inc"
out=$(cd "$out" && pwd)

# uapi headers of this tree (the series may add some), once per tree version
if [ ! -f "$out/usr/.stamp" ] || [ "$tree/.cowlab-applied" -nt "$out/usr/.stamp" ] 2>/dev/null; then
	echo ">> selftests: installing uapi headers from ${tree#"$top"/}"
	make -s -C "$tree" O="$out/hdr-obj" ARCH=x86_64 headers_install \
		INSTALL_HDR_PATH="$out/usr" >/dev/null
	touch "$out/usr/.stamp"
fi
echo '// No liburing support found' >"$out/inc/local_config.h"

cflags=(-static -O2 -Wall -U_FORTIFY_SOURCE -D_GNU_SOURCE -I"$out/inc" -I"$tree"
	-I"$tree/tools/testing/selftests" -isystem "$out/usr/include"
	-isystem "$tree/tools/include/uapi"
	-include "$tree/tools/testing/selftests/kselftest.h")
built=0
failed=()
for t in $(grep -v '^\s*\(#\|@\|$\)' "$top/guest/selftests.list" | awk '{print $3}' | sort -u); do
	# relative names: some tests create files named after __FILE__ in the cwd
	srcs=("$t.c" vm_util.c thp_settings.c)
	case $t in uffd-*) srcs+=(uffd-common.c) ;; esac
	bin=$out/mm/$t
	fresh=1
	for s in "${srcs[@]/#/$src/}" "$out/usr/.stamp"; do [ "$s" -nt "$bin" ] && fresh=0; done
	[ -x "$bin" ] && [ $fresh = 1 ] && continue
	if (cd "$src" && gcc "${cflags[@]}" "${srcs[@]}" -lrt -lpthread -lm -o "$bin") \
		>"$out/$t.log" 2>&1; then
		built=$((built + 1))
	else
		failed+=("$t")
		grep -m3 error "$out/$t.log" >&2 || true
	fi
done
[ ${#failed[@]} -eq 0 ] || { echo "build-selftests.sh: failed to build: ${failed[*]} (logs in $out)" >&2; exit 1; }
echo ">> selftests: $built built, $(ls "$out/mm" | wc -l) in ${out#"$top"/}/mm"
