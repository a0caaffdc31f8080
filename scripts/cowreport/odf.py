# SPDX-License-Identifier: GPL-2.0
"""Tabulate an odf-study run (guest/plans/odf-study.sh): on-demand fork
(ODF, page tables shared at fork) against a vanilla fork, in one boot.

usage: scripts/odf-report RUN_DIR_OR_odf.jsonl [--vanilla LABEL]
                          [--delayed LABEL] [--plot DIR] [--check] [--help]

Reads the "result" lines of cowbench --scenario fork (one per rep) and
compares the rows labelled --vanilla (default "off": prctl PR_SET_COW_ODF 2)
with those labelled --delayed (default "on": prctl 1) of the same region size
and child action. Rows without a label go by their "odf" field. Prints
Markdown:
  fork() latency   the parent's fork() call, us, min/median/max over reps,
                   per size and child action, and the speed-up vanilla/ODF
  fork + exit, fork + exec   total = fork() call to waitpid() return in the
                   parent, minus the child's own measuring; ms; ODF/vanilla
  child writes 1/10/100 %    the same total, ODF/vanilla, and the child's
                   first-touch loop (all its writes); from the runs without
                   per-write clocks (--no-page-times) where the run has them,
                   since those clocks add the same ~40 ns to every write of
                   both modes and pull the ratio towards 1
  first touch per page       the child's writes with every write timed:
                   faults per write, mean/p50/p99/max ns (medians over reps)
  page-table memory          VmPTE of the parent and of the child after fork
                   and after its writes (VmPTE counts shared tables in every
                   mm that maps them), and the system-wide nr_page_table_pages
                   delta after fork and after the writes (the real memory);
                   kB, medians over reps
  counters         cow_odf_shared/copied/reused/freed/fallback deltas of a rep
                   (fork() to waitpid() return; medians), against the 2 MiB
                   ranges of the region
  targets          fork() of a 1 GiB region >= 20x faster than vanilla
                   (median vanilla / median ODF over every 1G run), and
                   fork + child writes 100 %: ODF total <= vanilla + 5 %
                   (median/median, per size)
  skipped          the runs cowbench skipped, with the reason
Ratios min/median/max: each ODF rep against the median of vanilla's reps of
the same configuration (vanilla/ODF for fork(), ODF/vanilla for totals).
--plot DIR writes odf-fork-latency.png (fork() us against region size,
median with min-max bars, both modes; log-log) with gnuplot (skipped with a
message when gnuplot is missing).
--check: exit 1 when a target is missed or could not be evaluated.
Exit status: 0 ok, 1 no fork result lines (or --check failed), 2 bad usage
or unreadable input.
"""
import sys

from . import cli, load, md, plot, stats
from .section import Fact

PROG = "odf-report"
PART, JSONL = "odf", "odf.jsonl"
TITLE = "Delayed allocation: on-demand fork (page tables shared at fork) against a vanilla fork"
INTRO = ("cowbench --scenario fork (userspace-bench) in one boot, guest/plans/odf-study.sh: "
         "vanilla (prctl PR_SET_COW_ODF 2) and on-demand (1) side by side, the child exiting, "
         "exec'ing or writing 1/10/100 % of the region. What the columns mean: docs/odf.md. "
         "Every rep verifies both sides' bytes.")
ICOUNT_UNDER_TCG = True
COUNTERS = ["cow_odf_shared", "cow_odf_copied", "cow_odf_reused",
            "cow_odf_freed", "cow_odf_fallback"]
ACTIONS = ["exit", "exec", "write"]
GIB = 1 << 30
LATENCY = "fork() latency (the parent's fork() call, us)"


class Usage(Exception):
    pass


def read(path):
    """(result rows, skip rows) of scenario fork; raises load.InputError on
    bad input."""
    path = load.part_file(path, JSONL)
    rows, skips = [], []
    for n, r in load.jsonl(path, numbered=True):
        if r.get("scenario") != "fork" or r.get("type") != "result":
            continue
        if "skipped" in r:
            skips.append(r)
            continue
        for k in ("size", "child", "fork_ns", "total_ns"):
            if k not in r:
                raise load.InputError(f"{path}:{n}: fork result line without '{k}'")
        rows.append(r)
    return rows, skips


