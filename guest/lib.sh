# SPDX-License-Identifier: GPL-2.0
# Shell library for cowlab guest plans (busybox sh). Sourced by /init.
#
# Top-level KTAP goes to fd 3 (the host's result stream, /dev/ttyS1); the
# output of every program run by run_prog is nested under it, indented by
# four spaces, so each program is one KTAP subtest.
# COWLAB_NATIVE=1 (scripts/native-run.sh: the plan on a real machine's
# kernel): fd 3 is already the stream file, progress goes to stderr (>&2), not
# the console, and the end does not power anything off.

KTAP_N=0
KTAP_FAILED=0
RESULTS=${COWLAB_RESULTS:-/tmp/results}

ktap_open() {
	if [ "${COWLAB_NATIVE:-0}" != 1 ]; then
		exec 3>/dev/ttyS1 || exec 3>/dev/console
		stty -F /dev/ttyS1 raw -echo 2>/dev/null
	fi
	mkdir -p "$RESULTS"
	echo "KTAP version 1" >&3
	echo "# cowlab guest: $(uname -r), plan=${COWLAB_PLAN:-smoke}, $(nproc) cpus, $(awk '/MemTotal/ {print $2 " kB"}' /proc/meminfo)" >&3
}

# ktap_result STATUS NAME [DIRECTIVE]: STATUS is ok, fail or skip.
ktap_result() {
	KTAP_N=$((KTAP_N + 1))
	case "$1" in
	ok) echo "ok $KTAP_N $2" >&3 ;;
	skip) echo "ok $KTAP_N $2 # SKIP ${3:-}" >&3 ;;
	*) echo "not ok $KTAP_N $2${3:+ # $3}" >&3; KTAP_FAILED=$((KTAP_FAILED + 1)) ;;
	esac
	if [ "${COWLAB_NATIVE:-0}" = 1 ]; then echo "cowlab: [$KTAP_N] $1 $2" >&2; else echo "cowlab: [$KTAP_N] $1 $2" >/dev/console; fi
}

ktap_diag() { echo "# $*" >&3; }

ktap_bail() {
	echo "Bail out! $*" >&3
	KTAP_FAILED=$((KTAP_FAILED + 1))
	ktap_close
}

# send_file NAME PATH: frame a text file to the host (docs/formats.md §5).
# The emulated UART moves ~100 KB/s, so a file over 32 KiB (a kernel log full
# of samples) goes gzip'ed and base64-encoded: ~10x fewer bytes.
send_file() {
	[ -f "$2" ] || { ktap_diag "send_file: $2 missing"; return 1; }
	if [ "$(wc -c <"$2")" -gt 32768 ]; then
		echo "@@cowlab-file-gz64 $1" >&3
		gzip -c "$2" | base64 >&3
	else
		echo "@@cowlab-file $1" >&3
		cat "$2" >&3
		# make sure the end marker starts a line
		[ -z "$(tail -c 1 "$2")" ] || echo >&3
	fi
	echo "@@cowlab-end $1" >&3
}

