#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# TAP tests for the host scripts: ktap-compare, splat-scan, stream-split,
# test.py, features.py, redis-report, study.sh, host-anchors.
top=$(cd "$(dirname "$0")/../.." && pwd)
fx=$top/tests/host/fixtures/scripts
. "$top/tests/host/tap.sh"

# ktap-compare: feature "off" matches the baseline, "stat" regresses case 2
# and map_populate.
"$top/scripts/ktap-compare" --tap "$fx/run.ktap" "$fx/baseline.txt" >"$tmp/cmp" 2>&1
rc=$?
t "ktap-compare exits 1 on a regression" [ $rc = 1 ]
t "ktap-compare: off:cow as expected" grep -qx 'ok 1 off:cow' "$tmp/cmp"
t "ktap-compare: off:map_populate as expected" grep -qx 'ok 2 off:map_populate' "$tmp/cmp"
t "ktap-compare: stat:cow case 2 regressed" grep -q '^# stat:cow REGRESSION \[2 Basic COW after fork() ... with hugetlb (# kB)\] expected ok, got fail' "$tmp/cmp"
t "ktap-compare: stat:map_populate regressed" grep -qx 'not ok 4 stat:map_populate' "$tmp/cmp"
t "ktap-compare: skip accepted where baseline says skip" bash -c "! grep -v '^# |' '$tmp/cmp' | grep -q 'R/O pinning'"
t "ktap-compare: case counts" grep -q '# selftest cases vs baseline: 7 as expected, 3 regressed' "$tmp/cmp"
grep -v '^stat\|^not ok\|^    not ok' "$fx/run.ktap" | sed '/^# stat/,$d' >"$tmp/off.ktap"
echo "1..2" >>"$tmp/off.ktap"
"$top/scripts/ktap-compare" "$tmp/off.ktap" "$fx/baseline.txt" >/dev/null 2>&1
t "ktap-compare exits 0 when everything is as expected" [ $? = 0 ]
"$top/scripts/ktap-compare" --update off "$fx/run.ktap" "$tmp/base.txt" >/dev/null
t "ktap-compare --update writes the off results" grep -q $'^cow\t3 R/O pinning\tskip\t# SKIP gup_test not available$' "$tmp/base.txt"
printf 'cow\tbroken\n' >"$tmp/bad.txt"
"$top/scripts/ktap-compare" "$fx/run.ktap" "$tmp/bad.txt" >/dev/null 2>"$tmp/err"
t "ktap-compare rejects a malformed baseline" grep -q 'malformed line' "$tmp/err"

grep -v 'map_populate' "$fx/run.ktap" | sed 's/^    not ok 2 No leak/    ok 2 No leak/; s/^not ok 3 stat:cow.*/ok 3 stat:cow/' >"$tmp/sub.ktap"
"$top/scripts/ktap-compare" --allow-missing "$tmp/sub.ktap" "$fx/baseline.txt" >"$tmp/sub" 2>&1
t "ktap-compare --allow-missing: a program that did not run is no failure" [ $? = 0 ]
"$top/scripts/ktap-compare" "$tmp/sub.ktap" "$fx/baseline.txt" >/dev/null 2>&1
t "ktap-compare without it: the same run fails" [ $? = 1 ]

printf 'KTAP version 1\nok 1 off:map_populate\nnot ok 2 stat # feature set not available\n1..2\n' >"$tmp/feat.ktap"
printf 'map_populate\t-\tok\n' >"$tmp/feat.txt"
"$top/scripts/ktap-compare" --tap "$tmp/feat.ktap" "$tmp/feat.txt" >"$tmp/feat" 2>&1
t "ktap-compare: a feature set that could not be applied fails the run" \
	bash -c "[ $? = 1 ] && grep -qx 'not ok 1 stat' '$tmp/feat'"

printf 'map_populate\t-\tflaky\t# sometimes fails\n' >"$tmp/flaky.txt"
printf 'KTAP version 1\nnot ok 1 off:map_populate # exit 1\n1..1\n' >"$tmp/flaky.ktap"
"$top/scripts/ktap-compare" "$tmp/flaky.ktap" "$tmp/flaky.txt" >/dev/null 2>&1
t "ktap-compare: a flaky program may fail" [ $? = 0 ]
printf 'KTAP version 1\nok 1 off:other\n1..1\n' >"$tmp/none.ktap"
"$top/scripts/ktap-compare" "$tmp/none.ktap" "$tmp/flaky.txt" >/dev/null 2>&1
t "ktap-compare: a flaky program must still run" [ $? = 1 ]

# a regressed program's last output lines are printed, so a CI log says why
t "ktap-compare: a regression shows the program's last output lines" \
	bash -c "grep -qx '# | not ok 2 No leak from parent into child' '$tmp/cmp' && ! grep -q '# off:cow: last' '$tmp/cmp'"

