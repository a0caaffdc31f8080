# SPDX-License-Identifier: GPL-2.0
"""Markdown for every report: tables, headings, anchors, code."""

import re


def row(cells):
    return "| " + " | ".join(str(c) for c in cells) + " |"


def table(header, rows, right=()):
    """Lines of a Markdown table; columns whose index is in right are
    right-aligned."""
    sep = "|" + "".join("---:|" if i in right else "---|" for i in range(len(header)))
    return [row(header), sep] + [row(r) for r in rows]


def heading(level, text):
    return "#" * level + " " + text


def slug(text):
    """The anchor GitHub gives a heading: lower case, punctuation dropped,
    spaces as dashes."""
    return re.sub(r"[^\w\- ]", "", text.strip().lower()).replace(" ", "-")


def code(s):
    return "`%s`" % s