def label(r):
    return r.get("label") or r.get("odf", "?")


def action(r):
    """exit, exec, or write<percent>"""
    if r["child"] != "write":
        return r["child"]
    return f"write {r.get('touch_frac', 1) * 100:g}%"


def action_key(a):
    if a.startswith("write"):
        return (2, float(a.split()[1].rstrip("%")))
    return (ACTIONS.index(a) if a in ACTIONS else 9, 0)


def fmt3(xs, scale=1.0, prec=1):
    """min/median/max of xs divided by scale"""
    return stats.fmt_mmm(xs, lambda v: f"{v / scale:.{prec}f}")


def fmt(v, prec=0):
    return stats.num(v, f".{prec}f")


class Report:
    def __init__(self, rows, skips, van, dly, level=2):
        self.rows, self.skips, self.van, self.dly = rows, skips, van, dly
        self.sizes = sorted({r["size"] for r in rows})
        self.acts = sorted({action(r) for r in rows}, key=action_key)
        self.missed = []  # targets missed or not evaluated
        self.level = level
        self.out = []

    def p(self, s=""):
        self.out.append(s)

    def h(self, text):
        self.p("")
        self.p(md.heading(self.level, text))
        self.p("")

    def sel(self, size=None, act=None, lab=None, page_times=None):
        return [r for r in self.rows
                if (size is None or r["size"] == size)
                and (act is None or action(r) == act)
                and (lab is None or label(r) == lab)
                and (page_times is None or
                     r.get("page_times", True) == page_times)]

    def totals_rows(self, size, act, lab):
        """write: the runs without per-write clocks when there are any"""
        g = self.sel(size, act, lab, page_times=False)
        return g if g else self.sel(size, act, lab)

    def fork_ns(self, size, lab):
        return [r["fork_ns"] for r in self.sel(size, None, lab)]

    def header(self, title=True):
        if title:
            k = sorted({r.get("kernel", "?") for r in self.rows})
            self.p(f"# On-demand fork against vanilla fork: kernel {', '.join(k)}")
            self.p()
        labs = sorted({label(r) for r in self.rows})
        self.p(f"{len(self.rows)} result lines (one per rep), labels "
               f"{', '.join(labs)}; vanilla = `{self.van}`, ODF = "
               f"`{self.dly}`. Times are min/median/max over reps; a ratio's "
               "min/median/max is each ODF rep against the median of the "
               "vanilla reps of the same configuration.")
        sup = {r.get("odf_supported") for r in self.rows}
        if sup == {False}:
            self.p("\nThe kernel has no PR_SET_COW_ODF: every run is a "
                   "vanilla fork.")
        ver = [r.get("verify") for r in self.rows]
        bad = [r for r in self.rows if r.get("verify") is False]
        if bad:
            self.p(f"\n**verify FAILED** in {len(bad)} rep(s): " + ", ".join(
                f"{label(r)} {action(r)} {stats.size_name(r['size'])} rep {r['rep']}"
                for r in bad))
        elif any(v is True for v in ver):
            self.p(f"\nverify: {sum(v is True for v in ver)} reps checked "
                   "(the parent's view, and the child's after its writes), "
                   "all ok.")

    def fork_latency(self):
        self.h(LATENCY)
        rows = []
        for sz in self.sizes:
            for a in ["all"] + self.acts:
                aa = None if a == "all" else a
                v = [r["fork_ns"] for r in self.sel(sz, aa, self.van)]
                d = [r["fork_ns"] for r in self.sel(sz, aa, self.dly)]
                if not v and not d:
                    continue
                rows.append([stats.size_name(sz), a, f"{len(v)}/{len(d)}", fmt3(v, 1e3), fmt3(d, 1e3),
                             fmt3(stats.to_median(d, v, invert=True), 1, 1)])
        self.out += md.table(["size", "child", "reps", "vanilla us", "ODF us", "vanilla/ODF"], rows, right={2})

    def totals(self, acts, title):
        acts = [a for a in self.acts if a in acts or
                (a.startswith("write") and "write" in acts)]
        if not acts:
            return
        write = "write" in acts[0]
        self.h(title)
        if write:
            self.p("total: fork() call to the parent's waitpid() return, "
                   "minus the child's own measuring; first touch: the "
                   "child's write loop. From the runs without per-write "
                   "clocks (--no-page-times) where there are any (source "
                   "`total`), else from the timed ones (`timed`).\n")
            head = ["size", "child", "source", "vanilla total ms", "ODF total ms", "ODF/vanilla",
                    "vanilla first touch ms", "ODF first touch ms", "ODF/vanilla"]
        else:
            self.p("total: fork() call to the parent's waitpid() return, "
                   "minus the child's own measuring.\n")
            head = ["size", "child", "vanilla total ms", "ODF total ms", "ODF/vanilla", "vanilla fork us",
                    "ODF fork us"]
        rows = []
        for sz in self.sizes:
            for a in acts:
                gv = self.totals_rows(sz, a, self.van)
                gd = self.totals_rows(sz, a, self.dly)
                if not gv and not gd:
                    continue
                v = [r["total_ns"] for r in gv]
                d = [r["total_ns"] for r in gd]
                cells = [fmt3(v, 1e6, 2), fmt3(d, 1e6, 2), fmt3(stats.to_median(d, v), 1, 3)]
                if write:
                    src = "total" if any(r.get("page_times") is False
                                         for r in gv + gd) else "timed"
                    wv = [r["wall_ns"] for r in gv]
                    wd = [r["wall_ns"] for r in gd]
                    rows.append([stats.size_name(sz), a, src] + cells +
                                [fmt3(wv, 1e6, 2), fmt3(wd, 1e6, 2), fmt3(stats.to_median(wd, wv), 1, 3)])
                else:
                    fv = stats.median([r["fork_ns"] for r in gv])
                    fd = stats.median([r["fork_ns"] for r in gd])
                    rows.append([stats.size_name(sz), a] + cells +
                                [fmt(fv and fv / 1e3, 1), fmt(fd and fd / 1e3, 1)])
        self.out += md.table(head, rows)

    def first_touch(self):
        acts = [a for a in self.acts if a.startswith("write")]
        timed = [r for r in self.rows if r["child"] == "write" and
                 r.get("page_times", True) and r.get("writes")]
        if not acts or not timed:
            return
        self.h("First touch per page (the child's writes, each timed; ns, medians over reps)")
        self.p("The first write to each 2 MiB range of an ODF child also "
               "copies that range's page table: see p99/max and the mean.\n")
        rows = []
        for sz in self.sizes:
            for a in acts:
                means = {}
                for lab in (self.van, self.dly):
                    g = [r for r in self.sel(sz, a, lab, page_times=True) if r.get("writes")]
                    if not g:
                        continue

                    def m(k):
                        return stats.median([r[k] for r in g])
                    means[lab] = m("mean_ns")
                    ratio = "-"
                    if lab == self.dly and means.get(self.van):
                        ratio = f"{means[lab] / means[self.van]:.2f}"
                    rows.append([stats.size_name(sz), a, lab, g[0]["writes"],
                                 f"{stats.median([r['faults'] / r['writes'] for r in g]):.3f}",
                                 fmt(means[lab]), fmt(m("p50_ns")), fmt(m("p90_ns")), fmt(m("p99_ns")),
                                 fmt(m("max_ns")), ratio])
        self.out += md.table(["size", "child", "mode", "writes", "faults/write", "mean", "p50", "p90", "p99",
                              "max", "mean ODF/vanilla"], rows, right=set(range(3, 11)))

    def page_tables(self):
        self.h("Page-table memory (kB, medians over reps)")
        self.p("VmPTE counts every PTE table an mm maps, shared ones in each "
               "mm that shares them; the system deltas (nr_page_table_pages "
               "read by the child right after fork and after its writes, "
               "minus the value before fork) are the memory really used. "
               "exact: the per-cpu counters were folded before each read "
               "(vm.stat_refresh, root).\n")

        def d(r, k):
            a, b = r.get(k), r.get("sys_pt_kb_before")
            return None if a is None or b is None else a - b

        rows = []
        for sz in self.sizes:
            for a in self.acts:
                for lab in self.labels():
                    g = self.sel(sz, a, lab)
                    if not g:
                        continue

                    def m(f):
                        return fmt(stats.median([f(r) for r in g]))
                    rows.append([stats.size_name(sz), a, lab, m(lambda r: r.get("parent_vmpte_kb")),
                                 m(lambda r: r.get("child_vmpte_fork_kb")), m(lambda r: r.get("child_vmpte_write_kb")),
                                 m(lambda r: d(r, "sys_pt_kb_fork")), m(lambda r: d(r, "sys_pt_kb_write")),
                                 "yes" if all(r.get("sys_pt_exact") for r in g) else "no"])
        self.out += md.table(["size", "child", "mode", "parent VmPTE", "child VmPTE at fork",
                              "child VmPTE after writes", "system delta at fork", "system delta after writes",
                              "exact"], rows, right=set(range(3, 8)))

    def labels(self):
        labs = [self.van, self.dly]
        return labs + sorted({label(r) for r in self.rows} - set(labs))

    def counters(self):
        names = list(COUNTERS)
        for r in self.rows:
            for k in r.get("rep_vmstat", {}):
                if k.startswith("cow_odf_") and k not in names:
                    names.append(k)
        self.h("ODF counters (vmstat deltas of a rep, fork() to waitpid() return; medians over reps)")
        if not any(k in r.get("rep_vmstat", {}) for r in self.rows
                   for k in names):
            self.p("No cow_odf_* counters in these runs (a kernel without "
                   "ODF).")
            return
        self.p("2M ranges: the region's 2 MiB ranges, the PTE tables fork "
               "can share. Counts are system-wide and include the "
               "processes' other tables (stack, heap, binary).\n")
        rows = []
        for sz in self.sizes:
            for a in self.acts:
                for lab in self.labels():
                    g = self.sel(sz, a, lab)
                    if g:
                        rows.append([stats.size_name(sz), a, lab, sz >> 21] + [
                            fmt(stats.median([r["rep_vmstat"][k] for r in g if k in r.get("rep_vmstat", {})]))
                            for k in names])
        self.out += md.table(["size", "child", "mode", "2M ranges"] + [k.replace("cow_odf_", "") for k in names],
                             rows, right=set(range(3, 4 + len(names))))

    def speedup(self, size):
        """fork() vanilla/ODF at size: median/median, with the per-rep
        spread (each ODF rep against vanilla's median); None without both."""
        v, d = self.fork_ns(size, self.van), self.fork_ns(size, self.dly)
        if not v or not d:
            return None
        return dict(stats.summary(stats.to_median(d, v, invert=True)), median=stats.median(v) / stats.median(d))

    def targets(self):
        self.h("Targets")
        v, d = self.fork_ns(GIB, self.van), self.fork_ns(GIB, self.dly)
        if v and d:
            x = stats.median(v) / stats.median(d)
            ok = x >= 20
            if not ok:
                self.missed.append("fork 1G")
            self.p(f"- fork() of a 1 GiB region >= 20x faster than vanilla: "
                   f"{x:.1f}x (median {stats.median(v) / 1e3:.1f} us vanilla, "
                   f"{stats.median(d) / 1e3:.1f} us ODF; every 1G run, {len(v)}/"
                   f"{len(d)} reps): **{'met' if ok else 'MISSED'}**")
        else:
            self.missed.append("fork 1G")
            self.p("- fork() of a 1 GiB region >= 20x faster than vanilla: "
                   "not measured (no 1G runs of both modes)")
        seen = False
        for sz in self.sizes:
            gv = self.totals_rows(sz, "write 100%", self.van)
            gd = self.totals_rows(sz, "write 100%", self.dly)
            if not gv or not gd:
                continue
            seen = True
            x = stats.median([r["total_ns"] for r in gd]) / stats.median([r["total_ns"] for r in gv])
            ok = x <= 1.05
            if not ok:
                self.missed.append(f"write 100% {stats.size_name(sz)}")
            self.p(f"- fork + child writes 100 %, {stats.size_name(sz)}: ODF total / "
                   f"vanilla = {x:.3f} (<= 1.05): "
                   f"**{'met' if ok else 'MISSED'}**")
        if not seen:
            self.missed.append("write 100%")
            self.p("- fork + child writes 100 %: not measured (no runs of "
                   "both modes)")

    def skipped(self):
        if not self.skips:
            return
        self.h("Skipped")
        seen = set()
        for r in self.skips:
            k = (label(r), action(r), r.get("size"), r["skipped"])
            if k in seen:
                continue
            seen.add(k)
            self.p(f"- {k[0]} {k[1]} {stats.size_name(k[2] or 0)}: {k[3]}")

    def render(self, title=True):
        self.header(title)
        self.fork_latency()
        self.totals(["exit", "exec"], "fork + exit, fork + exec")
        self.totals(["write"], "fork, then the child writes")
        self.first_touch()
        self.page_tables()
        self.counters()
        self.targets()
        self.skipped()
        return self.out

    def draw(self, plotter):
        """odf-fork-latency.png: [(caption, png, why not)]."""
        text = "# MiB vanilla_med min max odf_med min max (us)\n"
        for sz in self.sizes:
            cols = [f"{sz / (1 << 20):g}"]
            for lab in (self.van, self.dly):
                t = stats.summary([x / 1e3 for x in self.fork_ns(sz, lab)])
                cols += [f"{t[k]:.3f}" for k in ("median", "min", "max")] if t else ["NaN"] * 3
            text += " ".join(cols) + "\n"
        plotter.dat("odf-fork-latency.dat", text)
        return [("fork() latency against region size, both modes", "odf-fork-latency.png",
                 plotter.draw("odf-fork-latency.gp", "odf-fork-latency.png", van=self.van, dly=self.dly))]