# "ok N # SKIP text" (the case skipped) and "ok N text" (it ran) are one case
printf 'pagemap_ioctl\t54 Hugetlb shmem testing: dirty\tskip\t# SKIP Hugetlb shmem testing: dirty\n' >"$tmp/skip.txt"
printf 'KTAP version 1\n    ok 54 # SKIP Hugetlb shmem testing: dirty\nok 1 off:pagemap_ioctl\n    ok 54 Hugetlb shmem testing: dirty\nok 2 on:pagemap_ioctl\n    not ok 54 Hugetlb shmem testing: dirty\nnot ok 3 bad:pagemap_ioctl\n1..3\n' >"$tmp/skip.ktap"
"$top/scripts/ktap-compare" --tap "$tmp/skip.ktap" "$tmp/skip.txt" >"$tmp/skip" 2>&1
t "ktap-compare: a skipped case keyed on its SKIP text matches the case when it runs" \
	bash -c "grep -qx 'ok 1 off:pagemap_ioctl' '$tmp/skip' && grep -qx 'ok 2 on:pagemap_ioctl' '$tmp/skip' && grep -qx 'not ok 3 bad:pagemap_ioctl' '$tmp/skip'"

# a program the guest ran twice (guest/lib.sh RUN_PROG_RETRY): only the
# second run is judged, and the retry is reported
printf 'mremap_test\t1 a\tok\nmremap_test\t-\tok\n' >"$tmp/retry.txt"
printf 'KTAP version 1\n# off:mremap_test: ./mremap_test\n    not ok 1 a\n# RETRY off:mremap_test: exit 1 in 2.0s\n# off:mremap_test: ./mremap_test\n    ok 1 a\nok 1 off:mremap_test\n1..1\n' >"$tmp/retry.ktap"
"$top/scripts/ktap-compare" --tap "$tmp/retry.ktap" "$tmp/retry.txt" >"$tmp/retry" 2>&1
t "ktap-compare: after a RETRY line only the second run is judged, and the retry is reported" \
	bash -c "[ $? = 0 ] && grep -qx 'ok 1 off:mremap_test' '$tmp/retry' && grep -q '^# retried (second run judged): off:mremap_test: exit 1' '$tmp/retry' && grep -q '1 program(s) retried' '$tmp/retry'"
sed 's/^    ok 1 a/    not ok 1 a/; s/^ok 1 off/not ok 1 off/' "$tmp/retry.ktap" >"$tmp/retry2.ktap"
"$top/scripts/ktap-compare" --tap "$tmp/retry2.ktap" "$tmp/retry.txt" >/dev/null 2>&1
t "ktap-compare: a program that fails its retry too is a regression" [ $? = 1 ]

"$top/scripts/ktap-compare" --tap "$tmp/nonexistent.ktap" "$fx/baseline.txt" >/dev/null 2>"$tmp/nofile"
t "ktap-compare: a missing result file is exit 2 with a message, no traceback" \
	bash -c "[ $? = 2 ] && grep -q 'no such file' '$tmp/nofile' && ! grep -q Traceback '$tmp/nofile'"

# splat-scan
printf '[ 1.0] ok\n[ 2.0] BUG: KASAN: use-after-free in wp_page_copy\n' >"$tmp/d1"
printf '[ 1.0] all quiet\n' >"$tmp/d2"
t "splat-scan finds a KASAN report" grep -q 'KASAN' <("$top/scripts/splat-scan.sh" "$tmp/d1")
t "splat-scan is silent on a clean log" [ -z "$("$top/scripts/splat-scan.sh" "$tmp/d2")" ]
"$top/scripts/splat-scan.sh" --tap "$tmp/d2" "$tmp/d1" "$tmp/missing" >"$tmp/st"
t "splat-scan --tap: clean, dirty, missing" bash -c "grep -q '^ok 1' '$tmp/st' && grep -q '^not ok 2' '$tmp/st' && grep -q '^not ok 3' '$tmp/st'"

