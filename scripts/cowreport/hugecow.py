# SPDX-License-Identifier: GPL-2.0
"""Tabulate the THP COW policy runs of a hugecow run (guest/plans/hugecow.sh).

usage: scripts/hugecow-report RUN_DIR_OR_hugecow.jsonl [--plot DIR] [--help]

Reads hugecow's JSON lines with "mode":"policy" (userspace-bench/hugecow
policy) and prints Markdown: for each write pattern (one write per 2 MiB,
every 4 KiB page), one row per kind/policy with, over the reps:
  first write us   the first write to each 2 MiB range, p50 and p99:
                   min/median/max over reps
  every write us   all writes, p99 and max (medians over reps)
  child PMD KiB    what the writer still maps with PMDs after its writes
  anon KiB added   nr_anon_pages delta of the writes, in KiB (median)
  split/copy/recollapse   cow_thp_* counter deltas (median)
  mTHP copy / fallback    cow_mthp_copy and cow_mthp_copy_fallback deltas
                   (median; "-" for runs from before patch 0012's counters)
An mTHP kind's rows are labelled by its folios' COW: 4k-copy (6.12) or
whole (vm.cow_mthp_copy=1), with the ratio whole / 4k-copy of their p99s.
  read ns          random 8-byte reads, never-forked region / writer after
then the ratios of the issue's targets, rep i against rep i:
p99(adaptive)/p99(split) and p99(copy)/p99(adaptive) of the first writes.
--plot DIR writes hugecow-policy.png (first-write p50/p99 per policy, log
scale) with gnuplot (skipped with a message when gnuplot is missing).
Exit status 1 when there is no policy run in the input.
"""
import sys

from . import cli, load, md, plot, stats
from .section import Fact

PART, JSONL = "hugecow", "hugecow.jsonl"
TITLE = "Huge-page COW: THP COW policy split, copy, adaptive (vm.cow_thp_policy)"
INTRO = ("hugecow policy (userspace-bench/hugecow.c) in one boot: a child forked over a "
         "THP-backed region writes one byte per 2 MiB, then every 4 KiB page, under each "
         "vm.cow_thp_policy; mTHP rows compare 6.12's 4 KiB copy with vm.cow_mthp_copy=1. "
         "What the columns mean: docs/hugecow.md. Read times under QEMU TCG and -icount "
         "do not model the TLB.")
ICOUNT_UNDER_TCG = True
ORDER = [("4k", "split"), ("thp", "split"), ("thp", "copy"), ("thp", "adaptive")]
PATTERNS = {"one": "one write per 2 MiB", "all": "every 4 KiB page written"}


def pol(r):
    """The row label: the THP policy, or for an mTHP kind the COW of its
    folios: 4k-copy (6.12) or whole (vm.cow_mthp_copy=1, patch 0012)."""
    if r["kind"].startswith("mthp"):
        return "whole" if r.get("mthp_copy", -1) == 1 else "4k-copy"
    return r["policy"]


def read(path):
    return [r for r in load.jsonl(load.part_file(path, JSONL)) if r.get("mode") == "policy"]


def groups_of(rows):
    """{(kind, policy): [run, ...]} and the keys in table order."""
    groups = {}
    for r in rows:
        groups.setdefault((r["kind"], pol(r)), []).append(r)
    return groups, [k for k in ORDER if k in groups] + sorted(k for k in groups if k not in ORDER)


def p99s(g):
    return [r["first_p99_ns"] for r in g]


def ratios(rows, write):
    """The targets' ratios of one write pattern, rep against rep."""
    groups, _ = groups_of([r for r in rows if r["write"] == write])
    s, c, a = (groups.get(("thp", p)) for p in ("split", "copy", "adaptive"))
    return {"adaptive_split": stats.summary(stats.paired(p99s(a), p99s(s))) if s and a else None,
            "copy_adaptive": stats.summary(stats.paired(p99s(c), p99s(a))) if c and a else None}


def title(rows, write):
    sel = [r for r in rows if r["write"] == write]
    return (f"{PATTERNS[write]} ({sel[0]['size'] >> 20} MiB, "
            f"{len(sel) // max(1, len({(r['kind'], pol(r)) for r in sel}))} reps)")


