# SPDX-License-Identifier: GPL-2.0
# THP COW policies: first write to a shared 2 MiB range after fork, p50 and
# p99 per kind/policy and write pattern (median over reps), log scale.
# Called by scripts/cowreport/hugecow.py: gnuplot -e "datadir='D'; out='F.png'; term='pngcairo'" hugecow-policy.gp
# Reads D/hugecow-policy.dat: "kind policy\npattern" p50_us p99_us
if (!exists("term")) term = "pngcairo"
if (term eq "pngcairo") { set terminal pngcairo size 1000,500 } else { set terminal png size 1000,500 }
set output out
set title "First write to a shared 2 MiB range after fork, by THP COW policy (median over reps)"
set ylabel "first-write latency (us, log scale)"
set logscale y
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set xtics font ",9"
set key top left
set grid ytics
plot datadir."/hugecow-policy.dat" using 2:xtic(1) title "p50", '' using 3 title "p99"
