# SPDX-License-Identifier: GPL-2.0
"""Draw plots with gnuplot from the .gp files in scripts/plots/.

A .gp file reads its data from datadir and writes the PNG out with the
terminal term; other parameters come as gnuplot variables.  gnuplot missing
or failing is a note, never a failure of the report."""

import os
import shutil
import subprocess

GP_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "plots")


def quote(v):
    """A gnuplot constant: numbers as they are, strings single-quoted."""
    if isinstance(v, (int, float)):
        return repr(v)
    return "'%s'" % str(v).replace("'", "''")


class Plotter:
    """Plots of one report, all in one directory (pdir).  draw() returns
    None when the PNG was written, else a note saying why not."""

    def __init__(self, pdir, gnuplot="gnuplot", enabled=True):
        self.pdir = pdir
        self.enabled = enabled
        self.gp = shutil.which(gnuplot) if (enabled and gnuplot) else None
        self.term = None

    def dat(self, name, text):
        """Write a data file into the plot directory; returns its path."""
        os.makedirs(self.pdir, exist_ok=True)
        path = os.path.join(self.pdir, name)
        with open(path, "w") as f:
            f.write(text)
        return path

    def terminal(self):
        if self.term is None:
            try:
                p = subprocess.run([self.gp, "-e", "set terminal"], capture_output=True, text=True, timeout=30)
                txt = p.stdout + p.stderr
            except (OSError, subprocess.TimeoutExpired):
                txt = ""
            self.term = "pngcairo" if "pngcairo" in txt else "png"
        return self.term

    def unavailable(self):
        """Why no plot can be drawn at all, or None."""
        if not self.enabled:
            return "plots not drawn (--no-plots)"
        if not self.gp:
            return "gnuplot not found: no PNG plots (data files are in plots/)"
        return None

    def draw(self, script, png, **params):
        """Run scripts/plots/SCRIPT writing PNG in the plot directory."""
        why = self.unavailable()
        if why:
            return why
        os.makedirs(self.pdir, exist_ok=True)
        out = os.path.join(self.pdir, png)
        if os.path.exists(out):
            os.unlink(out)
        params = dict(params, datadir=self.pdir, out=out, term=self.terminal())
        sets = "; ".join("%s=%s" % (k, quote(v)) for k, v in params.items())
        try:
            p = subprocess.run([self.gp, "-e", sets, os.path.join(GP_DIR, script)],
                               capture_output=True, text=True, timeout=60)
        except (OSError, subprocess.TimeoutExpired) as e:
            return "gnuplot failed to run: %s" % e
        if p.returncode != 0 or not os.path.exists(out):
            return "gnuplot %s failed (exit %d): %s" % (script, p.returncode, p.stderr.strip()[:300])
        return None
