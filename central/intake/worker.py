"""`python -m central.intake.worker`: the intake's parsing process (central/intake/work.py).

It runs at a lower CPU priority (nice +10) than central, so on a busy machine central's loop still
gets the CPU at once while a large body is checked and committed here."""

from __future__ import annotations

import os
import sys

from central.intake.work import serve

if __name__ == "__main__":
    os.nice(10)
    serve(sys.stdin, sys.stdout)