# stream-split
"$top/scripts/stream-split.sh" "$fx/stream.txt" "$tmp/out" 2>"$tmp/sserr"
t "stream-split extracts a framed file" [ "$(cat "$tmp/out/sub/x.txt" 2>/dev/null)" = $'line1\nok 99 not a result' ]
t "stream-split keeps file contents out of the KTAP" bash -c "! grep -q 'ok 99' '$tmp/out/result.ktap' && grep -q '^ok 1 a' '$tmp/out/result.ktap'"
t "stream-split refuses a name that escapes the directory" bash -c "[ ! -e '$tmp/escape.txt' ] && grep -q unsafe '$tmp/sserr'"
t "stream-split records the verdict" [ "$(cat "$tmp/out/verdict")" = pass ]
printf 'ok 1 x\r\n@@cowlab-verdict fail\r\n' >"$tmp/crlf"
"$top/scripts/stream-split.sh" "$tmp/crlf" "$tmp/o2"
t "stream-split strips serial carriage returns" [ "$(cat "$tmp/o2/verdict")" = fail ]
seq 1 20000 | sed 's/^/cow_stat: seq=/' >"$tmp/big.txt"
{ echo "ok 1 x"; echo "@@cowlab-file-gz64 big.txt"; gzip -c "$tmp/big.txt" | base64; echo "@@cowlab-end big.txt"; echo "1..1"; } >"$tmp/gz.stream"
"$top/scripts/stream-split.sh" "$tmp/gz.stream" "$tmp/o3"
t "stream-split decodes a gzip+base64 frame" cmp -s "$tmp/big.txt" "$tmp/o3/big.txt"
t "stream-split keeps gzip+base64 payload out of the KTAP" [ "$(grep -c . "$tmp/o3/result.ktap")" = 2 ]
# test.py --dry-run: the boots make test starts, in order, with their arguments
dry() { env -u COWLAB_TEST_CPU -u COWLAB_SELFTEST_SMP -u COWLAB_LANES -u COWLAB_FUZZ_SECONDS COWLAB_DEBUG=1 "$top/scripts/test.py" --dry-run "$@" | grep '^boot '; }
dry >"$tmp/dry"
dry --full >"$tmp/dryfull"
dry --no-debug >"$tmp/drynodbg"
t "test.py --dry-run: every feature on boots first" bash -c "head -n 1 '$tmp/dry' | grep -q '^boot selftests-all: .*features=$("$top/scripts/features.py" all) '"
t "test.py --dry-run: off, thp-copy, cowlab tests on base and debug, debug selftests, fuzzers, shell, kvm probe, native runner, Redis" bash -c "[ \"\$(cut -d: -f1 '$tmp/dry' | sort | tr '\n' ' ')\" = 'boot cowlab-tests-base boot cowlab-tests-debug boot cowlab-tests-debug-2 boot fuzz-debug boot kvm-probe-base boot native-base boot redis-base boot selftests-all boot selftests-debug boot selftests-off boot selftests-thp-copy boot shell-base ' ]"
t "test.py --dry-run: every selftests boot on one vCPU, no cowlab-tests boot" bash -c "! grep 'plan selftests' '$tmp/dry' | grep -v -- '--smp 1' | grep -q . && ! grep 'plan cowlab-tests' '$tmp/dry' | grep -q -- '--smp'"
t "test.py --dry-run: debug boots get 3 GB without 1 GiB pages, base boots the default" bash -c "[ \"\$(grep -c 'obj-debug.*--mem 3072 --hugepages 128 0' '$tmp/dry')\" = 4 ] && ! grep obj-base '$tmp/dry' | grep -q -- --mem"
t "test.py --dry-run: guests without ERMS/FSRM" bash -c "[ \"\$(grep -c -- '--cpu max,-erms,-fsrm' '$tmp/dry')\" = 12 ]"
t "test.py --dry-run: the fuzz boot alone gets the fuzz image" bash -c "[ \"\$(grep -c 'initramfs-fuzz' '$tmp/dry')\" = 1 ] && grep -q '^boot fuzz-debug:.*initramfs-fuzz' '$tmp/dry'"
t "test.py --dry-run --full: names unique, debug boots with default memory, full debug list, each set alone" bash -c "[ -z \"\$(cut -d: -f1 '$tmp/dryfull' | sort | uniq -d)\" ] && ! grep -q -- '--mem' '$tmp/dryfull' && grep '^boot selftests-debug' '$tmp/dryfull' | grep -vq 'only=' && [ \"\$(grep -c '^boot selftests-' '$tmp/dryfull')\" = \$((\$("$top/scripts/features.py" singles | tr , '\n' | wc -l) + 3)) ]"
t "test.py --dry-run --no-debug: no debug kernel boot, no debug build" bash -c "[ -s '$tmp/drynodbg' ] && ! grep -q obj-debug '$tmp/drynodbg' && ! '$top/scripts/test.py' --dry-run --no-debug | grep -q kernel-debug"
# the matrix narrowed and split: --only, --shard, --list
"$top/scripts/test.py" --list >"$tmp/list"
for k in 1 2 3; do "$top/scripts/test.py" --list --shard $k/3; done >"$tmp/shards"
t "test.py --shard: three shards run every host suite and boot once" bash -c "[ \"\$(sort '$tmp/list')\" = \"\$(sort '$tmp/shards')\" ]"
t "test.py --shard 2/3: no host suite, every third boot" bash -c "[ \"\$('$top/scripts/test.py' --list --shard 2/3 | tr '\n' ' ')\" = \"\$(grep '^boot' '$tmp/list' | sed -n '2~3p' | tr '\n' ' ')\" ]"
t "test.py --only: patterns pick host suites and boots" bash -c "[ \"\$('$top/scripts/test.py' --list --only 'host-s*,selftests-off' | tr '\n' ' ')\" = 'host host-scripts boot selftests-off ' ]"
t "test.py --only with no match: exit 1 with a message" bash -c "! '$top/scripts/test.py' --list --only nosuch 2>'$tmp/e' && grep -q 'no such host suite or boot' '$tmp/e'"
t "test.py --shard 4/3 and --features with an unknown set are refused" bash -c "! '$top/scripts/test.py' --list --shard 4/3 2>/dev/null && ! '$top/scripts/test.py' --list --features off,nosuch 2>/dev/null"
t "test.py --host-only: host suites only" bash -c "! '$top/scripts/test.py' --list --host-only | grep -q '^boot' && [ \"\$('$top/scripts/test.py' --list --host-only | grep -c '^host')\" = 5 ]"
t "test.py --selftests narrows every selftests boot and drops the variants' own" bash -c "'$top/scripts/test.py' --dry-run --selftests cow | grep '^boot selftests' | grep -v -- '--set only=cow ' | grep -q . ; [ \$? = 1 ] && ! '$top/scripts/test.py' --dry-run --selftests cow | grep -q selftests-thp-copy"
# features as data: the manifests (guest/features/*.conf) against the tree
"$top/scripts/features.py" check >"$tmp/fcheck" 2>&1
t "features: every manifest matches the tree ($(head -n 3 "$tmp/fcheck" | tr '\n' ';'))" [ ! -s "$tmp/fcheck" ]
t "features: the README's feature table is scripts/features.py table" "$top/scripts/features.py" readme
"$top/scripts/features.py" off-conf >"$tmp/off.conf"
t "features: the generated off set resets vm.cow_odf and the tracepoint" \
	bash -c "grep -qx 'vm.cow_odf=0' '$tmp/off.conf' && grep -qx '/sys/kernel/tracing/events/cow/enable=0' '$tmp/off.conf'"
