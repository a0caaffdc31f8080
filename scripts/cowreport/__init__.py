# SPDX-License-Identifier: GPL-2.0
"""cowlab's report: one package for every study of results/<stamp>/.

load (the guest's files and JSON lines), stats (summaries over reps, one
policy for empty input), md (Markdown tables), plot (gnuplot over
scripts/plots/*.gp), dmesg (cow_stat: samples), section (what every
study's section is made of), a module per study (overhead, precopy, odf,
snapshot, hugecow, redis, host), front (the targets and the front page) and
whole (report.md).  Entry points: scripts/report and the per-study
scripts/*-report, scripts/cow-dmesg-parse."""
