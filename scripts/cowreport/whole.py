# SPDX-License-Identifier: GPL-2.0
"""The whole report of a results directory (scripts/report; make run).

Writes RESULTS/report.md: the front page (each question of the brief, its
headline, target and verdict), then a section per part present: the
overhead and page-size study (raw/, which also writes summary.json), pre-copy,
on-demand fork, snapshots, huge-page COW, Redis; the host anchors beside the
guest's figures (always: "not run" without host/), and with them the cost
model's projections (scripts/cowreport/model.py); then the sources (every
raw file and the command that made it).  Plots go to RESULTS/plots/, and
links in report.md are relative to RESULTS.
"""

import argparse
import datetime
import os
import sys

from . import front, host, hugecow, load, md, model, odf, overhead, plot, precopy, redis, section, snapshot
from .stats import NA

STUDIES = (precopy, odf, snapshot, hugecow, redis)
TITLE = "cowlab: the copy-on-write study"


def failed_section(results, study, e):
    """A section for a part whose input could not be read."""
    prov = load.provenance(results, os.path.join(results, study.PART))
    sec = section.Section(study.PART, study.TITLE, study.INTRO, study.PART, prov, prov["accel"])
    section.unreadable(sec, results, e)
    return sec


def sources(results, meta, sections):
    """The environment and, per part, its raw files and what made them."""
    out = [md.heading(2, "Sources"), ""]
    if meta:
        out += ["Study: %s." % ", ".join("%s: %s" % (k, load.in_tree(meta[k])) for k in meta), ""]
    else:
        out += ["No meta.json in the results.", ""]
    rows = []
    for sec in sections.values():
        if not os.path.isdir(os.path.join(results, sec.part)):
            continue
        dirs = [os.path.join(sec.part, b) for b in overhead.boots(results)] if sec.part == overhead.PART else [sec.part]
        for d in dirs:
            p = load.provenance(results, os.path.join(results, d))
            files = sorted(f for f in os.listdir(os.path.join(results, d))
                           if f.endswith((".jsonl", ".json")) or f in ("dmesg.txt", "result.ktap"))
            accel = p["accel"] if sec.part == overhead.PART else sec.accel
            rows.append([d, ", ".join("[%s](%s/%s)" % (f, d, f) for f in files),
                         md.code(p["command"]) if p["command"] else NA, p["from"] or NA,
                         (accel or NA) + (" (study.sh's rule)" if accel != p["accel"] else ""), p["guest"] or NA])
    out += md.table(["directory", "files", "made by", "from", "accel", "guest"], rows)
    out += ["", "from: run.json, written by scripts/run-guest.sh beside each run, or the study's meta.json "
            "for runs older than run.json; then the accelerator of a part is study.sh's rule of the time "
            "(hugecow, precopy and odf under -icount when --accel was tcg)."]
    return out + [""]


