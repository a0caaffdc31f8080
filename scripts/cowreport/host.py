# SPDX-License-Identifier: GPL-2.0
"""The host anchors (scripts/host-anchors; docs/host-anchors.md): the
unit costs of COW measured on the host kernel with the same cowbench, set
beside the emulated guest's figures of the same results directory.

Input: RESULTS/host/anchors.jsonl (cowbench --json lines, "label" naming
the anchor) and RESULTS/host/run.json (the command, CPU, kernel, THP
setting, load, anchors skipped or failed).  The guest's side comes from the
overhead study's summary (raw/: the first-write p50 of cowbench, the
kernel's copy_ns p50 of the cow_stat samples).  Every report has this
section: without host/ it says the part did not run, and a figure that is
missing is n/a (stats' one policy for empty input)."""

import os
import re

from . import load, md, overhead, section, stats
from .stats import NA, fmt_ns

PART = "host"
JSONL = "anchors.jsonl"
TITLE = "Host anchors: the same costs on this machine's CPU"
INTRO = ("`scripts/host-anchors` runs cowbench (the binary the guest runs) on the host kernel, "
         "outside QEMU: a 4 KiB COW fault, the copy inside it (memcpy of 4K hot and cold, of 2M), "
         "a zero-page read fault (the trap), a first-touch fault, a write fault reusing its page, "
         "the first write to a forked THP, a hugetlb 2M COW, fork() of 4M to 1G, and COW broken by `MADV_POPULATE_WRITE` in windows of pages (no trap "
         "a page). They say how the emulated figures of the other sections weigh costs against "
         "silicon. What each anchor measures and how to read them: docs/host-anchors.md.")
GIB = 1 << 30

# anchor -> (the guest's figure beside it: kind in the overhead summary,
# its field, and what it is)
GUEST = {
    "cow-4k": ("4k", "user_p50_ns", "4K first-write p50 (cowbench)"),
    "memcpy-4k-cold": ("4k", "copy_ns", "the kernel's 4K copy_ns p50 (cow_stat)"),
    "thp-first-write": ("thp-2m", "user_p50_ns", "THP first-write p50 (cowbench)"),
    "hugetlb-2m": ("hugetlb-2m", "user_p50_ns", "hugetlb 2M first-write p50 (cowbench)"),
}


class HostSection(section.Section):
    """A section whose raw file may be absent (the part did not run)."""

    def source_line(self):
        if self.prov.get("present"):
            return super().source_line()
        return "Raw: none (no %s). **%s.**" % (md.code(self.source), section.caveat(self.accel))


def results_of(rows):
    """{anchor: [its result records]} of anchors.jsonl's lines."""
    out = {}
    for r in rows:
        if r.get("type", "result") == "result" and not r.get("skipped") and \
                isinstance(r.get("p50_ns"), (int, float)):
            out.setdefault(str(r.get("label")), []).append(r)
    return out


def med(recs, field="p50_ns"):
    return stats.median([r.get(field) for r in recs])


def copy_share(res):
    """The host's copy share of a 4 KiB COW fault: memcpy of 4K p50 (cold,
    and hot) over the 4K COW fault's p50; None where one is missing."""
    fault = med(res.get("cow-4k", []))
    out = {}
    for temp in ("cold", "hot"):
        c = med(res.get("memcpy-4k-" + temp, []))
        out[temp] = c / fault if c is not None and fault else None
    return out


def guest_share(S):
    """The emulated copy share of a 4 KiB COW fault (kernel copy_ns p50 /
    first-write p50, the overhead study's), None without it."""
    k4 = ((S or {}).get("kinds") or {}).get("4k") or {}
    return (k4.get("copy_share_of_fault") or {}).get("median")


def pct(x):
    return NA if x is None else "%.1f %%" % (100 * x)


def share_line(host, guest, accel):
    return "copy share of a 4 KiB COW fault: host %s, emulated %s" % (
        pct(host), pct(guest) + (" (%s)" % section.SHORT.get(str(accel).lower(), accel) if guest is not None and accel else ""))


def is_fork(label):
    """fork() anchors (fork: 1G, fork-64m, ...): one fork() a rep, no histogram."""
    return label == "fork" or label.startswith("fork-")


