#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# TAP tests of userspace-bench/hugecow on the host kernel (what the host
# kernel does with THP varies: only the 4k kind's counts are asserted).
top=$(cd "$(dirname "$0")/../.." && pwd)
hc=$top/userspace-bench/build/hugecow
. "$top/tests/host/tap.sh"
[ -x "$hc" ] || { echo "Bail out! $hc not built (make -C userspace-bench)"; exit 1; }

"$hc" --help >"$tmp/help"
t "--help exits 0 and names both modes" bash -c "grep -q 'hugecow memory' '$tmp/help' && grep -q 'hugecow sched' '$tmp/help'"
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
echo "1..$n"
exit $bad
