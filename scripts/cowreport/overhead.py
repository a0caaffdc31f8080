# SPDX-License-Identifier: GPL-2.0
"""The overhead and page-size study (the "study" plan's boots, patched and
vanilla): summary.json, its plots and its section of the report.

Input layout (written by the guest runner):
  <dir>/meta.json, <dir>/raw/<boot>/{bench.jsonl, dmesg.txt, cow_hist.txt,
  vmstat-before.txt, vmstat-after.txt, meta.json, run.json}
Every field of summary.json is described in docs/report-fields.md; how
records are picked and combined is described there too.
"""

import datetime
import json
import os
import re
import statistics

from . import dmesg, load, md, stats
from .section import Section
from .stats import fmt_ns, fmt_pct, fmt_ratio, parse_size

PART = "raw"
TITLE = "COW fault cost by page size, and why a whole page (study boots: patched and vanilla)"
INTRO = ("cowbench (userspace-bench) in the `study` plan (guest/plans/study.sh), booted on the "
         "patched kernel and on a vanilla kernel of the same config: fork-and-write with the "
         "instrumentation off and sampling 1 in 1000 (overhead), then on the patched kernel "
         "the page-size matrix with every COW event logged (`cow_stat:` samples of the "
         "kernel's part of each fault): 4K, each mTHP size, THP 2M, hugetlb 2M and 1G, zero "
         "page, file-backed private; 1-byte and 4096-byte first writes. How records are "
         "picked and what every field means: docs/report-fields.md.")

# A configuration: the cowbench record fields that change what is measured
# (userspace-bench/output.c json_cfg); "page" is replaced by the kind id.
KEY_FIELDS = ("scenario", "page", "who", "side", "exit_early", "pattern", "touch_frac",
              "stride", "size", "unit", "bytes")
SEL_FIELDS = tuple(f for f in KEY_FIELDS if f != "page")


def fmt_size(b):
    """4k, 2m, 1g: the page kinds' and configurations' sizes."""
    return stats.size_name(b).lower() if b is not None else "?"


def fmt_mmm(m, f=fmt_ns):
    """'median (min X, max Y; n=N)'."""
    return stats.fmt_mmm(m, f, "paren")


def canon_page(rec):
    """(kind id, page size in bytes) for a cowbench record's "page" field.
    Recognised (case-insensitive): '4k'/'base'/'small'/'anon' -> 4k; anything
    with 'zero' -> zero; 'mthp-64k' (any size < 2M) -> mthp-64k; 'thp' (or
    mthp-2m) -> thp-2m (the PMD split path); 'hugetlb-2m'/'hugetlb-1g' ->
    hugetlb-2m / hugetlb-1g.  Anything else is kept as its own kind."""
    raw = str(rec.get("page", "")).strip()
    p = raw.lower()
    sz = parse_size(p)
    if sz is None and isinstance(rec.get("page_size"), int):
        sz = rec["page_size"]
    if "zero" in p:
        return "zero", 4096
    if p == "file":
        return "file", 4096
    if "hugetlb" in p or p.startswith("huge") and "thp" not in p and "page" not in p:
        if sz is None and rec.get("size") in (2 << 20, 1 << 30):
            sz = rec["size"]
        return ("hugetlb-" + fmt_size(sz) if sz else "hugetlb"), sz
    if "thp" in p or "huge" in p:
        if sz is not None and sz < (2 << 20):
            return "mthp-" + fmt_size(sz), sz
        return "thp-2m", 2 << 20
    if p in ("4k", "4kb", "4kib", "base", "small", "normal", "anon", "pte", "page", "4096") or sz == 4096:
        return "4k", 4096
    return (raw or "unknown"), sz


def kind_sort_key(kind_size):
    kind, size = kind_size
    rank = 6
    for i, pre in enumerate(("4k", "zero", "file", "mthp", "thp", "hugetlb")):
        if kind.startswith(pre):
            rank = i
            break
    return (size if size is not None else 1 << 62, rank, kind)


def kernel_kind(s):
    """Map a cow_stat sample to (page kind id, part): part 'main' carries
    alloc/copy/install/total; 'split' is the PMD split before a THP's 4K copy."""
    k = s["kind"]
    if k == "4k":
        so = s["src_order"]
        if so == 0:
            return "4k", "main"
        if so == 9:
            return "thp-2m", "main"
        if so < 9:
            return "mthp-" + fmt_size(4096 << so), "main"
        return "4k-src%d" % so, "main"
    if k == "zero":
        return "zero", "main"
    if k == "thp_split":
        return "thp-2m", "split"
    if k == "hugetlb":
        return "hugetlb-" + fmt_size(4096 << s["order"]), "main"
    return k, "main"


def label_rank(label):
    """Preference for the user-space latency source: sampling off first,
    then unlabelled, then the sparsest sampling."""
    if label == "off":
        return (0, 0)
    if label == "":
        return (1, 0)
    m = re.fullmatch(r"sample(\d+)", label)
    if m:
        return (2, 1.0 / max(1, int(m.group(1))))
    return (3, label)


# ---------------------------------------------------------------- loading

class Boot:
    def __init__(self, name, path):
        self.name = name
        self.path = path
        self.variant = None
        self.run = None
        self.records = []       # usable result records
        self.skipped = []       # records with "skipped"
        self.bad_json = 0
        self.other_types = 0
        self.has_bench = False
        self.dmesg = None       # dmesg.ParseResult
        self.dsum = None        # summary dict
        self.vmstat = None      # check dict
        self.hist = None        # check dict
        self.notes = []
        self.kernel = {}        # kind -> part -> {field: p50}