def derived(label, recs):
    """A figure per unit: GB/s of a copy, ms of fork() per GiB, ns a page
    of a populate window."""
    if label.startswith("memcpy-"):
        p50 = med(recs)
        b = recs[0].get("bytes") or recs[0].get("unit")
        return "%.1f GB/s" % (b / p50) if p50 and b else ""
    if is_fork(label):
        per = stats.summary([r["fork_ns"] * GIB / r["size"] for r in recs
                             if isinstance(r.get("fork_ns"), (int, float)) and r.get("size")])
        return "fork() %s per GiB" % stats.fmt_mmm(per, fmt_ns, "head") if per else ""
    if label.startswith("populate-w"):
        w = recs[0].get("window") or 1
        return "%s a page" % stats.fmt_mmm([r["p50_ns"] / w for r in recs], fmt_ns, "head")
    return ""


def guest_cell(label, S, link):
    if label not in GUEST:
        return "-"
    kind, field, what = GUEST[label]
    k = ((S or {}).get("kinds") or {}).get(kind) or {}
    m = (k.get("kernel_p50") or {}).get(field) if field == "copy_ns" else k.get(field)
    if not m:
        return "%s: %s" % (what, NA)
    return "%s: %s ([raw/](%s))" % (what, stats.fmt_mmm(m, fmt_ns, "head"), link)


def thp_mode(s):
    """"always [madvise] never" -> "madvise"."""
    m = re.search(r"\[(\w+)\]", s or "")
    return m.group(1) if m else (s or NA)


def first(s):
    """The first word of s (the 1-minute load of /proc/loadavg), n/a for none."""
    return s.split()[0] if isinstance(s, str) and s.split() else NA


def environment(run):
    """The host's environment in one line, from run.json."""
    if run is None:
        return "Environment: unknown (no host/run.json)."
    return ("Environment: %s (%s CPUs%s, last-level cache %s), kernel %s %s, THP enabled %s (defrag %s), "
            "load average %s at the start and %s at the end, %s%s%s." % (
                run.get("cpu") or NA, run.get("cpus") or NA, ", virtualised" if run.get("hypervisor") else "",
                stats.size_name(run.get("llc_bytes")) if run.get("llc_bytes") else NA,
                run.get("kernel") or NA, run.get("machine") or "", thp_mode(run.get("thp_enabled")),
                thp_mode(run.get("thp_defrag")), first(run.get("loadavg_start")), first(run.get("loadavg_end")),
                run.get("date") or NA, ", --quick (small sizes, few reps)" if run.get("quick") else "",
                "" if run.get("root", True) else ", not root"))


