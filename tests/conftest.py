"""Shared pytest set-up: hypothesis profiles (CI runs the bounded one).

`python -m pytest -q` runs everything and is the test command. `python -m pytest -m "not slow"` is
the fast lane (under a minute): it leaves out the tests marked `slow`, the ones that start the
daemon, central, PostgreSQL or `packstation simulate` as subprocesses or take seconds each
(`pytest -m slow` runs just those). Support modules are in tests/support/ (`tests.support.X`).
"""

from __future__ import annotations

import os
from pathlib import Path

from hypothesis import HealthCheck, settings

REPO = Path(__file__).resolve().parent.parent

# the central store fixtures `pg` and `store` (tests/support/stores.py)
pytest_plugins = ["tests.support.stores"]

settings.register_profile("ci", deadline=None, suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("dev", deadline=None)
settings.load_profile("ci" if os.environ.get("CI") else "dev")
