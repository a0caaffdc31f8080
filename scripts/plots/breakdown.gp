# SPDX-License-Identifier: GPL-2.0
# (c) Stacked breakdown per page kind, as a share of the user-space first-write p50:
# trap+other (= user p50 - kernel total p50), kernel other, alloc, copy, install, split.
# Percentile subtraction: an approximation (see report.md).
# Called by scripts/report: gnuplot -e "datadir='D'; out='F.png'; term='pngcairo'" breakdown.gp
# Reads D/breakdown.dat: "label" trap_other kernel_other alloc copy install split sum (us)
if (!exists("datadir")) datadir = "."
if (!exists("out")) out = datadir."/breakdown.png"
if (!exists("term")) term = "pngcairo"
if (term eq "pngcairo") { set terminal pngcairo size 1000,650 font ",10" } else { set terminal png size 1000,650 }
set output out
f = datadir."/breakdown.dat"
set title "Where a COW fault's time goes (kernel p50s vs user-space p50; approximation)\nlabel: page kind (user-space first-write p50). QEMU TCG: compare shares, not absolute times"
set style data histograms
set style histogram rowstacked
set style fill solid 0.85 border -1
set boxwidth 0.7
set yrange [0:100]
set ylabel "share of the user-space first-write p50 (%)"
set xtics rotate by -25 font ",9"
set key outside right top vertical
set grid ytics
plot f using (100*$2/$8):xtic(1) title "trap+other", \
     '' using (100*$3/$8) title "kernel other", \
     '' using (100*$4/$8) title "alloc", \
     '' using (100*$5/$8) title "copy", \
     '' using (100*$6/$8) title "install", \
     '' using (100*$7/$8) title "PMD split"
