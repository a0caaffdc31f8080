# SPDX-License-Identifier: GPL-2.0
# (b) Latency vs page size, log-log: user-space first-write p50 and kernel copy_ns p50
# (median over runs, bars = min..max).  THP 2M and hugetlb 2M are drawn slightly left
# and right of 2M so that both can be seen.
# Called by scripts/report: gnuplot -e "datadir='D'; out='F.png'; term='pngcairo'" latency-size.gp
# Reads D/size.dat: kind x_plot page_bytes umin umed umax cmin cmed cmax (us; NaN = none)
if (!exists("datadir")) datadir = "."
if (!exists("out")) out = datadir."/latency-size.png"
if (!exists("term")) term = "pngcairo"
if (term eq "pngcairo") { set terminal pngcairo size 1000,650 font ",10" } else { set terminal png size 1000,650 }
set output out
f = datadir."/size.dat"
set datafile missing "NaN"
set title "COW fault latency vs page size (median over runs, bars min..max)\nQEMU TCG: absolute times are emulated, compare ratios"
set logscale xy 10
set xlabel "page size"
set ylabel "latency (us)"
set xtics ("4K" 4096, "16K" 16384, "64K" 65536, "256K" 262144, "1M" 1048576, "2M" 2097152, "1G" 1073741824)
set xrange [2048:2147483648]
set grid xtics ytics
set key top left
set offsets 0, 0, graph 0.05, graph 0.05
plot f using 2:5:4:6 with yerrorlines linewidth 2 pointtype 7 title "user-space first-write p50", \
     f using 2:8:7:9 with yerrorlines linewidth 2 pointtype 5 title "kernel copy\\_ns p50", \
     f using 2:5:1 with labels offset 0,1.2 font ",8" notitle
