#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# TAP tests of userspace-bench/kvsnap on the host kernel (stw, fork, uffd;
# mdup only where the kernel has it) and of scripts/snapshot-report.
top=$(cd "$(dirname "$0")/../.." && pwd)
kv=$top/userspace-bench/build/kvsnap
. "$top/tests/host/tap.sh"
[ -x "$kv" ] || { echo "Bail out! $kv not built (make -C userspace-bench)"; exit 1; }

"$kv" --help >"$tmp/help"
t "--help exits 0 and lists every method" bash -c "grep -q '^ *stw ' '$tmp/help' && grep -q '^ *fork ' '$tmp/help' && grep -q '^ *uffd ' '$tmp/help' && grep -q '^ *mdup ' '$tmp/help'"
"$kv" --size 1000 >/dev/null 2>&1
t "a size that is not a multiple of 64 KiB is a usage error" [ $? = 2 ]
"$kv" --method stw,bogus >/dev/null 2>"$tmp/err"
t "an unknown method is a usage error naming it" bash -c "[ $? = 2 ] && grep -q bogus '$tmp/err'"
"$kv" --threads 0 >/dev/null 2>&1
t "zero writer threads is a usage error" [ $? = 2 ]

# uffd needs userfaultfd with write-protection, which a container or an old
# host kernel may refuse: probe it, and say so when it is not there
methods=stw,fork
"$kv" --size 2M --reps 1 --warmup-ms 10 --dir "$tmp" --method uffd --json "$tmp/uffd.jsonl" --quiet
if [ $? = 0 ]; then
	methods=$methods,uffd
else
	n=$((n + 1))
	echo "ok $n uffd on this host # SKIP $(sed -n 's/.*"msg":"\([^"]*\)".*/\1/p' "$tmp/uffd.jsonl" | head -n 1)"
fi
"$kv" --size 4M --reps 2 --warmup-ms 20 --dir "$tmp" --method "$methods" --json "$tmp/ok.jsonl" --quiet
rc=$?
t "$methods at 4 MiB, 2 reps: exit 0" [ $rc = 0 ]
nrun=$(grep -c '"verify":"ok"' "$tmp/ok.jsonl")
want=$(( $(echo "$methods" | tr , '\n' | wc -l) * 2 ))
t "every snapshot file verified byte for byte ($nrun of $want)" [ "$nrun" = "$want" ]
t "no snapshot file left behind" bash -c "! ls '$tmp'/kvsnap-* >/dev/null 2>&1"
t "stw reports its copy as extra memory" grep -q '"method":"stw".*"extra_bytes":4194304' "$tmp/ok.jsonl"

KVSNAP_CORRUPT_AT=4100 "$kv" --size 2M --reps 1 --warmup-ms 10 --dir "$tmp" --method fork --json "$tmp/bad.jsonl" --quiet
rc=$?
t "one flipped byte in the file: exit 1, mismatch at that byte" \
	bash -c "[ $rc = 1 ] && grep -q '\"verify\":\"mismatch\",' '$tmp/bad.jsonl' && grep -q 'byte 4100:' '$tmp/bad.jsonl'"

"$kv" --size 2M --reps 1 --warmup-ms 10 --dir "$tmp" --method mdup --json "$tmp/mdup.jsonl" --quiet
rc=$?
if grep -q '"err":-38' "$tmp/mdup.jsonl"; then
	t "mdup on a kernel without it: skipped (exit 4, ENOSYS)" [ $rc = 4 ]
else
	t "mdup on this kernel: verified" bash -c "[ $rc = 0 ] && grep -q '\"verify\":\"ok\"' '$tmp/mdup.jsonl'"
fi

"$top/scripts/snapshot-report" "$tmp/ok.jsonl" >"$tmp/rep"
rc=$?
t "snapshot-report: exit 0 and a row per method with 2/2 verified" \
	bash -c "[ $rc = 0 ] && grep -q '^| stw | .* | 2/2 |$' '$tmp/rep' && grep -q '^| fork | .* | 2/2 |$' '$tmp/rep'"
t "snapshot-report: the store size heads the table" grep -q '^### Store 4M, 2 writer threads' "$tmp/rep"
"$top/scripts/snapshot-report" "$tmp/bad.jsonl" >/dev/null
t "snapshot-report: exit 1 on a mismatch" [ $? = 1 ]
echo "1..$n"
exit $bad
