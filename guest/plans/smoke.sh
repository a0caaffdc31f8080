# SPDX-License-Identifier: GPL-2.0
# Plan "smoke": the guest boots, sees its huge pages, and a fork-and-write
# COW run completes with the child's writes counted as faults.
ktap_diag "cmdline: $(cat /proc/cmdline)"
hp2=$(cat /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages 2>/dev/null || echo 0)
hp1g=$(cat /sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages 2>/dev/null || echo 0)
ktap_diag "hugetlb pages: 2M=$hp2 1G=$hp1g"
if [ "$hp2" -gt 0 ]; then ktap_result ok "hugetlb-2m-reserved"; else ktap_result fail "hugetlb-2m-reserved"; fi
if [ -d /sys/kernel/mm/transparent_hugepage ]; then ktap_result ok "thp-sysfs"; else ktap_result fail "thp-sysfs"; fi
if [ -x /bin/cowbench ]; then
	run_prog smoke-cowbench 120 cowbench --page 4k --size 4M --who child --reps 1 --verify
else
	ktap_result skip smoke-cowbench "cowbench not in this initramfs"
fi
