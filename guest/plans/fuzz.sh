# SPDX-License-Identifier: GPL-2.0
# Plan "fuzz": fuzzers cowlab did not write, against every cowlab feature at
# once and on-demand fork for every process (vm.cow_odf=1 in odf.conf):
#  - trinity (Debian's, Dave Jones's syscall fuzzer): the "vm" syscall group
#    (mmap, mremap, mprotect, madvise, mlock, msync, mincore, process_vm_*,
#    migrate/move_pages, mbind ...) as user "nobody";
#  - stress-ng: the memory stressors below, one instance each, at once, with
#    --verify (the stressors that can check their data do).
# Each runs for cowlab.duration seconds (default 60), then is stopped with
# SIGINT. A fuzzer fails when it exits with an error (stress-ng: a stressor
# failed or its --verify found bad data) or the kernel's taint flags change
# under it; the host fails the boot on any
# kernel splat (scripts/splat-scan.sh on the console and dmesg). The counts
# (syscalls, bogo ops) are diagnostics.
# Knobs: cowlab.duration=SECONDS (each fuzzer), cowlab.features=SET[+SET]
# (default: every set but "off" and the variants, as scripts/features.py
# all), cowlab.seed=N (trinity's seed; default: from the clock, printed), cowlab.children=N
# (trinity's children, default 4), cowlab.stressors=a+b (stress-ng's
# stressors instead of the list below), cowlab.fuzzers=trinity+stress-ng.
FUZZ_STRESSORS=${COWLAB_STRESSORS:-"bigheap brk fork madvise mlock mmap mmapaddr mmapfixed mmapfork
mmapmany mprotect mremap msync munmap pagemove pageswap remap rmap shm stackmmap
tlb-shootdown userfaultfd vm vm-addr vm-rw vm-segv vm-splice"}
# sizes small enough that a TCG guest with KASAN completes some operations
# of each stressor within the budget (stress-ng's defaults are 256 MiB each)
FUZZ_SIZES="--vm-bytes 32M --mmap-bytes 16M --mremap-bytes 16M --pagemove-bytes 8M
--vm-rw-bytes 4M"

dur=${COWLAB_DURATION:-60}
fuzz_wanted() { case "+${COWLAB_FUZZERS:-trinity+stress-ng}+" in *"+$1+"*) return 0 ;; esac; return 1; }
feats=${COWLAB_FEATURES:-$(features_all)}
seed=${COWLAB_SEED:-$(date +%s)}
mkdir -p /tmp/fuzz
cd /tmp/fuzz || ktap_bail "no /tmp/fuzz"
# the plan's shell must outlive the OOM killer; the fuzzers get the default
echo -1000 >/proc/self/oom_score_adj

# /tmp/fuzz/fuzz-run NAME CMD...: run CMD with the default OOM score,
# stopped with SIGINT after $dur s (SIGKILL 120 s later); print the last
# lines of its output (its failure lines first); fail when it exits with
# anything but 0 or the SIGINT's 130 (stress-ng: only when a stressor's
# check printed "fail:"), or when the kernel's taint flags change
# meanwhile. (Under TCG, stress-ng's vm-segv may print "no SIGSEGV
# signals detected" when SIGINT stops it before its first operation, and
# still exit 0; alone it runs ~2000 operations in 20 s, features on or off.)
cat >/tmp/fuzz/fuzz-run <<EOS
#!/bin/sh
name=\$1
shift
t0=\$(cat /proc/sys/kernel/tainted)
echo 0 >/proc/self/oom_score_adj
timeout -s INT -k 120 $dur "\$@" >/tmp/fuzz/\$name.out 2>&1
rc=\$?
t1=\$(cat /proc/sys/kernel/tainted)
# what failed first (a long run's tail would hide it), then the totals
grep -i ' fail: \\| error: \\| warn: \\|taint' /tmp/fuzz/\$name.out | head -n 20
grep -v '^\\[child\\|^\\[watchdog\\|^\\[main\\] .*done\\.\$\\| fail: \\| error: \\| warn: ' /tmp/fuzz/\$name.out | tail -n 50
echo "\$name: exit \$rc after at most ${dur}s (130: stopped by SIGINT at the budget), taint \$t0 -> \$t1"
[ "\$t0" = "\$t1" ] || { echo "\$name: the kernel became tainted"; exit 1; }
[ \$rc = 0 ] || [ \$rc = 130 ] && exit 0
# stress-ng: what fails is a stressor's check ("fail:" line: --verify found
# bad data), bar vm-segv's TCG artefact (the plan's comment); a stressor that stopped for
# want of memory or time in a small emulated guest (exit 2 or 3, no such
# line) is reported, not failed: the kernel is judged by taint and splats
if [ "\$name" = stress-ng ] &&
   ! grep ' fail: ' /tmp/fuzz/\$name.out | grep -qv 'vm-segv: no SIGSEGV signals detected'; then
	echo "\$name: exit \$rc with no stressor check failed: passed (see its warnings above)"
	exit 0
fi
exit 1
EOS
chmod +x /tmp/fuzz/fuzz-run

if ! feature_apply "$feats"; then
	ktap_result fail fuzz-features "feature set $feats: a knob is missing on this kernel"
else
	ktap_diag "fuzz: ${dur}s each, features $feats, trinity seed $seed"
	if ! fuzz_wanted trinity; then
		:
	elif command -v trinity >/dev/null; then
		# as "nobody" (an unprivileged attacker; trinity's own --dropprivs
		# is experimental and waits 10 s), on a few victim files instead
		# of every file under /proc and /sys (minutes of start-up here)
		mkdir -p /tmp/fuzz/victims
		for v in a b c; do head -c 65536 /dev/urandom >/tmp/fuzz/victims/$v; done
		chown -R 65534:65534 /tmp/fuzz/victims
		chmod 1777 /tmp/fuzz
		run_prog trinity-vm $((dur + 240)) /tmp/fuzz/fuzz-run trinity \
			su -s /bin/sh nobody -c "exec trinity -q -l off -g vm -C ${COWLAB_CHILDREN:-4} \
			-s $seed -V /tmp/fuzz/victims --disable-fds=sockets"
	else
		ktap_result skip trinity-vm "no trinity in this initramfs (--dyn trinity)"
	fi
	if ! fuzz_wanted stress-ng; then
		:
	elif command -v stress-ng >/dev/null; then
		set --
		for s in $(echo "$FUZZ_STRESSORS" | tr + ' '); do set -- "$@" "--$s" 1; done
		run_prog stress-ng-vm $((dur + 240)) /tmp/fuzz/fuzz-run stress-ng \
			stress-ng "$@" $FUZZ_SIZES --verify --metrics-brief --temp-path /tmp/fuzz
	else
		ktap_result skip stress-ng-vm "no stress-ng in this initramfs (--dyn stress-ng)"
	fi
	ktap_diag "vmstat: $(grep -E '^(cow_|thp_split_pmd|pswp|oom_kill|ksm)' /proc/vmstat | tr '\n' ' ')"
fi
feature_apply off
