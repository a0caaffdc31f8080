# SPDX-License-Identifier: GPL-2.0
"""The command line shared by the per-study scripts (scripts/*-report)."""

import sys

from . import load


def main(prog, doc, argv, opts, body):
    """--help prints doc; each OPT of opts ({OPT: (default, "a directory")})
    is taken out of argv with its value; then body(path, {OPT: value})
    returns the exit status.  A missing value is a usage error (2), an
    unreadable input exit 1."""
    argv = list(argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(doc)
        return 0 if argv else 2
    vals = {}
    for opt, (default, what) in opts.items():
        vals[opt] = default
        if opt in argv:
            i = argv.index(opt)
            if i + 1 >= len(argv):
                print(f"{prog}: {opt} needs {what}", file=sys.stderr)
                return 2
            vals[opt] = argv[i + 1]
            del argv[i:i + 2]
    try:
        return body(argv[0], vals)
    except load.InputError as e:
        print(f"{prog}: {e}", file=sys.stderr)
        return 1


def plot_notes(prog, drawn):
    """Say on stderr which of draw()'s [(caption, png, why)] were not drawn."""
    for _, png, why in drawn:
        if why:
            print(f"{prog}: {png}: {why}", file=sys.stderr)
