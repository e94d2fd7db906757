"""`python -m central.intake.worker`: the intake's parsing process (central/intake/work.py)."""

from __future__ import annotations

import sys

from central.intake.work import serve

if __name__ == "__main__":
    serve(sys.stdin, sys.stdout)
