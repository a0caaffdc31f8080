#!/usr/bin/python3
# SPDX-License-Identifier: GPL-2.0
"""Host tests for scripts/cow-dmesg-parse and scripts/report (TAP output).

Run: /usr/bin/python3 tests/host/test_report.py
Uses tests/host/fixtures/ (a dmesg excerpt with noise, vmstat copies,
ftrace hist files and results-mini/, a results dir with two patched boots and
one vanilla boot; make-results-mini.py there regenerates it) and, for the
whole report's other parts, the JSON lines of committed runs in docs/results/.
The report is run on copies in a temporary directory so the inputs stay clean.
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import traceback

TOP = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", ".."))
FIX = os.path.join(TOP, "tests", "host", "fixtures")
PARSE = os.path.join(TOP, "scripts", "cow-dmesg-parse")
REPORT = os.path.join(TOP, "scripts", "report")
PY = "/usr/bin/python3"
sys.dont_write_bytecode = True
sys.path.insert(0, os.path.join(TOP, "scripts"))
from cowreport import dmesg, host, load, model, overhead, stats  # noqa: E402
from cowreport.md import slug  # noqa: E402

tests = []


def test(fn):
    tests.append(fn)
    return fn


def run(cmd, stdin=None):
    p = subprocess.run(cmd, input=stdin, capture_output=True, text=True, timeout=60)
    return p.returncode, p.stdout, p.stderr


def parse(*args, stdin=None):
    return run([PY, PARSE] + list(args), stdin)


def parse_json(*args):
    rc, out, err = parse("--json", *args)
    assert rc == 0, "exit %d: %s" % (rc, err)
    return json.loads(out)


def fx(name):
    return os.path.join(FIX, name)


def group(js, kind, order, src):
    for g in js["groups"]:
        if (g["kind"], g["order"], g["src_order"]) == (kind, order, src):
            return g
    raise AssertionError("no group %s/%d/%d" % (kind, order, src))


def eq(a, b, what=""):
    assert a == b, "%s: got %r, want %r" % (what, a, b)


def close(a, b, what="", tol=1e-6):
    assert a is not None and abs(a - b) <= tol * max(1.0, abs(b)), "%s: got %r, want %r" % (what, a, b)


# ------------------------------------------------------------ cow-dmesg-parse

@test
def parse_help_and_usage():
    """cow-dmesg-parse: --help exits 0, no argument exits 2, missing file exits 1"""
    rc, out, _ = parse("--help")
    eq(rc, 0, "--help exit")
    assert "--check-vmstat" in out and "--check-hist" in out, "--help lacks the check options"
    rc, _, _ = parse()
    eq(rc, 2, "no-argument exit")
    rc, _, _ = parse("--bogus", fx("dmesg-noise.txt"))
    eq(rc, 2, "unknown option exit")
    rc, _, err = parse(fx("no-such-file.txt"))
    eq(rc, 1, "missing file exit")
    assert "no-such-file.txt" in err, "error does not name the file: %r" % err


@test
def parse_4k_stats():
    """cow-dmesg-parse: 4k group count 5 (duplicate dropped), nearest-rank p50/p90, min, mean"""
    js = parse_json(fx("dmesg-noise.txt"))
    g = group(js, "4k", 0, 0)
    eq(g["count"], 5, "count")
    eq(g["total_ns"]["p50"], 3000, "total p50")
    eq(g["total_ns"]["p90"], 5000, "total p90")
    eq(g["total_ns"]["min"], 1000, "total min")
    eq(g["alloc_ns"]["min"], 500, "alloc min")
    eq(g["copy_ns"]["p50"], 30, "copy p50")
    close(g["copy_ns"]["mean"], 30.0, "copy mean")
    eq(g["install_ns"]["max"], 1400, "install max")
    eq(js["duplicates_dropped"], 1, "duplicates")


@test
def parse_noise_malformed_suppressed():
    """cow-dmesg-parse: 2 malformed lines counted, 7+2 suppressed, other funcs kept apart"""
    rc, out, err = parse("--json", fx("dmesg-noise.txt"))
    eq(rc, 0, "exit")
    js = json.loads(out)
    eq(js["malformed"], 2, "malformed")
    eq(sorted(m["line"] for m in js["malformed_lines"]), [12, 21], "malformed line numbers")
    eq(js["suppressed"], 9, "suppressed")
    eq(js["suppressed_other"], {"wp_page_copy_bogus": 5}, "suppressed_other")
    eq(js["samples"], 10, "samples")
    assert "2 malformed" in err, "stderr does not report malformed lines: %r" % err


@test
def parse_seq_gaps_and_kinds():
    """cow-dmesg-parse: seq 101..118, 10 distinct, 8 not logged; zero/thp_split/hugetlb/mTHP groups"""
    js = parse_json(fx("dmesg-noise.txt"))
    sq = js["seq"]
    eq((sq["first"], sq["last"], sq["distinct"], sq["not_logged"]), (101, 118, 10, 8), "seq")
    eq(js["seq_scope"], "global", "seq scope")
    eq(group(js, "hugetlb", 9, 9)["copy_ns"]["p50"], 400000, "hugetlb copy")
    eq(group(js, "thp_split", 9, 9)["install_ns"]["p50"], 90000, "thp split install")
    eq(group(js, "4k", 0, 4)["count"], 1, "mTHP 64k group")
    eq(group(js, "zero", 0, 0)["alloc_ns"]["p50"], 2500, "zero alloc")


@test
def parse_log2_hist():
    """cow-dmesg-parse --hist: log2 buckets of 4k total_ns"""
    js = parse_json("--hist", fx("dmesg-noise.txt"))
    eq(group(js, "4k", 0, 0)["hist"]["total_ns"], [[512, 1], [1024, 1], [2048, 2], [4096, 1]], "hist")
    rc, out, _ = parse("--hist", fx("dmesg-noise.txt"))
    assert rc == 0 and "total_ns log2 histogram" in out, "human --hist output missing"


@test
def parse_stdin_no_timestamps():
    """cow-dmesg-parse: reads stdin, lines without timestamps, CRLF, other prefixes"""
    text = ("cow_stat: seq=1 kind=4k order=0 src_order=0 pfn=0x1 alloc_ns=1 copy_ns=7 install_ns=1 total_ns=10\r\n"
            "<6>cow_stat: seq=2 kind=4k order=0 src_order=0 pfn=0x2 alloc_ns=1 copy_ns=9 install_ns=1 total_ns=20\n"
            "kern  :info  : [    3.1] cow_stat: seq=4 kind=4k order=0 src_order=0 pfn=0x3 alloc_ns=1 copy_ns=8 install_ns=1 total_ns=30\n"
            "some other line\n")
    rc, out, err = parse("--json", "-", stdin=text)
    eq(rc, 0, "exit (%s)" % err)
    js = json.loads(out)
    g = group(js, "4k", 0, 0)
    eq(g["count"], 3, "count")
    eq(g["copy_ns"]["p50"], 8, "copy p50")
    eq(js["seq"]["not_logged"], 1, "gap at seq 3")
    eq(js["malformed"], 0, "malformed")


@test
def parse_percentile_nearest_rank():
    """percentile(): nearest rank (p50 of 1..4 is 2, p99.9 of 1..1000 is 999, p99.9 of 1..10000 is 9990)"""
    m = dmesg
    eq(m.percentile([1, 2, 3, 4], 50), 2, "p50 1..4")
    eq(m.percentile([1, 2, 3, 4, 5], 50), 3, "p50 1..5")
    eq(m.percentile(list(range(1, 1001)), 99.9), 999, "p99.9 1..1000")
    eq(m.percentile(list(range(1, 10001)), 99.9), 9990, "p99.9 1..10000")
    eq(m.percentile(list(range(1, 101)), 90), 90, "p90 1..100")
    eq(m.percentile([], 50), None, "empty")


@test
def vmstat_match():
    """--check-vmstat: fixture counters match the distinct seq per kind (exit 0 with --strict)"""
    rc, out, _ = parse("--strict", fx("dmesg-noise.txt"), "--check-vmstat",
                       fx("vmstat-before.txt"), fx("vmstat-after.txt"))
    eq(rc, 0, "exit")
    assert "vmstat check: match" in out, out
    js = parse_json(fx("dmesg-noise.txt"), "--check-vmstat", fx("vmstat-before.txt"), fx("vmstat-after.txt"))
    rows = {r["kind"]: r for r in js["vmstat_check"]["rows"]}
    eq((rows["4k"]["logged"], rows["4k"]["delta"]), (7, 7), "4k logged/delta")
    eq(js["vmstat_check"]["ok"], True, "ok")


@test
def vmstat_mismatch_detected():
    """--check-vmstat: a cow_copy delta of 14 vs 7 logged is a MISMATCH; exit 3 only with --strict"""
    args = [fx("dmesg-noise.txt"), "--check-vmstat", fx("vmstat-before.txt"), fx("vmstat-after-mismatch.txt")]
    rc, out, _ = parse(*args)
    eq(rc, 0, "exit without --strict")
    assert "MISMATCH" in out, "no MISMATCH in output"
    rc, _, _ = parse("--strict", *args)
    eq(rc, 3, "exit with --strict")
    js = parse_json(*args)
    rows = {r["kind"]: r for r in js["vmstat_check"]["rows"]}
    eq(rows["4k"]["diff"], -7, "4k diff")
    eq(rows["4k"]["status"], "MISMATCH", "4k status")
    eq(rows["zero"]["status"], "match", "zero status")
    eq(js["vmstat_check"]["ok"], False, "ok")


@test
def hist_check():
    """--check-hist: matching hist file passes, 14 hits vs 7 samples fails (exit 3 with --strict)"""
    rc, out, _ = parse("--strict", fx("dmesg-noise.txt"), "--check-hist", fx("cow_hist-match.txt"))
    eq(rc, 0, "match exit")
    assert "hist check: match" in out, out
    js = parse_json(fx("dmesg-noise.txt"), "--check-hist", fx("cow_hist-match.txt"))
    rows = {(r["kind"], r["order"]): r for r in js["hist_check"]["rows"]}
    eq(rows[("4k", 0)]["hist_hits"], 7, "4k hits")
    eq(rows[("4k", 0)]["dmesg_copy_ns"], 245, "4k copy sum")
    eq(rows[("hugetlb", 9)]["hist_total_ns"], 430000, "hugetlb total sum")
    rc, out, _ = parse("--strict", fx("dmesg-noise.txt"), "--check-hist", fx("cow_hist-mismatch.txt"))
    eq(rc, 3, "mismatch exit")
    assert re.search(r"4k\s+0\s+14\s+7 .*MISMATCH", out), out
    # same hit counts, one copy_ns sum off by one: still a mismatch
    with open(fx("cow_hist-match.txt")) as f:
        text = f.read().replace("copy_ns:        245", "copy_ns:        246")
    with tempfile.NamedTemporaryFile("w", suffix=".txt") as t:
        t.write(text)
        t.flush()
        js = parse_json(fx("dmesg-noise.txt"), "--check-hist", t.name)
    rows = {(r["kind"], r["order"]): r for r in js["hist_check"]["rows"]}
    eq(rows[("4k", 0)]["status"], "MISMATCH", "sum mismatch")
    eq(rows[("zero", 0)]["status"], "match", "zero row")


@test
def hist_parser_kernel_formats():
    """parse_hist_text(): string keys padded/with spaces, several histograms, Totals"""
    m = dmesg
    text = ("# event histogram\n#\n# trigger info: hist:keys=child_comm:vals=hitcount:sort=hitcount:size=256 [active]\n#\n\n"
            "{ child_comm: dconf worker                        } hitcount:          1\n"
            "{ child_comm: ibus-daemon                         } hitcount:          3\n"
            "\nTotals:\n    Hits: 4\n    Entries: 2\n    Dropped: 1\n\n\n"
            "# event histogram\n#\n# trigger info: hist:keys=kind,order:vals=hitcount,total_ns:sort=kind:size=2048 [active]\n#\n\n"
            "{ kind: %-50s, order: %10d } hitcount: %10d  total_ns: %10d\n" % ("zero", 0, 2, 900)
            + "\nTotals:\n    Hits: 2\n    Entries: 1\n    Dropped: 0\n")
    hs = m.parse_hist_text(text)
    eq(len(hs), 2, "histograms")
    eq(hs[0]["entries"][0]["keys"], {"child_comm": "dconf worker"}, "string key with a space")
    eq(hs[0]["totals"], {"hits": 4, "entries": 2, "dropped": 1}, "totals")
    eq(hs[1]["entries"][0]["keys"], {"kind": "zero", "order": "0"}, "kind/order keys")
    eq(hs[1]["entries"][0]["vals"], {"hitcount": 2, "total_ns": 900}, "vals")


# ------------------------------------------------------------ report

class Results:
    tmp = None
    dir = None
    summary = None
    md = None
    out = None
    rc = None


def results():
    """Run the report once on a copy of results-mini."""
    if Results.dir is None:
        Results.tmp = tempfile.mkdtemp(prefix="cowlab-report-test.")
        Results.dir = os.path.join(Results.tmp, "results-mini")
        shutil.copytree(fx("results-mini"), Results.dir)
        Results.rc, Results.out, err = run([PY, REPORT, Results.dir])
        assert Results.rc == 0, "report exit %d: %s" % (Results.rc, err)
        with open(os.path.join(Results.dir, "summary.json")) as f:
            Results.summary = json.load(f)
        with open(os.path.join(Results.dir, "report.md")) as f:
            Results.md = f.read()
    return Results


@test
def report_usage():
    """report: --help 0, no argument 2, missing directory 1"""
    rc, out, _ = run([PY, REPORT, "--help"])
    eq(rc, 0, "--help")
    assert "summary.json" in out
    eq(run([PY, REPORT])[0], 2, "no argument")
    eq(run([PY, REPORT, "--bytes", "x", FIX])[0], 2, "bad --bytes")
    rc, _, err = run([PY, REPORT, os.path.join(FIX, "no-such-dir")])
    eq(rc, 1, "missing dir")
    assert "no-such-dir" in err


@test
def report_copy_share_4k():
    """report: 4K copy share of the fault = median(2000/10000, 3000/11000) = 23.6% in summary and report.md"""
    r = results()
    h = r.summary["headline"]["copy_share_4k_of_fault"]
    close(h["median"], (0.2 + 3000 / 11000) / 2, "median")
    close(h["min"], 0.2, "min")
    close(h["max"], 3000 / 11000, "max")
    eq(h["n"], 2, "n")
    close(r.summary["headline"]["copy_share_4k_of_kernel"]["median"], (2000 / 6000 + 3000 / 7000) / 2, "kernel share")
    line = [l for l in r.md.splitlines() if "4K copy share of the whole fault" in l]
    assert line and "23.6%" in line[0] and "min 20.0%" in line[0] and "max 27.3%" in line[0], line


@test
def report_kinds_and_breakdown():
    """report: per-kind user/kernel p50s, THP split + 4K copy, hugetlb copy share"""
    k = results().summary["kinds"]
    eq(k["4k"]["user_p50_ns"], {"min": 10000, "median": 10500, "max": 11000, "n": 2}, "4k user p50")
    eq(k["4k"]["kernel_p50"]["copy_ns"]["median"], 2500, "4k kernel copy")
    eq(k["4k"]["kernel_p50"]["total_ns"]["median"], 6500, "4k kernel total")
    eq(k["4k"]["breakdown_ns"]["trap_other"]["median"], 4000, "4k trap+other")
    eq(k["4k"]["breakdown_ns"]["kernel_other"]["median"], 1500, "4k kernel other")
    eq(k["4k"]["breakdown_ns"]["split"], None, "4k has no split")
    eq(k["thp-2m"]["breakdown_ns"]["split"]["median"], 45000, "thp split")
    eq(k["thp-2m"]["breakdown_ns"]["kernel_total"]["median"], 51500, "thp kernel total")
    eq(k["thp-2m"]["kernel_p50"]["copy_ns"]["median"], 2200, "thp 4K copy")
    eq(k["mthp-64k"]["kernel_p50"]["copy_ns"]["median"], 2100, "mthp copy")
    close(k["hugetlb-2m"]["copy_share_of_fault"]["median"], (300000 / 500000 + 300000 / 520000) / 2, "hugetlb share")
    eq(k["hugetlb-2m"]["page_size"], 2 << 20, "hugetlb page size")
    eq(results().summary["kind_order"], ["4k", "zero", "mthp-64k", "thp-2m", "hugetlb-2m", "hugetlb-1g"], "order")


@test
def report_bytes_and_overhead():
    """report: 4096 B / 1 B ratio and patched/vanilla overhead (off, sample1000) median/min/max"""
    s = results().summary
    b = s["bytes_effect"]["4k"]
    close(b["ratio_hi_lo"]["median"], (12000 / 10000 + 13000 / 11000) / 2, "bytes ratio")
    eq((b["lo_bytes"], b["hi_bytes"]), (1, 4096), "bytes")
    o = s["overhead"]
    w = o["off"]["headline"]["wall_ratio"]
    close(w["median"], 1.05, "off wall median")
    close(w["min"], 1.0, "off wall min")
    close(w["max"], 1.1, "off wall max")
    close(o["sample1000"]["headline"]["wall_ratio"]["median"], (1.05 + 1.21) / 2, "sample1000 wall")
    close(o["sample1000"]["headline"]["p50_ratio"]["max"], 13650 / 12000, "sample1000 p50 max")
    eq(o["off"]["headline"]["paired_runs"], 1, "run 1 paired with vanilla-1")
    eq(s["headline"]["overhead_wall_ratio"]["off"], w, "headline copy")
    assert re.search(r"\| off \| .* \| \*\*1\.050 \(min 1\.000, max 1\.100; n=2\)\*\*", results().md), "overhead row"


@test
def report_crosschecks_and_missing():
    """report: vmstat match/mismatch per boot, hist check, skipped hugetlb-1g named, malformed counted"""
    s = results().summary
    boots = {b["name"]: b for b in s["boots"]}
    eq(boots["patched-1"]["vmstat_check"], "match", "patched-1 vmstat")
    eq(boots["patched-2"]["vmstat_check"], "mismatch", "patched-2 vmstat")
    eq(boots["patched-1"]["hist_check"], "match", "patched-1 hist")
    eq(boots["patched-2"]["suppressed"], 4, "patched-2 suppressed")
    eq(boots["patched-2"]["malformed_dmesg"], 1, "patched-2 malformed")
    eq(boots["patched-1"]["malformed_json"], 1, "patched-1 bad json")
    eq(boots["vanilla-1"]["variant"], "vanilla", "vanilla variant")
    assert any("hugetlb-1g" in m and "no free 1G hugetlb pages" in m for m in s["missing"]), s["missing"]
    md = results().md
    assert "QEMU TCG: absolute times are emulated, compare ratios" in md
    assert "approximation" in md
    assert "hugetlb-1g: no user-space records (skipped: no free 1G hugetlb pages)" in md


@test
def report_stdout_and_plots():
    """report: stdout table row for 4k; three PNGs drawn by gnuplot (skipped without gnuplot)"""
    r = results()
    assert re.search(r"^4k\s+10\.5 us\s+6\.5 us\s+2\.5 us\s+23\.6%\s+38\.1%", r.out, re.M), r.out
    if not shutil.which("gnuplot"):
        return "SKIP gnuplot not installed"
    for name in ("latency-hist.png", "latency-size.png", "breakdown.png"):
        p = os.path.join(r.dir, "plots", name)
        with open(p, "rb") as f:
            assert f.read(8) == b"\x89PNG\r\n\x1a\n", "%s is not a PNG" % name
        assert os.path.getsize(p) > 5000, "%s is tiny" % name
    eq(r.summary["plots"]["breakdown"], "plots/breakdown.png", "plots field")
    with open(os.path.join(r.dir, "plots", "size.dat")) as f:
        rows = [l.split() for l in f if not l.startswith("#")]
    eq([x[0] for x in rows], ["4k", "mthp-64k", "thp-2m", "hugetlb-2m"], "size.dat kinds")


@test
def report_selection_rules():
    """report: headline picks cow, no exit-early, child, seq, smallest bytes; --bytes 4096 forces 4096-byte records"""
    rep = overhead
    recs = [{"scenario": sc, "who": w, "side": w, "pattern": p, "size": 4096, "bytes": b, "exit_early": e}
            for sc, w, p, b, e in (("cow", "parent", "rand", 4096, False), ("cow", "parent", "rand", 4096, False),
                                   ("cow", "child", "seq", 4096, False), ("cow", "child", "seq", 4096, False),
                                   ("cow", "child", "seq", 1, False), ("cow", "parent", "seq", 1, False),
                                   ("cow", "child", "seq", 1, True), ("first-touch", "self", "seq", 1, False),
                                   ("first-touch", "self", "seq", 1, False), ("first-touch", "self", "seq", 1, False))]
    sel, chosen = rep.select_key(recs, {})
    eq((sel["scenario"], sel["who"], sel["side"], sel["pattern"], sel["bytes"], sel["exit_early"]),
       ("cow", "child", "child", "seq", 1, False), "default selection")
    eq(len(chosen), 1, "records left")
    sel, _ = rep.select_key(recs, {"bytes": 4096, "who": "parent"})
    eq((sel["who"], sel["pattern"], sel["bytes"]), ("parent", "rand", 4096), "forced selection")
    eq(rep.canon_page({"page": "hugetlb-1G"}), ("hugetlb-1g", 1 << 30), "hugetlb-1G")
    eq(rep.canon_page({"page": "mTHP_64kB"}), ("mthp-64k", 65536), "mTHP_64kB")
    eq(rep.canon_page({"page": "thp"}), ("thp-2m", 2 << 20), "thp")
    eq(rep.canon_page({"page": "base"}), ("4k", 4096), "base")
    d = os.path.join(results().tmp, "forced")
    shutil.copytree(fx("results-mini"), d)
    rc, _, err = run([PY, REPORT, "--no-plots", "--quiet", "--bytes", "4096", d])
    eq(rc, 0, "exit (%s)" % err)
    with open(os.path.join(d, "summary.json")) as f:
        s = json.load(f)
    eq(s["selection"]["4k"]["bytes"], 4096, "forced bytes")
    eq(s["selection"]["4k"]["label"], "off", "label off preferred")
    eq(s["kinds"]["4k"]["user_p50_ns"]["median"], 12500, "4096 B user p50")


@test
def report_without_vanilla():
    """report: no vanilla boot -> exit 0 and a line saying overhead was not computed"""
    d = os.path.join(results().tmp, "novanilla")
    shutil.copytree(fx("results-mini"), d)
    shutil.rmtree(os.path.join(d, "raw", "vanilla-1"))
    rc, out, err = run([PY, REPORT, "--no-plots", d])
    eq(rc, 0, "exit (%s)" % err)
    with open(os.path.join(d, "report.md")) as f:
        md = f.read()
    assert "no vanilla boot in raw/: instrumentation overhead not computed" in md
    with open(os.path.join(d, "summary.json")) as f:
        eq(json.load(f)["overhead"], {}, "overhead")


@test
def report_fields_documented():
    """docs/report-fields.md documents every summary.json field the report writes"""
    with open(os.path.join(TOP, "docs", "report-fields.md")) as f:
        doc = f.read()
    names = set(re.findall(r"`([A-Za-z_][A-Za-z0-9_]*)`", doc))
    s = results().summary
    want = set(s) | set(s["headline"]) | set(s["kinds"]["4k"]) | set(s["boots"][0])
    want |= set(s["kinds"]["4k"]["breakdown_ns"]) | set(s["kinds"]["4k"]["kernel_p50"])
    want |= set(s["bytes_effect"]["4k"]) | set(s["overhead"]["off"]) | set(s["overhead"]["off"]["headline"])
    want |= set(s["configs"][0]) | set(s["skipped"][0]) | set(s["selection"]["4k"])
    missing = sorted(want - names)
    assert not missing, "undocumented: %s" % missing


# ------------------------------------------------------------ the whole report

DOCS = os.path.join(TOP, "docs", "results")
PARTS = {"precopy": "20261124-precopy-sweep-icount", "odf": "20261124-odf-icount",
         "snapshot": "20261124-snapshot-tcg", "hugecow": "20261124-hugecow-policy-icount",
         "redis": "20261203-session10"}


def results_dir(name, parts=tuple(PARTS), raw=True):
    """A results directory in the scratch directory: results-mini's raw/ and
    meta.json, and each part's JSON lines from a committed run in docs/results."""
    d = os.path.join(results().tmp, name)
    if raw:
        shutil.copytree(fx("results-mini"), d)
    for part in parts:
        os.makedirs(os.path.join(d, part))
        shutil.copy(os.path.join(DOCS, PARTS[part], part + ".jsonl"), os.path.join(d, part))
    return d


