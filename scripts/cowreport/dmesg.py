# SPDX-License-Identifier: GPL-2.0
"""Summarise the cowlab kernel's `cow_stat:` sample lines found in dmesg text.

Data contract: docs/formats.md section 1 (sample line), 2 (tracepoint, read
through an ftrace hist trigger) and 3 (vmstat counters).  The report's
overhead part (cowreport.overhead) uses it as a module; scripts/cow-dmesg-parse
is its command line (main()).
"""

import argparse
import json
import re
import sys

from .load import InputError, read_text
from .stats import NA, percentile

NS_FIELDS = ("alloc_ns", "copy_ns", "install_ns", "total_ns")
REQUIRED = ("seq", "kind", "order", "src_order", "pfn") + NS_FIELDS
PCTS = (("p50", 50.0), ("p90", 90.0), ("p99", 99.0), ("p999", 99.9))
STAT_NAMES = ("min", "p50", "p90", "p99", "p999", "max", "mean")
# vmstat counter (docs/formats.md section 3) that counts each sample kind.
KIND_COUNTER = {
    "4k": "cow_copy",
    "zero": "cow_zero",
    "thp_split": "cow_thp_split",
    "hugetlb": "cow_hugetlb_copy",
}
DEFAULT_SUPPRESS_FUNCS = r"cow|__ratelimit"

TAG = "cow_stat:"
# printk prefixes seen in front of the message: "<6>", "[   12.345678]",
# "[    T1]" / "[    C0]" (CONFIG_PRINTK_CALLER), "kern  :info  : " (dmesg -x).
SUPPRESSED_RE = re.compile(r"(?:^|[\s\]>:])([A-Za-z0-9_.]+): (\d+) callbacks suppressed\s*$")
KV_RE = re.compile(r"([a-z_]+)=(\S+)")
DEC_RE = re.compile(r"^[0-9]+$")
HEX_RE = re.compile(r"^0x[0-9a-fA-F]+$")
KIND_RE = re.compile(r"^[a-z0-9_]+$")


def sample_stats(values):
    """min, p50, p90, p99, p999, max, mean (+count, sum) of a list of ints."""
    v = sorted(values)
    if not v:
        return {"count": 0}
    out = {"count": len(v), "min": v[0]}
    for name, p in PCTS:
        out[name] = percentile(v, p)
    out["max"] = v[-1]
    out["sum"] = sum(v)
    out["mean"] = out["sum"] / len(v)
    return out


def log2_bucket(v):
    """Lower bound of the log2 bucket holding v: 0 -> 0, 1 -> 1, 2..3 -> 2, 4..7 -> 4."""
    if v <= 0:
        return 0
    return 1 << (int(v).bit_length() - 1)


def log2_hist(values):
    h = {}
    for v in values:
        b = log2_bucket(v)
        h[b] = h.get(b, 0) + 1
    return [[b, h[b]] for b in sorted(h)]


def parse_sample(rest):
    """Parse the text after 'cow_stat:'.  Returns (sample, None) or (None, reason)."""
    rest = rest.strip()
    if not rest:
        return None, "empty sample"
    tokens = rest.split()
    fields = {}
    for tok in tokens:
        m = KV_RE.fullmatch(tok)
        if not m:
            return None, "token %r is not key=value" % tok[:40]
        k, val = m.group(1), m.group(2)
        if k in fields:
            return None, "field %s given twice" % k
        fields[k] = val
    missing = [k for k in REQUIRED if k not in fields]
    if missing:
        return None, "missing field(s) %s" % ",".join(missing)
    s = {}
    for k in ("seq", "order", "src_order") + NS_FIELDS:
        if not DEC_RE.match(fields[k]):
            return None, "%s=%r is not a decimal number" % (k, fields[k][:30])
        s[k] = int(fields[k])
    if not HEX_RE.match(fields["pfn"]):
        return None, "pfn=%r is not 0x<hex>" % fields["pfn"][:30]
    s["pfn"] = int(fields["pfn"], 16)
    if not KIND_RE.match(fields["kind"]):
        return None, "kind=%r is not a plain word" % fields["kind"][:30]
    s["kind"] = fields["kind"]
    extra = sorted(k for k in fields if k not in REQUIRED)
    if extra:
        s["extra"] = {k: fields[k] for k in extra}
    return s, None


