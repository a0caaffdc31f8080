# SPDX-License-Identifier: GPL-2.0
# Plan "selftests": the upstream mm selftests (guest/selftests.list), once per
# feature set named in cowlab.features (default "off"; see guest/features/).
# Subtest names are FEATURE:TEST so one baseline serves every feature set.
# cowlab.only=a,b limits the run to those tests (by name). Before each test
# the page cache is dropped and memory compacted, so that huge page
# allocations do not depend on what the tests before left behind. Tests on
# the list's "@retry" line get a second run after a failure (guest/lib.sh).
# cowlab.tmoscale=N multiplies the list's timeouts (default 3 on a KASAN
# kernel, else 1).

retry=$(sed -n 's/^@retry //p' /lib/cowlab/selftests.list)
# the list's timeouts are for the base kernel; KASAN + lockdep + kmemleak
# under TCG run the same tests about 3x slower (cowlab.tmoscale=N overrides)
scale=1
grep -q ' kasan_report$' /proc/kallsyms 2>/dev/null && scale=3
scale=${COWLAB_TMOSCALE:-$scale}
[ "$scale" = 1 ] || ktap_diag "timeouts x$scale"

for feat in $(echo "${COWLAB_FEATURES:-off}" | tr , ' '); do
	if ! feature_apply "$feat"; then
		ktap_result fail "$feat" "feature set not available on this kernel (knob missing)"
		continue
	fi
	while read -r name tmo cmd; do
		case "$name" in '#'* | '@'* | '') continue ;; esac
		if [ -n "${COWLAB_ONLY:-}" ]; then
			case ",$COWLAB_ONLY," in *",$name,"*) ;; *) continue ;; esac
		fi
		sync
		echo 3 >/proc/sys/vm/drop_caches
		[ -w /proc/sys/vm/compact_memory ] && echo 1 >/proc/sys/vm/compact_memory
		again=0
		case " $retry " in *" $name "*) again=1 ;; esac
		cd /selftests/mm
		RUN_PROG_RETRY=$again run_prog "$feat:$name" $((tmo * scale)) ./$cmd
		cd /
	done </lib/cowlab/selftests.list
done
feature_apply off
