# SPDX-License-Identifier: GPL-2.0
"""Report a Redis BGSAVE run (guest/plans/redis.sh): one row per COW policy.

usage: scripts/redis-report RUN_DIR [--json OUT] [--plot DIR]

RUN_DIR holds redis.jsonl (userspace-bench/redissnap.c): per policy a
"redissnap" line (latest_fork_usec, rdb_last_cow_size, bgsave_ms, the
server's VmHWM, SET latency p50/p99/max before and during the snapshot) and
a "redissnap-verify" line (keys of the saved RDB checked against the
snapshot instant). Prints a markdown table and the headline ratios against
"off" (vanilla behaviour) in the same boot: on-demand fork's fork time
(target: >= 20x lower) and each policy's p99 during the snapshot (the
Async-fork result: <= 0.2x). --json writes the rows for other tools;
--plot DIR draws redis-ratios.png (fork time and p99 during the snapshot
against off, per policy) with gnuplot.
Exit 1 when a policy lost data or the file is missing or empty.
"""
import argparse
import json
import os
import sys

from . import cli, load, md, plot, stats
from .section import Fact

PART, JSONL = "redis", "redis.jsonl"
TITLE = "A real client: Redis BGSAVE under every COW policy"
INTRO = ("Debian's redis-server in the guest, userspace-bench/redissnap.c as the client "
         "(guest/plans/redis.sh): one BGSAVE per policy under single SETs; every saved RDB "
         "loaded and checked against the snapshot instant. What the columns mean: "
         "docs/redis.md.")


def read(path):
    """{label: [run, ...]}, {label: [check, ...]} in file order, and the
    plan's line (the policies and reps it set out to run) or None."""
    runs, checks, plan = {}, {}, None
    for r in load.jsonl(path):
        if r.get("tool") == "redissnap":
            runs.setdefault(r["label"], []).append(r)
        elif r.get("tool") == "redissnap-verify":
            checks.setdefault(r["label"], []).append(r)
        elif r.get("tool") == "redis-plan":
            plan = r
    return runs, checks, plan


def ratio(a, b):
    return f"{a / b:.2f}x" if b else "-"


def analyse(runs, checks, plan):
    """The table, the headline lines, the rows for --json, the facts."""
    # what the plan set out to run: a policy or rep that is missing failed
    want = {p: plan["reps"] for p in plan["policies"]} if plan else {k: len(v) for k, v in runs.items()}
    for lab in want:
        runs.setdefault(lab, [])
    first = next(v for v in runs.values() if v)[0]
    A = {"size": first["keys"] * first["size"], "rows": [], "facts": {}, "ratios": []}
    out = [f"{first['keys']} keys of {first['size']} bytes (used_memory "
           f"{first['used_memory'] / 2**20:.0f} MiB); one BGSAVE per policy and rep ({max(want.values())} reps, the "
           "policies in turn), single SETs of random keys before it and while it runs. "
           "Cells: median (min-max) over the reps.", ""]

    def m(lab, f):
        return stats.median([f(r) for r in runs[lab]])
    missing = [k for k in runs if not runs[k]]
    table = [[k, "no run"] + [""] * 7 + [f"NO (0 of {want[k]} reps)"] for k in missing]
    runs = {k: v for k, v in runs.items() if v}
    fork = {k: m(k, lambda r: r["latest_fork_usec"] / 1e3) for k in runs}
    p99d = {k: m(k, lambda r: r["during"]["p99_us"]) for k in runs}

    def base(lab):
        """vanilla behaviour under the same THP mode: off@MODE (or off)"""
        b = "off@" + lab.split("@", 1)[1] if "@" in lab else "off"
        return b if b in runs else None
    bad = len(missing)
    for lab, rs in runs.items():
        cs = checks.get(lab, [])
        ok = (len(rs) == len(cs) == want.get(lab, len(rs))
              and all(c["bad"] == 0 and c["dbsize"] == c["keys"] for c in cs))
        bad += not ok
        row = {"policy": lab, "reps": len(rs), "fork_ms": fork[lab],
               "fork_ms_all": [r["latest_fork_usec"] / 1e3 for r in rs],
               "cow_mib": m(lab, lambda r: r["rdb_last_cow_size"] / 2**20),
               "bgsave_s": m(lab, lambda r: r["bgsave_ms"] / 1e3),
               "p99_during_us": p99d[lab], "verified": ok,
               "checked": sum(c["checked"] for c in cs)}
        A["rows"].append(row)
        b = base(lab)
        if b:
            A["ratios"].append((lab, fork[lab] / fork[b] if fork[b] else None,
                                p99d[lab] / p99d[b] if p99d[b] else None))

        def lat(phase):
            return " / ".join(f"{m(lab, lambda r, q=q: r[phase][q]):.0f}" for q in ("p50_us", "p99_us", "max_us"))
        table.append([lab, stats.fmt_mmm(row["fork_ms_all"], ".1f", "range"),
                      ratio(fork[lab], fork[b]) if b else "-", f"{row['cow_mib']:.0f}", f"{row['bgsave_s']:.1f}",
                      lat("before"), lat("during"), ratio(p99d[lab], p99d[b]) if b else "-",
                      f"{m(lab, lambda r: r['server_hwm_kb'] / 1024):.0f}",
                      f"{'yes' if ok else 'NO'} ({len(cs)} of {want.get(lab, len(rs))} reps, {row['checked']} keys)"])
    out += md.table(["policy", "fork (ms)", "fork / off", "COW copied (MiB)", "BGSAVE (s)",
                     "SET p50 / p99 / max before (us)", "SET p50 / p99 / max during (us)", "p99 during / off",
                     "server peak RSS (MiB)", "RDB = snapshot instant"], table)
    out.append("")
    heads = []
    for lab in runs:
        if lab.split("@")[0] == "odf" and base(lab):
            b = base(lab)
            x = fork[b] / max(fork[lab], 1e-9)
            out.append(f"- On-demand fork ({lab}): Redis's own fork time (latest_fork_usec, median) "
                       f"{fork[lab]:.1f} ms against {fork[b]:.1f} ms with vanilla behaviour ({b}): "
                       f"{x:.2f}x lower (target >= 20x: {'met' if x >= 20 else 'not met'}).")
            if "odf_fork_speedup" not in A["facts"]:
                A["facts"]["odf_fork_speedup"] = Fact(x, A["size"])
                heads.append(f"{lab} fork {x:.2f}x lower than {b}")
    others = [k for k in runs if base(k) and base(k) != k]
    if others:
        best = min(others, key=lambda k: p99d[k] / max(p99d[base(k)], 1e-9))
        y = p99d[best] / max(p99d[base(best)], 1e-9)
        out.append(f"- p99 of SETs during the snapshot (median): best {best}, {y:.2f}x that of {base(best)} "
                   f"(target <= 0.2x: {'met' if y <= 0.2 else 'not met'}).")
        A["facts"]["p99_best"] = Fact(y, A["size"])
        heads.append(f"best p99 during the save {best} {y:.2f}x {base(best)}")
    total = len(A["rows"]) + len(missing)
    out.append(f"- Data: {total - bad} of {total} policies' RDB files hold the snapshot instant"
               f" in every rep{'' if not bad else ' (a policy LOST DATA or did not run)'}.")
    heads.append(f"{total - bad} of {total} policies' RDBs hold the instant")
    A["facts"]["lost"] = Fact(bad, A["size"])
    A["bad"], A["lines"] = bad, out
    A["headline"] = (f"{stats.size_name(A['size'])} of values, medians of {max(want.values())} rep(s): "
                     + "; ".join(heads))
    return A


