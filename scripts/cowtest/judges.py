# SPDX-License-Identifier: GPL-2.0
"""Judges of make test: turn a finished boot's files into TAP suites.

A judge is a function judge(run, boot): it calls run.suite() once per suite
it makes of the boot's output directory (run.dir(boot)): the boot's own
results, then its kernel log scanned for splats. scripts/test.py calls them
in the matrix's order once every boot has ended.
"""
import os
import re


def top_level(path):
    """The boot's result.ktap without its nested lines: one point a program.

    Returns (text, rc) as grep -v '^    ' would: rc 2 when the file is
    missing, 1 when nothing is left."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = [line for line in f if not line.startswith("    ")]
    except OSError as e:
        return f"# {path}: {e.strerror}\n", 2
    return "".join(lines), 0 if lines else 1


def failing_context(path, before, limit=80):
    """The lines before each failing line of a KTAP file (grep -B), for the log."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            lines = f.read().splitlines()
    except OSError:
        return []
    keep = set()
    for i, line in enumerate(lines):
        if re.match(r"\s*not ok", line):
            keep.update(range(max(0, i - before), i + 1))
    return [lines[i] for i in sorted(keep)][:limit]


def splats(run, boot):
    d = run.dir(boot)
    run.suite(f"{boot.name}-splats", ["scripts/splat-scan.sh", "--tap",
                                      os.path.join(d, "console.log"), os.path.join(d, "dmesg.txt")])


def selftests(run, boot):
    """Upstream selftests: every case against tests/baseline/selftests.txt."""
    args = ["--allow-missing"] if boot.allow_missing else []
    run.suite(boot.name, ["scripts/ktap-compare", "--tap", *args,
                          os.path.join(run.dir(boot), "result.ktap"), "tests/baseline/selftests.txt"])
    splats(run, boot)


def _programs(run, boot, before):
    ktap = os.path.join(run.dir(boot), "result.ktap")
    run.suite(boot.name, text=lambda: top_level(ktap))
    for line in failing_context(ktap, before):
        print(line)
    splats(run, boot)


def cowlab(run, boot):
    """cowlab's guest tests: one point a test binary; the failing subtests shown."""
    _programs(run, boot, 8)


def fuzz(run, boot):
    """trinity and stress-ng (guest/plans/fuzz.sh): one point a fuzzer."""
    _programs(run, boot, 30)


# what a scripted make shell session must show (tests/host/fixtures/
# shell-session.txt types the commands): the greeting, then each answer
SHELL_EXPECT = [
    ("the greeting names the kernel", r"cowlab shell: Linux 6\.12"),
    ("the greeting lists the knobs", r"vm\.cow_odf = 0"),
    ("the greeting shows how to see samples", r"dmesg \| grep cow_stat:"),
    ("a command's output comes back", r"marker-42"),
    ("feature odf turns on-demand fork on", r"odf=1\b"),
    ("cowbench runs from PATH", r"cowbench-rc=0\b"),
    ("cow_stat samples reach dmesg", r"samples=[1-9]"),
    ("feature off resets the knobs", r"odf=0 sample=0\b"),
]


def kvm_probe(run, boot):
    """--accel kvm: the probe boot decided and said so (kvm, or the fall-back
    to TCG where /dev/kvm is missing or cannot boot the guest), the boot ran
    under what it chose, then the plan's own result."""
    def tap():
        path = run.dir(boot) + ".log"
        try:
            with open(path, encoding="utf-8", errors="replace") as f:
                log = f.read()
        except OSError as e:
            return f"not ok 1 {path}: {e.strerror}\n", 0
        chose = "kvm" if ">> kvm probe boot passed: using kvm" in log else \
            "tcg" if re.search(r">> kvm probe boot failed .*: falling back to tcg", log) else None
        ran = re.search(r">> guest: plan=\S+ accel=(\w+)", log)
        return "\n".join([
            f"{'ok' if chose else 'not ok'} 1 the kvm probe decided and said so # {chose or 'no probe line in ' + path}",
            f"{'ok' if chose and ran and ran.group(1) == chose else 'not ok'} 2 the boot ran under the probe's choice"
            f" # {ran.group(1) if ran else 'no guest line'}"]) + "\n", 0
    run.suite(f"{boot.name}-probe", text=tap)
    _programs(run, boot, 8)


def shell(run, boot):
    """make shell: the console transcript against SHELL_EXPECT, then the
    plan's own result (the shell exited, the guest powered off)."""
    def tap():
        try:
            with open(os.path.join(run.dir(boot), "console.log"), encoding="utf-8",
                      errors="replace") as f:
                log = f.read()
        except OSError as e:
            return f"not ok 1 console.log: {e.strerror}\n", 0
        out = []
        for i, (what, rx) in enumerate(SHELL_EXPECT, 1):
            ok = re.search(rx, log)
            out.append(f"{'ok' if ok else 'not ok'} {i} {what}")
            if not ok:
                out.append(f"# no /{rx}/ in {run.dir(boot)}/console.log")
        return "\n".join(out) + "\n", 0
    run.suite(f"{boot.name}-session", text=tap)
    _programs(run, boot, 8)
