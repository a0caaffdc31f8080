# SPDX-License-Identifier: GPL-2.0
# Plan "native": scripts/native-run.sh (study.sh --native) runs a plan on the
# running kernel, no QEMU, as on a real machine that booted make deb's
# kernel. This guest is such a kernel: with --root / (the initramfs is the
# root already), the smoke plan's stream must carry its results and a pass
# verdict, the vm.cow_* sysctls and huge page pools it changed must be back,
# a missing plan must end in a fail verdict, bad arguments refused.
nr=/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
hp0=$(cat $nr)
sysctl_set vm.cow_precopy_max 5
s=/tmp/native/stream.txt
native-run.sh --root / --plan smoke --out /tmp/native --hugepages "160 2" >/tmp/native.log 2>&1
rc=$?
ktap_diag "native-run.sh --plan smoke: exit $rc: $(tail -n 1 /tmp/native.log)"
if [ $rc = 0 ] && grep -q '^@@cowlab-verdict pass' $s; then ktap_result ok native-smoke-pass
else ktap_result fail native-smoke-pass; fi
if grep -q '^ok 3 smoke-cowbench' $s && grep -q "^# hugetlb pages: 2M=160 " $s; then
	ktap_result ok native-smoke-results-and-hugepages
else
	ktap_result fail native-smoke-results-and-hugepages
fi
if [ "$(cat /proc/sys/vm/cow_precopy_max)" = 5 ] && [ "$(cat $nr)" = "$hp0" ]; then
	ktap_result ok native-restores-sysctls-and-pools
else
	ktap_result fail native-restores-sysctls-and-pools "cow_precopy_max=$(cat /proc/sys/vm/cow_precopy_max) 2M pool $(cat $nr), was $hp0"
fi
# a plan that changes a knob, the THP mode and a pool: each put back
thp=/sys/kernel/mm/transparent_hugepage/enabled
thp0=$(sed -n 's/.*\[\(.*\)\].*/\1/p' $thp)
cat >/plans/native-knobs.sh <<'P'
sysctl_set vm.cow_precopy_max 9
echo never >/sys/kernel/mm/transparent_hugepage/enabled
echo 32 >/sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages
ktap_result ok knobs-changed
P
native-run.sh --root / --plan native-knobs --out /tmp/native-knobs --hugepages "0 0" >/dev/null 2>&1
rc=$?
if [ $rc = 0 ] && [ "$(cat /proc/sys/vm/cow_precopy_max)" = 5 ] && grep -q "\[$thp0\]" $thp && [ "$(cat $nr)" = "$hp0" ]; then
	ktap_result ok native-restores-what-the-plan-changed
else
	ktap_result fail native-restores-what-the-plan-changed "exit $rc, cow_precopy_max=$(cat /proc/sys/vm/cow_precopy_max), THP $(cat $thp), 2M pool $(cat $nr) (was 5, $thp0, $hp0)"
fi
# past --timeout: exit 3 and the knobs back, whatever the plan printed
cat >/plans/native-sleepy.sh <<'P'
sysctl_set vm.cow_precopy_max 11
sleep 600
ktap_result ok slept
P
native-run.sh --root / --plan native-sleepy --out /tmp/native-sleepy --timeout 2 >/tmp/native-sleepy.log 2>&1
rc=$?
if [ $rc = 3 ] && grep -q 'verdict=timeout' /tmp/native-sleepy.log && [ "$(cat /proc/sys/vm/cow_precopy_max)" = 5 ]; then
	ktap_result ok native-timeout
else
	ktap_result fail native-timeout "exit $rc, cow_precopy_max=$(cat /proc/sys/vm/cow_precopy_max): $(tail -n 1 /tmp/native-sleepy.log)"
fi
sysctl_set vm.cow_precopy_max 0
native-run.sh --root / --plan nosuch --out /tmp/native-bad >/dev/null 2>&1
rc=$?
if [ $rc = 1 ] && grep -q '^Bail out! no plan nosuch' /tmp/native-bad/stream.txt; then ktap_result ok native-missing-plan-fails
else ktap_result fail native-missing-plan-fails "exit $rc"; fi
native-run.sh --plan smoke >/dev/null 2>&1
rc1=$?
native-run.sh --plan smoke --out /tmp/x --timeout soon >/dev/null 2>&1
rc2=$?
if [ $rc1 = 2 ] && [ $rc2 = 2 ] && [ ! -e /tmp/x ]; then ktap_result ok native-usage-refused
else ktap_result fail native-usage-refused "exit $rc1, $rc2"; fi
# its KTAP only: the stream's own frames and verdict would read as this
# boot's on the host
sed '/^@@cowlab-file/,/^@@cowlab-end/d; /^@@cowlab-verdict/d' $s >/tmp/native-smoke.ktap
send_file native-smoke.ktap /tmp/native-smoke.ktap