class ParseResult:
    def __init__(self):
        self.samples = []          # unique samples, in input order
        self.lines = 0             # input lines read
        self.sample_lines = 0      # lines that parsed as samples (incl. duplicates)
        self.duplicates = 0        # identical samples seen again (dropped)
        self.malformed = []        # (source, lineno, reason, text)
        self.suppressed_cow = 0    # "<func>: N callbacks suppressed" with func matching
        self.suppressed_other = {} # same for other funcs (not counted as cow)
        self.sources = []


def parse_dmesg_text(text, source="-", result=None, suppress_funcs=DEFAULT_SUPPRESS_FUNCS):
    """Scan dmesg text; collect cow_stat samples, ratelimit notes, malformed lines."""
    res = result if result is not None else ParseResult()
    res.sources.append(source)
    supp_re = re.compile(suppress_funcs)
    seen = getattr(res, "_seen", None)
    if seen is None:
        seen = set()
        res._seen = seen
    for lineno, line in enumerate(text.splitlines(), 1):
        res.lines += 1
        line = line.rstrip("\r\n")
        m = SUPPRESSED_RE.search(line)
        if m:
            func, n = m.group(1), int(m.group(2))
            if supp_re.search(func):
                res.suppressed_cow += n
            else:
                res.suppressed_other[func] = res.suppressed_other.get(func, 0) + n
            continue
        idx = line.find(TAG)
        if idx < 0:
            continue
        if line.find(TAG, idx + 1) >= 0:
            res.malformed.append((source, lineno, "two cow_stat: tags on one line (interleaved output)", line))
            continue
        s, why = parse_sample(line[idx + len(TAG):])
        if s is None:
            res.malformed.append((source, lineno, why, line))
            continue
        res.sample_lines += 1
        ident = (s["kind"], s["seq"], s["order"], s["src_order"], s["pfn"]) + tuple(s[k] for k in NS_FIELDS)
        if ident in seen:
            res.duplicates += 1
            continue
        seen.add(ident)
        res.samples.append(s)
    return res


def parse_dmesg_files(paths, suppress_funcs=DEFAULT_SUPPRESS_FUNCS):
    res = ParseResult()
    for p in paths:
        parse_dmesg_text(read_text(p), p, res, suppress_funcs)
    return res


def seq_info(seqs):
    """distinct count, first/last seq, span and how many seq numbers are missing."""
    d = sorted(set(seqs))
    if not d:
        return {"distinct": 0, "first": None, "last": None, "span": 0, "not_logged": 0}
    span = d[-1] - d[0] + 1
    return {"distinct": len(d), "first": d[0], "last": d[-1], "span": span,
            "not_logged": span - len(d)}