def whole(results, forced=None, gnuplot="gnuplot", plots=True):
    """Write report.md (and summary.json when there is a raw/); returns the
    overhead summary (None without raw/), the sections by part, and the
    failures that make scripts/report exit 1.  Raises OSError when a file
    cannot be written."""
    plotter = plot.Plotter(os.path.join(results, "plots"), gnuplot, plots)
    sections, S = {}, None
    # study.sh makes raw/ whatever the parts: the study ran when it has a boot
    if overhead.boots(results):
        try:
            S, sections[overhead.PART] = overhead.build(results, plotter, forced or {})
        except load.InputError as e:
            sections[overhead.PART] = failed_section(results, overhead, e)
    for study in STUDIES:
        sec = section.build(results, study, plotter)
        if sec:
            sections[study.PART] = sec
    order = [q.part for q in front.QUESTIONS]
    sections = {p: sections[p] for p in sorted(sections, key=order.index)}
    # the host anchors last, beside the guest's page-size figures
    sections[host.PART] = host.build(results, S, sections.get(overhead.PART))
    # the cost model after it: the host's units times the guest's counts
    msec = model.build(results)
    if msec:
        sections["model"] = msec
    failures = [f for sec in sections.values() for f in sec.failures]
    # the boots (or the vanilla build) that study.sh saw fail
    fpath = os.path.join(results, "failed.txt")
    if os.path.exists(fpath):
        with open(fpath) as f:
            failures += ["failed: %s (its .log beside its directory)" % x.strip() for x in f if x.strip()]
    meta = None
    if os.path.exists(os.path.join(results, "meta.json")):
        try:
            meta = load.read_json(os.path.join(results, "meta.json"))
        except load.InputError:
            meta = None
    meta = meta if isinstance(meta, dict) else None
    made = ("made by %s (meta.json)" % md.code(load.in_tree(meta["command"])) if meta and meta.get("command")
            else "meta.json names no command" if meta else "no meta.json")
    when = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    intro = ["%s: %s; kernel %s; report generated %s." % (
        md.code(os.path.basename(os.path.abspath(results))), made, (meta or {}).get("kernel", "?"), when), ""]
    if failures:
        intro += ["**Failures:** " + "; ".join(failures) + ".", ""]
    intro += host.front_line(sections[host.PART])
    intro += model.front_line(sections.get("model"))
    lines = front.page(sections, TITLE, intro) + [""]
    for sec in sections.values():
        lines += sec.render()
    lines += sources(results, meta, sections)
    with open(os.path.join(results, "report.md"), "w") as f:
        f.write("\n".join(lines))
    return S, sections, failures


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="report",
        description="Write the report of a cowlab results directory (scripts/study.sh): report.md (a front "
                    "page answering the brief's questions, then a section per part present: raw/, precopy/, "
                    "odf/, snapshot/, hugecow/, redis/; and always the host anchors, host/, beside the guest's figures), summary.json (the overhead and page-size study, "
                    "when raw/ is there; fields: docs/report-fields.md) and gnuplot PNGs under plots/.",
        epilog="Exit status: 0 report written (missing inputs are listed in it; a part that did not run is "
               "'not run'); 1 report written but a part's report found a failure (a snapshot that did not "
               "verify, a Redis policy that lost data or did not run, an unreadable input), or the "
               "directory is not readable or nothing could be written; 2 usage error.")
    ap.add_argument("results", help="results/<stamp> directory")
    ap.add_argument("--no-plots", action="store_true", help="write the plot data files but do not run gnuplot")
    ap.add_argument("--gnuplot", default="gnuplot", help="gnuplot binary (default %(default)s)")
    ap.add_argument("--scenario", help="headline scenario (default: the most common per page kind)")
    ap.add_argument("--who", help="headline writer (default: parent if present)")
    ap.add_argument("--pattern", help="headline pattern (default: seq if present)")
    ap.add_argument("--bytes", type=int, help="headline bytes per page (default: the smallest)")
    ap.add_argument("--quiet", action="store_true", help="do not print the tables on stdout")
    args = ap.parse_args(argv)
    if not os.path.isdir(args.results):
        sys.stderr.write("report: %s: not a directory\n" % args.results)
        return 1
    forced = {"scenario": args.scenario, "who": args.who, "pattern": args.pattern, "bytes": args.bytes}
    try:
        S, sections, failures = whole(args.results, forced, args.gnuplot, not args.no_plots)
    except OSError as e:
        sys.stderr.write("report: %s\n" % e)
        return 1
    if not args.quiet:
        if S:
            print("\n".join(overhead.print_table(S)))
        for q in front.QUESTIONS:
            sec = sections.get(q.part)
            print("Q%d %s: %s" % (q.n, front.judge(q, sec).replace("**", ""),
                                  sec.headlines.get(q.headline, (NA,))[0] if sec else "not run"))
        print("wrote %s/report.md%s, plots/" % (args.results.rstrip("/"), ", summary.json" if S else ""))
    for f in failures:
        sys.stderr.write("report: %s\n" % f)
    return 1 if failures else 0
