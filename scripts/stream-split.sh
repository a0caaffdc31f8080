#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Split the guest's result stream (docs/formats.md §5) read from STREAM:
# framed files go to DIR/<name>, the verdict to DIR/verdict, everything else
# (the KTAP) to DIR/result.ktap. Carriage returns from the serial line and
# file names that would escape DIR are dropped.
if [ $# != 2 ] || [ "$1" = --help ]; then
	echo "usage: scripts/stream-split.sh STREAM DIR"
	[ "${1:-}" = --help ] && exit 0
	exit 2
fi
mkdir -p "$2"
: >"$2/result.ktap"
awk -v dir="$2" '
	function safe(n) { return n !~ /(^\/|(^|\/)\.\.(\/|$))/ && n != "" }
	{ sub(/\r$/, "") }
	/^@@cowlab-file / {
		if (!safe($2)) { print "stream-split: unsafe file name " $2 > "/dev/stderr"; skip = 1; next }
		f = dir "/" $2; d = f; sub(/\/[^\/]*$/, "", d)
		system("mkdir -p \"" d "\""); printf "" > f; infile = 1; next
	}
	/^@@cowlab-end / { if (infile) close(f); infile = 0; skip = 0; next }
	/^@@cowlab-verdict / { print $2 > (dir "/verdict"); next }
	skip { next }
	infile { print > f; next }
	{ print > (dir "/result.ktap") }
' "$1"