def fill(sec, results, S, raw_sec):
    """The body: the side-by-side line, the environment, the table, the
    batching bound, what was skipped or failed."""
    path = os.path.join(results, PART, JSONL)
    accel = raw_sec.accel if raw_sec else None
    share_link = "#" + md.slug(overhead.H_SHARE)
    g = guest_share(S)
    if not sec.prov.get("present"):
        line = share_line(None, g, accel)
        sec.lines = ["No host part in these results (no host/%s): `make run` measures the anchors first "
                     "(`scripts/study.sh`, unless `--no-host`); `scripts/host-anchors --out DIR` adds them "
                     "to results directory DIR." % JSONL, "",
                     "- %s" % line]
        sec.headlines["host"] = (line, TITLE)
        return
    runp = os.path.join(results, PART, "run.json")
    run = load.read_json(runp) if os.path.exists(runp) else None
    run = run if isinstance(run, dict) else None
    res = results_of(load.jsonl(path))
    hs = copy_share(res)
    line = share_line(hs["cold"], g, accel)
    sec.headlines["host"] = (line, TITLE)
    L = sec.lines
    L += ["**%s**" % line, ""]
    L += ["- host: memcpy of 4K from a cold source (%s) / the 4K COW fault's p50 (%s), medians over "
          "reps; with a hot copy %s. The host kernel has no `cow_stat`, so the copy is timed in user "
          "space, the same bytes as the kernel's copy." % (
              fmt_ns(med(res.get("memcpy-4k-cold", []))), fmt_ns(med(res.get("cow-4k", []))), pct(hs["hot"])),
          "- emulated: the kernel's `copy_ns` p50 / the guest's first-write p50 of a 4K COW fault "
          "([the page-size study](%s), raw/: bench.jsonl and dmesg.txt of each patched boot)%s." % (
              share_link if S else "#" + md.slug(overhead.TITLE) if raw_sec else "#sources",
              "" if S else "; no study boots in raw/ here: n/a"),
          "- " + environment(run), ""]
    rows = []
    order = [x.get("anchor") for x in (run or {}).get("anchors", [])] or sorted(res)
    for label in order + sorted(set(res) - set(order)):
        recs = res.get(label)
        if not recs:
            continue
        bad = [r for r in recs if r.get("page_ok") is False]
        ok = "yes" if not bad else "**no** in %d of %d: %s" % (len(bad), len(recs), bad[0].get("page_info") or "?")
        what = next((x.get("what") for x in (run or {}).get("anchors", []) if x.get("anchor") == label), "")
        # fork: one fork() a rep, no histogram: its time in the p50 column
        p50 = [r.get("fork_ns") for r in recs] if is_fork(label) else [r["p50_ns"] for r in recs]
        rows.append([md.code(label), what or NA, stats.fmt_mmm(stats.summary(p50), fmt_ns, "head"),
                     "-" if is_fork(label) else
                     stats.fmt_mmm(stats.summary([r.get("p99_ns") for r in recs]), fmt_ns, "head"),
                     derived(label, recs) or "-", ok,
                     guest_cell(label, S, share_link)])
    if rows:
        L += ["Each figure: median over reps (min–max, n reps) of the rep's p50 or p99 over its "
              "operations (a write, a copy, a read, a populate window; `fork`: the fork() itself). The guest's figure "
              "beside it is emulated: compare shares and ratios, not times.", ""]
        L += md.table(["anchor", "measures", "p50", "p99", "per unit", "page_ok", "guest, same results"], rows)
        L += [""]
    else:
        L += ["No anchor result in host/%s." % JSONL, ""]
    pops = sorted((r[0].get("window") or 1, med(r) / (r[0].get("window") or 1))
                  for lab, r in res.items() if lab.startswith("populate-w") and med(r) is not None)
    fault = med(res.get("cow-4k", []))
    if pops and fault:
        w, per = pops[-1]
        L += ["Batching bound: `MADV_POPULATE_WRITE` breaks COW for %s a page in windows of %d pages, "
              "against %s for a 4 KiB COW fault taken by a write: a pre-copy that batches neighbours "
              "could save at most %s of the fault on this CPU (the trap, the return to user space, the "
              "per-call work it spreads)." % (fmt_ns(per), w, fmt_ns(fault), pct(1 - per / fault)), ""]
    for x in (run or {}).get("skipped", []):
        L.append("- skipped: %s: %s" % (md.code(x.get("anchor")), x.get("reason")))
    for x in (run or {}).get("failed", []):
        L.append("- **failed**: %s: %s" % (md.code(x.get("anchor")), x.get("reason")))
    if run and run.get("stopped"):
        L.append("- **stopped** before the end (%s): the anchors after it did not run" % run["stopped"])


def build(results, S=None, raw_sec=None):
    """The host section of results (always a section: without host/ it
    says the part did not run).  S: the overhead study's summary, raw_sec
    its section (None without raw/).  An unreadable input is a failure of
    the section."""
    part_dir = os.path.join(results, PART)
    present = os.path.exists(os.path.join(part_dir, JSONL))
    prov = load.provenance(results, part_dir) if present else {"command": None, "accel": None, "from": None,
                                                               "guest": None}
    prov["present"] = present
    prov["guest"] = None  # host/ has no result.ktap; results' meta.json is the guest's
    if present and prov["from"] != os.path.join(PART, "run.json"):
        prov["command"] = None  # meta.json's command is study.sh's, not the anchors'
    sec = HostSection(PART, TITLE, INTRO, os.path.join(PART, JSONL), prov, "host")
    try:
        fill(sec, results, S, raw_sec)
    except load.InputError as e:
        section.unreadable(sec, results, e)
    return sec


def front_line(sec):
    """The front page's line about the host anchors: the side-by-side copy
    share and where the section is."""
    head = sec.headlines.get("host")
    if not head:
        return []
    return ["Host anchors (this machine's CPU, host kernel): %s ([details](%s))." % (head[0], sec.anchor("host")),
            ""]