def draw(A, plotter):
    """redis-ratios.png: [(caption, png, why not)]."""
    cap, png = "fork time and p99 during the save against off, per policy", "redis-ratios.png"
    if not A["ratios"]:
        return [(cap, png, "no policy has an off of the same THP mode")]
    plotter.dat("redis-ratios.dat", "# policy fork/off p99_during/off\n" + "".join(
        f'"{lab}" {stats.num(f, ".4f")} {stats.num(p, ".4f")}\n'.replace(stats.NA, "NaN")
        for lab, f, p in A["ratios"]))
    return [(cap, png, plotter.draw("redis-ratios.gp", png))]


def fill(sec, path, plotter):
    runs, checks, plan = read(path)
    if not runs:
        raise load.InputError(f"{sec.source}: no redissnap run")
    A = analyse(runs, checks, plan)
    sec.lines = A["lines"]
    sec.facts = A["facts"]
    sec.headlines["redis"] = (A["headline"], TITLE)
    if A["bad"]:
        sec.failures.append("redis: a policy lost data or did not run")
    with open(os.path.join(os.path.dirname(path), "redis-rows.json"), "w", encoding="utf-8") as f:
        json.dump(A["rows"], f, indent=1)
    sec.add_plots(draw(A, plotter))


def main(argv):
    ap = argparse.ArgumentParser(prog="redis-report", description=__doc__.split("\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter,
                                 epilog=__doc__.split("\n", 1)[1])
    ap.add_argument("run_dir")
    ap.add_argument("--json", help="write the rows as JSON here")
    ap.add_argument("--plot", metavar="DIR", help="draw redis-ratios.png here")
    a = ap.parse_args(argv)
    path = os.path.join(a.run_dir, JSONL)
    if not os.path.isfile(path):
        sys.exit(f"redis-report: {path}: no such file (guest/plans/redis.sh writes it)")
    try:
        runs, checks, plan = read(path)
    except load.InputError as e:
        sys.exit(f"redis-report: {e}")
    if not runs:
        sys.exit(f"redis-report: {path}: no redissnap run")
    A = analyse(runs, checks, plan)
    print("\n".join(A["lines"]))
    if a.json:
        with open(a.json, "w", encoding="utf-8") as f:
            json.dump(A["rows"], f, indent=1)
    if a.plot:
        cli.plot_notes("redis-report", draw(A, plot.Plotter(a.plot)))
    return 1 if A["bad"] else 0