def load_json(path, missing):
    if not os.path.exists(path):
        missing.append("%s: not found" % path)
        return None
    try:
        return load.read_json(path)
    except load.InputError as e:
        missing.append("%s: unreadable (%s)" % (path, e))
    return None


def load_boot(name, path, missing):
    b = Boot(name, path)
    m = load_json(os.path.join(path, "meta.json"), []) if os.path.exists(os.path.join(path, "meta.json")) else None
    if isinstance(m, dict):
        b.variant = m.get("kernel_variant")
        b.run = m.get("run")
    mm = re.match(r"([A-Za-z]+)[-_]?(\d+)?$", name)
    if b.variant is None:
        b.variant = mm.group(1).lower() if mm else name
    if b.run is None and mm and mm.group(2):
        b.run = int(mm.group(2))
    bench = os.path.join(path, "bench.jsonl")
    if os.path.exists(bench):
        b.has_bench = True
        bad = []
        for r in load.jsonl(bench, bad):
            if r.get("type", "result") != "result":
                b.other_types += 1
                continue
            if r.get("skipped"):
                b.skipped.append(r)
                continue
            if not isinstance(r.get("p50_ns"), (int, float)):
                bad.append(None)
                continue
            r["_kind"], r["_psize"] = canon_page(r)
            r["_label"] = str(r.get("label", "") or "")
            r["_boot"] = b
            b.records.append(r)
        b.bad_json = len(bad)
        if b.bad_json:
            missing.append("%s/bench.jsonl: %d malformed or incomplete line(s) ignored" % (name, b.bad_json))
    else:
        missing.append("%s: no bench.jsonl" % name)
    dpath = os.path.join(path, "dmesg.txt")
    if os.path.exists(dpath):
        b.dmesg = dmesg.parse_dmesg_text(load.read_text(dpath), dpath)
        b.dsum = dmesg.summarise(b.dmesg)
        before, after = (os.path.join(path, "vmstat-before.txt"), os.path.join(path, "vmstat-after.txt"))
        if os.path.exists(before) and os.path.exists(after):
            vb, bad1 = dmesg.parse_vmstat_text(load.read_text(before))
            va, bad2 = dmesg.parse_vmstat_text(load.read_text(after))
            if b.variant != "vanilla":
                b.vmstat = dmesg.check_vmstat(b.dsum, vb, va)
        hpath = os.path.join(path, "cow_hist.txt")
        if os.path.exists(hpath) and b.variant != "vanilla":
            b.hist = dmesg.check_hist(b.dmesg, dmesg.parse_hist_text(load.read_text(hpath)))
        # kernel p50s per page kind, per part
        pools = {}
        for s in b.dmesg.samples:
            kind, part = kernel_kind(s)
            pools.setdefault(kind, {}).setdefault(part, []).append(s)
        for kind, parts in pools.items():
            b.kernel[kind] = {}
            for part, ss in parts.items():
                st = {f: dmesg.sample_stats([s[f] for s in ss]) for f in dmesg.NS_FIELDS}
                b.kernel[kind][part] = {"count": len(ss)}
                for f in dmesg.NS_FIELDS:
                    b.kernel[kind][part][f] = st[f]["p50"]
    elif b.variant != "vanilla":
        missing.append("%s: no dmesg.txt (no kernel samples for this boot)" % name)
    return b


# ---------------------------------------------------------------- analysis

def rec_key(r):
    return tuple(r["_kind"] if f == "page" else r.get(f) for f in KEY_FIELDS)


def key_dict(k):
    return dict(zip(KEY_FIELDS, k))


def key_str(k):
    """Short text of a configuration: fields that are set, sizes as 4k/2m."""
    d = k if isinstance(k, dict) else key_dict(k)
    parts = []
    for f in KEY_FIELDS:
        v = d.get(f)
        if v is None or (f == "stride" and d.get("pattern") != "stride"):
            continue
        if f in ("size", "unit") and isinstance(v, int):
            v = fmt_size(v)
        if isinstance(v, bool):
            v = str(v).lower()
        parts.append("%s=%s" % (f, v))
    return " ".join(parts)


def pick(values, prefer=None, smallest=False):
    """Pick one value: a preferred one if present, else the most common
    (ties: smallest / alphabetical)."""
    vals = [v for v in values]
    if not vals:
        return None
    if prefer is not None:
        for p in prefer:
            for v in vals:
                if v == p and isinstance(v, bool) == isinstance(p, bool):
                    return v
    if smallest:
        nums = [v for v in vals if isinstance(v, (int, float))]
        if nums:
            return min(nums)
    counts = {}
    for v in vals:
        counts[repr(v)] = (counts.get(repr(v), (0, v))[0] + 1, v)
    best = sorted(counts.values(), key=lambda cv: (-cv[0], str(cv[1])))
    return best[0][1]


SEL_PREFER = {
    # field: (preferred values in order or None, prefer the smallest number)
    "scenario": (["cow", "fork-write"], False),
    "exit_early": ([False], False),
    "who": (["child", "parent"], False),
    "side": (None, False),          # the side that wrote: see select_key
    "pattern": (["seq", "sequential"], False),
    "touch_frac": ([1, 1.0], False),
    "stride": (None, False),
    "size": (None, False),
    "unit": (None, False),
    "bytes": ([1], True),
}


def select_key(recs, forced):
    """Headline configuration among the records of one page kind: the forced
    values first (each ignored when no record has it), then field by field:
    a preferred value if present, else the most common."""
    sel = {}
    cur = recs
    for field in SEL_FIELDS:
        want = forced.get(field)
        if want is not None:
            cand = [r for r in cur if str(r.get(field)) == str(want)]
            if cand:
                cur = cand
                sel[field] = cand[0].get(field)
    for field in SEL_FIELDS:
        if field in sel:
            continue
        prefer, smallest = SEL_PREFER[field]
        if field == "side":
            prefer = [sel.get("who"), "child", "parent"]
        v = pick([r.get(field) for r in cur], prefer, smallest)
        sel[field] = v
        cur = [r for r in cur if r.get(field) == v]
    return sel, cur