def summarise(res, with_hist=False):
    """Per (kind, order, src_order) statistics plus seq bookkeeping, as a dict."""
    groups = {}
    for s in res.samples:
        groups.setdefault((s["kind"], s["order"], s["src_order"]), []).append(s)
    kinds = {}
    for s in res.samples:
        kinds.setdefault(s["kind"], []).append(s["seq"])
    # seq is documented as one counter of COW events; if the same seq shows up
    # under two kinds it must be per kind, and a global span means nothing.
    owner = {}
    per_kind = False
    for s in res.samples:
        o = owner.setdefault(s["seq"], s["kind"])
        if o != s["kind"]:
            per_kind = True
    out_groups = []
    for key in sorted(groups, key=lambda k: (k[0], k[1], k[2])):
        g = groups[key]
        entry = {"kind": key[0], "order": key[1], "src_order": key[2], "count": len(g),
                 "seq": seq_info([s["seq"] for s in g])}
        for f in NS_FIELDS:
            entry[f] = sample_stats([s[f] for s in g])
        if with_hist:
            entry["hist"] = {f: log2_hist([s[f] for s in g]) for f in NS_FIELDS}
        out_groups.append(entry)
    extra = sorted({k for s in res.samples for k in s.get("extra", {})})
    out = {
        "sources": res.sources,
        "lines": res.lines,
        "samples": len(res.samples),
        "sample_lines": res.sample_lines,
        "duplicates_dropped": res.duplicates,
        "malformed": len(res.malformed),
        "malformed_lines": [{"source": m[0], "line": m[1], "reason": m[2], "text": m[3][:200]}
                            for m in res.malformed[:20]],
        "suppressed": res.suppressed_cow,
        "suppressed_other": res.suppressed_other,
        "seq_scope": "per-kind" if per_kind else "global",
        "seq": seq_info([s["seq"] for s in res.samples]),
        "seq_by_kind": {k: seq_info(v) for k, v in sorted(kinds.items())},
        "groups": out_groups,
    }
    if extra:
        out["extra_fields"] = extra
    return out


# ---------------------------------------------------------------- vmstat

def parse_vmstat_text(text):
    """/proc/vmstat text -> ({name: int}, malformed_count)."""
    vals, bad = {}, 0
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        parts = line.split()
        if len(parts) != 2 or not re.fullmatch(r"-?[0-9]+", parts[1]):
            bad += 1
            continue
        vals[parts[0]] = int(parts[1])
    return vals, bad


def check_vmstat(summary, before, after):
    """Compare distinct seq counts per kind with the vmstat counter deltas."""
    rows = []
    ok = True
    kinds_seen = {g["kind"] for g in summary["groups"]}
    total_delta = 0
    total_seen = 0
    have_all = True
    for kind, counter in KIND_COUNTER.items():
        seen = summary["seq_by_kind"].get(kind, {"distinct": 0})["distinct"]
        row = {"kind": kind, "counter": counter, "logged": seen}
        if counter not in before or counter not in after:
            row["delta"] = None
            row["status"] = "counter missing"
            have_all = False
            if seen:
                ok = False
        else:
            d = after[counter] - before[counter]
            row["delta"] = d
            row["diff"] = seen - d
            row["status"] = "match" if seen == d else "MISMATCH"
            if seen != d:
                ok = False
            total_delta += d
        total_seen += seen
        rows.append(row)
    for kind in sorted(kinds_seen - set(KIND_COUNTER)):
        seen = summary["seq_by_kind"][kind]["distinct"]
        rows.append({"kind": kind, "counter": None, "logged": seen, "delta": None,
                     "status": "no counter for this kind"})
        total_seen += seen
    span = summary["seq"]["span"] if summary["seq_scope"] == "global" else None
    total = {"logged": total_seen, "delta": total_delta if have_all else None,
             "seq_span": span,
             "seq_first": summary["seq"]["first"], "seq_last": summary["seq"]["last"]}
    notes = []
    if summary["suppressed"]:
        notes.append("%d lines were suppressed by the ratelimit: a mismatch is expected" % summary["suppressed"])
    if summary["seq"]["not_logged"] and summary["seq_scope"] == "global":
        notes.append("%d seq numbers inside %d..%d were never logged (sampling 1-in-N, threshold, "
                     "ratelimit or a wrapped log buffer): a mismatch is expected"
                     % (summary["seq"]["not_logged"], summary["seq"]["first"], summary["seq"]["last"]))
    if span is not None and have_all and span and span != total_delta:
        notes.append("seq span %d != counter delta %d: samples from outside the vmstat window, or "
                     "sampling was off for part of it" % (span, total_delta))
    return {"ok": ok, "rows": rows, "total": total, "notes": notes}


