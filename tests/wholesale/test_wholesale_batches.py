"""Batch lock across units (the Rust core's session behind the lock) and the intake's check that
one tested batch covers a wholesale line (the real aiohttp intake over a real SQLite store)."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import msgspec
import pytest

from central.labs import ingest_results
from central.licenses import import_licenses
from edge.common.labs import LabResult
from edge.scan import Inventory
from edge.scan.batchlock import BatchLock
from edge.scan.config import VerifySection
from edge.scan.pipeline import Pipeline
from edge.station.config import StationConfig, StationSection
from edge.station.wiring.verifier import CoreVerifier
from edge.workflow.ports import Order, Pick
from tests.support.core_scan import package
from tests.support.intake import Harness, running_intake
from tests.support.station import tag

AT = "2026-11-22T15:00:00+00:00"


def today() -> date:
    """The UTC day now (read per call: a run can cross midnight)."""
    return datetime.now(UTC).date()


def order(channel: str, quantity: int = 3, **line: Any) -> Order:
    body = {
        "order_id": "W-1",
        "channel": channel,
        "customer": {"id": "B-1", "name": "Green Shelf"},
        "lines": [{"line": 1, "sku": "FLW-BD-35", "quantity": quantity, **line}],
    }
    return msgspec.convert(body, Order)


def lock(tmp: Path, channels: list[str] | None = None) -> Pipeline:
    verify = VerifySection() if channels is None else VerifySection(batch_lock=channels)  # type: ignore[arg-type]
    cfg = StationConfig(station=StationSection(state_dir=str(tmp)), verify=verify)
    stock = [package(tag(1)), package(tag(2)), package(tag(3), batch="B-2")]
    inventory = Inventory.from_json(json.dumps(stock).encode())
    return Pipeline(CoreVerifier(cfg, lambda: inventory), [BatchLock(lambda: inventory, cfg)])


def test_the_first_package_fixes_a_wholesale_lines_batch(tmp_path: Path) -> None:
    verifier = lock(tmp_path)
    wholesale = order("wholesale")
    first = verifier.check(wholesale, [], tag(3), AT)
    assert first.verdict == "match" and first.uid == tag(3)
    picked = [Pick(line=1, uid=tag(3), raw=tag(3))]
    other = verifier.check(wholesale, picked, tag(1), AT)
    assert other.verdict == "wrong_batch" and other.line == 1 and other.uid == tag(1)
    assert "locked to batch B-2 by its first package " + tag(3) in other.reason
    # begun with batch B-1, the line takes the second B-1 package
    picked = [Pick(line=1, uid=tag(1), raw=tag(1))]
    assert verifier.check(wholesale, picked, tag(2), AT).verdict == "match"
    assert verifier.check(wholesale, picked, tag(3), AT).verdict == "wrong_batch"


def test_the_lock_is_per_channel_by_config(tmp_path: Path) -> None:
    picked = [Pick(line=1, uid=tag(3), raw=tag(3))]
    retail = order("pickup")
    assert lock(tmp_path).check(retail, picked, tag(1), AT).verdict == "match"  # default: off
    assert lock(tmp_path, ["pickup"]).check(retail, picked, tag(1), AT).verdict == "wrong_batch"
    assert lock(tmp_path, []).check(order("wholesale"), picked, tag(1), AT).verdict == "match"


def wholesale_body(oid: str, quantity: int, **line: Any) -> dict[str, Any]:
    return {
        "order_id": oid,
        "channel": "wholesale",
        "customer": {"id": "B-77", "name": "Green Shelf Retail LLC"},
        "buyer": {"license": "C11-0000123-LIC", "name": "Green Shelf Retail LLC"},
        "ship_date": (today() + timedelta(days=2)).isoformat(),
        "lines": [{"line": 1, "sku": "FLW-BD-35", "quantity": quantity, **line}],
    }


@pytest.fixture
def intake(tmp_path: Path) -> Any:
    with running_intake(tmp_path) as harness:
        stock = [package(f"1A40603000000000000{n:05d}", batch="B-1") for n in range(6)]
        stock += [package(f"1A40603000000000001{n:05d}", batch="B-2") for n in range(4)]
        stock.append(package("1A4060300000000000200000", batch="B-2", IsOnHold=True))
        stock.append(package("1A4060300000000000200001", batch="B-2", LabTestingState="TestFailed"))
        assert harness.request("PUT", "/v1/inventory", stock).status == 200
        licenses = tmp_path / "licenses.csv"
        licenses.write_text("License Number,Status\nC11-0000123-LIC,Active\n")
        import_licenses(harness.store, licenses, source="CA DCC", day=str(today()))
        yield harness


def flags_of(intake: Harness, oid: str) -> list[str]:
    snap = intake.store.feed_snapshot("station-01")
    (item,) = [i for i in snap.items if i.kind == "order" and i.key == oid]
    assert item.body is not None
    flags: list[str] = json.loads(item.body)["intake_flags"]
    return flags


def test_a_wholesale_line_no_single_tested_batch_covers_is_flagged(intake: Harness) -> None:
    covered = intake.request("POST", "/v1/orders", wholesale_body("W-1", 6))
    assert covered.status == 200 and "warnings" not in covered.body
    assert flags_of(intake, "W-1") == []
    # 10 sellable packages in all, but 6 and 4 in two batches: 7 needs a mixed line
    short = intake.request("POST", "/v1/orders", wholesale_body("W-2", 7))
    assert short.status == 200
    flag = (
        "line 1: no single tested batch of FLW-BD-35 covers 7 packages (the most is 6 in batch B-1)"
    )
    assert short.body["warnings"] == [f"order W-2: {flag}"] and flags_of(intake, "W-2") == [flag]
    # a line naming batch B-2 counts only its sellable packages (not the held or failed ones)
    named = intake.request("POST", "/v1/orders", wholesale_body("W-3", 5, batch="B-2"))
    assert flags_of(intake, "W-3") == [
        "line 1: no single tested batch of FLW-BD-35 covers 5 packages (the most is 4 in batch B-2)"
    ]
    assert named.status == 200


def test_a_revoked_batch_result_uncovers_the_line(intake: Harness) -> None:
    revoked = LabResult(
        id="metrc:1",
        source="metrc",
        package=None,
        batch="B-1",
        lab="L",
        tested="2026-10-01",
        passed=True,
        revoked="2026-11-20",
    )
    ingest_results(intake.store, [revoked])
    intake.request("POST", "/v1/orders", wholesale_body("W-4", 5))
    assert flags_of(intake, "W-4") == [
        "line 1: no single tested batch of FLW-BD-35 covers 5 packages (the most is 4 in batch B-2)"
    ]
