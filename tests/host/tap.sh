# SPDX-License-Identifier: GPL-2.0
# Sourced by the host TAP test scripts: a scratch directory removed on exit,
# and t DESCRIPTION COMMAND... which prints "ok N" or "not ok N" for the
# command's status. End a script with: echo "1..$n"; exit $bad
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 bad=0
t() {
	local d=$1
	shift
	n=$((n + 1))
	if "$@"; then echo "ok $n $d"; else echo "not ok $n $d"; bad=1; fi
}
echo "TAP version 13"