# ---------------------------------------------------------------- ftrace hist

HIST_KEY_FIELD_RE = re.compile(r"(?:^|, )([A-Za-z_][A-Za-z0-9_.]*): ")
HIST_VAL_RE = re.compile(r"([A-Za-z_][A-Za-z0-9_.]*)(?: \(%\))?: +([0-9a-fA-Fx.]+)")


def _parse_key_block(block):
    """'kind: 4k     , order:          0' -> {'kind': '4k', 'order': '0'}.
    String keys are padded to 50 columns and may hold spaces; a field starts
    at ', name: ' (the kernel prints keys joined by ', ')."""
    starts = list(HIST_KEY_FIELD_RE.finditer(block))
    if not starts:
        return None
    out = {}
    for i, m in enumerate(starts):
        end = starts[i + 1].start() if i + 1 < len(starts) else len(block)
        val = block[m.end():end].strip()
        name = m.group(1)
        for suffix in (".hex", ".sym", ".log2", ".execname", ".syscall"):
            if name.endswith(suffix):
                name = name[: -len(suffix)]
        out[name] = val
    return out


def parse_hist_text(text):
    """Parse the 'hist' file of an event (Documentation/trace/histogram.rst):
    one or more '# event histogram' blocks of
      { key: v, key2: v2 } hitcount:          N  val:          S
    then 'Totals:' Hits/Entries/Dropped.  Returns a list of histograms."""
    hists = []
    cur = None
    malformed = 0
    for line in text.splitlines():
        s = line.strip()
        if s.startswith("# event histogram") or (cur is None and s.startswith("{")):
            cur = {"trigger": None, "entries": [], "totals": {}, "malformed": 0}
            hists.append(cur)
            if s.startswith("#"):
                continue
        if cur is None:
            if s and not s.startswith("#"):
                malformed += 1
            continue
        if s.startswith("# trigger info:"):
            cur["trigger"] = s[len("# trigger info:"):].strip()
            continue
        if not s or s.startswith("#") or s == "Totals:":
            continue
        m = re.match(r"(Hits|Entries|Dropped): *([0-9]+)$", s)
        if m:
            cur["totals"][m.group(1).lower()] = int(m.group(2))
            continue
        if s.startswith("{"):
            close = s.find("}")
            if close < 0:
                cur["malformed"] += 1
                continue
            keys = _parse_key_block(s[1:close].strip())
            vals = {}
            for vm in HIST_VAL_RE.finditer(s[close + 1:]):
                name, v = vm.group(1), vm.group(2)
                try:
                    vals[name] = float(v) if "." in v else int(v, 0) if v.startswith("0x") else int(v)
                except ValueError:
                    vals[name] = None
            if keys is None or "hitcount" not in vals:
                cur["malformed"] += 1
                continue
            cur["entries"].append({"keys": keys, "vals": vals})
            continue
        if s in (".",):
            continue
        cur["malformed"] += 1
    if hists:
        hists[0]["malformed"] += malformed
    return hists


def parse_kind_map(spec):
    """'0=4k,1=zero' -> {'0': '4k', '1': 'zero'} (for a numeric kind key)."""
    out = {}
    if not spec:
        return out
    for part in spec.split(","):
        if "=" not in part:
            raise ValueError("--kind-map entry %r is not N=name" % part)
        a, b = part.split("=", 1)
        out[a.strip()] = b.strip()
    return out


