# SPDX-License-Identifier: GPL-2.0
"""The cost model (issue 20, part 2; docs/cost-model.md): unit costs of
COW measured on a real CPU (the host anchors, host/anchors.jsonl) times the
deterministic event counts a guest run reports (vmstat deltas: faults,
copies, pre-copies, page tables shared) give a projected hardware time for
each variant the guest measured.

The units, from the anchors' mean time an operation (median over reps):

    copy  = memcpy-4k-cold          zero = memset-4k-cold
    a = first-touch-4k - zero       = trap + alloc      (fresh page, no flush)
    b = reuse-4k                    = trap + flush      (no allocation, no copy)
    c = populate-wW a page - copy - call/W = alloc + flush (no trap)
    call = (populate-w1 - populate-wW) * W / (W - 1)    (one madvise call)
    trap = (a + b - c) / 2,  alloc = a - trap,  flush = b - trap
    fork(N pages) = f0 + N * pte   (fitted on the smallest and the largest
                                    fork anchor of 64M and more)

alloc covers everything a new page costs but its contents (allocation,
memcg charge, rmap, LRU, PTE write); flush what changing a present PTE
costs (the TLB flush, the old page's rmap and reference).

The model is validated on vanilla first: it predicts anchors it was not
fitted on (the 4K COW fault, fork-and-write, the fork sizes between, the
populate windows between, the zero-page read) and each error must be
within 15 %.  Only then does it print projections for the patched
variants, labelled as projections, beside the emulated ratios:

    pre-copy (a child-write row):  cow_copy * (trap+alloc+flush+copy)
        + pgreuse * (trap+flush) + other faults * trap
        + order-0 pre-copies * (alloc+flush+copy)
        + block pre-copies * (copy + (alloc+flush)/16)   [assumption: a
          64K block's allocation, charge, rmap and flush shared by 16 pages]
    on-demand fork (fork()):  vanilla f0 + pages * pte;  on-demand
        fork-4m + tables shared * pte + PTEs outside them * pte
        [assumption: sharing a table costs what copying one PTE does; the
        fixed part is the fork of a 4M process, measured]
"""

import os

from . import host, load, md, precopy, section, stats
from .stats import NA, fmt_ns

TOLERANCE = 0.15
MIB = 1 << 20
PAGE = 4096
BLOCK = 16


class ModelError(Exception):
    """The anchors lack what a unit needs."""


def mean_op(res, label):
    """Median over reps of the mean ns an operation (per page for a
    populate window); None without the anchor."""
    recs = res.get(label) or []
    vals = [r["mean_ns"] / (r.get("window") or 1) for r in recs
            if isinstance(r.get("mean_ns"), (int, float)) and r["mean_ns"] > 0]
    return stats.median(vals)


