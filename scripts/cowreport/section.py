# SPDX-License-Identifier: GPL-2.0
"""One part of the report: a study's section, built the same way for every
study from its directory in the results (snapshot/, hugecow/, ...)."""

import os
from dataclasses import dataclass, field

from . import load, md

CAVEAT = {
    "tcg": "QEMU TCG: absolute times are emulated, compare ratios",
    "icount": ("QEMU TCG with -icount shift=0: guest time counts executed instructions "
               "(1 ns each), so a time is an instruction count: independent of host load, "
               "comparable between kernels, not a real-hardware latency"),
    "kvm": "accel=kvm: absolute times come from a virtual machine; compare ratios",
    "host": ("the host kernel on this machine's CPU, no emulation: wall-clock latencies, as quiet "
             "as the host was (its load is stated)"),
    "native": ("the plan ran on this machine's cowlab kernel, no QEMU (study.sh --native): wall-clock times "
               "of real hardware, as quiet as the machine was; compare ratios inside one run"),
}
SHORT = {"tcg": "TCG", "icount": "-icount", "kvm": "KVM", "host": "host", "native": "native"}


def caveat(accel):
    return CAVEAT.get(str(accel).lower(), CAVEAT["tcg"])


@dataclass
class Fact:
    """A figure a target is judged on: value (the median) and the size of
    what it was measured on (bytes; None when the target names no size)."""
    value: float
    size: int = None


@dataclass
class Section:
    part: str                   # the study's directory in the results
    title: str
    intro: str
    source: str                 # its raw file, relative to the results
    prov: dict                  # load.provenance()
    accel: str = None
    lines: list = field(default_factory=list)      # the body, Markdown
    headlines: dict = field(default_factory=dict)  # key -> (text, heading holding it)
    facts: dict = field(default_factory=dict)      # key -> Fact
    failures: list = field(default_factory=list)   # what makes the report exit 1
    plots: list = field(default_factory=list)      # (caption, "plots/X.png") drawn
    notes: list = field(default_factory=list)      # plots not drawn, ...

    def add_plots(self, drawn):
        """draw()'s [(caption, png, why)]: drawn ones are shown, the others noted."""
        for cap, png, why in drawn:
            if why:
                self.notes.append(f"{png}: {why}")
            else:
                self.plots.append((cap, "plots/" + png))

    def heading(self):
        return md.heading(2, self.title)

    def anchor(self, key=None):
        """The link to the heading holding headline key (the section's own
        heading without one)."""
        if key and key in self.headlines:
            return "#" + md.slug(self.headlines[key][1])
        return "#" + md.slug(self.title)

    def render(self):
        out = [self.heading(), "", self.intro, "", self.source_line(), ""]
        out += self.lines
        if self.plots or self.notes:
            out += ["", "Plots:", ""]
            out += ["- %s: ![%s](%s)" % (cap, os.path.basename(p), p) for cap, p in self.plots]
            out += ["- not drawn: %s" % n for n in self.notes]
        return out + [""]

    def source_line(self):
        p = self.prov
        parts = ["Raw: [%s](%s)" % (md.code(self.source), self.source)]
        if p.get("command"):
            parts.append("made by %s (%s)" % (md.code(p["command"]), p["from"]))
        if p.get("guest"):
            parts.append(p["guest"])
        return "; ".join(parts) + ". **%s.**" % caveat(self.accel)


def build(results, study, plotter):
    """The section of study (a module with PART, JSONL, TITLE, INTRO and
    fill(section, path, plotter)) from results/PART/JSONL, or None when the
    part did not run.  An unreadable input is a failure of the section,
    never of the whole report."""
    part_dir = os.path.join(results, study.PART)
    path = os.path.join(part_dir, study.JSONL)
    if not os.path.exists(path):
        return None
    prov = load.provenance(results, part_dir)
    accel = prov["accel"]
    # runs older than run.json: study.sh ran this part under -icount when
    # the study's --accel was tcg
    if prov["from"] == "meta.json" and accel == "tcg" and getattr(study, "ICOUNT_UNDER_TCG", False):
        accel = "icount"
    sec = Section(study.PART, study.TITLE, study.INTRO, os.path.relpath(path, results), prov, accel)
    try:
        study.fill(sec, path, plotter)
    except load.InputError as e:
        unreadable(sec, results, e)
    return sec


def unreadable(sec, results, e):
    """sec's input could not be read: say so (paths relative to the
    results) in place of its body, and count it as a failure."""
    msg = str(e).replace(os.path.abspath(results) + os.sep, "").replace(results.rstrip(os.sep) + os.sep, "")
    sec.lines = ["**Could not read the results:** %s" % msg]
    sec.failures.append(msg)