def check_hist(res, hists, kind_map=None):
    """Per (kind, order): hist hitcount and value sums vs the dmesg samples."""
    kind_map = kind_map or {}
    hist = None
    for h in hists:
        if h["entries"] and "kind" in h["entries"][0]["keys"] and "order" in h["entries"][0]["keys"]:
            hist = h
            break
    if hist is None:
        return {"ok": False, "error": "no histogram keyed by kind,order in the hist file", "rows": []}
    dm = {}
    for s in res.samples:
        k = (s["kind"], s["order"])
        d = dm.setdefault(k, {"count": 0})
        d["count"] += 1
        for f in NS_FIELDS:
            d[f] = d.get(f, 0) + s[f]
    hk = {}
    bad_keys = 0
    for e in hist["entries"]:
        kind = kind_map.get(e["keys"]["kind"], e["keys"]["kind"])
        try:
            order = int(e["keys"]["order"], 0)
        except ValueError:
            bad_keys += 1
            continue
        hk[(kind, order)] = e["vals"]
    val_fields = sorted({v for e in hist["entries"] for v in e["vals"]
                         if v != "hitcount" and v in NS_FIELDS})
    rows = []
    ok = True
    for key in sorted(set(dm) | set(hk)):
        h = hk.get(key)
        d = dm.get(key)
        row = {"kind": key[0], "order": key[1],
               "hist_hits": h["hitcount"] if h else 0,
               "dmesg_count": d["count"] if d else 0}
        match = row["hist_hits"] == row["dmesg_count"]
        for f in val_fields:
            hs = h.get(f) if h else 0
            ds = d[f] if d else 0
            row["hist_" + f] = hs
            row["dmesg_" + f] = ds
            row["hist_mean_" + f] = (hs / row["hist_hits"]) if row["hist_hits"] else None
            row["dmesg_mean_" + f] = (ds / row["dmesg_count"]) if row["dmesg_count"] else None
            if hs != ds:
                match = False
        row["status"] = "match" if match else "MISMATCH"
        if not match:
            ok = False
        rows.append(row)
    notes = []
    dropped = hist["totals"].get("dropped", 0)
    if dropped:
        notes.append("the hist map dropped %d events (map full): raise size=" % dropped)
    if hist["malformed"] or bad_keys:
        notes.append("%d hist lines could not be parsed" % (hist["malformed"] + bad_keys))
    if any(not re.fullmatch(r"[a-z0-9_]+", str(k)) or str(k).isdigit() for k, _ in hk):
        notes.append("numeric kind keys: pass --kind-map N=name,... to name them")
    return {"ok": ok, "trigger": hist["trigger"], "totals": hist["totals"],
            "val_fields": val_fields, "rows": rows, "notes": notes}


# ---------------------------------------------------------------- output

def fmt_num(v):
    if v is None:
        return NA
    if isinstance(v, float):
        return "%.1f" % v
    return str(v)


def print_human(summary, out=sys.stdout, with_hist=False):
    w = out.write
    sq = summary["seq"]
    w("cow_stat: %d samples from %d lines of %s" % (summary["samples"], summary["lines"],
                                                     ", ".join(summary["sources"])))
    if summary["duplicates_dropped"]:
        w(" (%d duplicate lines dropped)" % summary["duplicates_dropped"])
    w("\n")
    w("malformed cow_stat lines: %d\n" % summary["malformed"])
    w("suppressed by ratelimit: %d" % summary["suppressed"])
    if summary["suppressed_other"]:
        w(" (not counted, other functions: %s)" % ", ".join(
            "%s=%d" % kv for kv in sorted(summary["suppressed_other"].items())))
    w("\n")
    if sq["distinct"]:
        if summary["seq_scope"] == "global":
            w("seq: %d..%d, %d distinct, %d not logged (gaps)\n"
              % (sq["first"], sq["last"], sq["distinct"], sq["not_logged"]))
        else:
            w("seq: numbered per kind; " + "; ".join(
                "%s %d..%d, %d distinct, %d not logged" % (k, v["first"], v["last"], v["distinct"], v["not_logged"])
                for k, v in summary["seq_by_kind"].items()) + "\n")
    if not summary["groups"]:
        w("no cow_stat sample lines found (vanilla kernel, sampling off, or wrong file?)\n")
    for g in summary["groups"]:
        w("\nkind=%s order=%d src_order=%d  count=%d  seq %s..%s (%d not logged)\n"
          % (g["kind"], g["order"], g["src_order"], g["count"], g["seq"]["first"],
             g["seq"]["last"], g["seq"]["not_logged"]))
        w("  %-11s" % "ns" + "".join("%12s" % n for n in ("min", "p50", "p90", "p99", "p99.9", "max", "mean")) + "\n")
        for f in NS_FIELDS:
            st = g[f]
            w("  %-11s" % f + "".join("%12s" % fmt_num(st.get(n)) for n in STAT_NAMES) + "\n")
        if with_hist:
            for f in NS_FIELDS:
                h = g["hist"][f]
                if not h:
                    continue
                peak = max(c for _, c in h)
                w("  %s log2 histogram:\n" % f)
                for lo, c in h:
                    hi = 1 if lo == 0 else lo * 2
                    bar = "#" * max(1, round(40 * c / peak))
                    w("    [%10d, %10d) %8d %s\n" % (lo, hi, c, bar))
    if summary["malformed_lines"]:
        w("\nfirst malformed lines:\n")
        for m in summary["malformed_lines"][:5]:
            w("  %s:%d: %s: %s\n" % (m["source"], m["line"], m["reason"], m["text"][:120]))


