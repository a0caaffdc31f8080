#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# checkpatch.pl --strict on every patch of the series and every mm-changes
# file, with the kernel tree's own script. Exit 1 on any error, warning or check.
set -uo pipefail
[ "${1:-}" = --help ] && { echo "usage: scripts/checkpatch.sh   (run after make tree)"; exit 0; }
top=$(cd "$(dirname "$0")/.." && pwd)
cp=$top/build/linux/scripts/checkpatch.pl
[ -x "$cp" ] || { echo "checkpatch.sh: $cp missing (make tree)" >&2; exit 2; }
bad=0
for p in $(grep -v '^\s*\(#\|$\)' "$top/patches/series" | awk '{print $1}'); do
	if ! r=$("$cp" --strict --no-tree --no-signoff -q "$top/patches/$p" 2>&1); then
		echo "$r"; bad=1
	fi
	echo "checkpatch: patches/$p: $( [ -z "$r" ] && echo clean || echo issues)"
done
while read -r f; do
	if ! r=$("$cp" --strict --no-tree -q -f "$top/mm-changes/$f" 2>&1); then
		echo "$r"; bad=1
	fi
	echo "checkpatch: mm-changes/$f: $( [ -z "$r" ] && echo clean || echo issues)"
done < <(cd "$top/mm-changes" && find . -type f \( -name '*.c' -o -name '*.h' \) | sed 's|^\./||' | sort)
exit $bad
