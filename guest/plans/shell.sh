# SPDX-License-Identifier: GPL-2.0
# Plan "shell" (make shell): a login shell on the console, to explore the
# booted kernel by hand. /etc/profile gives it a greeting (the cowlab knobs
# and where their effects show), PS1 and "feature NAME" (a feature set, as
# the tests apply them). The shell's end (exit, Ctrl-D) ends the plan and
# powers the guest off. Knobs: cowlab.features=SET[+SET] (default off).
cat >/etc/profile <<'PROFILE'
export PS1='cowlab:\w# ' PATH=/bin:/sbin:/selftests/mm
. /lib/cowlab/lib.sh
# lib.sh speaks KTAP on fd 3, which the shell has not: its notes to stderr
ktap_diag() { echo "# $*" >&2; }
# feature SET[+SET]: every knob off, then the set(s) on (guest/features)
feature() {
	[ -n "$1" ] || { echo "usage: feature SET[+SET]: $(ls /lib/cowlab/features | sed 's/\.conf$//' | tr '\n' ' ')" >&2; return 2; }
	feature_apply "$1" && echo "feature set $1 on"
}
cowlab_help() {
	cat <<HELP
cowlab shell: Linux $(uname -r), busybox sh. exit or Ctrl-D powers off
(Ctrl-A x quits QEMU at once).
Knobs, now (sysctl -w NAME=VALUE; docs/formats.md, README "Features"):
$(for k in /proc/sys/vm/cow_*; do [ -e "$k" ] && printf '  vm.%s = %s\n' "${k##*/}" "$(cat "$k")"; done)
Feature sets (feature NAME, "off" resets every knob):
  $(ls /lib/cowlab/features | sed 's/\.conf$//' | tr '\n' ' ')
See a COW fault:
  sysctl -w vm.cow_log_sample=1; cowbench --size 4M --reps 1; dmesg | grep cow_stat:
  grep -E 'cow_|pgreuse' /proc/vmstat                   # counters
  echo 1 >/sys/kernel/tracing/events/cow/enable; cat /sys/kernel/tracing/trace
Programs: cowbench, kvsnap, hugecow (--help); cowlab's tests /bin/*_test;
upstream mm selftests in /selftests/mm. cowlab_help prints this again.
HELP
}
cowlab_help
PROFILE
feature_apply "${COWLAB_FEATURES:-off}" || ktap_diag "shell: feature set ${COWLAB_FEATURES:-off} not applied"
cd /
# cttyhack: the console's real tty as the controlling terminal (job control,
# Ctrl-C); no KTAP fd for the shell
setsid cttyhack sh -l </dev/console >/dev/console 2>&1 3>&-
ktap_diag "shell: exit status $?"
ktap_result ok shell