# run_prog NAME TIMEOUT CMD [ARGS...]: run one program as a KTAP subtest.
# Exit 0 = ok, 4 (KSFT_SKIP) = skip, anything else (incl. timeout) = not ok.
run_prog() {
	name=$1; tmo=$2; shift 2
	log=$RESULTS/log/$name.log
	mkdir -p "$(dirname "$log")"
	attempt=1
	while :; do
		echo "# $name: $*" >&3
		t0=$(cut -d' ' -f1 /proc/uptime)
		# Stream the program's output live (nested, indented) and keep a copy.
		{
			timeout -s KILL "$tmo" "$@" </dev/null 2>&1
			echo $? >"$log.rc"
		} | tee "$log" | awk '{ print "    " $0; fflush() }' >&3
		rc=$(cat "$log.rc")
		t1=$(cut -d' ' -f1 /proc/uptime)
		secs=$(awk "BEGIN {printf \"%.1f\", $t1 - $t0}")
		# RUN_PROG_RETRY=1: a failure (not a skip) gets one more run; the
		# host judges the second (scripts/ktap-compare drops the nested
		# results before a "# RETRY" line) and reports that it retried.
		if [ "${RUN_PROG_RETRY:-0}" = 1 ] && [ $attempt = 1 ] && [ "$rc" != 0 ] && [ "$rc" != 4 ]; then
			echo "# RETRY $name: exit $rc in ${secs}s; its output above is kept, the next run is judged" >&3
			cp "$log" "$log.1"
			attempt=2
			continue
		fi
		break
	done
	case $rc in
	0) ktap_result ok "$name" ;;
	4) ktap_result skip "$name" "exit 4 (KSFT_SKIP)" ;;
	137) ktap_result fail "$name" "TIMEOUT after ${tmo}s" ;;
	*) ktap_result fail "$name" "exit $rc" ;;
	esac
	echo "# $name: exit $rc in ${secs}s" >&3
	return $rc
}

# sysctl_set NAME VALUE: set a vm sysctl if this kernel has it (vanilla has none
# of cowlab's); returns 1 when it does not exist.
sysctl_set() {
	f=/proc/sys/$(echo "$1" | tr . /)
	[ -w "$f" ] || return 1
	echo "$2" >"$f"
}

ktap_close() {
	echo "1..$KTAP_N" >&3
	# appended: a plan may already have drained earlier parts with dmesg -c
	dmesg >>"$RESULTS/dmesg.txt"
	send_file dmesg.txt "$RESULTS/dmesg.txt"
	if [ "$KTAP_FAILED" = 0 ]; then v=pass; code=0; else v=fail; code=1; fi
	echo "@@cowlab-verdict $v" >&3
	exec 3>&-
	[ "${COWLAB_NATIVE:-0}" = 1 ] && exit $code
	cowlab-exit $code
	# not reached unless cowlab-exit failed
	poweroff -f
}

# features_all: every feature set at once, "a+b+...": all sets but "off",
# the variants (alternative settings of the same knobs, "# variant-of:") and
# the sets that switch nothing, as scripts/features.py all.
features_all() {
	for _f in /lib/cowlab/features/*.conf; do
		case $_f in */off.conf) continue ;; esac
		grep -q '^# variant-of:' "$_f" && continue
		grep -qv '^\s*\(#\|$\)' "$_f" && basename "$_f" .conf
	done | sort | tr '\n' + | sed 's/+$//'
}

# feature_apply NAME[+NAME...]: reset to /lib/cowlab/features/off.conf, then
# apply each NAME.conf in turn (lines "sysctl.name=value" or "/path=value"),
# so "stat+precopy" turns on both. Returns 1 (and leaves everything off) when
# a knob a set needs does not exist on this kernel.
feature_apply() {
	_knobs off 0
	[ "$1" = off ] && return 0
	for _f in $(echo "$1" | tr + ' '); do
		[ -f "/lib/cowlab/features/$_f.conf" ] || { ktap_diag "no feature set '$_f'"; _knobs off 0; return 1; }
		if ! _knobs "$_f" 1; then
			_knobs off 0
			return 1
		fi
		ktap_diag "feature set $_f: $(grep -v '^#' "/lib/cowlab/features/$_f.conf" | tr '\n' ' ')"
	done
}

_knobs() {
	grep -v '^\s*\(#\|$\)' "/lib/cowlab/features/$1.conf" | {
		ret=0
		while IFS='=' read -r k v; do
			case "$k" in
			/*) f=$k ;;
			*) f=/proc/sys/$(echo "$k" | tr . /) ;;
			esac
			if [ -w "$f" ]; then
				echo "$v" >"$f" || ret=1
			elif [ "$2" = 1 ]; then
				ktap_diag "feature $1: $k missing"
				ret=1
			fi
		done
		return $ret
	}
}
