# SPDX-License-Identifier: GPL-2.0
# Snapshot benchmark (kvsnap): one line per method against the store size, log-log.
# Called by scripts/cowreport/snapshot.py: gnuplot -e "datadir='D'; out='F.png'; term='pngcairo';
#   name='pause'; ylabel='...'; methods='stw fork uffd mdup'; xmin=32; xmax=2048" snapshot.gp
# Reads D/snapshot-NAME.dat: a block per method, in the order of methods: MiB value
if (!exists("term")) term = "pngcairo"
if (term eq "pngcairo") { set terminal pngcairo size 800,500 } else { set terminal png size 800,500 }
set output out
set title "Snapshot of a key-value store under write load (median over reps)"
set logscale xy
set xrange [xmin:xmax]
set xlabel "store size (MiB)"
set ylabel ylabel
set key top left reverse Left
set grid
plot for [i=1:words(methods)] sprintf("%s/snapshot-%s.dat", datadir, name) index (i - 1) \
     with linespoints linewidth 2 title word(methods, i)
