# SPDX-License-Identifier: GPL-2.0
# Plan "odf-study": on-demand fork (ODF: fork shares the PTE tables of
# private anonymous 2 MiB ranges, a table is copied on the first fault or
# page-table change in its range) against a vanilla fork, in one boot.
# For each region size, cowbench --scenario fork (4K pages, --verify) with
# the child exiting, exec'ing /bin/true, and writing 1 %, 10 % and 100 % of
# the region; each configuration under every mode in turn: off (prctl
# PR_SET_COW_ODF 2, a vanilla fork) and on (prctl 1), then the next
# configuration, so the two run side by side. Writes run twice: with every
# write timed (the first-touch histogram) and with --no-page-times (clean
# total times). Results go to odf.jsonl, labelled with the mode.
# Knobs (scripts/run-guest.sh --set KEY=VALUE):
#   cowlab.sizes=64M,256M,1G,max  region sizes (M or G); "max" is the largest
#       multiple of 256M whose heaviest run fits in MemAvailable at the start.
#       Before each run the plan checks MemAvailable again and skips, with a
#       diag line, a run that does not fit: size x (1 + touch fraction),
#       + 5 % and 64M of slack
#   cowlab.reps=5       repetitions per run
#   cowlab.actions=exit,exec,write   cowlab.fracs=0.01,0.1,1
#   cowlab.modes=off,on (also sysctl0, sysctl1: --odf sysctl with vm.cow_odf
#       0 or 1, restored after the run)
#   cowlab.pagetimes=both  write runs with per-write times (on), without
#       (off), or both
#   cowlab.exec=/bin/true  cowlab.verify=1  cowlab.tmo=1800 (per run, s)
# A kernel without vm.cow_odf runs the off mode only (vanilla numbers) and
# reports the others as one skip. Under TCG the default set takes about
# half an hour at 6 GB: pass run-guest.sh --timeout 7200. Report:
# scripts/odf-report RUN_DIR.
odf_reps=${COWLAB_REPS:-5}
odf_sizes=$(echo "${COWLAB_SIZES:-64M,256M,1G,max}" | tr , ' ')
odf_actions=$(echo "${COWLAB_ACTIONS:-exit,exec,write}" | tr , ' ')
odf_fracs=$(echo "${COWLAB_FRACS:-0.01,0.1,1}" | tr , ' ')
odf_modes=$(echo "${COWLAB_MODES:-off,on}" | tr , ' ')
odf_pt=${COWLAB_PAGETIMES:-both}
odf_exec=${COWLAB_EXEC:-/bin/true}
odf_verify=${COWLAB_VERIFY:-1}
odf_tmo=${COWLAB_TMO:-1800}
J=$RESULTS/odf.jsonl
: >"$J"

# MemAvailable in MiB
odf_avail_mb() { awk '/^MemAvailable:/ {print int($2 / 1024)}' /proc/meminfo; }

# odf_mb SIZE: 64M -> 64, 2G -> 2048; empty when SIZE is not <N>M or <N>G
odf_mb() {
	o_n=${1%?}
	case $o_n in '' | *[!0-9]*) return ;; esac
	case $1 in
	*[gG]) echo $((o_n * 1024)) ;;
	*[mM]) echo "$o_n" ;;
	esac
}

# odf_need_mb MB FRAC: what a run needs: the region, the child's copies,
# 5 % (page tables, cowbench's arrays) and 64M of slack
odf_need_mb() { awk -v m="$1" -v f="$2" 'BEGIN {printf "%d", m * (1 + f) * 1.05 + 64}'; }

# odf_max_mb FACTOR: the largest multiple of 256M with MB x FACTOR x 1.05
# + 64 <= MemAvailable, or 0
odf_max_mb() {
	awk -v a="$(odf_avail_mb)" -v f="$1" 'BEGIN {m = int((a - 64) / f / 1.05 / 256) * 256; print (m > 0 ? m : 0)}'
}

# odf_run MODE ACTION FRAC PT SIZE: one cowbench run (FRAC, PT: write only)
odf_run() {
	o_mode=$1 o_act=$2 o_frac=$3 o_pt=$4 o_size=$5
	o_mb=$(odf_mb "$o_size")
	o_need=$(odf_need_mb "$o_mb" "$([ "$o_act" = write ] && echo "$o_frac" || echo 0)")
	o_avail=$(odf_avail_mb)
	o_what=$o_act
	set --
	case $o_act in
	write)
		o_what=write$o_frac
		[ "$o_pt" = off ] && { o_what=$o_what-total; set -- --no-page-times; }
		set -- "$@" --touch-frac "$o_frac" ;;
	exec) set -- --exec "$odf_exec" ;;
	esac
	if [ "$o_need" -gt "$o_avail" ]; then
		ktap_diag "odf-study: skip $o_mode:$o_what:$o_size: needs ~${o_need} MiB, MemAvailable ${o_avail} MiB"
		return 0
	fi
	[ "$odf_verify" = 1 ] && set -- "$@" --verify
	o_odf=$o_mode
	case $o_mode in
	sysctl0 | sysctl1)
		o_odf=sysctl
		o_old=$(cat /proc/sys/vm/cow_odf)
		sysctl_set vm.cow_odf "${o_mode#sysctl}" ;;
	esac
	run_prog "$o_mode:$o_what:$o_size" "$odf_tmo" cowbench --scenario fork --page 4k \
		--size "$o_size" --reps "$odf_reps" --child "$o_act" --odf "$o_odf" \
		--label "$o_mode" --json "$J" "$@"
	case $o_mode in sysctl0 | sysctl1) sysctl_set vm.cow_odf "$o_old" ;; esac
}

