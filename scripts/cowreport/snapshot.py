# SPDX-License-Identifier: GPL-2.0
"""Tabulate a snapshot run (guest/plans/snapshot.sh, userspace-bench/kvsnap).

usage: scripts/snapshot-report RUN_DIR_OR_snapshot.jsonl [--plot DIR] [--help]

Reads kvsnap's JSON lines (one per snapshot) and prints Markdown:
one table per store size with, for each method, over the reps of the boot:
  pause ms      writers paused at the snapshot start, min/median/max
  total ms      until the snapshot file was complete, median
  p50/p99/max   writer op latency during the snapshot (us), medians over reps
  base p99      writer op latency without a snapshot (us), median
  extra MiB     memory beyond the file: stw its copy, fork/mdup 4 KiB per
                COW copy made while the snapshot lived, uffd none (median)
  TLB IPIs      TLB shootdown interrupts during the snapshot (median)
  verified      snapshot files identical to the replayed state / files
then the ratios the targets use, per size: pause(mdup)/pause(fork) and
p99(mdup)/p99(uffd), min/median/max over reps (rep i against rep i).
--plot DIR writes snapshot-pause.png and snapshot-p99.png there with
gnuplot (skipped with a message when gnuplot is missing).
Exit status 1 when any snapshot errored or did not verify.
"""
import sys

from . import cli, load, md, plot, stats
from .section import Fact

PART, JSONL = "snapshot", "snapshot.jsonl"
TITLE = "Range COW for snapshots: a key-value store under write load (stw, fork, uffd, mdup)"
INTRO = ("kvsnap (userspace-bench/kvsnap) in one boot, no swap: writer threads update a "
         "key-value store while it is saved by stop-the-world copy (stw), fork, userfaultfd "
         "write-protection (uffd) or the range-COW syscall mdup. What the columns mean: "
         "docs/mdup.md. Every snapshot file is verified byte for byte.")
METHODS = ["stw", "fork", "uffd", "mdup"]
ENOSYS = -38
TARGET_SIZE = 1 << 30


def read(path):
    return [r for r in load.jsonl(load.part_file(path, JSONL)) if r.get("tool") == "kvsnap"]


def mib(n):
    return stats.NA if n is None else f"{n / 1048576:.0f}" if n >= 0 else "-"


def analyse(rows):
    """Per store size: each method's reps and table cells; the series the
    plots draw; how many snapshots errored or mismatched."""
    A = {"sizes": [], "series": {m: [] for m in METHODS}, "bad": 0, "snapshots": 0}
    for size in sorted({r["size"] for r in rows}):
        rs = [r for r in rows if r["size"] == size]
        S = {"size": size, "threads": rs[0]["threads"], "chunk": rs[0].get("uffd_chunk", 1),
             "by": {}, "rows": []}
        for m in METHODS:
            mr = sorted((r for r in rs if r["method"] == m), key=lambda r: r["rep"])
            S["by"][m] = mr
            if not mr:
                continue
            if all(r["err"] == ENOSYS for r in mr):
                S["rows"].append([m, f"skipped: {mr[0]['msg']}"] + [""] * 8)
                continue
            ok = [r for r in mr if r["err"] == 0]
            A["bad"] += sum(r["err"] != 0 or r["verify"] == "mismatch" for r in mr)
            A["snapshots"] += len(mr)

            def med(f, spec):
                return stats.num(stats.median([f(r) for r in ok]), spec)
            S["rows"].append([
                m, stats.fmt_mmm([r["pause_ns"] / 1e6 for r in ok], ".1f", sep=" / "),
                med(lambda r: r["total_ns"] / 1e6, ".0f"), med(lambda r: r["lat_p50_ns"] / 1e3, ".1f"),
                med(lambda r: r["lat_p99_ns"] / 1e3, ".1f"), med(lambda r: r["lat_max_ns"] / 1e3, ".0f"),
                med(lambda r: r["base_p99_ns"] / 1e3, ".1f"), mib(stats.median([r["extra_bytes"] for r in ok])),
                med(lambda r: r.get("tlb_ipis", -1), ".0f"),
                f"{sum(r['verify'] == 'ok' for r in mr)}/{len(mr)}"])
            A["series"][m].append((size, stats.median([r["pause_ns"] / 1e6 for r in ok]),
                                   stats.median([r["lat_p99_ns"] / 1e3 for r in ok])))
        f, d, u = (S["by"].get(k, []) for k in ("fork", "mdup", "uffd"))
        S["pause_ratio"] = stats.summary(stats.paired([r["pause_ns"] for r in d], [r["pause_ns"] for r in f])) \
            if d and f else None
        S["p99_ratio"] = stats.summary(stats.paired([r["lat_p99_ns"] for r in d], [r["lat_p99_ns"] for r in u])) \
            if d and u else None
        S["ratios"] = (bool(d and f), bool(d and u))
        A["sizes"].append(S)
    return A