# the guest's "every feature on" (guest/lib.sh) is the host's
mkdir -p "$tmp/g/lib/cowlab/features"
cp "$top"/guest/features/*.conf "$tmp/g/lib/cowlab/features/"
cp "$tmp/off.conf" "$tmp/g/lib/cowlab/features/"
{ sed -n '/^features_all()/,/^}/p' "$top/guest/lib.sh" | sed "s|/lib/cowlab|$tmp/g/lib/cowlab|"; echo features_all; } >"$tmp/fa.sh"
t "features: the guest's ALL ($(sh "$tmp/fa.sh")) is scripts/features.py all" [ "$(sh "$tmp/fa.sh")" = "$("$top/scripts/features.py" all)" ]
# a tree whose manifests have drifted: each kind of drift is reported
ft=$tmp/ftree
mkdir -p "$ft/patches" "$ft/mm-changes/mm" "$ft/guest/features" "$ft/tests/guest" "$ft/docs"
printf '0001-a.patch\n0002-b.patch\n' >"$ft/patches/series"
printf '+\t.procname = "cow_a",\n+\t.procname = "cow_b",\n' >"$ft/patches/0001-a.patch"
: >"$ft/patches/0002-b.patch"
: >"$ft/mm-changes/mm/a.c"
: >"$ft/tests/guest/a_test.c"
: >"$ft/docs/a.md"
echo cow 60 ./cow >"$ft/guest/selftests.list"
printf '# off: vm.cow_a=0\n# patches: 0001\n# mm-changes: mm/a.c\n# tests: a_test\n# doc: docs/a.md\nvm.cow_a=1\n' >"$ft/guest/features/a.conf"
printf '# variant-of: a\n# selftests: cow nosuch\nvm.cow_a=2\nvm.cow_c=1\n' >"$ft/guest/features/a-v.conf"
"$top/scripts/features.py" --top "$ft" check >"$tmp/fdrift" 2>&1
t "features check: a drifted tree exits 1" [ $? = 1 ]
t "features check: a sysctl of the series no manifest resets" grep -q '^vm.cow_b: defined by the series, reset by no manifest' "$tmp/fdrift"
t "features check: a patch no manifest claims" grep -q '^0002-b.patch: claimed by 0 manifests' "$tmp/fdrift"
t "features check: a variant setting a knob its primary does not reset" grep -q 'a-v.conf: sets vm.cow_c, which a' "$tmp/fdrift"
t "features check: a selftest that is not in the list" grep -q 'selftest nosuch is not in guest/selftests.list' "$tmp/fdrift"
printf 'x\n' >"$ft/guest/features/off.conf"
"$top/scripts/features.py" --top "$ft" check >"$tmp/fdrift2" 2>&1
t "features check: a hand-kept off.conf is refused" grep -q 'off.conf: "off" is generated' "$tmp/fdrift2"

# redis-report: a table row a policy, the ratios against "off", and a
# policy whose RDB lost data fails the report
mkdir -p "$tmp/rr"
ph='"before": {"n": 100, "p50_us": 100, "p99_us": 400, "max_us": 900}'
{
	echo "{\"tool\": \"redissnap\", \"label\": \"off\", \"keys\": 1000, \"size\": 1024, \"used_memory\": 2097152, \"latest_fork_usec\": 40000, \"rdb_last_cow_size\": 1048576, \"bgsave_ms\": 900, \"server_hwm_kb\": 4096, $ph, \"during\": {\"n\": 50, \"p50_us\": 200, \"p99_us\": 5000, \"max_us\": 9000}}"
	echo '{"tool": "redissnap-verify", "label": "off", "dbsize": 1000, "keys": 1000, "written_before": 10, "checked": 1000, "bad": 0}'
	echo "{\"tool\": \"redissnap\", \"label\": \"odf\", \"keys\": 1000, \"size\": 1024, \"used_memory\": 2097152, \"latest_fork_usec\": 1000, \"rdb_last_cow_size\": 1048576, \"bgsave_ms\": 900, \"server_hwm_kb\": 4096, $ph, \"during\": {\"n\": 50, \"p50_us\": 200, \"p99_us\": 500, \"max_us\": 9000}}"
	echo '{"tool": "redissnap-verify", "label": "odf", "dbsize": 1000, "keys": 1000, "written_before": 10, "checked": 1000, "bad": 0}'
} >"$tmp/rr/redis.jsonl"
"$top/scripts/redis-report" "$tmp/rr" >"$tmp/rr/out" 2>&1
t "redis-report: a row a policy, fork / off, both RDBs hold the instant" \
	bash -c "[ $? = 0 ] && grep -q '^| odf | 1.0 | 0.03x |' '$tmp/rr/out' && grep -q '40.00x lower (target >= 20x: met)' '$tmp/rr/out' && grep -q 'best odf, 0.10x' '$tmp/rr/out'"
sed -i '$s/"bad": 0/"bad": 3/' "$tmp/rr/redis.jsonl"
"$top/scripts/redis-report" "$tmp/rr" >"$tmp/rr/out2" 2>&1
t "redis-report: a policy whose RDB lost data fails (exit 1, NO)" bash -c "[ $? = 1 ] && grep -q '| NO (1 of 1 reps, 1000 keys)' '$tmp/rr/out2' && grep -q 'LOST DATA' '$tmp/rr/out2'"
{ echo '{"tool": "redis-plan", "policies": ["off", "odf", "thp-copy"], "reps": 1, "keys": 1000}'; sed '$s/"bad": 3/"bad": 0/' "$tmp/rr/redis.jsonl"; } >"$tmp/rr/p.jsonl"
mv "$tmp/rr/p.jsonl" "$tmp/rr/redis.jsonl"
"$top/scripts/redis-report" "$tmp/rr" >"$tmp/rr/out3" 2>&1
t "redis-report: a policy of the plan that did not run fails (exit 1, no run)" bash -c "[ $? = 1 ] && grep -q '^| thp-copy | no run |.*NO (0 of 1 reps)' '$tmp/rr/out3' && grep -q '^| odf | 1.0 |.*yes (1 of 1 reps' '$tmp/rr/out3'"
"$top/scripts/redis-report" "$tmp/nonexistent" >/dev/null 2>"$tmp/rr/err"
t "redis-report: no redis.jsonl is an error that says so" bash -c "[ $? = 1 ] && grep -q 'no such file' '$tmp/rr/err'"

# the one header of the series' user-visible numbers matches the series
/usr/bin/python3 - "$top" >"$tmp/uapi" 2>&1 <<'PY'
import glob, re, sys
top = sys.argv[1]
src = "".join(open(p, errors="replace").read() for p in
              glob.glob(top + "/patches/*.patch") + glob.glob(top + "/mm-changes/include/uapi/**/*.h", recursive=True))
