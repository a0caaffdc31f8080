# SPDX-License-Identifier: GPL-2.0
"""make test as data (matrix.py), its judges (judges.py); scripts/test.py runs it."""