def user_source(recs_all_variants, variant_pref=("patched",)):
    """Of the records of one key: the patched ones with the preferred label;
    else vanilla ones.  Returns (records, label, variant)."""
    for variant in list(variant_pref) + ["vanilla"]:
        rs = [r for r in recs_all_variants if r["_boot"].variant == variant]
        if not rs:
            continue
        labels = sorted({r["_label"] for r in rs}, key=label_rank)
        lab = labels[0]
        return [r for r in rs if r["_label"] == lab], lab, variant
    return [], None, None


def per_boot_user_p50(recs):
    """{boot name: median p50 of that boot's records}, plus run numbers."""
    by = {}
    for r in recs:
        by.setdefault(r["_boot"], []).append(r["p50_ns"])
    return {b: statistics.median(v) for b, v in by.items()}


def user_for_boot(ub, kboot):
    """User p50 to set against kernel boot kboot: the same boot; else the
    boot of the same run number; else the median over all boots."""
    if kboot in ub:
        return ub[kboot]
    same = [v for b, v in ub.items() if b.run is not None and b.run == kboot.run]
    if same:
        return statistics.median(same)
    return statistics.median(ub.values()) if ub else None


def paired_ratios(prec, vrec, metric):
    """patched/vanilla ratio per patched run: paired by (run, rep) when the
    vanilla side has it, else against the vanilla median."""
    vmap = {}
    for r in vrec:
        if isinstance(r.get(metric), (int, float)):
            vmap.setdefault((r["_boot"].run, r.get("rep")), []).append(r[metric])
    vall = [r[metric] for r in vrec if isinstance(r.get(metric), (int, float))]
    if not vall:
        return [], 0
    vmed = statistics.median(vall)
    out, paired = [], 0
    for r in prec:
        x = r.get(metric)
        if not isinstance(x, (int, float)):
            continue
        v = vmap.get((r["_boot"].run, r.get("rep")))
        if v:
            den = statistics.median(v)
            paired += 1
        else:
            den = vmed
        if den:
            out.append(x / den)
    return out, paired


def merge_hist(recs):
    h = {}
    for r in recs:
        for item in r.get("hist") or []:
            try:
                lo, c = item[0], item[1]
            except (TypeError, IndexError):
                continue
            if isinstance(lo, (int, float)) and isinstance(c, (int, float)):
                h[lo] = h.get(lo, 0) + c
    return sorted(h.items())