def table(rows, write, level=3):
    sel = [r for r in rows if r["write"] == write]
    if not sel:
        return []
    groups, keys = groups_of(sel)
    med = stats.median
    body = []
    for k in keys:
        g = groups[k]
        body.append([
            k[0], k[1],
            stats.fmt_mmm([r["first_p50_ns"] / 1e3 for r in g], ".1f"),
            stats.fmt_mmm([r["first_p99_ns"] / 1e3 for r in g], ".1f"),
            "{:.1f} / {:.1f}".format(med([r["all_p99_ns"] / 1e3 for r in g]), med([r["all_max_ns"] / 1e3 for r in g])),
            "{:.0f}".format(med([r["child_pmd_kb"] for r in g])),
            "{:.0f}".format(med([r["nr_anon_pages"] * 4 for r in g])),
            " / ".join("{:.0f}".format(med([r[c] for r in g]))
                       for c in ("cow_thp_split", "cow_thp_copy", "cow_thp_recollapse")),
            " / ".join("{:.0f}".format(med([r[c] for r in g])) for c in ("cow_mthp_copy", "cow_mthp_copy_fallback"))
            if "cow_mthp_copy" in g[0] else "-",
            "{:.1f} / {:.1f}".format(med([r["read_base_ns"] for r in g]), med([r["read_after_ns"] for r in g]))])
    out = [md.heading(level, title(rows, write)), ""]
    out += md.table(["kind", "policy", "first write p50 us", "first write p99 us", "every write p99 / max us",
                     "child PMD KiB", "anon KiB added", "split / copy / recollapse", "mTHP copy / fallback",
                     "read ns base / after"], body)
    out.append("")
    R = ratios(rows, write)
    if R["adaptive_split"]:
        out.append(f"- first-write p99 adaptive / split: {stats.fmt_mmm(R['adaptive_split'], '.2f')} (target <= 1.5)")
    if R["copy_adaptive"]:
        out.append(f"- first-write p99 copy / adaptive: {stats.fmt_mmm(R['copy_adaptive'], '.0f')} (target >= 10)")
    for k in sorted({k[0] for k in groups if k[0].startswith("mthp")}):
        w4, wh = groups.get((k, "4k-copy")), groups.get((k, "whole"))
        if w4 and wh:
            first = stats.paired(p99s(wh), p99s(w4))
            every = stats.paired([r["all_p99_ns"] for r in wh], [r["all_p99_ns"] for r in w4])
            out.append(f"- {k} first-write p99 whole / 4k-copy: {stats.fmt_mmm(first, '.2f')}; "
                       f"every-write p99: {stats.fmt_mmm(every, '.2f')}")
    out.append("")
    return out


def render(rows, level=3):
    return table(rows, "one", level) + table(rows, "all", level)


def draw(rows, plotter):
    """hugecow-policy.png: [(caption, png, why not)]."""
    text = ""
    keys = ORDER + sorted({(r["kind"], pol(r)) for r in rows} - set(ORDER))
    for w in ("one", "all"):
        for k in keys:
            g = [r for r in rows if r["write"] == w and (r["kind"], pol(r)) == k]
            if g:
                text += '"{} {}\\n{}" {:.2f} {:.2f}\n'.format(
                    k[0], k[1], "1/2M" if w == "one" else "all 4K",
                    stats.median([r["first_p50_ns"] / 1e3 for r in g]),
                    stats.median([r["first_p99_ns"] / 1e3 for r in g]))
    plotter.dat("hugecow-policy.dat", text)
    return [("first write to a shared 2 MiB range after fork, by policy", "hugecow-policy.png",
             plotter.draw("hugecow-policy.gp", "hugecow-policy.png"))]


def fill(sec, path, plotter):
    rows = read(path)
    if not rows:
        raise load.InputError(f"{sec.source}: no policy runs")
    sec.lines = render(rows)
    sec.add_plots(draw(rows, plotter))
    if not any(r["write"] == "one" for r in rows):
        return
    R = ratios(rows, "one")
    parts = []
    for key, what, fmt, m in (("adaptive_split_p99", "first-write p99 adaptive/split", "{:.2f}x", R["adaptive_split"]),
                              ("copy_adaptive_p99", "copy/adaptive", "{:.0f}x", R["copy_adaptive"])):
        if m:
            sec.facts[key] = Fact(m["median"])
            parts.append(f"{what} {stats.fmt_mmm(m, fmt.format, 'head')}")
    sec.headlines["hugecow"] = ("1 write per 2M: " + "; ".join(parts) if parts else
                                "no THP split/copy/adaptive runs", title(rows, "one"))


def main(argv):
    def body(path, opts):
        rows = read(path)
        if not rows:
            print(f"hugecow-report: no policy runs in {path}", file=sys.stderr)
            return 1
        print("\n".join(render(rows)))
        if opts["--plot"]:
            cli.plot_notes("hugecow-report", draw(rows, plot.Plotter(opts["--plot"])))
        return 0
    return cli.main("hugecow-report", __doc__.strip(), argv, {"--plot": (None, "a directory")}, body)