def report_md(d, *args):
    rc, out, err = run([PY, REPORT, "--quiet"] + list(args) + [d])
    with open(os.path.join(d, "report.md")) as f:
        return rc, f.read(), err


def front_rows(text):
    """{question number: the front page's cells}"""
    rows = {}
    for line in text.split("\n## ", 1)[0].splitlines():
        cells = [c.strip() for c in line.strip("|").split("|")]
        if line.startswith("| ") and cells[0].isdigit():
            rows[int(cells[0])] = cells
    return rows


@test
def whole_front_page():
    """report: the front page has the seven questions, each with a verdict, on one screen"""
    d = results_dir("whole")
    with open(os.path.join(d, "odf", "run.json"), "w") as f:
        f.write('{"command": "scripts/run-guest.sh --plan odf-study --accel icount", "accel": "icount"}\n')
    with open(os.path.join(d, "meta.json")) as f:
        meta = json.load(f)
    with open(os.path.join(d, "meta.json"), "w") as f:
        json.dump(dict(meta, command="scripts/study.sh --out %s/results/x" % TOP), f)
    rc, text, err = report_md(d)
    eq(rc, 0, "exit (%s)" % err)
    rows = front_rows(text)
    eq(sorted(rows), list(range(1, 8)), "questions")
    verdicts = {n: r[4] for n, r in rows.items()}
    eq((verdicts[1], verdicts[2]), ("no target: observation",) * 2, "no target")
    assert verdicts[3].startswith("**not met** (1 of 2 met)"), verdicts[3]
    eq((verdicts[4], verdicts[5], verdicts[6]), ("**met**",) * 3, "met")
    assert verdicts[7].startswith("**not met** (1 of 3 met)"), verdicts[7]
    assert "24.0x (20.1x–24.2x, n=15)" in rows[4][2], rows[4][2]
    eq(rows[4][5], "-icount", "env from odf/run.json")
    assert "`scripts/run-guest.sh --plan odf-study --accel icount` (odf/run.json)" in text, "odf's command"
    eq(rows[5][5], "TCG", "env from meta.json")
    assert len(text.split("\n## ", 1)[0].splitlines()) <= 40, "front page longer than 40 lines"
    slugs = {slug(h) for h in re.findall(r"^#+ (.*)$", text, re.M)}
    for n, r in rows.items():
        assert r[6][len("[details](#"):-1] in slugs, "Q%d: no heading for %s" % (n, r[6])
    assert os.path.exists(os.path.join(d, "redis", "redis-rows.json")), "redis-rows.json"


