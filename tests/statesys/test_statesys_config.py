"""[state_system] and the webhook settings: refused with a clear message before central serves,
and the 24-hour reporting deadline alert."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from central.config import CentralConfig, IntakeSection, StateSystemSection, load_central_config
from central.reporting import Reporting, overdue
from central.store import open_store
from edge.common.errors import ConfigError
from tests.support.statesys import make_rig, package, tag


def test_missing_key_file_is_a_config_error(tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path / 'c.sqlite3'}")
    cfg = CentralConfig(
        state_system=StateSystemSection(
            kind="metrc",
            base_url="https://sandbox-api-mo.metrc.com",
            license="X",
            vendor_key_file=str(tmp_path / "nope"),
        )
    )
    with pytest.raises(ConfigError, match=r"vendor_key_file: cannot read .*nope"):
        Reporting.from_config(cfg, store)
    short = tmp_path / "short.secret"
    short.write_text("abc")
    cfg = CentralConfig(
        intake=IntakeSection(webhook_url="https://pos.example/hook", webhook_secret_file=str(short))
    )
    with pytest.raises(ConfigError, match="shorter than 16 bytes"):
        Reporting.from_config(cfg, store)
    assert Reporting.from_config(CentralConfig(), store) is None  # nothing to report
    store.close()


def test_state_system_section_is_checked(tmp_path: Path) -> None:
    bad = tmp_path / "central.toml"
    bad.write_text('[state_system]\nkind = "metrc"\ntimezone = "Mars/Olympus"\n')
    with pytest.raises(ConfigError) as exc:
        load_central_config(bad)
    text = str(exc.value)
    assert "base_url" in text and "license" in text and "Mars/Olympus" in text


def test_sales_unconfirmed_after_24_hours_are_overdue(tmp_path: Path) -> None:
    async def main() -> None:
        rig = await make_rig(tmp_path, [package(tag(0x100))])
        try:
            await rig.emulator.stop()  # the state system is gone
            rig.station.sealed_order("1", [tag(0x100)])
            rig.ingest.step()
            sealed = datetime.fromisoformat(rig.reports.jobs()[0].origin_at)
            assert overdue(rig.reports, sealed + timedelta(hours=23)) == []
            assert overdue(rig.reports, sealed + timedelta(hours=25)) == ["station-01-1"]
        finally:
            await rig.client.close()
            rig.store.close()

    asyncio.run(main())
