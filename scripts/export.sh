#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Write the whole cowlab change (quilt hooks + the new files from mm-changes/)
# as a git format-patch style series, for review or upstream submission.
# patches/new-files says which patch adds which new file: "PATCH FILE...".
set -euo pipefail

usage() {
	cat <<USAGE
usage: scripts/export.sh [--out DIR] [--help]

Writes DIR/NNNN-<subject>.patch (default build/export), one per patch in
patches/series, each with the mm-changes files that patch adds appended as
new-file diffs, then checks that the series applies to a clean vanilla tree
with 'git apply --check' semantics (patch -p1 --dry-run).
USAGE
}
top=$(cd "$(dirname "$0")/.." && pwd)
out=$top/build/export
while [ $# -gt 0 ]; do
	case "$1" in
	--out) out=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "export.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
map=$top/patches/new-files
mapfile -t series < <(grep -v '^\s*\(#\|$\)' "$top/patches/series" | awk '{print $1}')
[ ${#series[@]} -gt 0 ] || { echo "export.sh: patches/series is empty" >&2; exit 1; }

# Every mm-changes file must belong to exactly one patch.
while read -r f; do
	c=$(awk -v f="$f" '{for (i = 2; i <= NF; i++) if ($i == f) n++} END {print n + 0}' "$map" 2>/dev/null || echo 0)
	[ "$c" = 1 ] || { echo "export.sh: mm-changes/$f is listed $c times in patches/new-files (need 1)" >&2; exit 1; }
done < <(cd "$top/mm-changes" && find . -type f ! -name README.md | sed 's|^\./||' | sort)

rm -rf "$out"
mkdir -p "$out"
total=${#series[@]}
i=0
for p in "${series[@]}"; do
	i=$((i + 1))
	src=$top/patches/$p
	subj=$(sed -n 's/^Subject: *\(\[PATCH[^]]*\] *\)\?//p' "$src" | head -n 1)
	[ -n "$subj" ] || { echo "export.sh: $p has no Subject: line" >&2; exit 1; }
	name=$(printf '%04d-%s.patch' "$i" "$(echo "$subj" | tr -c 'A-Za-z0-9\n' '-' | sed 's/--*/-/g; s/^-//; s/-$//' | cut -c1-52)")
	{
		echo "From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001"
		sed -n '/^From: /p' "$src" | head -n 1
		echo "Date: $(date -R -r "$src")"
		echo "Subject: [PATCH $i/$total] $subj"
		echo
		# body: after the header lines, up to the '---' separator
		awk 'NR == 1, /^Subject:/ {next} /^---$/ || /^diff --git / || /^Index: / {exit} {print}' "$src" | sed '1{/^$/d}'
		echo "---"
		echo
		# the diff: from the first file header on; quilt omits "diff --git"
		# lines, so add one before every "--- a/PATH" that lacks it
		awk '/^(diff --git |--- a\/|--- \/dev\/null)/ {p = 1}
			!p {next}
			/^--- a\// && prev !~ /^(diff --git|index|new file|deleted file)/ {
				f = substr($2, 3); sub(/\t.*/, "", f); print "diff --git a/" f " b/" f }
			{print; prev = $0}' "$src"
		for f in $(awk -v p="$p" '$1 == p {for (i = 2; i <= NF; i++) print $i}' "$map"); do
			echo "diff --git a/$f b/$f"
			echo "new file mode 100644"
			echo "--- /dev/null"
			echo "+++ b/$f"
			n=$(wc -l <"$top/mm-changes/$f")
			echo "@@ -0,0 +1,$n @@"
			sed 's/^/+/' "$top/mm-changes/$f"
		done
		echo "-- "
		echo "cowlab"
	} >"$out/$name"
done

# The exported series must apply, in order, to a vanilla tree.
"$top/scripts/tree.sh" --vanilla >/dev/null
chk=$(mktemp -d)
trap 'rm -rf "$chk"' EXIT
cp -a "$top/build/linux-vanilla/." "$chk/" 2>/dev/null
for f in "$out"/*.patch; do
	patch -d "$chk" -p1 -s --fuzz=0 <"$f" >/dev/null || { echo "export.sh: $(basename "$f") does not apply" >&2; exit 1; }
done
echo ">> export: ${#series[@]} patches in ${out#"$top"/}, applied cleanly to a vanilla tree"
ls "$out"