def analyse(results, forced):
    missing = []
    meta = load_json(os.path.join(results, "meta.json"), missing) or {}
    raw = os.path.join(results, "raw")
    boots = []
    if os.path.isdir(raw):
        for name in sorted(os.listdir(raw)):
            p = os.path.join(raw, name)
            if os.path.isdir(p):
                boots.append(load_boot(name, p, missing))
    else:
        missing.append("%s: no raw/ directory" % results)
    patched = [b for b in boots if b.variant == "patched"]
    vanilla = [b for b in boots if b.variant == "vanilla"]
    if not patched:
        missing.append("no patched boot in raw/: no kernel breakdown")
    if not vanilla:
        missing.append("no vanilla boot in raw/: instrumentation overhead not computed")
    for b in boots:
        if b.variant not in ("patched", "vanilla"):
            missing.append("%s: unknown kernel variant %r (expected patched or vanilla): ignored" % (b.name, b.variant))
    allrecs = [r for b in boots if b.variant in ("patched", "vanilla") for r in b.records]
    skipped = []
    for b in boots:
        for r in b.skipped:
            k, _ = canon_page(r)
            skipped.append({"boot": b.name, "page": k, "scenario": r.get("scenario"),
                            "label": r.get("label"), "reason": str(r.get("skipped"))})

    kinds = {}
    for r in allrecs:
        kinds.setdefault(r["_kind"], r["_psize"])
    for b in patched:
        for k in b.kernel:
            kinds.setdefault(k, None)
    for s in skipped:
        kinds.setdefault(s["page"], None)
    # sizes for kernel-only kinds
    for k in list(kinds):
        if kinds[k] is None:
            kinds[k] = parse_size(k) if not k.startswith("thp") else 2 << 20
            if k in ("4k", "zero"):
                kinds[k] = 4096
    order = [k for k, _ in sorted(kinds.items(), key=kind_sort_key)]
    known = re.compile(r"(4k|zero|file|mthp-\d+[kmg]|thp-2m|hugetlb-\d+[kmg])$")
    for k in order:
        if not known.match(k):
            missing.append("page kind %r not recognised (see docs/report-fields.md): kept as its own kind" % k)
    # the brief's kinds: say when one of them has no data at all
    for want in ("4k", "thp-2m", "hugetlb-2m", "hugetlb-1g"):
        if not any(r["_kind"] == want for r in allrecs):
            why = [s["reason"] for s in skipped if s["page"] == want]
            missing.append("%s: no user-space records%s" % (want, (" (skipped: %s)" % "; ".join(sorted(set(why)))) if why else ""))

    out_kinds = {}
    selection = {}
    for kind in order:
        krecs = [r for r in allrecs if r["_kind"] == kind]
        prec = [r for r in krecs if r["_boot"].variant == "patched"] or krecs
        entry = {"page_size": kinds[kind]}
        if krecs:
            sel, _ = select_key(prec, forced)
            keyrecs = [r for r in krecs if all(r.get(f) == sel[f] for f in sel)]
            urecs, lab, var = user_source(keyrecs)
            selection[kind] = dict(sel, label=lab, variant=var)
            entry["user_p50_ns"] = stats.summary([r["p50_ns"] for r in urecs])
            entry["user_p99_ns"] = stats.summary([r.get("p99_ns") for r in urecs])
            entry["user_runs"] = len(urecs)
            ub = per_boot_user_p50(urecs)
        else:
            ub = {}
            urecs = []
        # kernel side, per patched boot
        kb = [b for b in patched if kind in b.kernel]
        parts = {}
        for f in dmesg.NS_FIELDS:
            parts[f] = stats.summary([b.kernel[kind]["main"][f] for b in kb if "main" in b.kernel[kind]])
        parts["split_ns"] = stats.summary([b.kernel[kind]["split"]["total_ns"] for b in kb if "split" in b.kernel[kind]])
        parts["samples"] = sum(b.kernel[kind].get("main", {}).get("count", 0) +
                               b.kernel[kind].get("split", {}).get("count", 0) for b in kb)
        entry["kernel_p50"] = parts if kb else None
        # breakdown per boot
        bd = {n: [] for n in ("trap_other", "kernel_other", "alloc", "copy", "install", "split",
                              "kernel_total", "user")}
        share_fault, share_kernel, negative = [], [], 0
        for b in kb:
            kk = b.kernel[kind]
            main = kk.get("main")
            split = kk["split"]["total_ns"] if "split" in kk else None
            ktot = (main["total_ns"] if main else 0) + (split or 0)
            u = user_for_boot(ub, b)
            if main:
                bd["alloc"].append(main["alloc_ns"])
                bd["copy"].append(main["copy_ns"])
                bd["install"].append(main["install_ns"])
                bd["kernel_other"].append(main["total_ns"] - main["alloc_ns"] - main["copy_ns"] - main["install_ns"])
                if ktot:
                    share_kernel.append(main["copy_ns"] / ktot)
            if split is not None:
                bd["split"].append(split)
            bd["kernel_total"].append(ktot)
            if u is not None:
                bd["user"].append(u)
                bd["trap_other"].append(u - ktot)
                if u - ktot < 0:
                    negative += 1
                if main and u:
                    share_fault.append(main["copy_ns"] / u)
        entry["breakdown_ns"] = {n: stats.summary(v) for n, v in bd.items()} if kb else None
        entry["copy_share_of_fault"] = stats.summary(share_fault)
        entry["copy_share_of_kernel"] = stats.summary(share_kernel)
        entry["negative_trap_other_boots"] = negative
        entry["hist"] = merge_hist(urecs)
        out_kinds[kind] = entry
        if krecs and not kb and patched:
            missing.append("%s: no kernel cow_stat samples in any patched boot" % kind)

    # 1 byte vs 4096 bytes
    bytes_effect = {}
    for kind in order:
        sel = selection.get(kind)
        if not sel:
            continue
        rs = [r for r in allrecs if r["_kind"] == kind and
              all(r.get(f) == sel[f] for f in SEL_FIELDS if f != "bytes")]
        rs_p = [r for r in rs if r["_boot"].variant == sel["variant"] and r["_label"] == sel["label"]]
        byvals = sorted({r.get("bytes") for r in rs_p if isinstance(r.get("bytes"), int)})
        if len(byvals) < 2:
            continue
        lo, hi = byvals[0], byvals[-1]
        per = {}
        for bv in byvals:
            per[str(bv)] = stats.summary([r["p50_ns"] for r in rs_p if r.get("bytes") == bv])
        lo_map = {(r["_boot"].name, r.get("rep")): r["p50_ns"] for r in rs_p if r.get("bytes") == lo}
        ratios = [r["p50_ns"] / lo_map[(r["_boot"].name, r.get("rep"))]
                  for r in rs_p if r.get("bytes") == hi and lo_map.get((r["_boot"].name, r.get("rep")))]
        diffs = [r["p50_ns"] - lo_map[(r["_boot"].name, r.get("rep"))]
                 for r in rs_p if r.get("bytes") == hi and (r["_boot"].name, r.get("rep")) in lo_map]
        bytes_effect[kind] = {"lo_bytes": lo, "hi_bytes": hi, "p50_ns_by_bytes": per,
                              "ratio_hi_lo": stats.summary(ratios), "diff_hi_lo_ns": stats.summary(diffs)}

    # instrumentation overhead
    overhead = {}
    labels = sorted({r["_label"] for r in allrecs if r["_boot"].variant == "patched"}, key=label_rank)
    if vanilla and patched:
        for lab in labels:
            rows = []
            pk = {}
            for r in allrecs:
                if r["_boot"].variant == "patched" and r["_label"] == lab:
                    pk.setdefault(rec_key(r), []).append(r)
            for k, prs in sorted(pk.items(), key=lambda kv: str(kv[0])):
                vr = [r for r in allrecs if r["_boot"].variant == "vanilla" and rec_key(r) == k]
                if not vr:
                    continue
                vsame = [r for r in vr if r["_label"] == lab]
                if not vsame:
                    vsame = [r for r in vr if r["_label"] in ("", "off")] or vr
                wr, wp = paired_ratios(prs, vsame, "wall_ns")
                pr, pp = paired_ratios(prs, vsame, "p50_ns")
                rows.append({"key": key_dict(k),
                             "wall_ratio": stats.summary(wr), "p50_ratio": stats.summary(pr),
                             "paired_runs": min(wp, pp), "patched_runs": len(prs), "vanilla_runs": len(vsame)})
            if not rows:
                continue
            # headline: the 4k row closest to the 4k selection
            head = None
            s4 = selection.get("4k", {})
            cands = [r for r in rows if r["key"]["page"] == "4k"] or rows
            cands.sort(key=lambda r: -sum(1 for f in SEL_FIELDS
                                          if r["key"].get(f) == s4.get(f)))
            head = cands[0]
            overhead[lab or "unlabelled"] = {"headline": head, "keys": rows}
        if not overhead:
            missing.append("no configuration was run on both patched and vanilla kernels: overhead not computed")
    if patched and vanilla and not any(r["_label"] for r in allrecs):
        missing.append("no record has a \"label\" (off / sample1000): overhead is for the unlabelled runs, sampling state unknown")

    all_configs = []
    groups = {}
    for r in allrecs:
        groups.setdefault((r["_boot"].variant, r["_label"]) + rec_key(r), []).append(r)
    for k, rs in sorted(groups.items(), key=lambda kv: (kind_sort_key((kv[0][3], kinds.get(kv[0][3]))), str(kv[0]))):
        all_configs.append({"variant": k[0], "label": k[1],
                            "key": key_dict(k[2:]),
                            "runs": len(rs), "p50_ns": stats.summary([r["p50_ns"] for r in rs]),
                            "p99_ns": stats.summary([r.get("p99_ns") for r in rs]),
                            "wall_ns": stats.summary([r.get("wall_ns") for r in rs]),
                            "faults": stats.summary([r.get("faults") for r in rs])})

    boot_info = []
    for b in boots:
        d = b.dsum
        boot_info.append({
            "name": b.name, "variant": b.variant, "run": b.run,
            "records": len(b.records), "skipped": len(b.skipped), "malformed_json": b.bad_json,
            "kernel_samples": d["samples"] if d else None,
            "malformed_dmesg": d["malformed"] if d else None,
            "suppressed": d["suppressed"] if d else None,
            "seq_not_logged": d["seq"]["not_logged"] if d else None,
            "vmstat_check": (("match" if b.vmstat["ok"] else "mismatch") if b.vmstat else None),
            "vmstat_rows": b.vmstat["rows"] if b.vmstat else None,
            "hist_check": ((("match" if b.hist["ok"] else "mismatch") if not b.hist.get("error") else "error")
                           if b.hist else None),
        })
        if d and d["malformed"]:
            missing.append("%s/dmesg.txt: %d malformed cow_stat line(s) ignored" % (b.name, d["malformed"]))
        if b.variant == "patched" and d and d["samples"] == 0:
            missing.append("%s/dmesg.txt: no cow_stat sample lines" % b.name)

    k4 = out_kinds.get("4k", {})
    headline = {
        "copy_share_4k_of_fault": k4.get("copy_share_of_fault"),
        "copy_share_4k_of_kernel": k4.get("copy_share_of_kernel"),
        "user_p50_4k_ns": k4.get("user_p50_ns"),
        "kernel_copy_p50_4k_ns": (k4.get("kernel_p50") or {}).get("copy_ns"),
        "kernel_total_p50_4k_ns": (k4.get("kernel_p50") or {}).get("total_ns"),
        "bytes_ratio_4k": (bytes_effect.get("4k") or {}).get("ratio_hi_lo"),
        "overhead_wall_ratio": {lab: o["headline"]["wall_ratio"] for lab, o in overhead.items()},
        "overhead_p50_ratio": {lab: o["headline"]["p50_ratio"] for lab, o in overhead.items()},
    }
    return {
        "schema": "cowlab-report/1",
        "results_dir": os.path.abspath(results),
        "generated": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "environment": meta,
        "boots": boot_info,
        "kind_order": order,
        "selection": selection,
        "kinds": out_kinds,
        "bytes_effect": bytes_effect,
        "overhead": overhead,
        "headline": headline,
        "configs": all_configs,
        "skipped": skipped,
        "missing": missing,
    }