@test
def whole_some_parts():
    """report: a results dir with only some parts (an empty raw/): the others 'not run', exit 0, no summary.json"""
    d = results_dir("some", ("odf", "redis"), raw=False)
    os.mkdir(os.path.join(d, "raw"))
    rc, text, err = report_md(d)
    eq(rc, 0, "exit (%s)" % err)
    rows = front_rows(text)
    eq([n for n, r in rows.items() if r[4] == "not run"], [1, 2, 3, 5, 6], "not run")
    eq(rows[4][4], "**met**", "odf")
    assert not os.path.exists(os.path.join(d, "summary.json")), "summary.json without raw/"
    assert "no meta.json" in text


@test
def whole_relative_paths():
    """report: report.md holds no absolute path; links are relative to the results dir"""
    d = os.path.join(results().tmp, "whole")
    with open(os.path.join(d, "report.md")) as f:
        text = f.read()
    for bad in ("/work/", TOP, d, results().tmp):
        assert bad not in text, "%r in report.md" % bad
    assert "`scripts/study.sh --out results/x`" in text, "the study's command, in the tree"
    links = re.findall(r"\]\(([^)#]+)\)", text)
    assert links and all(not l.startswith("/") and os.path.exists(os.path.join(d, l)) for l in links), \
        [l for l in links if not os.path.exists(os.path.join(d, l))]


