"""Lab results as data: central ingests them, the feed carries them, the station refuses on them.

Real parts: central's SQLite store, its feed (snapshot and updates) applied to the station's
replica file, the replica-backed CentralState, the Rust core's order session behind the lab gate,
and `packstation central import labs` as a subprocess.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from central.intake import import_file
from central.labs import current, import_labs
from central.store import SqlStore, open_store
from edge.common.errors import BadInput
from edge.common.feed import RecordError
from edge.common.labs import LabResult, parse_results, refusal
from edge.common.protocol import Snap
from edge.label.slips import SlipContext, slip_text
from edge.link.replica import Replica
from edge.scan.lab import LabGate, order_day
from edge.scan.pipeline import Pipeline
from edge.station.config import StationConfig, StationSection
from edge.station.wiring.central import ReplicaCentral
from edge.station.wiring.verifier import CoreVerifier
from edge.workflow.ports import HaltInfo, Order, Pick
from tests.support.core_scan import package
from tests.support.station import tag

AT = "2026-11-22T15:00:00+00:00"
STATION = "station-01"


def metrc_row(result_id: int, **extra: object) -> dict[str, object]:
    """A `/labtests/v2/results` row (LabTests GetResults shape) naming batch B-1."""
    row: dict[str, object] = {
        "PackageId": 71,
        "LabTestResultId": result_id,
        "LabFacilityLicenseNumber": "LAB-0001",
        "LabFacilityName": "Desert Labs",
        "SourcePackageLabel": tag(1),
        "ProductName": "Blue Dream 3.5g",
        "TestPerformedDate": "2026-10-01T00:00:00",
        "OverallPassed": True,
        "RevokedDate": None,
        "LabTestResultDocumentFileId": 5501,
        "ResultReleased": True,
        "ExpirationDateTime": "2027-10-01T00:00:00",
        "TestTypeName": "Potency",
        "Batch": "B-1",
    }
    row.update(extra)
    return row


def write(path: Path, obj: object) -> Path:
    path.write_text(json.dumps(obj))
    return path


def station_copy(store: SqlStore, replica: Replica) -> None:
    """What the feed does: a snapshot when the replica is empty, then every update in order."""
    from edge.common.protocol import QueueUpdate

    last = replica.last_qseq()
    if last == 0:
        snap = store.feed_snapshot(STATION)
        part = Snap(snap_id="s", qseq=snap.qseq, part=0, last=True, items=snap.items)
        assert replica.apply_snapshot_part(part)
        return
    prev = last
    for qseq, item in store.feed_after(STATION, last, 500):
        assert replica.apply_update(QueueUpdate(qseq=qseq, prev_qseq=prev, item=item))
        prev = qseq


@pytest.fixture
def central(tmp_path: Path) -> SqlStore:
    store = open_store(f"sqlite://{tmp_path / 'central.sqlite3'}")
    inventory = [package(tag(1)), package(tag(2)), package(tag(3), batch="B-2")]
    import_file(store, "inventory", write(tmp_path / "inventory.json", inventory))
    return store


def gate(tmp_path: Path, replica: Replica) -> tuple[Pipeline, ReplicaCentral]:
    cfg = StationConfig(station=StationSection(id=STATION, state_dir=str(tmp_path / "st")))
    rc = ReplicaCentral(cfg, replica)
    gate = LabGate(rc.inventory, rc.lab_results, cfg)
    return Pipeline(CoreVerifier(cfg, rc.inventory), [gate]), rc


def test_a_result_revoked_while_the_order_is_open_refuses_the_next_scan(
    tmp_path: Path, central: SqlStore
) -> None:
    import_labs(central, write(tmp_path / "labs.json", [metrc_row(9001)]))
    replica = Replica(tmp_path / "replica.sqlite3")
    station_copy(central, replica)
    verifier, _ = gate(tmp_path, replica)
    order = msgspec_order()
    first = verifier.check(order, [], tag(1), AT)
    assert first.verdict == "match" and first.line == 1
    picked = [Pick(line=1, uid=tag(1), raw=tag(1))]

    # the state revokes the batch's result while the order is open: re-ingested, fed, applied
    revoked = metrc_row(9001, RevokedDate="2026-11-22T10:30:00")
    changed, _ = import_labs(central, write(tmp_path / "revoked.json", {"Data": [revoked]}))
    assert changed == 1 and [r.revoked for r in current(central, "batch:B-1")] == ["2026-11-22"]
    station_copy(central, replica)

    second = verifier.check(order, picked, tag(2), AT)
    assert second.verdict == "lab_result" and second.uid == tag(2) and second.line == 1
    assert "revoked on 2026-11-22" in second.reason and "5501" in second.reason
    # the package of another batch, with no result of its own, is still judged by the core alone
    assert verifier.check(order, picked, tag(3), AT).verdict == "match"
    # the slip says what to do with it
    halt = HaltInfo(code="lab_result", reason=second.reason, uid=tag(2), line=1)
    text = slip_text(halt, SlipContext(product="Blue Dream"))
    assert "lab result" in text.what_happened and "revoked" in text.what_happened


def msgspec_order() -> Order:
    import msgspec

    return msgspec.convert(
        {
            "order_id": "W-1",
            "channel": "pickup",
            "customer": {"id": "C-1", "name": "Ada"},
            "placed_at": "2026-11-22T09:00:00-06:00",
            "lines": [{"line": 1, "sku": "FLW-BD-35", "quantity": 2}],
        },
        Order,
    )


def test_a_package_result_governs_before_its_batch_and_expiry_counts_on_the_order_date(
    tmp_path: Path, central: SqlStore
) -> None:
    coa = {
        "Lab": "Desert Labs",
        "TestBatch": "DL-26-1101",
        "TestedDate": "2026-11-01",
        "Passed": True,
        "PackageLabel": tag(2).lower(),
        "ExpirationDate": "2026-11-21",
        "Document": "https://coa.example/DL-26-1101.pdf",
        "Cannabinoids": {"THC": "21.4", "CBD": "0.6"},
        "Terpenes": {"myrcene": "0.91"},
    }
    import_labs(central, write(tmp_path / "labs.json", [metrc_row(9001), coa]))
    replica = Replica(tmp_path / "replica.sqlite3")
    station_copy(central, replica)
    verifier, rc = gate(tmp_path, replica)
    own = rc.lab_results(tag(2), "B-1")
    assert [r.id for r in own] == ["coa:Desert Labs:DL-26-1101"]
    assert own[0].values == {"THC": "21.4", "CBD": "0.6", "terpene:myrcene": "0.91"}
    order = msgspec_order()
    assert verifier.check(order, [], tag(1), AT).verdict == "match"  # the batch result passes
    refused = verifier.check(order, [], tag(2), AT)
    assert refused.verdict == "lab_result" and "expired on 2026-11-21" in refused.reason


def test_refusal_rules_failed_retest_and_dates() -> None:
    def result(rid: str, tested: str, **kw: object) -> LabResult:
        base: dict[str, object] = {"passed": True, "revoked": None, "expires": None}
        base.update(kw)
        return LabResult(
            id=rid,
            source="metrc",
            package=None,
            batch="B",
            lab="L",
            tested=tested,
            **base,  # type: ignore[arg-type]
        )

    failed = result("metrc:1", "2026-10-01", passed=False)
    assert refusal([], "2026-11-22") is None
    assert "failed" in (refusal([failed], "2026-11-22") or "")
    retest = result("metrc:2", "2026-10-15")
    assert refusal([failed, retest], "2026-11-22") is None  # the newest test date governs
    ends = result("metrc:3", "2026-10-15", expires="2026-11-22")
    assert refusal([ends], "2026-11-22") is None  # valid through its expiration day
    assert "expired on 2026-11-22" in (refusal([ends], "2026-11-23") or "")


def test_order_day_is_the_later_of_placed_and_today() -> None:
    order = msgspec_order()
    assert order_day(order, "2026-11-21") == "2026-11-22"
    assert order_day(order, "2026-11-25") == "2026-11-25"


@pytest.mark.parametrize(
    ("row", "path", "words"),
    [
        (
            {"LabTestResultId": 1, "OverallPassed": True, "TestPerformedDate": "2026-10-01"},
            "$[0]",
            "PackageLabel",
        ),
        (metrc_row(1, TestPerformedDate="2026-13-01"), "$[0].TestPerformedDate", "calendar"),
        (metrc_row(1, OverallPassed="yes"), "$[0].OverallPassed", "bool"),
        ({"Lab": "x"}, "$[0]", "neither"),
    ],
)
def test_bad_lab_records_name_the_field(row: dict[str, object], path: str, words: str) -> None:
    with pytest.raises(RecordError) as err:
        parse_results(json.dumps([row]).encode())
    assert err.value.path == path and words in err.value.message


def test_a_bad_file_commits_nothing(tmp_path: Path, central: SqlStore) -> None:
    before = central.feed_keys("lab")
    bad = [metrc_row(1), metrc_row(2, ExpirationDateTime="soon")]
    with pytest.raises(BadInput, match=r"\$\[1\]\.ExpirationDateTime"):
        import_labs(central, write(tmp_path / "bad.json", bad))
    assert central.feed_keys("lab") == before == set()


@pytest.mark.slow
def test_central_import_labs_cli(tmp_path: Path) -> None:
    db = tmp_path / "central.sqlite3"
    config = tmp_path / "central.toml"
    config.write_text(f'[central]\nstore = "sqlite://{db}"\n')
    labs = write(tmp_path / "labs.json", [metrc_row(9001), metrc_row(9002, Batch="B-2")])
    cmd = [sys.executable, "-m", "edge", "central", "import", "labs", str(labs)]
    done = subprocess.run(
        [*cmd, "--config", str(config)], check=False, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert "2 labs changes committed" in done.stdout
    store = open_store(f"sqlite://{db}")
    try:
        assert store.feed_keys("lab") == {"batch:B-1", "batch:B-2"}
    finally:
        store.close()
    bad = write(tmp_path / "bad.json", [{"LabTestResultId": 1}])
    done = subprocess.run(
        [*cmd[:-1], str(bad), "--config", str(config)], check=False, capture_output=True
    )
    assert done.returncode == 2 and b"$[0]" in done.stderr