# ---------------------------------------------------------------- plots

def _num(x):
    return "NaN" if x is None else "%.6g" % x


def hdr_width(lo):
    """Width of the cowbench histogram bucket starting at lo
    (userspace-bench/hist.h: one bucket per ns below 16, then 16 sub-buckets
    per power of two, i.e. lo/16 .. lo/8 wide)."""
    lo = int(lo)
    if lo < 16:
        return 1
    return 1 << (lo.bit_length() - 5)


def hist_outline(h, tot):
    """Points tracing the bars of the bucketed histogram [(lo_ns, count)] for
    a line plot; a bucket ends at lo + hdr_width(lo) (or at the next bucket)."""
    pts = []
    h = [(lo, c) for lo, c in h if lo > 0]
    for i, (lo, c) in enumerate(h):
        nxt = h[i + 1][0] if i + 1 < len(h) else None
        hi = lo + hdr_width(lo)
        if nxt is not None:
            hi = min(hi, nxt)
        frac = c / tot
        if not pts or pts[-1][0] < lo:
            pts.append((lo, 0.0, 0))
        pts.append((lo, frac, c))
        pts.append((hi, frac, c))
        if nxt is None or nxt > hi:
            pts.append((hi, 0.0, 0))
    return pts


# the latency histogram's lines: one kind per page size of the brief
HIST_KINDS = ("4k", "mthp-64k", "thp-2m", "hugetlb-2m", "hugetlb-1g")
PLOTS = (("latency_hist", "latency-hist.gp", "latency-hist.png",
          "(a) user-space per-write latency histogram per page kind"),
         ("latency_vs_size", "latency-size.gp", "latency-size.png",
          "(b) first-write p50 (user) and kernel copy_ns p50 vs page size, log-log"),
         ("breakdown", "breakdown.gp", "breakdown.png",
          "(c) stacked breakdown per page kind, share of the user-space p50"))