@test
def whole_failures():
    """report: a bad JSON line names file:line, a mismatched snapshot fails; exit 1, the rest still written"""
    d = results_dir("bad", ("precopy", "snapshot", "hugecow"), raw=False)
    with open(os.path.join(d, "precopy", "precopy.jsonl"), "a+") as f:
        f.seek(0)
        bad_line = len(f.readlines()) + 1
        f.write('{"type": "result", "bench"\n')
    p = os.path.join(d, "snapshot", "snapshot.jsonl")
    with open(p) as f:
        lines = f.read().splitlines()
    lines[0] = lines[0].replace('"verify":"ok"', '"verify":"mismatch"')
    with open(p, "w") as f:
        f.write("\n".join(lines) + "\n")
    rc, text, err = report_md(d, "--gnuplot", "no-such-gnuplot")
    eq(rc, 1, "exit")
    where = "precopy/precopy.jsonl:%d: not a JSON line" % bad_line
    assert where in text and where in err, err
    assert "snapshot: 1 snapshot(s) errored or did not verify" in text
    rows = front_rows(text)
    eq(rows[3][4], "not measured (2 of 2 figures)", "unreadable pre-copy")
    assert rows[5][4].startswith("**not met** (2 of 3 met)"), rows[5][4]
    eq(rows[6][4], "**met**", "hugecow")
    assert "not drawn: hugecow-policy.png: gnuplot not found" in text, "no gnuplot is a note"


