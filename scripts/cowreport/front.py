# SPDX-License-Identifier: GPL-2.0
"""The front page: each question of the brief, the headline of the section
that answers it, its targets (a data table, each with the document that
sets it) and whether the section's facts meet them."""

from dataclasses import dataclass

from . import md, stats
from .section import SHORT

GIB = 1 << 30


@dataclass(frozen=True)
class Target:
    fact: str       # a key of the section's facts
    op: str         # "<=" or ">="
    limit: float
    text: str


@dataclass(frozen=True)
class Question:
    n: int
    question: str
    part: str       # the study's directory in the results
    headline: str   # a key of the section's headlines
    targets: tuple  # none: an observation
    doc: str
    at: tuple = None  # (lo, hi) bytes the targets are stated for; hi None: at least lo


QUESTIONS = (
    Question(1, "What a COW write fault costs and how it scales with page size (4K, mTHP, 2M THP, "
             "2M/1G hugetlb)", "raw", "page-size", (), "docs/observer-kernel.md"),
    Question(2, "Why copy a whole page for one byte", "raw", "whole-page", (), "docs/observer-kernel.md"),
    Question(3, "Neighbour pre-copy", "precopy", "precopy",
             (Target("seq_time", "<=", 0.55, "sequential write after fork <= 0.55x off's time"),
              Target("seq_fault_cut", ">=", 50, ">= 50x fewer faults")),
             "issue 18, docs/precopy.md; earlier: 2x less time, >= 8x fewer faults", (64 << 20, GIB)),
    Question(4, "Delayed allocation = on-demand fork", "odf", "odf",
             (Target("fork_speedup", ">=", 20, "fork() of 1 GiB >= 20x faster than vanilla"),),
             "docs/odf.md", (GIB, GIB)),
    Question(5, "The range-COW syscall (mdup) for database snapshots", "snapshot", "mdup",
             (Target("pause_mdup_fork", "<=", 1, "snapshot of 1 GiB <= fork's time"),
              Target("p99_mdup_uffd", "<=", 1 / 3, "writer p99 <= 1/3 of userfaultfd's"),
              Target("mismatches", "<=", 0, "zero mismatches")),
             "docs/mdup.md", (GIB, GIB)),
    Question(6, "Huge-page COW without 2 MB latency spikes", "hugecow", "hugecow",
             (Target("adaptive_split_p99", "<=", 1.5, "adaptive first-write p99 <= 1.5x split's"),
              Target("copy_adaptive_p99", ">=", 10, ">= 10x lower than copy's")),
             "docs/hugecow.md"),
    Question(7, "The real client: Redis BGSAVE", "redis", "redis",
             (Target("odf_fork_speedup", ">=", 20,
                     "on-demand fork's latest_fork_usec >= 20x lower than off's at 1 GiB"),
              Target("p99_best", "<=", 0.2, "p99 during the snapshot <= 0.2x off's"),
              Target("lost", "<=", 0, "no policy loses data")),
             "docs/redis.md", (GIB, None)),
)


def meets(value, t):
    return value <= t.limit if t.op == "<=" else value >= t.limit


def within(at, size):
    lo, hi = at
    return size >= lo and (hi is None or size <= hi)


def judge(q, sec):
    """met, not met (k of n), not measured, not run, or no target; with the
    size measured when it is not the one the targets name."""
    if sec is None:
        return "not run"
    if not q.targets:
        return "no target: observation"
    facts = [sec.facts.get(t.fact) for t in q.targets]
    if any(f is None for f in facts):
        return "not measured (%d of %d figures)" % (sum(f is None for f in facts), len(facts))
    ok = sum(meets(f.value, t) for f, t in zip(facts, q.targets))
    verdict = "**met**" if ok == len(q.targets) else "**not met** (%d of %d met)" % (ok, len(q.targets))
    off = sorted({f.size for f in facts if f.size is not None and q.at and not within(q.at, f.size)})
    if off:
        lo, hi = q.at
        want = stats.size_name(lo) + ("" if hi == lo else "+" if hi is None else "-" + stats.size_name(hi))
        verdict += " at %s (target: %s)" % (stats.size_name(off[0]), want)
    return verdict


def page(sections, title, lines_before=()):
    """The front page's lines: the title, lines_before, a row per question,
    then the legend."""
    rows = []
    for q in QUESTIONS:
        sec = sections.get(q.part)
        head = sec.headlines.get(q.headline, (stats.NA,))[0] if sec else "not run"
        target = "; ".join(t.text for t in q.targets) or "none"
        rows.append([q.n, q.question, head, "%s (%s)" % (target, q.doc), judge(q, sec),
                     SHORT.get(str(sec.accel).lower(), sec.accel or "?") if sec else "-",
                     "[details](%s)" % sec.anchor(q.headline) if sec else "-"])
    out = [md.heading(1, title), ""] + list(lines_before)
    out += md.table(["#", "question", "headline: median (min–max, n)", "target (source)", "met?", "env", "section"],
                    rows)
    out += ["", "env: where the figures come from. TCG: QEMU TCG, emulated time. -icount: QEMU TCG with "
            "-icount shift=0, guest time = instructions executed (1 ns each), independent of the host's "
            "load. KVM: a virtual machine. None is a real-hardware latency: the claims are ratios, "
            "measured inside one boot. A size after the verdict is what was measured when the target "
            "names another. Raw files and the command behind every section: [Sources](#sources)."]
    return out
