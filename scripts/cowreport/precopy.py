# SPDX-License-Identifier: GPL-2.0
"""Tabulate a precopy-study run (guest/plans/precopy-study.sh).

usage: scripts/precopy-report RUN_DIR_OR_precopy.jsonl [--baseline LABEL] [--plot DIR]

Reads the cowbench "result" lines (one per rep), groups them by workload
(pattern, or exit-early) and setting (the --label), and prints one Markdown
table per workload: faults, wall time min/median/max over reps and the
ratio of the medians to the baseline setting (default "off") of the same
boot, p50/p99/max fault latency (medians over reps), and the medians of the
vmstat deltas of the timed loop: cow_copy, cow_precopy, cow_precopy_used,
pgreuse, and rss_kb of the writer. unused = cow_precopy - cow_precopy_used
in the loop: the pages pre-copied but not written by its end (the writer
exits right after, so they are wasted). A label with "w" after its window
(fixed64w, fixed64wl) is mode 2 (copies mapped writable): their writes take
no fault, so whether a copy was written is only known at unmap
(cow_precopy_used counted by the zap path, after the timed loop); a label
ending in "l" copies aligned blocks into 64K folios (vm.cow_precopy_large),
which carry no used/wasted accounting: used and unused show "-" for both.
wall vs BASE: min/median/max over reps of each rep's wall time divided by
the median wall time of BASE in the same boot.
A table is one workload (pattern, or exit-early; "/parent-writes" or
"/both-writes" when the child is not the writer), region size and writing
side. When the run holds more than one region size (cowlab.part=sweep), a
last section gives, per workload and side, every size's ratios to BASE.
--plot DIR writes precopy-settings.png (median wall time vs BASE per
workload and setting) and, for a sweep, precopy-sweep.png (wall time vs
BASE against region size, child writes seq / rand, fork-then-exit) with
gnuplot (skipped with a message when gnuplot is missing).
"""

import re

from . import cli, load, md, plot, stats
from .section import Fact

PART, JSONL = "precopy", "precopy.jsonl"
TITLE = "Neighbour pre-copy (vm.cow_precopy_max / vm.cow_precopy_mode) against off"
INTRO = ("cowbench (userspace-bench) in one boot, guest/plans/precopy-study.sh: each "
         "pre-copy setting against off on five workloads, then (part=all) the region-size "
         "sweep. What the columns mean: docs/precopy.md. Every run verifies parent and "
         "child bytes (--verify).")
ICOUNT_UNDER_TCG = True
MAIN_SIZE = 64 << 20
TARGET_SIZES = (64 << 20, 1 << 30)      # issue 18: sequential writes, 64 MiB-1 GiB


def read(path):
    return [r for r in load.jsonl(load.part_file(path, JSONL))
            if r.get("type") == "result" and "skipped" not in r]


def workload(r):
    """(name, size, side): what one table is about. name is the pattern or
    exit-early, with the writer when it is not the child (parent, both)."""
    if r.get("exit_early"):
        name = "exit-early"
    elif r.get("who", "child") != "child":
        name = f"{r['pattern']}/{r['who']}-writes"
    else:
        name = r["pattern"]
    return (name, r["size"], r["side"])


def group(rows):
    """{(workload, setting): [rep, ...]} in the order of the file."""
    groups = {}
    for r in rows:
        groups.setdefault((workload(r), r.get("label", "?")), []).append(r)
    return groups


def first_seen(items):
    out = []
    for x in items:
        if x not in out:
            out.append(x)
    return out


def med(g, f):
    return stats.median([f(r) for r in g])


def vm(r, name):
    return r.get("vmstat", {}).get(name, 0)


def wall_ratios(groups, wl, lb, base):
    """Each rep's wall time over BASE's median wall time (same workload)."""
    ref = groups.get((wl, base))
    return stats.to_median([r["wall_ns"] for r in groups.get((wl, lb), [])],
                           [r["wall_ns"] for r in ref]) if ref else []


def table_title(groups, wl):
    """A workload's table heading, from its first setting's reps."""
    g0 = next(g for (w, _), g in groups.items() if w == wl)
    r0 = g0[0]
    return (f"{wl[0]}: {r0['page']} {stats.size_name(r0['size'])}, writer {r0['side']}, {r0['writes']} writes, "
            f"{len(g0)} reps")