@test
def whole_failed_boots():
    """report: the boots study.sh saw fail (failed.txt) head the report; exit 1"""
    d = results_dir("failedboot", ("odf",), raw=False)
    with open(os.path.join(d, "failed.txt"), "w") as f:
        f.write("THP COW policies (512M, 3 reps)\n")
    rc, text, err = report_md(d)
    eq(rc, 1, "exit")
    assert "**Failures:** failed: THP COW policies (512M, 3 reps)" in text.split("\n## ", 1)[0], "not on the front page"
    assert "failed: THP COW policies" in err, err


# ------------------------------------------------------------ host anchors

def with_host(name, raw=True, host=True):
    """A results dir: results-mini (raw=True) and the host anchors' fixture
    (tests/host/fixtures/host: 4K COW fault p50 5000 ns, memcpy 4K cold 500
    and hot 150 ns, populate windows of 512 at 1000 ns a page)."""
    d = os.path.join(results().tmp, name)
    if raw:
        shutil.copytree(fx("results-mini"), d)
    else:
        os.makedirs(d)
    if host:
        shutil.copytree(fx("host"), os.path.join(d, "host"))
    return d


def host_section(text):
    return text.split("\n## Host anchors", 1)[1].split("\n## ", 1)[0]


@test
def host_side_by_side():
    """report: host anchors beside the guest's: copy share host 10.0 %, emulated 23.6 %; environment, command, table"""
    d = with_host("host")
    rc, text, err = report_md(d, "--no-plots")
    eq(rc, 0, "exit (%s)" % err)
    h = host_section(text)
    assert "**copy share of a 4 KiB COW fault: host 10.0 %, emulated 23.6 % (TCG)**" in h, h[:2000]
    assert "with a hot copy 3.0 %" in h
    for env in ("Fixture CPU 3000 (2 CPUs, virtualised, last-level cache 32M)", "kernel 6.18.44-host x86_64",
                "THP enabled madvise (defrag madvise)", "load average 0.12 at the start and 0.50 at the end"):
        assert env in h, "environment: %r" % env
    assert "Raw: [`host/anchors.jsonl`](host/anchors.jsonl); made by " \
           "`scripts/host-anchors --out results/fixture --quick` (host/run.json)" in h, "source line"
    rows = {r[0]: r for r in ([c.strip() for c in l.strip("|").split(" | ")] for l in h.splitlines() if l.startswith("| `"))}
    eq(sorted(rows), sorted("`%s`" % a for a in ("cow-4k", "memcpy-4k-hot", "memcpy-4k-cold", "memcpy-2m-cold",
                                                 "trap", "thp-first-write", "fork", "populate-w1", "populate-w16",
                                                 "populate-w512")), "a row an anchor that ran")
    assert rows["`cow-4k`"][2] == "5 us (4.8 us–5.2 us, n=3)", rows["`cow-4k`"]
    assert "4K first-write p50 (cowbench): 10.5 us" in rows["`cow-4k`"][6], "guest beside it"
    assert "the kernel's 4K copy_ns p50 (cow_stat): 2.5 us" in rows["`memcpy-4k-cold`"][6]
    assert rows["`fork`"][2].startswith("20 ms") and "fork() 80 ms" in rows["`fork`"][4], rows["`fork`"]
    assert "1 us (1 us–1 us, n=3) a page" in rows["`populate-w512`"][4]
    assert rows["`trap`"][5].startswith("**no** in 1 of 3: ") and "not the zero page" in rows["`trap`"][5]
    assert "could save at most 80.0 % of the fault" in h, "batching bound"
    assert "- skipped: `hugetlb-2m`: 0 free 2 MiB huge pages, 32 needed, and not root" in h
    front = text.split("\n## ", 1)[0]
    assert "Host anchors (this machine's CPU, host kernel): copy share of a 4 KiB COW fault: host 10.0 %, " \
           "emulated 23.6 % (TCG) ([details](#host-anchors-the-same-costs-on-this-machines-cpu))" in front
    assert "| host | [anchors.jsonl](host/anchors.jsonl), [run.json](host/run.json) | " \
           "`scripts/host-anchors --out results/fixture --quick` | host/run.json | host |" in text, "sources row"
    slugs = {slug(x) for x in re.findall(r"^#+ (.*)$", text, re.M)}
    for link in set(re.findall(r"\]\(#([^)]+)\)", h)):
        assert link in slugs, "no heading for #%s" % link
    for bad in (TOP, d, results().tmp):
        assert bad not in text, "%r in report.md" % bad