def print_vmstat_check(chk, out=sys.stdout):
    w = out.write
    w("\nvmstat cross-check (distinct seq logged vs counter delta):\n")
    w("  %-10s %-17s %10s %10s %8s  %s\n" % ("kind", "counter", "logged", "delta", "diff", "status"))
    for r in chk["rows"]:
        w("  %-10s %-17s %10d %10s %8s  %s\n" % (r["kind"], r["counter"] or "-", r["logged"],
                                                 fmt_num(r.get("delta")), fmt_num(r.get("diff")), r["status"]))
    t = chk["total"]
    w("  %-10s %-17s %10d %10s           seq %s..%s span %s\n" % (
        "all", "", t["logged"], fmt_num(t["delta"]), fmt_num(t["seq_first"]), fmt_num(t["seq_last"]),
        fmt_num(t["seq_span"])))
    for n in chk["notes"]:
        w("  note: %s\n" % n)
    w("  vmstat check: %s\n" % ("match" if chk["ok"] else "MISMATCH"))


def print_hist_check(chk, out=sys.stdout):
    w = out.write
    w("\nftrace hist cross-check (per kind,order):\n")
    if chk.get("error"):
        w("  %s\n" % chk["error"])
        return
    if chk["trigger"]:
        w("  trigger: %s\n" % chk["trigger"])
    head = "  %-10s %5s %10s %10s" % ("kind", "order", "hist hits", "dmesg")
    for f in chk["val_fields"]:
        head += " %14s %14s" % ("hist " + f, "dmesg " + f)
    w(head + "  status\n")
    for r in chk["rows"]:
        line = "  %-10s %5d %10d %10d" % (r["kind"], r["order"], r["hist_hits"], r["dmesg_count"])
        for f in chk["val_fields"]:
            line += " %14s %14s" % (fmt_num(r["hist_" + f]), fmt_num(r["dmesg_" + f]))
        w(line + "  " + r["status"] + "\n")
    for r in chk["rows"]:
        for f in chk["val_fields"]:
            hm, dm = r["hist_mean_" + f], r["dmesg_mean_" + f]
            if hm is not None and dm is not None and hm:
                w("  mean %s %s/%d: hist %.1f dmesg %.1f (%+.1f%%)\n"
                  % (f, r["kind"], r["order"], hm, dm, 100.0 * (dm - hm) / hm))
    for n in chk["notes"]:
        w("  note: %s\n" % n)
    w("  hist check: %s\n" % ("match" if chk["ok"] else "MISMATCH"))