def untracked(label):
    """whether a setting's copies escape cow_precopy_used/wasted: mode 2 ("w"
    after the window: fixed64w, fixed64wl) or large blocks (ending in "l")"""
    return bool(re.match(r"\D*\d+w", label)) or label.endswith("l")


def tables(groups, base, level):
    out = []
    for wl in first_seen(w for w, _ in groups):
        labels = [lb for w, lb in groups if w == wl]
        ref = groups.get((wl, base))
        ref_faults = med(ref, lambda r: r["faults"]) if ref else None
        rows = []
        for lb in labels:
            g = groups[(wl, lb)]
            faults = med(g, lambda r: r["faults"])
            no_use = untracked(lb)
            rows.append([
                lb, f"{faults:.0f}", stats.fmt_mmm([r["wall_ns"] / 1e6 for r in g], ".1f"),
                stats.fmt_mmm(wall_ratios(groups, wl, lb, base), ".2f"),
                stats.num(faults / ref_faults if ref_faults else None, ".2f"),
                f"{med(g, lambda r: r['p50_ns']):.0f}", f"{med(g, lambda r: r['p99_ns']):.0f}",
                f"{med(g, lambda r: r['max_ns']):.0f}", f"{med(g, lambda r: vm(r, 'cow_copy')):.0f}",
                f"{med(g, lambda r: vm(r, 'cow_precopy')):.0f}",
                "-" if no_use else f"{med(g, lambda r: vm(r, 'cow_precopy_used')):.0f}",
                "-" if no_use else f"{med(g, lambda r: vm(r, 'cow_precopy') - vm(r, 'cow_precopy_used')):.0f}",
                f"{med(g, lambda r: vm(r, 'pgreuse')):.0f}", f"{med(g, lambda r: r['rss_kb']) / 1024:.1f}",
                "ok" if all(r.get("verify") is True for r in g) else "FAILED/none"])
        out += ["", md.heading(level, table_title(groups, wl)), ""]
        out += md.table(["setting", "faults", "wall ms min/med/max", f"wall vs {base} min/med/max",
                         f"faults vs {base}", "p50 ns", "p99 ns", "max ns", "cow_copy", "cow_precopy", "used",
                         "unused", "pgreuse", "rss MB", "verify"], rows, right=set(range(1, 14)) - {2})
    return out


def sweep(groups, base, level):
    """With more than one region size: one table per workload and writer,
    a row per size and setting, ratios to BASE of the same size."""
    sizes = sorted({wl[1] for wl, _ in groups})
    if len(sizes) < 2:
        return []
    out = ["", md.heading(level, f"Region-size sweep: ratios to the same size's {base} (min/median/max over reps)"),
           "", f"faults and cow copies are medians over reps, divided by {base}'s; extra RSS = (setting's "
           f"median writer RSS - {base}'s) / {base}'s. With --who both each side is a row.", ""]
    for name, side in first_seen((wl[0], wl[2]) for wl, _ in groups):
        rows = []
        for sz in sizes:
            wl = (name, sz, side)
            ref = groups.get((wl, base))
            if not ref:
                continue
            rf, rr = med(ref, lambda r: r["faults"]), med(ref, lambda r: r["rss_kb"])
            for (w, lb), g in groups.items():
                if w != wl:
                    continue
                extra = (med(g, lambda r: r["rss_kb"]) - rr) / rr * 100 if rr else 0
                rows.append([
                    stats.size_name(sz), lb, f"{med(g, lambda r: r['faults']) / rf:.3f}",
                    stats.fmt_mmm(wall_ratios(groups, wl, lb, base), ".2f"), f"{med(g, lambda r: r['p99_ns']):.0f}",
                    f"{med(g, lambda r: vm(r, 'cow_copy') + vm(r, 'cow_precopy')):.0f}",
                    "-" if untracked(lb) else
                    f"{med(g, lambda r: vm(r, 'cow_precopy') - vm(r, 'cow_precopy_used')):.0f}",
                    f"{extra:+.1f}"])
        out += ["", md.heading(level + 1, f"{name}, {side} side"), ""]
        out += md.table(["size", "setting", f"faults vs {base}", f"wall vs {base} min/med/max", "p99 ns",
                         "copies+pre-copies", "unused", "extra RSS %"], rows, right={2, 4, 5, 6, 7})
    return out


def render(groups, base, level=3, sweep_level=2):
    return tables(groups, base, level) + sweep(groups, base, sweep_level)