alias = {"__NR_mdup": "MDUP_SYSCALL_NR_X86_64"}
bad = n = 0
for name, val in re.findall(r"^#define (\w+) (\w+)", open(top + "/userspace-bench/cowlab_uapi.h").read(), re.M):
    if name == "COWLAB_UAPI_H":
        continue
    n += 1
    m = re.search(r"^\+?#\s*define\s+%s\s+(\w+)" % alias.get(name, name), src, re.M)
    if not m or int(m.group(1).rstrip("UL"), 0) != int(val.rstrip("UL"), 0):
        bad += 1
        print(f"{name}: {val} here, {m.group(1) if m else 'not defined'} in the series")
print(f"{n} numbers checked")
sys.exit(1 if bad or n < 10 else 0)
PY
rc=$?
t "cowlab_uapi.h: every prctl and mdup number is the series' ($(tail -n 1 "$tmp/uapi"))" [ $rc = 0 ]
t "cowlab_uapi.h is the only place the programs define them" bash -c "! grep -rln 'define PR_[SG]ET_COW\|define __NR_mdup' '$top/tests' '$top/userspace-bench' --include=*.c --include=*.h | grep -v cowlab_uapi.h"

# study.sh (make run): the boots it would make, in order, with their
# accelerators, without building or booting anything (--dry-run)
st=$top/scripts/study.sh
"$st" --dry-run >"$tmp/dry" 2>&1
t "study.sh --dry-run: exit 0, 11 boots, nothing built" bash -c "[ \$(grep -c 'scripts/run-guest.sh' '$tmp/dry') = 11 ] && ! grep -q '^== build' '$tmp/dry'"
t "study.sh: the host anchors first; the CPU-work parts under -icount; snapshot and Redis under TCG, last" bash -c \
	"grep -o '\[[a-z]*\]' '$tmp/dry' | uniq | tr -d '\n' | grep -qx '\[host\]\[icount\]\[tcg\]' && tail -n 2 '$tmp/dry' | grep -q '^snapshot' && tail -n 1 '$tmp/dry' | grep -q '^Redis'"
