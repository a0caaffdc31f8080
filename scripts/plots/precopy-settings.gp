# SPDX-License-Identifier: GPL-2.0
# COW pre-copy: median wall time of each setting over BASE's, per workload
# (clusters) at one region size; log y, a dashed line at 1 (= BASE).
# Called by scripts/cowreport/precopy.py: gnuplot -e "datadir='D'; out='F.png'; term='pngcairo';
#   base='off'; size='64M'; labels='off fixed4 ...'" precopy-settings.gp
# Reads D/precopy-settings.dat: a header line, then "workload side" and a ratio per label
if (!exists("term")) term = "pngcairo"
if (term eq "pngcairo") { set terminal pngcairo size 1100,500 } else { set terminal png size 1100,500 }
set output out
set title sprintf("COW pre-copy: wall time vs %s, %s region (median over reps)", base, size)
set ylabel sprintf("wall time / %s (log scale)", base)
set logscale y
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set key autotitle columnhead top left
set xtics font ",9"
set grid ytics
set arrow from graph 0, first 1 to graph 1, first 1 nohead dashtype 2
f = datadir."/precopy-settings.dat"
plot for [i=1:words(labels)] f using (column(i + 1)):xtic(1) title word(labels, i)
