# SPDX-License-Identifier: GPL-2.0
"""Reading what a guest run left behind: the files scripts/stream-split.sh
took out of the guest's stream (the benchmarks' JSON lines, dmesg.txt,
vmstat copies, result.ktap) and the JSON the host wrote beside them
(meta.json, run.json).  Every error names the file, and the line where
there is one."""

import json
import os
import sys


# the tree's top: commands name its files relative to it
TOP = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def in_tree(s):
    """s with the tree's absolute path taken out (a command run as
    scripts/study.sh --out $PWD/results/x names results/x)."""
    return s.replace(TOP + os.sep, "") if isinstance(s, str) else s


class InputError(Exception):
    """An input that cannot be read or parsed: the message names file[:line]."""


def read_text(path):
    """Whole file as text ('-' = stdin); undecodable bytes are replaced."""
    try:
        if path == "-":
            return sys.stdin.buffer.read().decode("utf-8", "replace")
        with open(path, "rb") as f:
            return f.read().decode("utf-8", "replace")
    except OSError as e:
        raise InputError("%s: %s" % (path, (e.strerror or str(e)).lower()))


def read_json(path):
    """The JSON document in path."""
    try:
        return json.loads(read_text(path))
    except ValueError as e:
        raise InputError("%s: not JSON (%s)" % (path, e))


def jsonl(path, bad=None, numbered=False):
    """The JSON objects of a JSON-lines file, in order ((line number, object)
    pairs with numbered).  Blank lines and lines starting with '#' are
    skipped.  A line that is not a JSON object raises InputError naming
    path:line, or, when bad is a list, is added to it as (line number,
    reason) and skipped."""
    out = []
    for n, line in enumerate(read_text(path).splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        try:
            r = json.loads(line)
            why = None if isinstance(r, dict) else "not a JSON object"
        except json.JSONDecodeError as e:
            why = "not a JSON line (%s)" % e.msg
        if why is None:
            out.append((n, r) if numbered else r)
        elif bad is None:
            raise InputError("%s:%d: %s" % (path, n, why))
        else:
            bad.append((n, why))
    return out


def part_file(path, name):
    """A study's input given as its run directory or as the file itself."""
    return os.path.join(path, name) if os.path.isdir(path) else path


def guest_line(part_dir):
    """The guest's own header line in result.ktap ("cowlab guest: 6.12.118,
    plan=hugecow, 2 cpus, 6089812 kB"), or None."""
    try:
        with open(os.path.join(part_dir, "result.ktap"), errors="replace") as f:
            for line in f:
                if line.startswith("# cowlab guest:"):
                    return line[2:].strip()
    except OSError:
        pass
    return None


def provenance(results, part_dir):
    """What made a part's directory: {"command", "accel", "from", "guest"}: from its
    run.json (scripts/run-guest.sh writes one per run), else from the
    results' meta.json (runs older than run.json), else unknown."""
    for path, src in ((os.path.join(part_dir, "run.json"), None), (os.path.join(results, "meta.json"), "meta.json")):
        try:
            d = read_json(path)
        except InputError:
            continue
        if isinstance(d, dict):
            return {"command": in_tree(d.get("command")), "accel": d.get("accel"),
                    "from": src or os.path.relpath(path, results), "guest": guest_line(part_dir)}
    return {"command": None, "accel": None, "from": None, "guest": guest_line(part_dir)}
