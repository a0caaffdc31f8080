# SPDX-License-Identifier: GPL-2.0
# Plan "cowlab-tests": every cowlab KTAP test binary in /bin (tests/guest,
# built into build/guest-tests as *_test), each one a subtest. The tests set
# the knobs they need and restore them; every feature is off around them.
# cowlab.only=a_test,b_test limits the run to those binaries;
# cowlab.except=a_test,b_test leaves those out.
#
# Then "leak-check": after page cache and slab caches are dropped and memory
# compacted (which drains the per-CPU page lists), the
# anonymous pages (nr_anon_pages) must be back within 1024 pages (4 MiB) of
# the start, and free memory (nr_free_pages) within 8192 pages (32 MiB),
# except on a KASAN kernel, whose quarantine keeps freed memory for a while
# (the anonymous check still applies). Every test process has exited then:
# what stays allocated is the kernel's.
#
# Then "kmemleak", on a kernel with CONFIG_DEBUG_KMEMLEAK (configs/debug.config):
# the objects kmemleak knew before the tests are cleared from its report,
# and after them two scans must find no unreferenced object; any found is
# printed (its backtrace) and fails the plan.
KML=/sys/kernel/debug/kmemleak
mem_snapshot() { # prints "anon free"
	sync
	echo 3 >/proc/sys/vm/drop_caches
	# compaction also drains the per-CPU free page lists
	[ -w /proc/sys/vm/compact_memory ] && echo 1 >/proc/sys/vm/compact_memory
	awk '$1 == "nr_anon_pages" { a = $2 } $1 == "nr_free_pages" { f = $2 }
		END { print a, f }' /proc/vmstat
}

feature_apply off
kml=0
if [ -w $KML ] && echo clear >$KML 2>/dev/null; then
	kml=1
	ktap_diag "kmemleak on: $(dmesg | grep -m1 'kmemleak: Kernel memory leak detector' | sed 's/^\[[^]]*\] //')"
	# boot-time objects: scanned and cleared, so only the tests' remain
	echo scan >$KML && echo clear >$KML
fi
read -r anon0 free0 <<EOS
$(mem_snapshot)
EOS
found=0
for t in /bin/*_test; do
	[ -x "$t" ] || continue
	# cowbench_*_test are cowbench's host unit tests (userspace-bench/build)
	case "$(basename "$t")" in cowbench_*) continue ;; esac
	if [ -n "${COWLAB_ONLY:-}" ]; then
		case ",$COWLAB_ONLY," in *",$(basename "$t"),"*) ;; *) continue ;; esac
	fi
	case ",${COWLAB_EXCEPT:-}," in *",$(basename "$t"),"*) continue ;; esac
	found=1
	run_prog "$(basename "$t")" 600 "$t"
done
[ $found = 1 ] || ktap_result skip cowlab-tests "no /bin/*_test in this initramfs"
feature_apply off

read -r anon1 free1 <<EOS
$(mem_snapshot)
EOS
danon=$((anon1 - anon0)) dfree=$((free0 - free1))
kasan=0
grep -q ' kasan_report$' /proc/kallsyms 2>/dev/null && kasan=1
ktap_diag "leak-check: nr_anon_pages $anon0 -> $anon1 ($danon), nr_free_pages $free0 -> $free1 (-$dfree)$([ $kasan = 1 ] && echo ', KASAN kernel: free memory not judged')"
if [ $danon -gt 1024 ]; then
	ktap_result fail leak-check "nr_anon_pages grew by $danon pages (tolerance 1024)"
elif [ $kasan = 0 ] && [ $dfree -gt 8192 ]; then
	ktap_result fail leak-check "free memory fell by $dfree pages (tolerance 8192)"
else
	ktap_result ok leak-check
fi

if [ $kml = 1 ]; then
	# an object must stay unreferenced across two scans (and be older than
	# kmemleak's 5 s minimum age) to be reported
	sleep 6
	echo scan >$KML
	echo scan >$KML
	cat $KML >"$RESULTS/kmemleak.txt"
	n=$(grep -c '^unreferenced object' "$RESULTS/kmemleak.txt")
	ktap_diag "kmemleak: $n unreferenced objects after the cowlab tests"
	if [ "$n" -gt 0 ]; then
		sed -n '1,60s/^/# /p' "$RESULTS/kmemleak.txt" >&3
		ktap_result fail kmemleak "$n unreferenced objects (first 60 lines above)"
	else
		ktap_result ok kmemleak
	fi
elif [ -e $KML ]; then
	ktap_result fail kmemleak "$KML exists but kmemleak is disabled (dmesg says why)"
fi
