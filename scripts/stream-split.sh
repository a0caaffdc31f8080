#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Split the guest's result stream (docs/formats.md §5) read from STREAM:
# framed files go to DIR/<name> (gzip+base64 frames are decoded), the verdict to DIR/verdict, everything else
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
	/^@@cowlab-file(-gz64)? / {
		if (!safe($2)) { print "stream-split: unsafe file name " $2 > "/dev/stderr"; skip = 1; next }
		f = dir "/" $2; d = f; sub(/\/[^\/]*$/, "", d)
		gz = ($1 == "@@cowlab-file-gz64")
		if (gz) f = f ".gz64"
		system("mkdir -p \"" d "\""); printf "" > f; infile = 1; next
	}
	/^@@cowlab-end / {
		if (infile) {
			close(f)
			if (gz) {
				out = substr(f, 1, length(f) - 5)
				if (system("base64 -d \"" f "\" | gunzip >\"" out "\" && rm -f \"" f "\"") != 0)
					print "stream-split: " $2 ": bad gzip/base64 payload (truncated stream?)" > "/dev/stderr"
			}
		}
		infile = 0; skip = 0; gz = 0; next
	}
	/^@@cowlab-verdict / { print $2 > (dir "/verdict"); next }
	skip { next }
	infile { print > f; next }
	{ print > (dir "/result.ktap") }
' "$1"
