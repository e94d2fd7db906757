"""A real central process reporting to the METRC emulator: kill -9 between the POST and its
commit, repeated; then the `packstation central reports` commands on the same store."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import pytest

from central.statesys.emulator import MetrcEmulator, ThreadedEmulator
from central.statesys.store import CONFIRMED, SENT, ReportStore
from central.store import open_store
from tests.support.central import CentralProcess, make_setup
from tests.support.statesys import (
    LICENSE,
    USER,
    VENDOR,
    StationEvents,
    import_inventory,
    package,
    tag,
)

REPO = Path(__file__).resolve().parents[2]


def wait(what: str, cond: object, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def _state(reports: ReportStore, key: str) -> str | None:
    job = reports.job(key)
    return None if job is None else job.state


def cli(config: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge", "central", "reports", *args, "--config", str(config)],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
        timeout=60,
    )


@pytest.mark.slow
def test_kill9_between_post_and_commit_never_duplicates(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, ["station-01"])
    emu = ThreadedEmulator(MetrcEmulator(VENDOR, USER))
    emu.emulator.facility(LICENSE)
    pkgs = [package(tag(0x100 + i)) for i in range(6)]
    emu.emulator.load_packages(LICENSE, pkgs)
    url = emu.start()
    (tmp_path / "vendor.key").write_text(VENDOR + "\n")
    (tmp_path / "user.key").write_text(USER + "\n")
    with setup.config.open("a") as f:
        f.write(
            f'[state_system]\nkind = "metrc"\nbase_url = "{url}"\nlicense = "{LICENSE}"\n'
            f'vendor_key_file = "{tmp_path / "vendor.key"}"\nuser_key_file = "{tmp_path / "user.key"}"\n'
            'repackaging = "deli"\ntimeout_ms = 60000\npull_interval_s = 3600\n'
        )
    store = open_store(setup.store)
    import_inventory(store, pkgs)
    station = StationEvents(store)
    reports = ReportStore(store)
    central = CentralProcess(setup)
    central.start()
    try:
        for round_ in range(3):
            emu.emulator.inject("POST", "/sales/v2/receipts", "timeout", hang_s=120)
            before = emu.emulator.stats(LICENSE)["receipts"]
            station.sealed_order(f"50{round_}", [tag(0x100 + round_)])
            # the receipt is committed at METRC; central has not had the answer
            wait("the POST to land", lambda b=before: emu.emulator.stats(LICENSE)["receipts"] > b)
            central.kill9()
            job = reports.job(f"sale:station-01:50{round_}")
            assert job is not None and job.state == SENT  # committed before the POST left
            central.start()
            wait(
                "the read-back",
                lambda r=round_: _state(reports, f"sale:station-01:50{r}") == CONFIRMED,
            )
        # and an ordinary order after all that
        station.sealed_order("600", [tag(0x105)])
        wait("the last order", lambda: _state(reports, "sale:station-01:600") == CONFIRMED)
        stats = emu.emulator.stats(LICENSE)
        assert stats["receipts"] == 4 and stats["duplicates"] == 0
        assert all(emu.emulator.quantity(LICENSE, tag(0x100 + i)) == 0 for i in (0, 1, 2, 5))
        assert all(j.state == CONFIRMED for j in reports.jobs())

        listed = cli(setup.config, "list")
        assert listed.returncode == 0, listed.stderr
        assert "total: 4 confirmed" in listed.stdout
        shown = cli(setup.config, "show", "501")
        assert shown.returncode == 0
        report = json.loads(shown.stdout)
        assert report["order"]["receipt"]["state"] == "confirmed"
        assert report["reports"][0]["external"] == "station-01-501"
        assert cli(setup.config, "show", "nope").returncode == 2
        assert cli(setup.config, "retry", "501").returncode == 2  # nothing failed
    finally:
        central.kill9()
        emu.stop()
        store.close()