def forks(res):
    """{pages: median fork() ns} of the fork anchors (fork, fork-64m, ...)."""
    out = {}
    for label, recs in res.items():
        if host.is_fork(label):
            f = stats.median([r.get("fork_ns") for r in recs if r.get("fork_ns")])
            if f and recs[0].get("size"):
                out[recs[0]["size"] // PAGE] = f
    return out


def populates(res):
    """{window: mean ns a page} of the populate-wN anchors."""
    out = {}
    for label, recs in res.items():
        if label.startswith("populate-w") and recs and recs[0].get("window"):
            v = mean_op(res, label)
            if v:
                out[recs[0]["window"]] = v
    return out


def need(x, what):
    if x is None:
        raise ModelError("no %s anchor with a mean time (scripts/host-anchors --list)" % what)
    return x


def units(res):
    """The unit costs (ns) from the anchors; ModelError when one is
    missing or the fit is impossible."""
    copy = need(mean_op(res, "memcpy-4k-cold"), "memcpy-4k-cold")
    zero = need(mean_op(res, "memset-4k-cold"), "memset-4k-cold")
    first = need(mean_op(res, "first-touch-4k"), "first-touch-4k")
    reuse = need(mean_op(res, "reuse-4k"), "reuse-4k")
    pops = populates(res)
    if 1 not in pops or len(pops) < 2:
        raise ModelError("needs populate-w1 and a larger window")
    w = max(pops)
    call = (pops[1] - pops[w]) * w / (w - 1)
    a, b, c = first - zero, reuse, pops[w] - copy - call / w
    trap = (a + b - c) / 2
    fk = forks(res)
    big = sorted(p for p in fk if p * PAGE >= 64 * MIB)
    if len(big) < 2:
        raise ModelError("needs two fork anchors of 64M or more")
    lo, hi = big[0], big[-1]
    pte = (fk[hi] - fk[lo]) / (hi - lo)
    small = sorted(p for p in fk if p * PAGE < 64 * MIB)
    for name, v in (("trap", trap), ("alloc", a - trap), ("flush", b - trap), ("call", call), ("pte", pte)):
        if v <= 0:
            raise ModelError("the derived %s is %.0f ns: the anchors disagree (a noisy run? pool several)" % (name, v))
    return {"copy": copy, "zero": zero, "trap": trap, "alloc": a - trap, "flush": b - trap,
            "call": call, "window": w, "pte": pte, "f0": fk[lo] - lo * pte,
            "fork_fixed": fk[small[0]] if small else None, "fork_fit": (lo, hi)}


def cow_fault(u):
    return u["trap"] + u["alloc"] + u["flush"] + u["copy"]


def fork_pred(u, pages):
    return u["f0"] + pages * u["pte"]


def validation(res, u):
    """[(workload, measured ns, predicted ns, what it checks)] for vanilla
    workloads the units were not fitted on."""
    out = []
    cow = mean_op(res, "cow-4k")
    if cow:
        out.append(("4K COW fault (cow-4k, mean a write)", cow, cow_fault(u),
                    "trap+alloc+flush+copy: the one check of the trap/alloc/flush split"))
    recs = res.get("cow-4k") or []
    tot = stats.median([r["fork_ns"] + r["wall_ns"] for r in recs if r.get("fork_ns") and r.get("wall_ns")])
    if tot and recs:
        n = recs[0].get("writes") or recs[0].get("pages")
        out.append(("fork-and-write %s (cow-4k: fork() + every page written)" % stats.size_name(recs[0]["size"]),
                    tot, fork_pred(u, recs[0]["size"] // PAGE) + n * cow_fault(u),
                    "f0 + N*pte + N*fault (at 64M its fork part is the fitted fork-64m)"))
    fk = forks(res)
    lo, hi = u["fork_fit"]
    for p in sorted(fk):
        if lo < p < hi:
            out.append(("fork() of %s" % stats.size_name(p * PAGE), fk[p], fork_pred(u, p),
                        "f0 + N*pte: between the two fitted sizes"))
    pops = populates(res)
    for w in sorted(pops):
        if 1 < w < u["window"]:
            out.append(("MADV_POPULATE_WRITE, %d pages a call (a page)" % w, pops[w],
                        u["call"] / w + u["alloc"] + u["flush"] + u["copy"],
                        "call/w + alloc+flush+copy: between w1 and the largest window"))
    return out


def error(meas, pred):
    return (pred - meas) / meas if meas else None


def valid(rows):
    """True when every validation error is within TOLERANCE (and there is one)."""
    return bool(rows) and all(abs(error(m, p)) <= TOLERANCE for _, m, p, _ in rows)


# ---- projections ----------------------------------------------------------

def vm(r, k):
    return (r.get("vmstat") or r.get("rep_vmstat") or {}).get(k, 0) or 0


def precopy_time(u, r):
    """Projected ns of a pre-copy study row's timed writes."""
    copies, reuse = vm(r, "cow_copy"), vm(r, "pgreuse")
    large = vm(r, "cow_precopy_large")
    small = max(vm(r, "cow_precopy") - large, 0)
    other = max(vm(r, "pgfault") - copies - reuse, 0)
    return (copies * cow_fault(u) + reuse * (u["trap"] + u["flush"]) + other * u["trap"]
            + small * (u["alloc"] + u["flush"] + u["copy"])
            + large * (u["copy"] + (u["alloc"] + u["flush"]) / BLOCK))


def precopy_rows(u, rows, base="off"):
    """[(workload, setting, emulated ratio, projected ratio, faults)] of a
    precopy.jsonl at its main size (the largest group of rows)."""
    rows = [r for r in rows if r.get("type") == "result" and "skipped" not in r and r.get("wall_ns")]
    if not rows:
        return []
    sizes = [r["size"] for r in rows]
    main = max(set(sizes), key=sizes.count)
    groups = precopy.group([r for r in rows if r["size"] == main])
    out = []
    for (wl, lb), g in groups.items():
        ref = groups.get((wl, base))
        if lb == base or not ref:
            continue
        den = stats.median([precopy_time(u, r) for r in ref])
        if not den or not any(r.get("vmstat") for r in g + ref):
            continue  # no counts (a kernel without cowlab's vmstat): nothing to project
        emu = stats.median([r["wall_ns"] for r in g]) / stats.median([r["wall_ns"] for r in ref])
        proj = stats.median([precopy_time(u, r) for r in g]) / den
        out.append(("%s %s" % (wl[0], stats.size_name(wl[1])), lb, emu, proj,
                    stats.median([vm(r, "pgfault") for r in g])))
    return out


def odf_fork(u, r):
    """Projected fork() ns of an odf-study row (vanilla or on-demand)."""
    pages = r["size"] // PAGE
    shared = vm(r, "cow_odf_shared")
    if not shared:
        return fork_pred(u, pages)
    fixed = u["fork_fixed"] if u["fork_fixed"] is not None else u["f0"]
    return fixed + shared * u["pte"] + max(pages - shared * 512, 0) * u["pte"]


def odf_rows(u, rows):
    """[(size, emulated fork() ratio off/on, projected ratio)] of the
    odf.jsonl rows whose child exits."""
    by = {}
    for r in rows:
        if r.get("type") == "result" and r.get("fork_ns") and r.get("child") == "exit":
            by.setdefault((r["size"], r.get("odf")), []).append(r)
    out = []
    for size in sorted({s for s, _ in by}):
        off, on = by.get((size, "off")), by.get((size, "on"))
        if not off or not on:
            continue
        emu = stats.median([r["fork_ns"] for r in off]) / stats.median([r["fork_ns"] for r in on])
        proj = stats.median([odf_fork(u, r) for r in off]) / stats.median([odf_fork(u, r) for r in on])
        out.append((size, emu, proj, stats.median([vm(r, "cow_odf_shared") for r in on])))
    return out


# ---- the Markdown ----------------------------------------------------------

def pct(x):
    return NA if x is None else "%+.1f %%" % (100 * x)


def ratio(x):
    return NA if x is None else "%.2fx" % x


def unit_lines(u):
    rows = [["trap", fmt_ns(u["trap"]), "a fault's entry, walk and return (derived)"],
            ["alloc", fmt_ns(u["alloc"]), "a new page but its contents: allocation, charge, rmap, LRU, PTE (derived)"],
            ["flush", fmt_ns(u["flush"]), "changing a present PTE: TLB flush, the old page's rmap and reference (derived)"],
            ["copy", fmt_ns(u["copy"]), "memcpy of 4K, cold (`memcpy-4k-cold`)"],
            ["zero", fmt_ns(u["zero"]), "memset of 4K, cold (`memset-4k-cold`)"],
            ["call", fmt_ns(u["call"]), "one `MADV_POPULATE_WRITE` call (derived from w1 and w%d)" % u["window"]],
            ["pte", fmt_ns(u["pte"]), "fork() a page (PTE copy, share of a table), fitted on fork of %s and %s" % (
                stats.size_name(u["fork_fit"][0] * PAGE), stats.size_name(u["fork_fit"][1] * PAGE))],
            ["f0", fmt_ns(u["f0"]), "fork()'s intercept of that fit"],
            ["fork-4m", fmt_ns(u["fork_fixed"]) if u["fork_fixed"] else NA, "fork() of the process with 4M mapped (measured)"]]
    return md.table(["unit", "ns", "what"], rows)


def lines(res, precopy_jsonl=None, odf_jsonl=None, run=None):
    """The cost model's Markdown, and a headline: (lines, headline)."""
    try:
        u = units(res)
    except ModelError as e:
        line = "cost model: not computed (%s)" % e
        return ["**%s.**" % line], line
    val = validation(res, u)
    ok = valid(val)
    worst = max((abs(error(m, p)) for _, m, p, _ in val), default=None)
    head = "cost model validated on vanilla: worst error %s (target <= %d %%)" % (
        NA if worst is None else "%.1f %%" % (100 * worst), 100 * TOLERANCE) if ok else \
        "cost model **not validated** on vanilla: worst error %s (target <= %d %%): no projections" % (
            NA if worst is None else "%.1f %%" % (100 * worst), 100 * TOLERANCE)
    L = ["**%s.**" % head, ""]
    if run:
        L += ["Units measured on: %s, kernel %s." % (run.get("cpu") or NA, run.get("kernel") or NA), ""]
    L += unit_lines(u) + [""]
    L += ["Validation (vanilla, on the same host; each row says what it checks, and how independent "
          "of the fit it is):", ""]
    L += md.table(["workload", "measured", "model", "error", "model terms"],
                  [[w, fmt_ns(m), fmt_ns(p), pct(error(m, p)), t] for w, m, p, t in val]) + [""]
    if not ok:
        L += ["An error above %d %% means the units do not add up on this host; the projections are "
              "withheld." % (100 * TOLERANCE), ""]
        return L, head
    if precopy_jsonl:
        pr = precopy_rows(u, precopy_jsonl)
        if pr:
            L += ["Pre-copy, **projected** on this CPU from the guest's counts, beside the emulated ratio "
                  "(time of the child's writes against off, medians):", ""]
            L += md.table(["workload", "setting", "emulated", "projected", "faults"],
                          [[w, md.code(s), ratio(e), ratio(p), "%d" % f] for w, s, e, p, f in pr]) + [""]
    if odf_jsonl:
        orow = odf_rows(u, odf_jsonl)
        if orow:
            L += ["On-demand fork, **projected** fork() speed-up (vanilla / on-demand) on this CPU, beside "
                  "the emulated one:", ""]
            L += md.table(["region", "tables shared", "emulated", "projected"],
                          [[stats.size_name(s), "%d" % t, ratio(e), ratio(p)] for s, e, p, t in orow]) + [""]
    return L, head


def load_hosts(paths):
    """(per-rep anchor rows pooled over every path, the first run.json or
    None): several runs of the anchors on one host add their reps."""
    res, run = {}, None
    for p in paths:
        r, j = load_host(p)
        for k, v in r.items():
            res.setdefault(k, []).extend(v)
        run = run or j
    return res, run


def load_host(path):
    """(per-rep anchor rows, run.json or None) of a host/ directory or its
    anchors.jsonl."""
    d = path if os.path.isdir(path) else os.path.dirname(path)
    f = os.path.join(path, "anchors.jsonl") if os.path.isdir(path) else path
    if os.path.isdir(os.path.join(d, "host")):
        d = os.path.join(d, "host")
        f = os.path.join(d, "anchors.jsonl")
    runp = os.path.join(d, "run.json")
    run = load.read_json(runp) if os.path.exists(runp) else None
    return host.results_of(load.jsonl(f)), run if isinstance(run, dict) else None


# ---- the report's section ---------------------------------------------------

TITLE = "Cost model: projected hardware ratios"
INTRO = ("Unit costs from the host anchors (this machine's CPU, host kernel), validated on vanilla "
         "workloads they were not fitted on, then multiplied by the event counts of the guest's "
         "pre-copy and on-demand fork runs: a projection of each variant's ratio on this CPU, beside "
         "the emulated ratio. The method, its equations and assumptions: docs/cost-model.md; "
         "`scripts/cost-model` prints it alone.")


def build(results):
    """The cost model's section of a results directory (host/ for the
    units; precopy/ and odf/ for the counts), or None without host/."""
    hdir = os.path.join(results, "host")
    if not os.path.exists(os.path.join(hdir, "anchors.jsonl")):
        return None
    prov = load.provenance(results, hdir)
    prov["guest"] = None
    sec = section.Section("model", TITLE, INTRO, os.path.join("host", "anchors.jsonl"), prov, "host")
    try:
        res, run = load_host(hdir)
        parts = []
        for part, name in (("precopy", "precopy.jsonl"), ("odf", "odf.jsonl")):
            p = os.path.join(results, part, name)
            parts.append(load.jsonl(p) if os.path.exists(p) else None)
        body, head = lines(res, parts[0], parts[1], run)
    except (load.InputError, KeyError, TypeError, ValueError, ZeroDivisionError) as e:
        section.unreadable(sec, results, load.InputError("cost model: %s: %s" % (type(e).__name__, e)))
        return sec
    sec.lines = body
    sec.headlines["model"] = (head, TITLE)
    return sec


def front_line(sec):
    """The front page's line about the cost model."""
    head = (sec.headlines.get("model") if sec else None) if sec else None
    if not head:
        return []
    return ["Cost model (host units x guest counts): %s ([details](%s))." % (
        head[0].replace("**", ""), sec.anchor("model")), ""]