@test
def host_absent_and_alone():
    """report: no host/ says the part did not run (host n/a); host/ without raw/: emulated n/a; no run.json"""
    d = with_host("nohost", host=False)
    rc, text, err = report_md(d, "--no-plots")
    eq(rc, 0, "exit (%s)" % err)
    h = host_section(text)
    assert "No host part in these results (no host/anchors.jsonl)" in h, h
    assert "- copy share of a 4 KiB COW fault: host n/a, emulated 23.6 % (TCG)" in h
    assert "Raw: none (no `host/anchors.jsonl`)" in h and "](host/" not in text, "no link to a missing file"
    d = with_host("hostonly", raw=False)
    os.remove(os.path.join(d, "host", "run.json"))
    rc, text, err = report_md(d)
    eq(rc, 0, "exit (%s)" % err)
    h = host_section(text)
    assert "copy share of a 4 KiB COW fault: host 10.0 %, emulated n/a" in h, h[:1500]
    assert "no study boots in raw/ here: n/a" in h and "Environment: unknown (no host/run.json)" in h
    assert "4K first-write p50 (cowbench): n/a" in h, "guest column n/a"
    assert "made by" not in h.split("\n\n")[2], "no command without run.json"


@test
def host_unreadable():
    """report: a bad line in host/anchors.jsonl names file:line, fails the report (exit 1), the rest written"""
    d = with_host("hostbad")
    p = os.path.join(d, "host", "anchors.jsonl")
    with open(p) as f:
        n = len(f.readlines()) + 1
    with open(p, "a") as f:
        f.write('{"type": "result", "label"\n')
    rc, text, err = report_md(d, "--no-plots")
    eq(rc, 1, "exit")
    where = "host/anchors.jsonl:%d: not a JSON line" % n
    assert where in host_section(text) and where in err, err
    assert "23.6%" in text, "the other sections still written"