def store(S):
    return (f"Store {stats.size_name(S['size'])}, {S['threads']} writer threads, "
            f"uffd chunk {S['chunk']} page(s)")


def render(A, level=3):
    out = []
    for S in A["sizes"]:
        out += [md.heading(level, store(S)), ""]
        out += md.table(["method", "pause ms min / med / max", "total ms", "p50 us", "p99 us", "max us",
                         "base p99 us", "extra MiB", "TLB IPIs", "verified"], S["rows"])
        out.append("")
        pf, pu = S["ratios"]
        if pf:
            out.append("pause(mdup) / pause(fork), min / median / max over reps: "
                       + stats.fmt_mmm(S["pause_ratio"], ".2f", sep=" / "))
        if pu:
            out.append("")
            out.append("p99(mdup) / p99(uffd), min / median / max over reps: "
                       + stats.fmt_mmm(S["p99_ratio"], ".2f", sep=" / "))
        out.append("")
    return out


def draw(A, plotter):
    """snapshot-pause.png and snapshot-p99.png: [(caption, png, why not)]."""
    drawn = []
    methods = [m for m in METHODS if A["series"][m]]
    xs = [pt[0] >> 20 for m in methods for pt in A["series"][m]]
    for col, name, ylabel, cap in (
            (1, "pause", "writer pause at snapshot start (ms)", "writers' pause at the snapshot start"),
            (2, "p99", "writer op latency p99 during snapshot (us)", "writers' p99 latency during the snapshot")):
        text = ""
        for m in methods:
            text += f"# {m}\n" + "".join(f"{pt[0] >> 20} {'NaN' if pt[col] is None else pt[col]}\n"
                                        for pt in A["series"][m]) + "\n\n"
        plotter.dat(f"snapshot-{name}.dat", text)
        png = f"snapshot-{name}.png"
        drawn.append((cap, png, plotter.draw("snapshot.gp", png, name=name, ylabel=ylabel, methods=" ".join(methods),
                                             xmin=min(xs) / 2, xmax=max(xs) * 2) if xs else "no data"))
    return drawn


def fill(sec, path, plotter):
    A = analyse(read(path))
    if not A["sizes"]:
        raise load.InputError(f"{sec.source}: no kvsnap results")
    sec.lines = render(A)
    sec.add_plots(draw(A, plotter))
    if A["bad"]:
        sec.failures.append(f"snapshot: {A['bad']} snapshot(s) errored or did not verify")
    # the targets' size (1 GiB, docs/mdup.md), else the largest
    S = next((S for S in A["sizes"] if S["size"] == TARGET_SIZE), A["sizes"][-1])
    sec.facts["mismatches"] = Fact(A["bad"])
    parts = []
    for key, what, m in (("pause_mdup_fork", "pause mdup/fork", S["pause_ratio"]),
                         ("p99_mdup_uffd", "writer p99 mdup/uffd", S["p99_ratio"])):
        if m:
            sec.facts[key] = Fact(m["median"], S["size"])
            parts.append(f"{what} {stats.fmt_mmm(m, lambda v: f'{v:.2f}x', 'head')}")
    parts.append(f"{A['bad']} of {A['snapshots']} snapshots mismatched or errored")
    sec.headlines["mdup"] = (f"{stats.size_name(S['size'])}: " + "; ".join(parts), store(S))


def main(argv):
    def body(path, opts):
        A = analyse(read(path))
        if not A["sizes"]:
            print(f"snapshot-report: no kvsnap results in {path}", file=sys.stderr)
            return 1
        print("\n".join(render(A)))
        if opts["--plot"]:
            cli.plot_notes("snapshot-report", draw(A, plot.Plotter(opts["--plot"])))
        return 1 if A["bad"] else 0
    return cli.main("snapshot-report", __doc__.strip(), argv, {"--plot": (None, "a directory")}, body)
