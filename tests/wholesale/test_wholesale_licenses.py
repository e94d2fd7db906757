"""Buyer license verification: snapshots imported from CSV/JSON, wholesale orders through the real
aiohttp intake over a real SQLite store, refused or released with the snapshot's hash."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from central.intake import import_file
from central.licenses import import_licenses, latest
from central.store import open_store
from edge.common.errors import BadInput
from tests.support.core_scan import package
from tests.support.intake import Harness, running_intake


def today() -> date:
    """The UTC day now, as the product reads it: asked per test, so a run across midnight does
    not compare ages with the day the module was imported."""
    return datetime.now(UTC).date()


CSV = """License Number,Business Legal Name,License Status,License Expiration Date
C11-0000123-LIC,Green Shelf Retail LLC,Active,{future}
C11-0000456-LIC,Old Leaf Inc,Active,{past}
C11-0000789-LIC,Hold Co,Suspended,{future}
"""


def licenses_csv(tmp: Path, day: date | None = None) -> Path:
    day = day or today()
    future = (day + timedelta(days=200)).strftime("%m/%d/%Y")  # the US form regulators print
    past = (day - timedelta(days=3)).isoformat()
    path = tmp / "licenses.csv"
    path.write_text(CSV.format(future=future, past=past))
    return path


def wholesale(oid: str, license_no: str, **extra: Any) -> dict[str, Any]:
    return {
        "order_id": oid,
        "channel": "wholesale",
        "customer": {"id": "B-77", "name": "Green Shelf Retail LLC"},
        "buyer": {"license": license_no, "name": "Green Shelf Retail LLC"},
        "ship_date": (today() + timedelta(days=2)).isoformat(),
        "lines": [{"line": 1, "sku": "FLW-BD-35", "quantity": 10}],
        **extra,
    }


@pytest.fixture
def intake(tmp_path: Path) -> Any:
    with running_intake(tmp_path) as harness:
        stock = [package(f"1A40603000000000000{n:05d}") for n in range(10)]  # one batch of 10
        assert harness.request("PUT", "/v1/inventory", stock).status == 200
        yield harness


def order_body(intake: Harness, oid: str) -> dict[str, Any]:
    snap = intake.store.feed_snapshot("station-01")
    (item,) = [i for i in snap.items if i.kind == "order" and i.key == oid]
    assert item.body is not None
    body: dict[str, Any] = json.loads(item.body)
    return body


def test_license_states_active_expired_suspended_unknown(intake: Harness, tmp_path: Path) -> None:
    path = licenses_csv(tmp_path)
    snap = import_licenses(intake.store, path, source="CA DCC license search", day=str(today()))
    assert snap.hash == hashlib.sha256(path.read_bytes()).hexdigest()

    sent = {**wholesale("W-1", "c11-0000123-lic"), "manifest_id": "MAN-FORGED"}
    ok = intake.request("POST", "/v1/orders", sent)
    assert ok.status == 200 and "warnings" not in ok.body, ok.body
    check = order_body(intake, "W-1")["license_check"]
    assert check["snapshot"] == snap.hash and check["status"] == "active"
    assert check["date"] == str(today()) and check["source"] == "CA DCC license search"
    assert check["expires"] == (today() + timedelta(days=200)).isoformat()
    # the manifest's id, assigned at release for the station's box label (never the sender's)
    assert order_body(intake, "W-1")["manifest_id"] == "MAN-W-1"

    for oid, number, words in [
        ("W-2", "C11-0000456-LIC", "expired on"),
        ("W-3", "C11-0000789-LIC", "is suspended"),
        ("W-4", "C11-9999999-LIC", "is not in the license list"),
    ]:
        refused = intake.request(
            "POST", "/v1/orders", [wholesale("W-0", "C11-0000123-LIC"), wholesale(oid, number)]
        )
        assert refused.status == 422, refused.body
        assert words in refused.body["error"] and refused.body["path"] == "$[1].buyer.license"
        # the whole body is refused: neither order reaches a station
        assert {"W-0", oid} & intake.store.feed_keys("order") == set()


def test_an_old_snapshot_warns_and_none_refuses(intake: Harness, tmp_path: Path) -> None:
    missing = intake.request("POST", "/v1/orders", wholesale("W-1", "C11-0000123-LIC"))
    assert missing.status == 422 and "no license list imported" in missing.body["error"]
    old = today() - timedelta(days=30)
    import_licenses(intake.store, licenses_csv(tmp_path, old), source="CA DCC", day=str(old))
    warned = intake.request("POST", "/v1/orders", wholesale("W-1", "C11-0000123-LIC"))
    assert warned.status == 200
    (warning,) = warned.body["warnings"]
    assert "30 days old, more than 7" in warning and "W-1" in warning
    assert order_body(intake, "W-1")["license_check"]["warnings"] == [warning.split(": ", 1)[1]]


def test_a_retail_order_cannot_carry_a_license_check_and_wholesale_needs_its_fields(
    intake: Harness,
) -> None:
    forged = {"snapshot": "0" * 64, "source": "me", "date": "2026-01-01", "status": "active"}
    retail = {
        "order_id": "R-1",
        "channel": "pickup",
        "customer": {"id": "C-1"},
        "lines": [{"line": 1, "sku": "X"}],
        "license_check": forged,
        "manifest_id": "MAN-FORGED",
    }
    assert intake.request("POST", "/v1/orders", retail).status == 200
    assert "license_check" not in order_body(intake, "R-1")
    assert "manifest_id" not in order_body(intake, "R-1")  # central's field, never the POS's
    no_buyer = wholesale("W-9", "X")
    del no_buyer["buyer"]
    bad = intake.request("POST", "/v1/orders", no_buyer)
    assert bad.status == 400 and bad.body["path"] == "$.buyer"
    no_date = wholesale("W-9", "X", ship_date="2026-02-30")
    bad = intake.request("POST", "/v1/orders", no_date)
    assert bad.status == 400 and bad.body["path"] == "$.ship_date"


def test_json_snapshot_names_its_own_source_and_date_and_bad_files_say_where(
    tmp_path: Path,
) -> None:
    store = open_store(f"sqlite://{tmp_path / 'c.sqlite3'}")
    doc = {
        "source": "WA LCB licensee list",
        "date": str(today()),
        "licenses": [{"license_number": "412345", "status": "ACTIVE", "expiration_date": None}],
    }
    path = tmp_path / "wa.json"
    path.write_text(json.dumps(doc))
    snap = import_licenses(store, path)
    assert (snap.source, snap.date, list(snap.licenses)) == (
        "WA LCB licensee list",
        str(today()),
        ["412345"],
    )
    assert latest(store) == snap
    (tmp_path / "bad.csv").write_text("License Number,Status\nA-1,Active\nA-2,\n")
    with pytest.raises(BadInput, match="line 3: license A-2 has no status"):
        import_licenses(store, tmp_path / "bad.csv", source="x", day=str(today()))
    with pytest.raises(BadInput, match="--date"):
        import_licenses(store, licenses_csv(tmp_path), source="x")
    # the orders import applies the same gate: refused, nothing committed
    orders = tmp_path / "orders.json"
    orders.write_text(json.dumps([wholesale("W-5", "NOPE")]))
    with pytest.raises(BadInput, match=r"\$\.buyer\.license: order W-5 refused"):
        import_file(store, "orders", orders)
    assert store.feed_keys("order") == set()
    store.close()


@pytest.mark.slow
def test_central_import_licenses_cli(tmp_path: Path) -> None:
    db = tmp_path / "central.sqlite3"
    config = tmp_path / "central.toml"
    config.write_text(f'[central]\nstore = "sqlite://{db}"\n[intake]\nlicense_max_age_days = 0\n')
    path = licenses_csv(tmp_path, today() - timedelta(days=1))
    cmd = [sys.executable, "-m", "edge", "central", "import"]
    opts = ["--config", str(config)]
    yesterday = str(today() - timedelta(days=1))
    done = subprocess.run(
        [*cmd, "licenses", str(path), "--source", "CA DCC", "--date", yesterday, *opts],
        check=False,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    assert f"3 licenses, list of {yesterday} from CA DCC, sha256 " in done.stdout
    orders = tmp_path / "orders.json"
    orders.write_text(json.dumps([wholesale("W-1", "C11-0000123-LIC")]))
    done = subprocess.run(
        [*cmd, "orders", str(orders), *opts], check=False, capture_output=True, text=True
    )
    assert done.returncode == 0 and "1 days old, more than 0" in done.stderr, done.stderr
    orders.write_text(json.dumps([wholesale("W-2", "C11-0000789-LIC")]))
    done = subprocess.run(
        [*cmd, "orders", str(orders), *opts], check=False, capture_output=True, text=True
    )
    assert done.returncode == 2 and "is suspended" in done.stderr