# knobs: drop what is not understood, each with a failed test point
o_ok=
for a in $odf_actions; do
	case $a in
	exit | exec | write) o_ok="$o_ok $a" ;;
	*) ktap_result fail "odf-study:actions" "cowlab.actions: '$a' is not exit, exec or write" ;;
	esac
done
odf_actions=${o_ok# }
o_ok=
for m in $odf_modes; do
	case $m in
	off | on | sysctl0 | sysctl1) o_ok="$o_ok $m" ;;
	*) ktap_result fail "odf-study:modes" "cowlab.modes: '$m' is not off, on, sysctl0 or sysctl1" ;;
	esac
done
odf_modes=${o_ok# }
o_ok=
for f in $odf_fracs; do
	if awk -v f="$f" 'BEGIN {exit !(f ~ /^[0-9.]+$/ && f > 0 && f <= 1)}'; then
		o_ok="$o_ok $f"
	else
		ktap_result fail "odf-study:fracs" "cowlab.fracs: '$f' is not a fraction in (0, 1]"
	fi
done
odf_fracs=${o_ok# }
case $odf_pt in
on | off | both) ;;
*) ktap_result fail "odf-study:pagetimes" "cowlab.pagetimes: '$odf_pt' is not on, off or both"; odf_pt=both ;;
esac

if [ ! -e /proc/sys/vm/cow_odf ]; then
	o_rest=$(echo "$odf_modes" | tr ' ' '\n' | grep -vx off | tr '\n' , | sed 's/,$//')
	odf_modes=$(echo "$odf_modes" | tr ' ' '\n' | grep -x off)
	[ -n "$o_rest" ] && ktap_result skip "odf-study:$o_rest" "kernel without vm.cow_odf: only the vanilla fork (off) runs"
fi

# sizes: "max" resolved now, against the heaviest configured run
odf_factor=1
case " $odf_actions " in *" write "*)
	for f in $odf_fracs; do
		odf_factor=$(awk -v a="$odf_factor" -v b="$f" 'BEGIN {print (1 + b > a ? 1 + b : a)}')
	done ;;
esac
odf_list=
odf_top=0
for s in $odf_sizes; do
	[ "$s" = max ] && continue
	mb=$(odf_mb "$s")
	if [ -z "$mb" ] || [ "$mb" = 0 ]; then
		ktap_result fail "odf-study:sizes" "cowlab.sizes: '$s' is not <N>M, <N>G or max"
		continue
	fi
	odf_list="$odf_list $s"
	[ "$mb" -gt "$odf_top" ] && odf_top=$mb
done
case " $odf_sizes " in *" max "*)
	mb=$(odf_max_mb "$odf_factor")
	if [ "$mb" -gt "$odf_top" ]; then
		odf_list="$odf_list ${mb}M"
		ktap_diag "odf-study: max = ${mb}M (MemAvailable $(odf_avail_mb) MiB, heaviest run needs x$odf_factor)"
	else
		ktap_diag "odf-study: max = ${mb}M, not above the largest listed size: not added"
	fi ;;
esac

feature_apply off
odf_sysctl0=$(cat /proc/sys/vm/cow_odf 2>/dev/null)
ktap_diag "odf-study: sizes:$odf_list modes: $odf_modes actions: $odf_actions fracs: $odf_fracs pagetimes=$odf_pt reps=$odf_reps vm.cow_odf=${odf_sysctl0:-absent} MemAvailable $(odf_avail_mb) MiB"
cat /proc/vmstat >"$RESULTS/vmstat-before.txt"
cat /proc/meminfo >"$RESULTS/meminfo.txt"
for s in $odf_list; do
	for a in $odf_actions; do
		case $a in
		write)
			case $odf_pt in
			both) pts="on off" ;;
			*) pts=$odf_pt ;;
			esac
			for f in $odf_fracs; do
				for pt in $pts; do
					for m in $odf_modes; do
						odf_run "$m" write "$f" "$pt" "$s"
					done
				done
			done ;;
		exit | exec)
			for m in $odf_modes; do
				odf_run "$m" "$a" 1 on "$s"
			done ;;
		esac
	done
done
[ -n "$odf_sysctl0" ] && sysctl_set vm.cow_odf "$odf_sysctl0"
cat /proc/vmstat >"$RESULTS/vmstat-after.txt"
send_file odf.jsonl "$J"
send_file vmstat-before.txt "$RESULTS/vmstat-before.txt"
send_file vmstat-after.txt "$RESULTS/vmstat-after.txt"
send_file meminfo.txt "$RESULTS/meminfo.txt"