t "study.sh --dry-run: the host anchors, once, first, before any build" bash -c \
	"[ \"\$(grep -c host-anchors '$tmp/dry')\" = 1 ] && head -n 1 '$tmp/dry' | grep -qx 'host anchors \[host\]: scripts/host-anchors'"
"$st" --dry-run --quick >"$tmp/dryq" 2>&1
"$st" --dry-run --no-host >"$tmp/drynh" 2>&1
"$st" --dry-run --part host >"$tmp/dryh" 2>&1
t "study.sh --quick: host-anchors --quick; --no-host: none; --part host: the anchors alone" bash -c \
	"head -n 1 '$tmp/dryq' | grep -qx 'host anchors \[host\]: scripts/host-anchors --quick' && ! grep -q host-anchors '$tmp/drynh' && [ \$(grep -c run-guest '$tmp/drynh') = 11 ] && [ \"\$(cat '$tmp/dryh')\" = 'host anchors [host]: scripts/host-anchors' ]"
t "study.sh: the vanilla kernel runs the overhead part only" bash -c \
	"[ \$(grep -c 'obj-vanilla.*part=overhead' '$tmp/dry') = 3 ] && ! grep 'obj-vanilla' '$tmp/dry' | grep -vq part=overhead"
"$st" --dry-run --part odf --accel kvm >"$tmp/dry2" 2>&1
t "study.sh --part odf --accel kvm: one boot, under kvm" bash -c "[ \$(grep -c run-guest '$tmp/dry2') = 1 ] && grep -q 'odf-study --accel kvm' '$tmp/dry2'"
"$st" --dry-run --part precopy,odf --no-host >"$tmp/dry3" 2>&1
t "study.sh --part precopy,odf: those two boots and nothing else" bash -c \
	"[ \$(grep -c run-guest '$tmp/dry3') = 2 ] && grep -q 'plan odf-study' '$tmp/dry3' && grep -q 'plan precopy-study' '$tmp/dry3'"
"$st" --dry-run --native --part precopy >"$tmp/dry5" 2>&1
rc=$?
# --native: each part through native-run.sh on this kernel, no QEMU, no vanilla kernel
if [ -f "$top/build/initramfs.cpio.gz" ]; then
	t "study.sh --native: the plan through native-run.sh, no QEMU, no build" bash -c "[ $rc = 0 ] && grep -q 'native\]: scripts/native-run.sh --plan precopy-study' '$tmp/dry5' && ! grep -q 'run-guest\|obj-vanilla' '$tmp/dry5'"
else
	t "study.sh --native without an initramfs: exit 2, names it" bash -c "[ $rc = 2 ] && grep -q 'no-build: build/initramfs.cpio.gz missing' '$tmp/dry5'"
fi
"$top/scripts/native-run.sh" --plan smoke >"$tmp/nr" 2>&1
rc1=$?
"$top/scripts/native-run.sh" --plan smoke --out "$tmp/nr-out" --timeout soon >"$tmp/nr2" 2>&1
rc2=$?
t "native-run.sh: --out missing, a bad --timeout: exit 2, says why, writes nothing" bash -c "[ $rc1 = 2 ] && [ $rc2 = 2 ] && grep -q 'needed' '$tmp/nr' && grep -q 'seconds' '$tmp/nr2' && [ ! -e '$tmp/nr-out' ]"
# never a real run here: no initramfs (on a cowlab kernel as root it would
# run the plan); refused, nothing written
"$top/scripts/native-run.sh" --plan smoke --out "$tmp/nr-out" --initrd "$tmp/no-initramfs" >"$tmp/nr3" 2>&1
rc3=$?
t "native-run.sh: not root, not a cowlab kernel or no initramfs: exit 2, says why, writes nothing" bash -c "[ $rc3 = 2 ] && grep -q 'not a cowlab kernel\|must run as root\|no initramfs' '$tmp/nr3' && [ ! -e '$tmp/nr-out' ]"
"$st" --native --part precopy >"$tmp/nr4" 2>&1
rc4=$?
t "study.sh --native on this kernel (not cowlab, or not root): exit 2 before anything runs" bash -c "[ -e /proc/sys/vm/cow_precopy_max ] && [ \$(id -u) = 0 ] || { [ $rc4 = 2 ] && grep -q 'not a cowlab kernel\|must run as root' '$tmp/nr4' && ! grep -q '^==' '$tmp/nr4'; }"
# the runner's real-machine path (unpack, namespaces, mounts, restore) on
# this kernel, when it can: root, namespaces, an initramfs. The plan's own
# verdict depends on the machine (huge pages); the machine must be as before.
if [ "$(id -u)" = 0 ] && unshare -m -n -p -f --propagation private true 2>/dev/null && [ -f "$top/build/initramfs.cpio.gz" ]; then
	m0=$(wc -l </proc/mounts) hp0=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages 2>/dev/null)
	COWLAB_NATIVE_ANY_KERNEL=1 "$top/scripts/native-run.sh" --plan smoke --out "$tmp/nr-host" --hugepages "8 0" --timeout 300 >"$tmp/nr5" 2>&1
	rc5=$?
	t "native-run.sh on this kernel (COWLAB_NATIVE_ANY_KERNEL=1): the smoke plan ran, mounts, pool and /tmp as before" bash -c \
		"[ $rc5 -le 1 ] && grep -q '^ok 2 thp-sysfs' '$tmp/nr-host/result.ktap' && [ \$(wc -l </proc/mounts) = $m0 ] && [ \"\$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages 2>/dev/null)\" = '$hp0' ] && ! ls -d /tmp/cowlab-native.* 2>/dev/null"