@test
def stats_empty_input():
    """stats: no values is None and n/a, never a crash or a 0"""
    eq(stats.summary([]), None, "summary")
    eq(stats.median([None, float("nan")]), None, "median")
    for style in ("triple", "paren", "head", "range"):
        eq(stats.fmt_mmm([], ".1f", style), stats.NA, style)
        eq(stats.fmt_mmm(None, ".1f", style), stats.NA, style)
    eq((stats.num(None, ".1f"), stats.fmt_ns(None), stats.fmt_pct(None)), (stats.NA,) * 3, "formatters")
    eq((stats.to_median([1], []), stats.paired([], [])), ([], []), "ratios")
    eq(stats.NA, "n/a", "NA")
    p = os.path.join(results().tmp, "broken.jsonl")
    with open(p, "w") as f:
        f.write('{"a": 1}\n\n# comment\n[1]\n')
    try:
        load.jsonl(p)
        raise AssertionError("no error")
    except load.InputError as e:
        eq(str(e), p + ":4: not a JSON object", "message")
    bad = []
    eq(load.jsonl(p, bad), [{"a": 1}], "lenient")
    eq(bad, [(4, "not a JSON object")], "bad lines")


# ------------------------------------------------------------ cost model

# a child-write row of a pre-copy study (docs/results), for its fields
with open(os.path.join(TOP, "docs", "results", "20261204-session12", "precopy-main-noerms.jsonl")) as _f:
    PRECOPY_ROW = json.loads(_f.readline())
# the units of the synthetic anchors below (ns)
U = {"trap": 1000, "alloc": 500, "flush": 300, "copy": 400, "zero": 200, "call": 800, "pte": 50, "f0": 100000}
MB = 1 << 20


