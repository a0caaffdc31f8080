#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# TAP tests of scripts/odf-report (the odf-study report): the hand-made run
# in fixtures/odf-report/odf.jsonl (vanilla and ODF rows at 64M and 1G, a
# skip, a summary and a cow line to ignore), bad input, and the real output
# of userspace-bench's cowbench --scenario fork on the host kernel.
# Run by make -C userspace-bench test (COWBENCH=<binary> overrides it).
top=$(cd "$(dirname "$0")/../.." && pwd)
rep=$top/scripts/odf-report
fx=$top/tests/host/fixtures/odf-report/odf.jsonl
cb=${COWBENCH:-$top/userspace-bench/build/cowbench}
. "$top/tests/host/tap.sh"
command -v python3 >/dev/null || { echo "1..0 # SKIP python3 not found"; exit 0; }

"$rep" --help >"$tmp/help"
t "--help exits 0 and documents the options" bash -c "grep -q -- '--vanilla' '$tmp/help' && grep -q -- '--plot DIR' '$tmp/help' && grep -q -- '--check' '$tmp/help'"

"$rep" "$fx" >"$tmp/r.md" 2>"$tmp/r.err"
t "the fixture: exit 0, nothing on stderr" bash -c "[ $? = 0 ] && [ ! -s '$tmp/r.err' ]"
t "fork() latency at 1G over every run: vanilla, ODF, vanilla/ODF per rep" \
	grep -qF '| 1G | all | 12/12 | 40000.0/42000.0/44000.0 | 1900.0/2000.0/2100.0 | 20.0/21.0/22.1 |' "$tmp/r.md"
t "fork() latency per child action" grep -qF '| 64M | exit | 3/3 | 3000.0/3100.0/3200.0 | 200.0/210.0/220.0 | 14.1/14.8/15.5 |' "$tmp/r.md"
t "fork + exec total, ODF/vanilla" grep -qF '| 1G | exec | 43.00/45.00/47.00 | 4.90/5.00/5.10 | 0.109/0.111/0.113 |' "$tmp/r.md"
t "child writes: 1G from the --no-page-times runs, 64M from the timed ones" \
	bash -c "grep -qF '| 1G | write 100% | total | 500.00/510.00/520.00 | 520.00/530.00/540.00 | 1.020/1.039/1.059 |' '$tmp/r.md' && grep -qF '| 64M | write 100% | timed |' '$tmp/r.md'"
t "first touch per page from the timed runs" grep -qF '| 1G | write 100% | on | 262144 | 1.000 | 1850 | 1600 | 1700 | 6200 | 90000 | 1.03 |' "$tmp/r.md"
t "page-table memory: VmPTE and the system delta (n/a: no figure)" grep -qF '| 1G | exit | on | 2060 | 2060 | n/a | 12 | n/a | yes |' "$tmp/r.md"
t "counters against the 2M ranges" grep -qF '| 1G | exit | on | 512 | 512 | 3 | 0 | 509 | 0 |' "$tmp/r.md"
t "target: fork() of 1G >= 20x, met" grep -q '1 GiB region >= 20x faster than vanilla: 21.0x .*\*\*met\*\*' "$tmp/r.md"
t "target: writes 100 %: 1G met, 64M missed" \
	bash -c "grep -q '100 %, 1G: ODF total / vanilla = 1.039 (<= 1.05): \*\*met\*\*' '$tmp/r.md' && grep -q '100 %, 64M: ODF total / vanilla = 1.098 (<= 1.05): \*\*MISSED\*\*' '$tmp/r.md'"
t "the skip is listed with its reason" grep -q '^- on exit 4G: --odf on: this kernel has no on-demand fork' "$tmp/r.md"
t "the summary and the cow line are not counted" grep -q '^36 result lines' "$tmp/r.md"