def draw(groups, base, plotter):
    """precopy-settings.png and, for a sweep, precopy-sweep.png:
    [(caption, png, why not)]."""
    labels = first_seen(lb for _, lb in groups)
    wls = first_seen(wl for wl, _ in groups)
    sizes = sorted({wl[1] for wl in wls})
    main_size = MAIN_SIZE if MAIN_SIZE in sizes else sizes[0]

    def cells(wl, labels):
        """the median wall ratio of each label, NaN where it did not run"""
        vals = (stats.median(wall_ratios(groups, wl, lb, base)) for lb in labels)
        return " ".join("NaN" if v is None else f"{v:.3f}" for v in vals)
    plotter.dat("precopy-settings.dat", "workload " + " ".join(labels) + "\n" + "".join(
        f'"{wl[0]} {wl[2]}" {cells(wl, labels)}\n' for wl in wls if wl[1] == main_size))
    jobs = [("precopy-settings.gp", "precopy-settings.png",
             f"wall time vs {base} per workload and setting, {stats.size_name(main_size)} region",
             dict(base=base, size=stats.size_name(main_size), labels=" ".join(labels)))]
    panels = [n for n in ("seq", "rand", "exit-early") if any(wl[0] == n for wl in wls)]
    # the sweep's lines: the settings run at more than one size
    swept = [lb for lb in labels if len({wl[1] for wl, x in groups if x == lb}) > 1]
    if len(sizes) > 1 and panels and swept:
        for n in panels:
            side = "parent" if n == "exit-early" else "child"
            plotter.dat(f"precopy-sweep-{n}.dat", "".join(
                f"{sz / (1 << 20):g} {cells((n, sz, side), swept)}\n" for sz in sizes))
        jobs.append(("precopy-sweep.gp", "precopy-sweep.png", f"wall time vs {base} against region size",
                     dict(base=base, panels=" ".join(panels), labels=" ".join(swept))))
    return [(cap, png, plotter.draw(gp, png, **params)) for gp, png, cap, params in jobs]


def headline(groups, base):
    """The sequential child write of issue 18's target: the size in
    TARGET_SIZES with the most settings (else the largest), its setting with
    the lowest median wall time against BASE.  (size, setting, wall ratios,
    faults cut) or None."""
    seq = [wl for wl, _ in groups if wl[0] == "seq" and wl[2] == "child" and (wl, base) in groups]
    if not seq:
        return None

    def rank(wl):
        inside = TARGET_SIZES[0] <= wl[1] <= TARGET_SIZES[1]
        return (inside, sum(w == wl for w, _ in groups) if inside else 0, wl[1])
    wl = max(seq, key=rank)
    best = min((lb for w, lb in groups if w == wl and lb != base),
               key=lambda lb: stats.median(wall_ratios(groups, wl, lb, base)), default=None)
    if best is None:
        return None
    faults = med(groups[(wl, best)], lambda r: r["faults"])
    cut = med(groups[(wl, base)], lambda r: r["faults"]) / faults if faults else float("inf")
    return wl, best, stats.summary(wall_ratios(groups, wl, best, base)), cut


def fill(sec, path, plotter, base="off"):
    rows = read(path)
    if not rows:
        raise load.InputError(f"{sec.source}: no cowbench result lines")
    groups = group(rows)
    sec.lines = render(groups, base, 3, 3)
    sec.add_plots(draw(groups, base, plotter))
    h = headline(groups, base)
    if h:
        wl, best, wall, cut = h
        sec.facts["seq_time"] = Fact(wall["median"], wl[1])
        sec.facts["seq_fault_cut"] = Fact(cut, wl[1])
        sec.headlines["precopy"] = (
            f"seq child write {stats.size_name(wl[1])}, best setting {best}: "
            f"{stats.fmt_mmm(wall, lambda v: f'{v:.2f}x', 'head')} {base}'s time, {cut:.0f}x fewer faults",
            table_title(groups, wl))


def main(argv):
    def body(path, opts):
        groups = group(read(path))
        print("\n".join(render(groups, opts["--baseline"])))
        if opts["--plot"] and groups:
            cli.plot_notes("precopy-report", draw(groups, opts["--baseline"], plot.Plotter(opts["--plot"])))
        return 0
    return cli.main("precopy-report", __doc__, argv,
                    {"--plot": (None, "a directory"), "--baseline": ("off", "a label")}, body)