def write_plot_data(S, plotter):
    """The plots' data files; returns what each plot has: the histogram's
    kinds, and the rows of the other two."""
    files = {}
    hist_kinds = []
    for kind in S["kind_order"]:
        h = S["kinds"][kind].get("hist")
        if not h:
            continue
        tot = sum(c for _, c in h) or 1
        plotter.dat("hist-%s.dat" % kind, (
            "# user-space per-write latency of %s, outline of the buckets: latency_us "
            "fraction_of_writes count\n" % kind) + "".join(
                "%s %s %d\n" % (_num(x / 1e3), _num(frac), c) for x, frac, c in hist_outline(h, tot)))
        hist_kinds.append(kind)
    files["hist_kinds"] = [k for k in hist_kinds if k in HIST_KINDS] or hist_kinds
    rows = []
    for kind in S["kind_order"]:
        k = S["kinds"][kind]
        if kind == "zero" or not k.get("page_size"):
            continue
        u = k.get("user_p50_ns")
        c = (k.get("kernel_p50") or {}).get("copy_ns")
        if not u and not c:
            continue
        x = k["page_size"] * (0.8 if kind.startswith("thp") else 1.25 if kind == "hugetlb-2m" else 1.0)
        row = [kind, _num(x), str(k["page_size"])]
        for m in (u, c):
            row += [_num(m["min"] / 1e3), _num(m["median"] / 1e3), _num(m["max"] / 1e3)] if m else ["NaN"] * 3
        rows.append(" ".join(row) + "\n")
    plotter.dat("size.dat", "# kind x_plot_bytes page_bytes user_p50_us(min,med,max) "
                "kernel_copy_p50_us(min,med,max)\n" + "".join(rows))
    files["size_rows"] = len(rows)
    rows = []
    for kind in S["kind_order"]:
        bd = S["kinds"][kind].get("breakdown_ns")
        if not bd or not bd.get("user"):
            continue
        vals = []
        for part in ("trap_other", "kernel_other", "alloc", "copy", "install", "split"):
            m = bd.get(part)
            vals.append(max(0.0, m["median"] / 1e3) if m else 0.0)
        tot = sum(vals)
        if tot <= 0:
            continue
        label = "%s (%s)" % (kind, fmt_ns(bd["user"]["median"]))
        rows.append('"%s" %s %s\n' % (label, " ".join(_num(v) for v in vals), _num(tot)))
    plotter.dat("breakdown.dat", "# \"label\" trap_other kernel_other alloc copy install split sum (us, "
                "medians over boots, negatives clamped to 0)\n" + "".join(rows))
    files["breakdown_rows"] = len(rows)
    return files


def make_plots(S, plotter):
    """{plot name: "plots/X.png" or None}; what was not drawn goes to missing."""
    files = write_plot_data(S, plotter)
    plots = {name: None for name, _, _, _ in PLOTS}
    why = plotter.unavailable()
    if why:
        S["missing"].append(why)
        return plots
    have = {"latency_hist": bool(files["hist_kinds"]), "latency_vs_size": files["size_rows"] > 0,
            "breakdown": files["breakdown_rows"] > 0}
    for name, script, png, _ in PLOTS:
        if not have[name]:
            S["missing"].append("plot %s: no data" % png)
            continue
        params = {"kinds": " ".join(files["hist_kinds"])} if name == "latency_hist" else {}
        err = plotter.draw(script, png, **params)
        if err:
            S["missing"].append("plot %s: %s" % (png, err))
        else:
            plots[name] = "plots/" + png
    return plots


# ---------------------------------------------------------------- report.md

H_SHARE = "What share of a 4K COW fault is the copy?"
H_SIZE = "How the copy share changes with page size (up to 2M and 1G)"
H_BYTE = "Why copy a whole page when I change 1 byte?"


