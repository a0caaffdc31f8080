# SPDX-License-Identifier: GPL-2.0
"""Numbers for every report: summaries over reps and how they are written.

One policy for empty input: a summary or median of nothing (None and NaN
values are dropped first) is None, and every formatter writes None as NA
("n/a"), never a crash and never a silent 0.
"""

import math
import re
import statistics

NA = "n/a"


def clean(xs):
    """xs without None and NaN."""
    return [x for x in xs if x is not None and not (isinstance(x, float) and math.isnan(x))]


def median(xs):
    """statistics.median (mean of the two middle values for an even n), None when empty."""
    v = clean(xs)
    return statistics.median(v) if v else None


def summary(xs):
    """{"min", "median", "max", "n"} of xs, None when empty."""
    v = clean(xs)
    if not v:
        return None
    return {"min": min(v), "median": statistics.median(v), "max": max(v), "n": len(v)}


def percentile(sorted_vals, p):
    """Nearest-rank percentile: the smallest value with at least p% of the
    values <= it (ceil(p/100 * n)-th smallest, 1-based).  Always a value
    that was observed; p50 of [1, 2, 3, 4] is 2; None when empty."""
    n = len(sorted_vals)
    if n == 0:
        return None
    rank = max(1, math.ceil(p / 100.0 * n - 1e-9))
    return sorted_vals[min(rank, n) - 1]


def paired(num, den):
    """num[i] / den[i] for each pair of reps (rep i against rep i) whose den > 0."""
    return [a / b for a, b in zip(num, den) if b > 0]


def to_median(num, den, invert=False):
    """Each of num against the median of den: num_i / med(den), or with
    invert med(den) / num_i; [] when either side is empty."""
    m = median(den)
    if not m:
        return []
    if invert:
        return [m / x for x in clean(num) if x]
    return [x / m for x in clean(num)]


# ---------------------------------------------------------------- formatting

def num(v, f):
    """v written by f (a format spec such as ".1f", or a function); NA for None."""
    if v is None:
        return NA
    return f(v) if callable(f) else format(v, f)


def fmt_mmm(m, f, style="triple", sep="/"):
    """A summary (or a list of values) in one cell, NA when empty:
    triple  "min/median/max" (sep between them)
    paren   "median (min X, max Y; n=N)", "X (n=1)" for one value
    head    "median (min–max, n=N)", "X (n=1)" for one value
    range   "median (min-max)", the value alone for one"""
    if isinstance(m, (list, tuple)):
        m = summary(m)
    if not m:
        return NA
    lo, mid, hi = (num(m[k], f) for k in ("min", "median", "max"))
    if style == "triple":
        return sep.join((lo, mid, hi))
    if m["n"] == 1:
        return mid if style == "range" else "%s (n=1)" % mid
    if style == "paren":
        return "%s (min %s, max %s; n=%d)" % (mid, lo, hi, m["n"])
    if style == "head":
        return "%s (%s–%s, n=%d)" % (mid, lo, hi, m["n"])
    return "%s (%s-%s)" % (mid, lo, hi)


def fmt_ns(ns):
    """A time in ns with a unit, 3 significant digits."""
    if ns is None:
        return NA
    a = abs(ns)
    if a >= 1e9:
        return "%.3g s" % (ns / 1e9)
    if a >= 1e6:
        return "%.3g ms" % (ns / 1e6)
    if a >= 1e3:
        return "%.3g us" % (ns / 1e3)
    return "%.3g ns" % ns


def fmt_pct(x):
    return NA if x is None else "%.1f%%" % (100.0 * x)


def fmt_ratio(x):
    return NA if x is None else "%.3f" % x


def size_name(b):
    """1G, 64M, 4K for whole multiples, else the bytes ("3000B"); "?" for None."""
    if b is None:
        return "?"
    for unit, mult in (("G", 1 << 30), ("M", 1 << 20), ("K", 1 << 10)):
        if b >= mult and b % mult == 0:
            return "%d%s" % (b // mult, unit)
    return "%dB" % b


SIZE_RE = re.compile(r"(\d+)\s*([kmg])(?:i?b)?(?![a-z])")


def parse_size(s):
    """The first size in s ("64k", "2M", "1g", "2048kB") in bytes, None if none."""
    m = SIZE_RE.search(s)
    if not m:
        return None
    return int(m.group(1)) << {"k": 10, "m": 20, "g": 30}[m.group(2)]
