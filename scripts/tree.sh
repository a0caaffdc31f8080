#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Prepare a kernel source tree: extract Debian's linux-source-6.12 tarball,
# copy mm-changes/ into it and apply the quilt series with no fuzz.
set -euo pipefail

usage() {
	cat <<USAGE
usage: scripts/tree.sh [--vanilla] [--dir DIR] [--help]

Extracts /usr/src/linux-source-6.12.tar.xz into DIR (default build/linux),
copies mm-changes/ over it and runs 'quilt push -a' with --fuzz=0.
Re-running it only re-applies the series when patches/ or mm-changes/ changed.
  --vanilla   extract only (default DIR build/linux-vanilla), no cowlab changes
  --dir DIR   where the tree lives
Environment: COWLAB_TARBALL overrides the tarball path.
USAGE
}

top=$(cd "$(dirname "$0")/.." && pwd)
tarball=${COWLAB_TARBALL:-/usr/src/linux-source-6.12.tar.xz}
vanilla=0
dir=
while [ $# -gt 0 ]; do
	case "$1" in
	--vanilla) vanilla=1 ;;
	--dir) dir=$2; shift ;;
	-h | --help) usage; exit 0 ;;
	*) echo "tree.sh: unknown argument '$1'" >&2; usage >&2; exit 2 ;;
	esac
	shift
done
if [ -z "$dir" ]; then
	if [ $vanilla = 1 ]; then dir=$top/build/linux-vanilla; else dir=$top/build/linux; fi
fi

if [ ! -r "$tarball" ]; then
	echo "tree.sh: $tarball not found; run scripts/deps.sh (package linux-source-6.12)" >&2
	exit 1
fi

if [ ! -f "$dir/.cowlab-extracted" ]; then
	echo ">> extracting $(basename "$tarball") into ${dir#"$top"/}"
	rm -rf "$dir" "$dir.tmp"
	mkdir -p "$dir.tmp"
	tar -C "$dir.tmp" --strip-components=1 -xJf "$tarball"
	ver=$(make -s -C "$dir.tmp" kernelversion)
	echo "$ver" >"$dir.tmp/.cowlab-version"
	touch "$dir.tmp/.cowlab-extracted"
	mv "$dir.tmp" "$dir"
fi
ver=$(cat "$dir/.cowlab-version")
[ $vanilla = 1 ] && { echo ">> vanilla tree ${dir#"$top"/}: Linux $ver"; exit 0; }

# Hash of everything cowlab puts into the tree: re-apply only on change.
want=$(cd "$top" && find patches mm-changes -type f -print0 | sort -z |
	xargs -0 sha1sum | sha1sum | cut -d' ' -f1)
have=$(cat "$dir/.cowlab-applied" 2>/dev/null || true)
[ "$want" = "$have" ] && exit 0

cd "$dir"
ln -sfn "$top/patches" patches
export QUILT_PATCHES=patches QUILT_PC=.pc
# Files the applied series touches, with mtime and content: after the new
# push, a file whose content came back the same gets its old mtime back, so
# that kbuild recompiles what changed and not every user of mm.h.
stamps=$(mktemp)
trap 'rm -f "$stamps"' EXIT
if [ -d .pc ] && quilt applied >/dev/null 2>&1; then
	for p in $(quilt applied); do quilt files "$p"; done | sort -u | while read -r f; do
		[ -f "$f" ] && printf '%s %s %s\n' "$(stat -c %.9Y "$f")" "$(sha1sum <"$f" | cut -c1-40)" "$f"
	done >"$stamps"
	echo ">> quilt pop -a (series or mm-changes changed)"
	quilt pop -a -q >/dev/null
fi
# Remove the new files a previous run added that mm-changes no longer has.
if [ -f .cowlab-manifest ]; then
	while read -r f; do
		[ -e "$top/mm-changes/$f" ] || rm -f "$f"
	done <.cowlab-manifest
fi
(cd "$top/mm-changes" && find . -type f ! -name README.md | sed 's|^\./||' | sort) >.cowlab-manifest
while read -r f; do
	mkdir -p "$(dirname "$f")"
	# cmp first so an unchanged file keeps its mtime (no needless rebuild)
	cmp -s "$top/mm-changes/$f" "$f" 2>/dev/null || cp "$top/mm-changes/$f" "$f"
done <.cowlab-manifest
echo ">> $(wc -l <.cowlab-manifest) mm-changes files copied"

if [ -s patches/series ] && grep -qv '^\s*\(#\|$\)' patches/series; then
	log=$(mktemp)
	if ! quilt push -a --fuzz=0 >"$log" 2>&1; then
		cat "$log" >&2
		bad=$(quilt next 2>/dev/null || echo '?')
		echo "tree.sh: patch $bad does not apply to Linux $ver (Debian linux-source-6.12)." >&2
		echo "tree.sh: refresh it against this point release: see README 'Editing a patch'." >&2
		rm -f "$log"
		exit 1
	fi
	# quilt says "Hunk #2 succeeded at 3337 (offset 7 lines)." (fuzz is
	# refused above): name each patch that applied with offsets
	off=$(awk '/^Applying patch /{p=$3} /\(offset -?[0-9]+ lines?\)/{n[p]++}
		END{for (q in n) printf "%s (%d hunks)\n", q, n[q]}' "$log" | sort)
	if [ -n "$off" ]; then
		echo "$off" | sed 's/^/tree.sh: applies with offsets: /' >&2
		echo "tree.sh: warning: $(echo "$off" | wc -l) patches apply with offsets to Linux $ver;" \
			"refresh them (README 'Editing a patch')" >&2
	fi
	echo ">> quilt: $(quilt applied | wc -l) patches applied to Linux $ver"
	rm -f "$log"
fi
kept=0
while read -r mt sum f; do
	if [ -f "$f" ] && [ "$(sha1sum <"$f" | cut -c1-40)" = "$sum" ]; then
		touch -m -d "@$mt" "$f" && kept=$((kept + 1))
	fi
done <"$stamps"
[ -s "$stamps" ] && echo ">> $kept of $(wc -l <"$stamps") patched files unchanged: mtimes kept"
echo "$want" >.cowlab-applied
