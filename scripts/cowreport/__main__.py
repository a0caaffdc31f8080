# SPDX-License-Identifier: GPL-2.0
"""python3 -m cowreport RESULTS_DIR: the same as scripts/report."""
import sys

from .whole import main

sys.exit(main())
