# SPDX-License-Identifier: GPL-2.0
# COW pre-copy against region size: a panel per workload (seq, rand: the child
# writes; exit-early: the parent writes), a line per setting run at several
# sizes, wall time over BASE's of the same size (median over reps).
# Called by scripts/cowreport/precopy.py: gnuplot -e "datadir='D'; out='F.png'; term='pngcairo';
#   base='off'; panels='seq rand exit-early'; labels='off adaptive64 fixed64w'" precopy-sweep.gp
# Reads D/precopy-sweep-PANEL.dat: MiB and a ratio per label
if (!exists("term")) term = "pngcairo"
if (term eq "pngcairo") { set terminal pngcairo size 1200,450 } else { set terminal png size 1200,450 }
set output out
set datafile missing "NaN"
set multiplot layout 1, words(panels) title sprintf("COW pre-copy against region size: wall time / %s of the same size (median over reps)", base)
set logscale x 2
set xlabel "region MiB"
set ylabel sprintf("wall / %s", base)
set key top left font ",8"
set grid
do for [p = 1:words(panels)] {
	n = word(panels, p)
	set title sprintf("%s, %s writes", n, (n eq "exit-early") ? "parent" : "child")
	plot for [i = 1:words(labels)] sprintf("%s/precopy-sweep-%s.dat", datadir, n) \
	     using 1:(column(i + 1)) with linespoints linewidth 2 title word(labels, i)
}
unset multiplot
