# SPDX-License-Identifier: GPL-2.0
# (a) User-space per-write latency histogram per page kind, log x axis.
# Called by scripts/report:
#   gnuplot -e "datadir='D'; out='F.png'; term='pngcairo'; kinds='4k zero thp-2m'" latency-hist.gp
# Reads D/hist-<kind>.dat: latency_us fraction count (outline of the buckets).
if (!exists("datadir")) datadir = "."
if (!exists("out")) out = datadir."/latency-hist.png"
if (!exists("term")) term = "pngcairo"
if (!exists("kinds")) kinds = "4k"
if (term eq "pngcairo") { set terminal pngcairo size 1000,600 font ",10" } else { set terminal png size 1000,600 }
set output out
set title "COW first-write latency seen from user space (cowbench per-write histogram)\nQEMU TCG: absolute times are emulated, compare shapes and ratios"
set logscale x 10
set xlabel "per-write latency (us)"
set ylabel "fraction of writes per bucket (1/16 octave)"
set yrange [0:*]
set grid xtics ytics mxtics
set key top right
plot for [i=1:words(kinds)] sprintf("%s/hist-%s.dat", datadir, word(kinds, i)) \
     using 1:2 with lines linewidth 2 title word(kinds, i)
