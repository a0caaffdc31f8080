# SPDX-License-Identifier: GPL-2.0
# Plan "selftests": the upstream mm selftests (guest/selftests.list), once per
# feature set named in cowlab.features (default "off"; see guest/features/).
# Subtest names are FEATURE:TEST so one baseline serves every feature set.
# cowlab.only=a,b limits the run to those tests (by name).

for feat in $(echo "${COWLAB_FEATURES:-off}" | tr , ' '); do
	if ! feature_apply "$feat"; then
		ktap_result fail "$feat" "feature set not available on this kernel (knob missing)"
		continue
	fi
	while read -r name tmo cmd; do
		case "$name" in '#'* | '') continue ;; esac
		if [ -n "${COWLAB_ONLY:-}" ]; then
			case ",$COWLAB_ONLY," in *",$name,"*) ;; *) continue ;; esac
		fi
		cd /selftests/mm
		run_prog "$feat:$name" "$tmo" ./$cmd
		cd /
	done </lib/cowlab/selftests.list
done
feature_apply off
