# SPDX-License-Identifier: GPL-2.0
# Redis BGSAVE: per policy, Redis's fork time and the p99 of SETs during the
# save, each over off's under the same THP mode (medians over reps), log y;
# dashed lines at 1 (= off) and at the targets (fork 1/20, p99 0.2).
# Called by scripts/cowreport/redis.py: gnuplot -e "datadir='D'; out='F.png'; term='pngcairo'" redis-ratios.gp
# Reads D/redis-ratios.dat: "policy" fork/off p99_during/off
if (!exists("term")) term = "pngcairo"
if (term eq "pngcairo") { set terminal pngcairo size 1000,500 } else { set terminal png size 1000,500 }
set output out
set datafile missing "NaN"
set title "Redis BGSAVE against off (same THP mode): lower is better (median over reps)"
set ylabel "policy / off (log scale)"
set logscale y
set style data histogram
set style histogram clustered gap 1
set style fill solid 0.8 border -1
set xtics noenhanced font ",9" rotate by 25 right
set yrange [0.02:*]
set key top left noenhanced
set grid ytics
set arrow from graph 0, first 1 to graph 1, first 1 nohead dashtype 2
set arrow from graph 0, first 0.05 to graph 1, first 0.05 nohead dashtype 3 linecolor rgb "#9400d3"
set arrow from graph 0, first 0.2 to graph 1, first 0.2 nohead dashtype 3 linecolor rgb "#009e73"
f = datadir."/redis-ratios.dat"
plot f using 2:xtic(1) title "fork time / off (target <= 0.05)", '' using 3 title "p99 of SETs during the save / off (target <= 0.2)"