else
	t "native-run.sh on this kernel # SKIP needs root, mount/network/PID namespaces and build/initramfs.cpio.gz" true
fi
# check-deb (make deb-check): a stand-in image package with a kernel, its
# config missing one asked-for option and no modules: those checks fail
mkdir -p "$tmp/debs/empty" "$tmp/pkg/DEBIAN" "$tmp/pkg/boot" "$tmp/pkg/lib/modules/6.12.0-cowlab"
"$top/scripts/check-deb" "$tmp/debs/empty" >"$tmp/cd0" 2>&1
t "check-deb without packages: exit 2, says make deb" bash -c "[ $? = 2 ] && grep -q 'no linux-image.*make deb' '$tmp/cd0'"
printf 'Package: linux-image-6.12.0-cowlab\nVersion: 1\nArchitecture: amd64\nMaintainer: t <t@t>\nDescription: t\n' >"$tmp/pkg/DEBIAN/control"
: >"$tmp/pkg/boot/vmlinuz-6.12.0-cowlab"
: >"$tmp/pkg/boot/System.map-6.12.0-cowlab"
: >"$tmp/pkg/lib/modules/6.12.0-cowlab/modules.order"
grep -h '^CONFIG_' "$top/configs/native.config" "$top/configs/cowlab.config" | grep -v '^CONFIG_COW_ODF=' >"$tmp/pkg/boot/config-6.12.0-cowlab"
dpkg-deb --build "$tmp/pkg" "$tmp/debs/linux-image-6.12.0-cowlab_1_amd64.deb" >/dev/null 2>&1
"$top/scripts/check-deb" --no-boot "$tmp/debs" >"$tmp/cd1" 2>&1
rc=$?
t "check-deb: a package without modules, headers and one option fails those checks, exit 1" bash -c \
	"[ $rc = 1 ] && grep -q '^ok 1 - .*one /boot/vmlinuz' '$tmp/cd1' && grep -q '^not ok .*NIC modules' '$tmp/cd1' && grep -q '^not ok .*packaged config.*CONFIG_COW_ODF=y (packaged: not set)' '$tmp/cd1' && grep -q '^not ok .*linux-headers' '$tmp/cd1' && grep -q 'SKIP --no-boot' '$tmp/cd1' && tail -n 1 '$tmp/cd1' | grep -qx '[0-9]* passed, [1-9][0-9]* failed'"
"$st" --dry-run --part odf --no-build >"$tmp/dry4" 2>&1
rc=$?
# --no-build boots what build/ holds: refused, naming the file, when it is not there
if [ -f "$top/build/obj-base/bzImage" ] && [ -f "$top/build/initramfs.cpio.gz" ]; then
	t "study.sh --no-build: boots build/'s kernel, builds nothing" bash -c "[ $rc = 0 ] && [ \$(grep -c run-guest '$tmp/dry4') = 1 ] && ! grep -q make '$tmp/dry4'"
else
	t "study.sh --no-build without build/: exit 2, names the missing file" bash -c "[ $rc = 2 ] && grep -q 'no-build: build/.* missing' '$tmp/dry4'"
fi
for arg in "--jobs 0" "--part nope" "--part odf," "--part odf,,precopy" "--part precopy,nope" "--accel xen" "--runs x" "--frob"; do
	# shellcheck disable=SC2086
	"$st" $arg --dry-run >/dev/null 2>"$tmp/err"
	t "study.sh $arg: exit 2, says why" bash -c "[ $? = 2 ] && grep -q 'study.sh' '$tmp/err'"
done

# host-anchors: usage, bad input changes nothing; a run with a stand-in
# cowbench (no benchmark runs) and a stand-in 2 MiB pool
ha=$top/scripts/host-anchors
"$ha" --help >"$tmp/hah" 2>&1
t "host-anchors --help: exit 0, names its outputs" bash -c "[ $? = 0 ] && grep -q 'OUT/host/anchors.jsonl' '$tmp/hah' && grep -q 'OUT/host/run.json' '$tmp/hah'"
"$ha" --list >"$tmp/hal" && "$ha" --list --quick >"$tmp/halq"
t "host-anchors --list: 19 anchors (--quick 16), each a cowbench command" bash -c \
	"[ \$(grep -c ' cowbench --scenario ' '$tmp/hal') = 19 ] && [ \$(grep -c ' cowbench --scenario ' '$tmp/halq') = 16 ] && grep -q '^cow-4k .*--who child --pattern seq --bytes 1' '$tmp/hal'"