def model_anchors(cow_scale=1.0):
    """anchors.jsonl lines whose means follow U exactly (cow-4k's scaled by
    cow_scale): 3 reps each."""
    u = U
    fault = u["trap"] + u["alloc"] + u["flush"] + u["copy"]
    rows = []

    def add(label, mean, size=64 * MB, **kw):
        for rep in range(3):
            r = {"type": "result", "label": label, "rep": rep, "size": size, "p50_ns": mean, "mean_ns": mean,
                 "page_ok": True}
            r.update(kw)
            rows.append(r)
    n = 64 * MB // 4096
    add("cow-4k", fault * cow_scale, writes=n, fork_ns=u["f0"] + n * u["pte"], wall_ns=n * fault * cow_scale)
    add("memcpy-4k-cold", u["copy"])
    add("memset-4k-cold", u["zero"])
    add("first-touch-4k", u["trap"] + u["alloc"] + u["zero"])
    add("reuse-4k", u["trap"] + u["flush"])
    for w in (1, 16, 512):
        add("populate-w%d" % w, u["call"] + w * (u["alloc"] + u["flush"] + u["copy"]), window=w)
    add("fork-4m", 0, size=4 * MB, mean_ns=0, fork_ns=150000)
    for sz, label in ((64 * MB, "fork-64m"), (256 * MB, "fork-256m"), (1024 * MB, "fork")):
        add(label, 0, size=sz, mean_ns=0, fork_ns=u["f0"] + sz // 4096 * u["pte"])
    return rows


def model_res(cow_scale=1.0):
    return host.results_of(model_anchors(cow_scale))


@test
def model_units_exact():
    """cost model: units derived from anchors that follow them exactly; every validation error 0"""
    u = model.units(model_res())
    for k, v in U.items():
        assert abs(u[k] - v) < 1e-6, "%s: %r, want %r" % (k, u[k], v)
    eq(u["fork_fixed"], 150000, "fork-4m")
    val = model.validation(model_res(), u)
    eq([w.split(" (")[0] for w, _, _, _ in val], ["4K COW fault", "fork-and-write 64M", "fork() of 256M",
                                                   "MADV_POPULATE_WRITE, 16 pages a call"], "workloads held out")
    for w, m, p, _ in val:
        assert abs(model.error(m, p)) < 1e-9, "%s: %r vs %r" % (w, m, p)
    assert model.valid(val)


@test
def model_not_validated_withholds_projections():
    """cost model: a 4K COW fault 30 % off the units fails validation and prints no projection"""
    res = model_res(cow_scale=1.3)
    rows = [{"type": "result", "label": lb, "scenario": "cow", "pattern": "seq", "size": 64 * MB, "side": "child",
             "wall_ns": 1, "vmstat": {"pgfault": 1, "cow_copy": 1}} for lb in ("off", "fixed64w")]
    lines, head = model.lines(res, rows, None)
    assert head.startswith("cost model **not validated**") and "worst error 23.1 %" in head, head
    text = "\n".join(lines)
    assert "projected" not in text.lower().replace("projections are withheld", ""), text
    lines, head = model.lines(model_res(), rows, None)
    assert head.startswith("cost model validated") and "projected" in "\n".join(lines), head
    res = model_res()
    del res["memset-4k-cold"]
    lines, head = model.lines(res)
    eq(head, "cost model: not computed (no memset-4k-cold anchor with a mean time (scripts/host-anchors --list))",
       "missing unit")


@test
def model_projection_terms():
    """cost model: a pre-copy row and an on-demand fork row priced term by term"""
    u = model.units(model_res())
    r = {"vmstat": {"pgfault": 20, "cow_copy": 10, "pgreuse": 5, "cow_precopy": 48, "cow_precopy_large": 32}}
    fault = 1000 + 500 + 300 + 400
    want = 10 * fault + 5 * 1300 + 5 * 1000 + 16 * (500 + 300 + 400) + 32 * (400 + 800 / 16)
    assert abs(model.precopy_time(u, r) - want) < 1e-6, (model.precopy_time(u, r), want)
    on = {"size": 1 << 30, "rep_vmstat": {"cow_odf_shared": 511}}
    want = 150000 + 511 * 50 + (262144 - 511 * 512) * 50
    assert abs(model.odf_fork(u, on) - want) < 1e-6, (model.odf_fork(u, on), want)
    off = {"size": 1 << 30, "rep_vmstat": {}}
    eq(model.odf_fork(u, off), 100000 + 262144 * 50, "vanilla fork")
    rows = [dict(off, type="result", child="exit", odf="off", fork_ns=40e6),
            dict(on, type="result", child="exit", odf="on", fork_ns=2e6)]
    (size, emu, proj, shared), = model.odf_rows(u, rows)
    eq((size, emu, shared), (1 << 30, 20.0, 511), "emulated ratio and tables")
    assert abs(proj - (100000 + 262144 * 50) / want) < 1e-9, proj


@test
def model_in_report_and_cli():
    """cost model: the report's section and front-page line; scripts/cost-model exits 0 valid, 1 not, 2 usage"""
    d = with_host("model", raw=False, host=False)
    os.makedirs(os.path.join(d, "host"))
    with open(os.path.join(d, "host", "anchors.jsonl"), "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in model_anchors())
    os.makedirs(os.path.join(d, "precopy"))
    with open(os.path.join(d, "precopy", "precopy.jsonl"), "w") as f:
        for lb, vmst, wall in (("off", {"pgfault": 16384, "cow_copy": 16384}, 100),
                               ("fixed64w", {"pgfault": 256, "cow_copy": 256, "cow_precopy": 16128}, 80)):
            for rep in range(3):  # a real row of the study, its counts and time replaced
                f.write(json.dumps(dict(PRECOPY_ROW, label=lb, rep=rep, wall_ns=wall, faults=vmst["pgfault"],
                                        vmstat=vmst)) + "\n")
    rc, text, err = report_md(d, "--no-plots")
    eq(rc, 0, "exit (%s)" % err)
    sec = text.split("\n## Cost model", 1)[1].split("\n## ", 1)[0]
    assert "**cost model validated on vanilla: worst error 0.0 % (target <= 15 %).**" in sec, sec[:1500]
    row = [l for l in sec.splitlines() if l.startswith("| seq 64M | `fixed64w`")]
    eq(len(row), 1, "pre-copy projection row")
    fault, page = 2200, 1200
    want = (256 * fault + 16128 * page) / (16384 * fault)
    assert "| 0.80x | %.2fx | 256 |" % want in row[0], row
    assert "Cost model (host units x guest counts): cost model validated on vanilla" in text.split("\n## ", 1)[0]
    cm = os.path.join(TOP, "scripts", "cost-model")
    p = subprocess.run([cm, d], capture_output=True, text=True)
    eq(p.returncode, 0, "valid: " + p.stderr)
    assert "| seq 64M | `fixed64w`" in p.stdout
    with open(os.path.join(d, "host", "anchors.jsonl"), "w") as f:
        f.writelines(json.dumps(r) + "\n" for r in model_anchors(cow_scale=2))
    p = subprocess.run([cm, d], capture_output=True, text=True)
    eq(p.returncode, 1, "not valid")
    assert "not validated" in p.stdout and "fixed64w" not in p.stdout
    p = subprocess.run([cm], capture_output=True, text=True)
    eq(p.returncode, 2, "usage")
    p = subprocess.run([cm, os.path.join(d, "nothing")], capture_output=True, text=True)
    eq(p.returncode, 1, "missing input")
    assert p.stderr.startswith("cost-model: "), p.stderr


def main():
    print("1..%d" % len(tests))
    failed = 0
    for i, t in enumerate(tests, 1):
        desc = (t.__doc__ or t.__name__).strip().splitlines()[0]
        try:
            res = t()
            if isinstance(res, str) and res.startswith("SKIP"):
                print("ok %d - %s # %s" % (i, desc, res))
            else:
                print("ok %d - %s" % (i, desc))
        except Exception as e:  # noqa: report every failure, keep going
            failed += 1
            print("not ok %d - %s" % (i, desc))
            for line in ("%s: %s" % (type(e).__name__, e)).splitlines() or [""]:
                print("#   " + line)
            if not isinstance(e, AssertionError):
                for line in traceback.format_exc().splitlines()[-4:]:
                    print("#   " + line)
    if Results.tmp:
        shutil.rmtree(Results.tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