"$rep" "$fx" --check >/dev/null 2>"$tmp/chk"
t "--check: exit 1 and names the missed target" bash -c "[ $? = 1 ] && grep -q 'write 100% 64M' '$tmp/chk'"
grep -v '"size":67108864' "$fx" >"$tmp/ok.jsonl"
"$rep" "$tmp/ok.jsonl" --check >/dev/null 2>&1
t "--check: exit 0 when every target is met" [ $? = 0 ]
"$rep" "$fx" --vanilla on --delayed off >"$tmp/sw.md"
t "--vanilla/--delayed swap the roles" grep -qF '| 1G | all | 12/12 | 1900.0/2000.0/2100.0 | 40000.0/42000.0/44000.0 |' "$tmp/sw.md"

mkdir -p "$tmp/run"
cp "$fx" "$tmp/run/odf.jsonl"
"$rep" "$tmp/run" >"$tmp/dir.md"
t "a run directory is read through its odf.jsonl" cmp -s "$tmp/r.md" "$tmp/dir.md"

if command -v gnuplot >/dev/null; then
	"$rep" "$fx" --plot "$tmp/plot" >/dev/null 2>"$tmp/plot.err"
	t "--plot writes odf-fork-latency.png" bash -c "[ -s '$tmp/plot/odf-fork-latency.png' ] && [ ! -s '$tmp/plot.err' ]"
else
	echo "ok $((n += 1)) # SKIP gnuplot not found"
fi

# bad input: a message and exit 2 (1 for no fork lines), never a traceback
bad_input() { # DESCRIPTION WANT_RC PATTERN ARGS...
	local d=$1 want=$2 pat=$3 rc ok=0
	shift 3
	"$rep" "$@" >/dev/null 2>"$tmp/err"
	rc=$?
	[ $rc = "$want" ] && grep -qF -- "$pat" "$tmp/err" && ! grep -q Traceback "$tmp/err" && ok=1
	t "$d" [ $ok = 1 ]
}
bad_input "a missing file: exit 2" 2 'no such file' "$tmp/nonexistent.jsonl"
printf '{"type":"result","scenario":"fork"\n' >"$tmp/broken.jsonl"
bad_input "a broken JSON line: exit 2 with its line number" 2 'broken.jsonl:1: not a JSON line' "$tmp/broken.jsonl"
printf '{"type":"result","scenario":"fork","child":"exit","size":1}\n' >"$tmp/short.jsonl"
bad_input "a fork line without fork_ns: exit 2" 2 "without 'fork_ns'" "$tmp/short.jsonl"
: >"$tmp/empty.jsonl"
bad_input "no fork result lines: exit 1" 1 'no cowbench --scenario fork result lines' "$tmp/empty.jsonl"
bad_input "an unknown option: exit 2" 2 "unknown option '--frobnicate'" "$fx" --frobnicate
bad_input "--plot without a directory: exit 2" 2 '--plot needs a value' "$fx" --plot
bad_input "the same label for both modes: exit 2" 2 'name the same label' "$fx" --vanilla on
bad_input "two inputs: exit 2" 2 'give one run directory' "$fx" "$fx"

# the real thing: cowbench --scenario fork on this kernel, then the report
if [ -x "$cb" ]; then
	for c in exit "write --touch-frac 0.5"; do
		# shellcheck disable=SC2086
		"$cb" --scenario fork --size 2M --reps 2 --quiet --odf off --label off \
			--json "$tmp/host.jsonl" --child $c || echo "cowbench failed" >>"$tmp/host.err"
		# shellcheck disable=SC2086
		"$cb" --scenario fork --size 2M --reps 2 --quiet --odf on --label on \
			--json "$tmp/host.jsonl" --child $c >/dev/null 2>&1
		rc=$?
		[ $rc = 0 ] || [ $rc = 4 ] || echo "cowbench --odf on: exit $rc" >>"$tmp/host.err"
	done
	"$rep" "$tmp/host.jsonl" >"$tmp/host.md" 2>>"$tmp/host.err"
	t "cowbench fork output on this kernel: the report reads it" \
		bash -c "[ ! -s '$tmp/host.err' ] && grep -q '^| 2M | exit | 2/' '$tmp/host.md' && grep -q '^| 2M | write 50% | timed |' '$tmp/host.md'"
else
	echo "ok $((n += 1)) # SKIP $cb not built"
fi
echo "1..$n"
exit $bad