def fill(sec, path, plotter):
    rows, skips = read(path)
    if not rows:
        raise load.InputError(f"{sec.source}: no cowbench --scenario fork result lines")
    rep = Report(rows, skips, "off", "on", level=3)
    sec.lines = rep.render(title=False)
    sec.add_plots(rep.draw(plotter))
    # the target's size, else the largest measured in both modes
    size = next((sz for sz in [GIB] + rep.sizes[::-1] if rep.speedup(sz)), None)
    if size:
        m = rep.speedup(size)
        sec.facts["fork_speedup"] = Fact(m["median"], size)
        sec.headlines["odf"] = (f"fork() of {stats.size_name(size)}: vanilla / on-demand "
                                f"{stats.fmt_mmm(m, lambda v: f'{v:.1f}x', 'head')}", LATENCY)


def main(argv):
    args = list(argv)
    if not args or args[0] in ("-h", "--help") or "--help" in args:
        print(__doc__)
        return 0 if args else 2
    opts = {"--vanilla": "off", "--delayed": "on", "--plot": None}
    check = False
    files = []
    i = 0
    while i < len(args):
        a = args[i]
        if a in opts:
            if i + 1 >= len(args) or not args[i + 1]:
                raise Usage(f"{a} needs a value")
            opts[a] = args[i + 1]
            i += 2
            continue
        if a == "--check":
            check = True
        elif a.startswith("-"):
            raise Usage(f"unknown option '{a}'")
        else:
            files.append(a)
        i += 1
    if len(files) != 1:
        raise Usage("give one run directory or odf.jsonl")
    if opts["--vanilla"] == opts["--delayed"]:
        raise Usage("--vanilla and --delayed name the same label")
    try:
        rows, skips = read(files[0])
    except load.InputError as e:
        raise Usage(str(e))
    if not rows:
        print(f"{PROG}: no cowbench --scenario fork result lines in "
              f"{files[0]}", file=sys.stderr)
        return 1
    rep = Report(rows, skips, opts["--vanilla"], opts["--delayed"])
    print("\n".join(rep.render()))
    if opts["--plot"]:
        drawn = rep.draw(plot.Plotter(opts["--plot"]))
        cli.plot_notes(PROG, drawn)
        if not drawn[0][2]:
            print(f"\nPlot: {opts['--plot'].rstrip('/')}/odf-fork-latency.png")
    if check and rep.missed:
        print(f"{PROG}: targets missed or not measured: "
              f"{', '.join(rep.missed)}", file=sys.stderr)
        return 1
    return 0


def command(argv):
    try:
        return main(argv)
    except Usage as e:
        print(f"{PROG}: {e}\n(try {PROG} --help)", file=sys.stderr)
        return 2
