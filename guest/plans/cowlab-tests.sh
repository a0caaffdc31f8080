# SPDX-License-Identifier: GPL-2.0
# Plan "cowlab-tests": every cowlab KTAP test binary in /bin (tests/guest,
# built into build/guest-tests as *_test), each one a subtest. The tests set
# the knobs they need and restore them; every feature is off around them.
# cowlab.only=a_test,b_test limits the run to those binaries.
feature_apply off
found=0
for t in /bin/*_test; do
	[ -x "$t" ] || continue
	# cowbench_*_test are cowbench's host unit tests (userspace-bench/build)
	case "$(basename "$t")" in cowbench_*) continue ;; esac
	if [ -n "${COWLAB_ONLY:-}" ]; then
		case ",$COWLAB_ONLY," in *",$(basename "$t"),"*) ;; *) continue ;; esac
	fi
	found=1
	run_prog "$(basename "$t")" 600 "$t"
done
[ $found = 1 ] || ktap_result skip cowlab-tests "no /bin/*_test in this initramfs"
feature_apply off
