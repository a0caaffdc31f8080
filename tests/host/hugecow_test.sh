#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# TAP tests of userspace-bench/hugecow on the host kernel (what the host
# kernel does with THP varies: only the 4k kind's counts are asserted).
top=$(cd "$(dirname "$0")/../.." && pwd)
hc=$top/userspace-bench/build/hugecow
. "$top/tests/host/tap.sh"
[ -x "$hc" ] || { echo "Bail out! $hc not built (make -C userspace-bench)"; exit 1; }

"$hc" --help >"$tmp/help"
t "--help exits 0 and names every mode" bash -c "grep -q 'hugecow memory' '$tmp/help' && grep -q 'hugecow sched' '$tmp/help' && grep -q 'hugecow policy' '$tmp/help'"
"$hc" bogus >/dev/null 2>&1
t "an unknown mode is a usage error" [ $? = 2 ]
"$hc" memory --kind 4k --size 3M >/dev/null 2>"$tmp/err"
t "a size that is not a multiple of 2M is a usage error" bash -c "[ $? = 2 ] && grep -q 'multiple of 2M' '$tmp/err'"
"$hc" memory --kind 4k --size 4M --write all --json "$tmp/m.jsonl" >"$tmp/out"
rc=$?
t "memory, 4k, every page written: exit 0" [ $rc = 0 ]
t "memory, 4k: no PMD mapping on either side" grep -q '"kind":"4k","write":"all","size":4194304,"pmd_kb_before":0,.*"child_pmd_kb":0,' "$tmp/m.jsonl"
"$hc" sched --kind 4k --size 2M --baseline-ms 20 --json "$tmp/s.jsonl" >/dev/null
t "sched, 4k: exit 0 and 512 timed writes" bash -c "[ $? = 0 ] && grep -q '\"writes\":512,' '$tmp/s.jsonl'"
"$hc" policy --policy merge >/dev/null 2>"$tmp/err"
t "policy: an unknown --policy is a usage error" bash -c "[ $? = 2 ] && grep -q 'split, copy or adaptive' '$tmp/err'"
"$hc" policy --policy adaptive --pct 0 >/dev/null 2>"$tmp/err"
t "policy: --pct 0 is a usage error" [ $? = 2 ]
"$hc" policy --mthp-copy 2 >/dev/null 2>"$tmp/err"
t "policy: --mthp-copy 2 is a usage error" bash -c "[ $? = 2 ] && grep -q 'mthp-copy 0 or 1' '$tmp/err'"
if [ ! -e /proc/sys/vm/cow_thp_policy ]; then
	"$hc" policy --policy copy --size 2M >/dev/null 2>"$tmp/err"
	t "policy: a kernel without vm.cow_thp_policy: exit 4 and says so" bash -c "[ $? = 4 ] && grep -q 'without patch 0011' '$tmp/err'"
fi
# the policy report, on the committed icount run (docs/hugecow.md)
rep=$top/scripts/hugecow-report
"$rep" "$top/docs/results/20261124-hugecow-policy-icount" >"$tmp/rep.md"
t "hugecow-report: exit 0 on the committed run" [ $? = 0 ]
t "hugecow-report: four rows per write pattern" bash -c "[ \$(grep -c '^| thp \\|^| 4k ' '$tmp/rep.md') = 8 ]"
t "hugecow-report: the target ratios, rep against rep" bash -c "grep -q 'adaptive / split: 1.32/1.32/1.35' '$tmp/rep.md' && grep -q 'copy / adaptive: 65/66/66' '$tmp/rep.md'"
: >"$tmp/empty.jsonl"
"$rep" "$tmp/empty.jsonl" >/dev/null 2>&1
t "hugecow-report: no policy run is an error" [ $? = 1 ]
"$rep" --help >/dev/null
t "hugecow-report: --help exits 0" [ $? = 0 ]
echo "1..$n"
exit $bad
