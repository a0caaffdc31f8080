#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# Print every kernel splat line found in the given logs (console, dmesg):
# BUG/WARNING/Oops/panic, lockdep, KASAN/UBSAN, bad page state, RCU stalls,
# soft/hard lockups, hung tasks, list corruption. Prints nothing when clean.
# Lines matching an ERE in tests/splat-allow.txt are ignored (keep it empty
# unless a splat is understood and not ours). --tap: one TAP test per log.
usage() {
	echo "usage: scripts/splat-scan.sh [--tap] LOG..."
}
tap=0
[ "${1:-}" = --help ] && { usage; exit 0; }
[ "${1:-}" = --tap ] && { tap=1; shift; }
[ $# = 0 ] && { usage >&2; exit 2; }
top=$(cd "$(dirname "$0")/.." && pwd)
allow=$top/tests/splat-allow.txt
pat='BUG:|WARNING:|Oops|Kernel panic|kernel BUG at|general protection fault|'
pat+='possible circular locking|possible recursive locking|inconsistent lock state|'
pat+='suspicious RCU usage|lock held when returning|BUG: KASAN|UBSAN:|Bad page|'
pat+='rcu: INFO: .*detected stall|self-detected stall|soft lockup|hard LOCKUP|'
pat+='blocked for more than|list_add corruption|list_del corruption|'
pat+='sleeping function called from invalid context|Unable to handle kernel'

scan() {
	grep -a -E -- "$pat" "$1" | tr -d '\r' |
		{ if [ -s "$allow" ]; then grep -v -E -f <(grep -v '^#' "$allow"); else cat; fi; }
}
n=0
[ $tap = 1 ] && echo "TAP version 13"
for f in "$@"; do
	n=$((n + 1))
	if [ ! -f "$f" ]; then
		[ $tap = 1 ] && echo "not ok $n $(basename "$f"): missing (guest died before sending it?)"
		continue
	fi
	hits=$(scan "$f")
	if [ $tap = 1 ]; then
		if [ -z "$hits" ]; then echo "ok $n no kernel splat in $(basename "$f")"; else
			echo "not ok $n kernel splat in $(basename "$f")"
			echo "$hits" | head -n 30 | sed 's/^/# /'
		fi
	elif [ -n "$hits" ]; then
		echo "$hits" | sed "s|^|$(basename "$f"): |"
	fi
done
[ $tap = 1 ] && echo "1..$n"
exit 0