def render(S):
    """The overhead and page-size study's part of report.md (### headings)."""
    L = []
    a = L.append
    kinds = S["kinds"]
    a("Boots: " + ", ".join("%s (%s, run %s)" % (b["name"], b["variant"], b["run"]) for b in S["boots"]) + ".")
    a("")
    a("Every figure is *median (min, max; n)* over the repeated runs: one run is one "
      "cowbench record (boot x rep) for user-space numbers, one boot's dmesg for kernel "
      "numbers. Kernel numbers are per-boot p50s (nearest rank) of the `cow_stat` samples "
      "of that page kind.")
    a("")
    if S["missing"]:
        a("### Missing or incomplete inputs")
        a("")
        for m in S["missing"]:
            a("- " + m.replace(S["results_dir"] + os.sep, ""))
        for s in S["skipped"]:
            a("- skipped record in %s: page %s scenario %s%s: %s" % (
                s["boot"], s["page"], s["scenario"], (" label %s" % s["label"]) if s["label"] else "", s["reason"]))
        a("")
    elif S["skipped"]:
        a("### Skipped records")
        a("")
        for s in S["skipped"]:
            a("- %s: page %s scenario %s: %s" % (s["boot"], s["page"], s["scenario"], s["reason"]))
        a("")

    a("### " + H_SHARE)
    a("")
    k4 = kinds.get("4k")
    if k4 and k4.get("copy_share_of_fault"):
        kp = k4["kernel_p50"]
        a("- 4K copy share of the whole fault (kernel copy_ns p50 / user-space first-write p50): "
          "**%s**" % fmt_mmm(k4["copy_share_of_fault"], fmt_pct))
        a("- 4K copy share of the kernel COW path (copy_ns p50 / total_ns p50): %s"
          % fmt_mmm(k4["copy_share_of_kernel"], fmt_pct))
        a("- user-space first-write p50: %s; kernel total_ns p50: %s; copy_ns p50: %s; "
          "alloc_ns p50: %s; install_ns p50: %s" % (
              fmt_mmm(k4["user_p50_ns"]), fmt_mmm(kp["total_ns"]), fmt_mmm(kp["copy_ns"]),
              fmt_mmm(kp["alloc_ns"]), fmt_mmm(kp["install_ns"])))
        sh = k4["copy_share_of_fault"]
        rest = {"median": 1 - sh["median"], "min": 1 - sh["max"], "max": 1 - sh["min"], "n": sh["n"]}
        a("- everything else (trap, fault entry and exit, locking, allocation, PTE install, TLB "
          "flush, return to user space): %s of the fault" % fmt_mmm(rest, fmt_pct))
    else:
        a("- not available: needs 4K user-space records and 4K cow_stat samples from a patched boot.")
    a("")

    a("### " + H_SIZE)
    a("")
    rows = []
    for kind in S["kind_order"]:
        k = kinds[kind]
        kp = k.get("kernel_p50") or {}
        rows.append([kind, fmt_mmm(k.get("user_p50_ns")), fmt_mmm((k.get("breakdown_ns") or {}).get("kernel_total")),
                     fmt_mmm(kp.get("copy_ns")), fmt_mmm(k.get("copy_share_of_fault"), fmt_pct),
                     fmt_mmm(k.get("copy_share_of_kernel"), fmt_pct)])
    L += md.table(["page kind", "user first-write p50", "kernel total p50", "kernel copy p50", "copy / fault",
                   "copy / kernel"], rows)
    a("")
    a("Notes: `zero` is the COW of the shared zero page: nothing is copied, the new page is "
      "zeroed inside the allocation (alloc_ns). mTHP kinds copy 4K per fault (a large folio "
      "shared by fork is never reused in 6.12). `thp-2m` is the PMD split path: the fault "
      "splits the PMD (split, the `thp_split` sample) and then copies 4K (a `4k` sample with "
      "src_order=9); its kernel total is split + 4K COW. `hugetlb-*` copies the whole huge page.")
    a("")

    a("### " + H_BYTE)
    a("")
    if S["bytes_effect"]:
        for kind, be in S["bytes_effect"].items():
            parts = ["%s B: %s" % (b, fmt_mmm(m)) for b, m in be["p50_ns_by_bytes"].items()]
            a("- %s first-write p50 by bytes written: %s; %d B / %d B = **%s**, difference %s" % (
                kind, "; ".join(parts), be["hi_bytes"], be["lo_bytes"],
                fmt_mmm(be["ratio_hi_lo"], fmt_ratio), fmt_mmm(be["diff_hi_lo_ns"])))
        if k4 and k4.get("kernel_p50"):
            a("- the kernel copies the whole page whatever the write size: 4K copy_ns p50 %s is "
              "paid by a 1-byte write too (share of a 4K fault: %s)." % (
                  fmt_mmm(k4["kernel_p50"]["copy_ns"]), fmt_mmm(k4.get("copy_share_of_fault"), fmt_pct)))
    else:
        a("- not available: no page kind has records that differ only in `bytes`.")
    a("")

    a("### Instrumentation overhead (patched / vanilla)")
    a("")
    if S["overhead"]:
        a("Ratios > 1 mean the patched kernel is slower. One ratio per patched run, paired with "
          "the vanilla run of the same run number and rep where there is one, else with the "
          "vanilla median.")
        a("")
        L += md.table(["label", "configuration", "fork-and-write wall ratio", "per-write p50 ratio",
                       "runs paired by run number"],
                      [[lab, key_str(h["key"]), "**%s**" % fmt_mmm(h["wall_ratio"], fmt_ratio),
                        "**%s**" % fmt_mmm(h["p50_ratio"], fmt_ratio), "%d/%d" % (h["paired_runs"], h["patched_runs"])]
                       for lab, h in ((lab, o["headline"]) for lab, o in S["overhead"].items())])
        a("")
        others = [(lab, r) for lab, o in S["overhead"].items() for r in o["keys"] if r is not o["headline"]]
        if others:
            a("Other configurations:")
            a("")
            L += md.table(["label", "configuration", "wall ratio", "p50 ratio"],
                          [[lab, key_str(r["key"]), fmt_mmm(r["wall_ratio"], fmt_ratio),
                            fmt_mmm(r["p50_ratio"], fmt_ratio)] for lab, r in others])
            a("")
        want = {"off", "sample1000"} - set(S["overhead"])
        for w in sorted(want):
            a("- no overhead figure for label `%s` (no such patched records with a vanilla counterpart)" % w)
        if want:
            a("")
    else:
        a("- not computed: needs the same configuration run on patched and vanilla boots "
          "(see the missing-inputs list).")
        a("")

    a("### Breakdown per page kind")
    a("")
    a("trap+other = user-space first-write p50 - kernel total_ns p50; kernel other = total_ns "
      "p50 - (alloc + copy + install) p50. **Subtracting percentiles is an approximation**: "
      "the p50 of a difference is not the difference of p50s, so parts need not add up and "
      "can come out negative (shown as is here, clamped to 0 in the plot).")
    a("")
    parts = ("trap_other", "kernel_other", "alloc", "copy", "install", "split", "user")
    L += md.table(["page kind", "trap+other", "kernel other", "alloc", "copy", "install", "split", "user p50"],
                  [[kind] + [fmt_mmm(kinds[kind]["breakdown_ns"].get(p)) for p in parts]
                   for kind in S["kind_order"] if kinds[kind].get("breakdown_ns")])
    neg = [k for k in S["kind_order"] if kinds[k].get("negative_trap_other_boots")]
    if neg:
        a("")
        a("- trap+other came out negative in some boots for: %s (kernel p50 above user p50)" % ", ".join(neg))
    a("")
    a("### Plots")
    a("")
    for name, _, _, t in PLOTS:
        p = S["plots"].get(name)
        a("- %s: %s" % (t, ("![%s](%s)" % (name, p)) if p else "not drawn (see missing inputs)"))
    a("")
    a("### Configurations used")
    a("")
    for kind, sel in S["selection"].items():
        a("- %s: %s; user-space figures from %s records with label %s" % (
            kind, key_str(dict(sel, page=kind)), sel.get("variant"), sel.get("label") or "(none)"))
    a("")
    L += md.table(["variant", "label", "configuration", "runs", "p50", "p99", "wall"],
                  [[c["variant"], c["label"] or "-", key_str(c["key"]), c["runs"], fmt_mmm(c["p50_ns"]),
                    fmt_mmm(c["p99_ns"]), fmt_mmm(c["wall_ns"])] for c in S["configs"]])
    a("")
    a("### Cross-checks per boot")
    a("")
    L += md.table(["boot", "variant", "records", "skipped", "kernel samples", "malformed dmesg", "suppressed",
                   "seq not logged", "vmstat", "hist"],
                  [[b["name"], b["variant"], b["records"], b["skipped"]] +
                   [stats.num(b[k], "d") for k in ("kernel_samples", "malformed_dmesg", "suppressed",
                                                   "seq_not_logged")] +
                   [b["vmstat_check"] or stats.NA, b["hist_check"] or stats.NA] for b in S["boots"]])
    a("")
    a("vmstat check: distinct seq values logged per kind vs the delta of cow_copy / cow_zero / "
      "cow_thp_split / cow_hugetlb_copy; they must match only with 1-in-1 sampling and no "
      "ratelimit suppression.")
    return L