def main(argv=None):
    ap = argparse.ArgumentParser(
        prog="cow-dmesg-parse",
        description="Summarise cowlab 'cow_stat:' kernel sample lines (docs/formats.md section 1) "
                    "from dmesg text: per (kind, order, src_order) count and min/p50/p90/p99/p99.9/"
                    "max/mean of alloc_ns, copy_ns, install_ns, total_ns; seq gaps; ratelimit "
                    "suppression. Percentiles are nearest-rank.",
        epilog="Exit status: 0 ok (malformed lines are counted and reported on stderr, not "
               "fatal); 1 unreadable input file; 2 usage error; 3 --strict and a cross-check "
               "mismatched.")
    ap.add_argument("dmesg", nargs="+", help="dmesg text file(s); '-' reads stdin")
    ap.add_argument("--json", action="store_true", help="machine-readable JSON on stdout")
    ap.add_argument("--hist", action="store_true", help="add log2-bucket histograms of each ns field")
    ap.add_argument("--check-vmstat", nargs=2, metavar=("BEFORE", "AFTER"),
                    help="/proc/vmstat copies taken before and after: compare distinct seq per kind "
                         "with the delta of cow_copy, cow_zero, cow_thp_split, cow_hugetlb_copy")
    ap.add_argument("--check-hist", metavar="FILE",
                    help="events/cow/cow_fault/hist output of 'hist:keys=kind,order:vals=hitcount,"
                         "copy_ns,total_ns': compare hitcount and sums per kind,order")
    ap.add_argument("--kind-map", metavar="N=NAME,...",
                    help="names for a numeric kind key in the hist file (e.g. 0=4k,1=zero)")
    ap.add_argument("--strict", action="store_true",
                    help="exit 3 when --check-vmstat or --check-hist finds a mismatch")
    ap.add_argument("--suppress-funcs", default=DEFAULT_SUPPRESS_FUNCS, metavar="REGEX",
                    help="'<func>: N callbacks suppressed' lines whose func matches count as lost "
                         "cow_stat lines (default %(default)r)")
    args = ap.parse_args(argv)
    try:
        re.compile(args.suppress_funcs)
    except re.error as e:
        ap.error("--suppress-funcs: %s" % e)
    try:
        kind_map = parse_kind_map(args.kind_map)
    except ValueError as e:
        ap.error(str(e))
    if args.dmesg.count("-") > 1:
        ap.error("stdin ('-') given more than once")

    try:
        res = parse_dmesg_files(args.dmesg, args.suppress_funcs)
        summary = summarise(res, with_hist=args.hist)
        failed = False
        if args.check_vmstat:
            b, bbad = parse_vmstat_text(read_text(args.check_vmstat[0]))
            a, abad = parse_vmstat_text(read_text(args.check_vmstat[1]))
            chk = check_vmstat(summary, b, a)
            if bbad or abad:
                chk["notes"].append("%d malformed vmstat lines ignored" % (bbad + abad))
            summary["vmstat_check"] = chk
            failed |= not chk["ok"]
        if args.check_hist:
            hists = parse_hist_text(read_text(args.check_hist))
            chk = check_hist(res, hists, kind_map)
            summary["hist_check"] = chk
            failed |= not chk["ok"]
    except InputError as e:
        sys.stderr.write("cow-dmesg-parse: %s\n" % e)
        return 1

    if args.json:
        json.dump(summary, sys.stdout, indent=1, sort_keys=False)
        sys.stdout.write("\n")
    else:
        print_human(summary, with_hist=args.hist)
        if "vmstat_check" in summary:
            print_vmstat_check(summary["vmstat_check"])
        if "hist_check" in summary:
            print_hist_check(summary["hist_check"])
    if summary["malformed"]:
        sys.stderr.write("cow-dmesg-parse: %d malformed cow_stat line(s); first: %s:%d: %s\n"
                         % (summary["malformed"], res.malformed[0][0], res.malformed[0][1], res.malformed[0][2]))
    if args.strict and failed:
        return 3
    return 0

