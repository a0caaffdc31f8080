# SPDX-License-Identifier: GPL-2.0
# On-demand fork: fork() latency against region size, vanilla and on-demand
# (median over reps, bars min-max), log-log.
# Called by scripts/cowreport/odf.py: gnuplot -e "datadir='D'; out='F.png'; term='pngcairo';
#   van='off'; dly='on'" odf-fork-latency.gp
# Reads D/odf-fork-latency.dat: MiB vanilla_med min max odf_med min max (us)
if (!exists("term")) term = "pngcairo"
if (term eq "pngcairo") { set terminal pngcairo size 900,550 } else { set terminal png size 900,550 }
set output out
set datafile missing "NaN"
set title "fork() latency against region size (median over reps, bars: min-max)"
set xlabel "region MiB (4K pages, populated)"
set ylabel "fork() us"
set logscale xy 2
set offsets graph 0.05, graph 0.05, graph 0.1, graph 0.1
set grid
set key top left
f = datadir."/odf-fork-latency.dat"
plot f using 1:2:3:4 with yerrorlines linewidth 2 title sprintf("vanilla (%s)", van), \
     f using 1:5:6:7 with yerrorlines linewidth 2 title sprintf("on-demand (%s)", dly)