def print_table(S):
    """The short table scripts/report prints on stdout."""
    out = ["%-12s %12s %12s %12s %10s %10s" % ("kind", "user p50", "kern total", "kern copy", "copy/fault",
                                                "copy/kern")]

    def med(m):
        return m["median"] if m else None
    for kind in S["kind_order"]:
        k = S["kinds"][kind]
        kp = k.get("kernel_p50") or {}
        bd = k.get("breakdown_ns") or {}
        out.append("%-12s %12s %12s %12s %10s %10s" % (
            kind, fmt_ns(med(k.get("user_p50_ns"))), fmt_ns(med(bd.get("kernel_total"))),
            fmt_ns(med(kp.get("copy_ns"))), fmt_pct(med(k.get("copy_share_of_fault"))),
            fmt_pct(med(k.get("copy_share_of_kernel")))))
    for lab, o in S["overhead"].items():
        h = o["headline"]
        out.append("overhead %-10s wall ratio %s, p50 ratio %s" % (
            lab, fmt_mmm(h["wall_ratio"], fmt_ratio), fmt_mmm(h["p50_ratio"], fmt_ratio)))
    if not S["overhead"]:
        out.append("overhead: not computed")
    if S["missing"]:
        out.append("missing: %d item(s), see report.md" % len(S["missing"]))
    return out


def strip_private(o):
    if isinstance(o, dict):
        return {k: strip_private(v) for k, v in o.items() if not k.startswith("_") and k != "hist"}
    if isinstance(o, list):
        return [strip_private(v) for v in o]
    return o


def headlines(S):
    """The front page's two facts of this study: the fault by page size,
    and the copy's share of a 4K fault with the 1-byte vs 4096-byte write."""
    kinds = S["kinds"]
    mthp = "mthp-64k" if "mthp-64k" in kinds else next((k for k in S["kind_order"] if k.startswith("mthp")), None)
    cells, ns = [], []
    for kind in ("4k", mthp, "thp-2m", "hugetlb-2m", "hugetlb-1g"):
        u = (kinds.get(kind) or {}).get("user_p50_ns")
        if not u:
            continue
        share = (kinds[kind].get("copy_share_of_fault") or {}).get("median")
        cells.append("%s %s (copy %s)" % (kind, fmt_ns(u["median"]), fmt_pct(share)))
        ns.append(u["n"])
    size = ("first-write p50: " + "; ".join(cells) + "; medians, n=%d" % min(ns)) if cells else None
    k4 = kinds.get("4k") or {}
    share, ratio = k4.get("copy_share_of_fault"), (S["bytes_effect"].get("4k") or {}).get("ratio_hi_lo")
    byte = None
    if share:
        byte = "4K copy = %s of the fault, paid by a 1-byte write too" % stats.fmt_mmm(share, fmt_pct, "head")
        if ratio:
            byte += "; 4096-byte / 1-byte first write %s" % stats.fmt_mmm(ratio, ".2f", "head")
    return size, byte


def boots(results):
    """The boots' directories in raw/, sorted ([] without raw/)."""
    raw = os.path.join(results, PART)
    return sorted(d for d in os.listdir(raw) if os.path.isdir(os.path.join(raw, d))) if os.path.isdir(raw) else []


def build(results, plotter, forced):
    """Analyse raw/, draw the plots, write summary.json; returns the
    summary and the section."""
    S = analyse(results, forced)
    S["plots"] = make_plots(S, plotter)
    with open(os.path.join(results, "summary.json"), "w") as f:
        json.dump(strip_private(S), f, indent=1)
        f.write("\n")
    prov = load.provenance(results, os.path.join(results, PART, boots(results)[0]))
    sec = Section(PART, TITLE, INTRO, PART, prov, prov["accel"])
    sec.lines = render(S)
    size, byte = headlines(S)
    if size:
        sec.headlines["page-size"] = (size, H_SIZE)
    if byte:
        sec.headlines["whole-page"] = (byte, H_BYTE)
    return S, sec