: >"$tmp/afile"
# every one is refused before anything is built, run or written
for arg in "--only nosuch" "--quick --only populate-w4" "--cowbench $tmp/nosuch" "--frob"; do
	# shellcheck disable=SC2086
	"$ha" $arg --out "$tmp/ha-bad" >/dev/null 2>"$tmp/err"
	t "host-anchors $arg: exit 2, says why, writes nothing" bash -c "[ $? = 2 ] && grep -q 'host-anchors' '$tmp/err' && ! grep -q Traceback '$tmp/err' && [ ! -e '$tmp/ha-bad' ]"
done
"$ha" --out "$tmp/afile" >/dev/null 2>"$tmp/err"
t "host-anchors --out FILE: exit 2, says why, the file untouched" bash -c "[ $? = 2 ] && grep -q 'not a directory' '$tmp/err' && [ ! -s '$tmp/afile' ]"
fake=$tmp/fakebench
cat >"$fake" <<'SH'
#!/bin/bash
# a stand-in cowbench: one result line an anchor; trap is skipped, populate-w1 fails
label= json=
while [ $# -gt 0 ]; do case $1 in --label) label=$2; shift ;; --json) json=$2; shift ;; esac; shift; done
case $label in
trap) echo '{"type":"result","label":"trap","skipped":"no trap here"}' >>"$json"; echo "skip: no trap here"; exit 4 ;;
populate-w1) echo "cowbench: boom" >&2; exit 1 ;;
hugetlb-2m) cat "$COWLAB_HUGEPAGES_2M/nr_hugepages" >"$COWLAB_HUGEPAGES_2M/seen"; [ -n "${KILL_PARENT:-}" ] && { kill -TERM $PPID; exec sleep 10; } ;;
esac
echo "{\"type\":\"result\",\"label\":\"$label\",\"p50_ns\":1000,\"p99_ns\":2000,\"page_ok\":true,\"size\":16777216}" >>"$json"
SH
chmod +x "$fake"
hp=$tmp/hp
mkdir -p "$hp" && echo 0 >"$hp/nr_hugepages" && ln -s nr_hugepages "$hp/free_hugepages"
only=cow-4k,trap,hugetlb-2m,populate-w1
COWLAB_HUGEPAGES_2M=$hp "$ha" --quick --cowbench "$fake" --only $only --out "$tmp/ha" >"$tmp/ha.out" 2>&1
rc=$?
hj() { /usr/bin/python3 -c "import json,sys; r=json.load(open(sys.argv[1])); print($1)" "$2" 2>&1; }
cmd=$(hj 'r["command"]' "$tmp/ha/host/run.json") skip=$(hj 'r["skipped"]' "$tmp/ha/host/run.json")
failed=$(hj '[x["anchor"] for x in r["failed"]]' "$tmp/ha/host/run.json")
t "host-anchors: a failed anchor is exit 1, the others still run" bash -c \
	"[ $rc = 1 ] && [ \$(grep -c '\"label\"' '$tmp/ha/host/anchors.jsonl') = 3 ] && grep -q 'populate-w1: FAILED (exit 1): cowbench: boom' '$tmp/ha.out'"
ran_as_told() {
	[ "$cmd" = "scripts/host-anchors --quick --cowbench $fake --only $only --out $tmp/ha" ] &&
		[ "$skip" = "[{'anchor': 'trap', 'reason': 'no trap here'}]" ] && [ "$failed" = "['populate-w1']" ]
}
t "host-anchors: run.json names the command, the skipped anchor with its reason, the failed one" ran_as_told
if [ "$(id -u)" = 0 ]; then
	t "host-anchors: the 2 MiB pool raised for the hugetlb anchor (16 pages), then restored" bash -c "[ \"\$(cat '$hp/seen')\" = 16 ] && [ \"\$(cat '$hp/nr_hugepages')\" = 0 ]"
	rm -f "$hp/seen"
	KILL_PARENT=1 COWLAB_HUGEPAGES_2M=$hp "$ha" --quick --cowbench "$fake" --only hugetlb-2m --out "$tmp/ha2" >"$tmp/ha2.out" 2>&1
	rc=$? stopped=$(hj 'r["stopped"]' "$tmp/ha2/host/run.json")
	t "host-anchors: SIGTERM during the hugetlb anchor: exit 130, pool restored, run.json says stopped" bash -c \
		"[ $rc = 130 ] && [ \"\$(cat '$hp/seen')\" = 16 ] && [ \"\$(cat '$hp/nr_hugepages')\" = 0 ] && [ '$stopped' = 'signal 15' ]"
else
	t "host-anchors: not root, the hugetlb anchor is skipped with the reason" bash -c \
		"[ ! -e '$hp/seen' ] && grep -q 'hugetlb-2m: skipped: 0 free 2 MiB huge pages, 16 needed, and not root' '$tmp/ha.out'"
fi

echo "1..$n"
exit $bad
