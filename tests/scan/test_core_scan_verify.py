"""Scan verdicts against an order: the OrderCheck session, edge.scan.verify and `packstation verify`."""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
from pathlib import Path
from typing import Any, get_args

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge._core import (
    Inventory,
    OrderCheck,
    OrderFormatError,
    RestoreError,
    retail_id_url,
)
from edge.cli import run
from edge.scan.gs1 import Gs1Reader
from edge.scan.verify import open_order_check, order_json, store_today, verify_scan
from edge.station.config import StationConfig, load_station_config
from edge.workflow.ports import Order, Pick, VerdictName
from tests.support.core_scan import TODAY, dump, order, package, write_json

P = "1A4060300002C9B0000"
OLD, NEW, B2 = P + "10001", P + "10002", P + "10003"  # FLW-BD-35: B-1 old, B-1 new, B-2
NAMED = P + "20001"  # PRE-RL-1 named by uid
HOLD, EXPIRED, UNTESTED = P + "30001", P + "30002", P + "30003"  # EDB-GUM-10
OTHER = P + "40001"  # TOP-BALM, in no line

# The names the workflow knows (edge.workflow.ports.VerdictName); the core must emit only these.
VERDICTS = set(get_args(VerdictName))
INVENTORY = [
    package(OLD, PackagedDate="2026-08-01"),
    package(NEW, PackagedDate="2026-09-30"),
    package(B2, batch="B-2", PackagedDate="2026-07-01"),
    package(NAMED, sku="PRE-RL-1", batch="P-1"),
    package(HOLD, sku="EDB-GUM-10", batch="G-1", IsOnHold=True),
    package(EXPIRED, sku="EDB-GUM-10", batch="G-1", ExpirationDate="2026-11-21"),
    package(UNTESTED, sku="EDB-GUM-10", batch="G-1", LabTestingState="SubmittedForTesting"),
    package(OTHER, sku="TOP-BALM", batch="T-1"),
]
ORDER = order(
    {"uid": NAMED},
    {"sku": "FLW-BD-35", "batch": "B-1", "quantity": 2},
    {"sku": "EDB-GUM-10", "quantity": 1},
)


@pytest.fixture(scope="module")
def inventory() -> Inventory:
    return Inventory.from_json(dump({"Data": INVENTORY}))


def session(inventory: Inventory, fifo: str = "warn", obj: dict[str, Any] = ORDER) -> OrderCheck:
    return OrderCheck(dump(obj), inventory, TODAY, fifo=fifo)


def test_scan_parts_answers_as_scan_does(inventory: Inventory) -> None:
    """The station's one-tuple answer (verify_scan) holds the Verdict's fields, scan by scan,
    in two sessions fed the same scans (every verdict kind, a GS1 code, a Retail ID's unit)."""
    by_verdict, by_parts = session(inventory), session(inventory)
    scans = [NAMED, NAMED, B2, OTHER, P + "99999", OLD[:-2] + OLD[-1] + OLD[-2], NEW, HOLD]
    gs1 = "]C1010950110153000317140704\x1d10AB-123"
    scans += [EXPIRED, "hello there", "", gs1, retail_id_url(OLD, 3), OLD, OLD]
    for raw in scans:
        v = by_verdict.scan(raw)
        fields = (v.verdict, v.reason, v.line, v.tag, v.candidates, v.kind, v.unit, v.accepted)
        assert by_parts.scan_parts(raw) == fields, raw
    assert by_parts.picks() == by_verdict.picks() and len(by_parts.picks()) >= 3


def test_every_verdict_with_its_line_and_reason(inventory: Inventory) -> None:
    check = session(inventory)
    steps = [
        (NAMED.lower(), "match", 1),
        (NAMED, "duplicate", 1),
        (B2, "wrong_batch", 2),
        (OTHER, "not_in_order", None),
        (P + "99999", "unknown", None),
        (OLD[:-2] + OLD[-1] + OLD[-2], "near_miss", 2),  # swapped last two digits
        (NEW, "fifo", 2),  # OLD is older: accepted with a warning
        (HOLD, "on_hold", 3),
        (EXPIRED, "expired", 3),
        (UNTESTED, "not_tested", 3),
        ("hello there", "malformed", None),
        (OLD, "match", 2),
    ]
    for raw, verdict, line in steps:
        v = check.scan(raw)
        assert (v.verdict, v.line) == (verdict, line), (raw, v.reason)
        assert v.reason.endswith(".") and v.reason.count(". ") == 0, v.reason  # one sentence
    assert check.progress() == [(1, 1, [NAMED]), (2, 2, [NEW, OLD]), (3, 1, [])]
    assert not check.complete


def test_candidates_say_what_to_pick(inventory: Inventory) -> None:
    check = session(inventory)
    assert check.scan(B2).candidates == [OLD, NEW]  # right batch, oldest first
    near = check.scan(OLD[:-2] + OLD[-1] + OLD[-2])
    assert near.candidates[0] == OLD
    assert B2 not in near.candidates  # the line fixed batch B-1
    fifo = check.scan(NEW)
    assert (fifo.verdict, fifo.accepted, fifo.candidates) == ("fifo", True, [OLD])


def test_fifo_refuse_does_not_count_the_package(inventory: Inventory) -> None:
    check = session(inventory, fifo="refuse")
    v = check.scan(NEW)
    assert (v.verdict, v.accepted) == ("fifo", False)
    assert OLD in v.reason
    assert check.scan(OLD).verdict == "match"
    assert check.scan(NEW).verdict == "match"  # nothing older is left


def test_retail_id_units(inventory: Inventory) -> None:
    check = session(inventory, fifo="off")
    first, second = retail_id_url(OLD, 1), retail_id_url(OLD, 2, base36=False)
    assert check.scan(first).verdict == "match"
    assert check.scan(first).verdict == "duplicate"
    v = check.scan(second)
    assert (v.verdict, v.tag, v.unit, v.kind) == ("match", OLD, 2, "retail_id")


def test_resume_after_a_power_cut(inventory: Inventory) -> None:
    scans = [NAMED, B2, NEW, "junk", OLD]
    before = session(inventory)
    verdicts = [before.scan(s) for s in scans]
    # Replaying the journalled raw scans gives the same verdicts and state.
    replayed = session(inventory)
    assert [v.verdict for v in replayed.replay(scans)] == [v.verdict for v in verdicts]
    assert replayed.progress() == before.progress()
    # Restoring only the accepted picks does not judge them again.
    restored = session(inventory)
    restored.restore([(raw, line) for raw, _, _, line in before.picks()])
    assert restored.progress() == before.progress()
    assert restored.scan(OLD).verdict == "duplicate"
    with pytest.raises(RestoreError, match="line 2 is already complete"):
        restored.restore([(OLD, 2)])
    with pytest.raises(RestoreError, match="already picked for line 2"):
        session(inventory).restore([(OLD, 2), (retail_id_url(OLD, 4), 2)])
    with pytest.raises(RestoreError, match="no line 9"):
        session(inventory).restore([(OLD, 9)])


def test_picked_in_the_order_file_counts(inventory: Inventory) -> None:
    obj = order({"sku": "FLW-BD-35", "quantity": 2, "picked": [OLD]})
    check = session(inventory, obj=obj)
    assert check.scan(OLD).verdict == "duplicate"
    with pytest.raises(RestoreError, match="does not belong"):
        session(inventory, obj=order({"sku": "FLW-BD-35", "picked": [OTHER]}))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"{", "EOF"),
        (dump({"order_id": "1", "lines": []}), '"lines" is empty'),
        (dump(order({"uid": OLD, "sku": "X"})), "not both"),
    ],
)
def test_bad_orders(inventory: Inventory, text: bytes, message: str) -> None:
    with pytest.raises(OrderFormatError, match=message):
        OrderCheck(text, inventory, TODAY)


def test_bad_options(inventory: Inventory) -> None:
    with pytest.raises(ValueError, match="YYYY-MM-DD"):
        OrderCheck(dump(ORDER), inventory, "22/11/2026")
    with pytest.raises(ValueError, match="fifo"):
        OrderCheck(dump(ORDER), inventory, TODAY, fifo="sometimes")


def test_gs1_codes_are_parsed_by_biip(inventory: Inventory) -> None:
    check = open_order_check(dump(ORDER), inventory, StationConfig(), today=TODAY)
    good = verify_scan(check, "]C1010950110153000317140704\x1d10AB-123")
    assert (good.verdict, good.kind) == ("unknown", "gs1")
    assert good.gs1 is not None and (good.gs1.gtin, good.gs1.batch) == ("09501101530003", "AB-123")
    assert "GTIN 09501101530003" in good.reason
    bad = verify_scan(check, "]C10109501101530004")  # wrong GTIN check digit
    assert bad.verdict == "malformed" and "check digit" in bad.reason


def test_store_today_uses_the_store_time_zone() -> None:
    late = dt.datetime(2026, 11, 23, 3, 0, tzinfo=dt.UTC)  # 21:00 the day before in Chicago
    config = StationConfig()
    assert store_today(config, late) == "2026-11-22"
    utc = load_station_config(None)
    utc.verify.date_basis = "utc"
    assert store_today(utc, late) == "2026-11-23"


# --- the command line -------------------------------------------------------------------------


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    return (
        write_json(tmp_path / "ORDER.json", ORDER),
        write_json(tmp_path / "INVENTORY.json", {"Data": INVENTORY}),
    )


def verify(files: tuple[Path, Path], *scans: str, extra: tuple[str, ...] = ()) -> list[str]:
    order_path, inv_path = files
    return [
        "verify",
        "--order",
        str(order_path),
        "--inventory",
        str(inv_path),
        "--today",
        TODAY,
        *extra,
        *scans,
    ]


def test_cli_all_matches_exit_0(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(verify(files, NAMED, OLD, NEW, HOLD.replace("30001", "30009"))) == 3
    capsys.readouterr()
    assert run(verify(files, NAMED, OLD)) == 0
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(d["scan"], d["verdict"], d["line"]) for d in lines] == [
        (NAMED, "match", 1),
        (OLD, "match", 2),
    ]
    assert {"scan", "verdict", "line", "reason", "candidates"} <= set(lines[0])


def test_cli_prints_a_gs1_scan_with_its_fields(
    files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(verify(files, "]C1010950110153000317140704\x1d10AB-123\x1d21S-9", OLD)) == 3
    gs1, tag = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert list(gs1) == [
        "scan",
        "verdict",
        "line",
        "reason",
        "candidates",
        "kind",
        "tag",
        "unit",
        "accepted",
        "gs1",
    ]
    assert (gs1["verdict"], gs1["kind"], gs1["tag"], gs1["accepted"]) == (
        "unknown",
        "gs1",
        None,
        False,
    )
    assert gs1["gs1"] == {
        "elements": {"01": "09501101530003", "17": "140704", "10": "AB-123", "21": "S-9"},
        "gtin": "09501101530003",
        "batch": "AB-123",
        "expiry": "2014-07-04",
        "serial": "S-9",
    }
    assert (tag["scan"], tag["tag"], tag["gs1"], tag["accepted"]) == (OLD, OLD, None, True)


def test_order_json_carries_the_picks_to_the_core(inventory: Inventory) -> None:
    port = msgspec.convert(ORDER, Order)
    picks = [Pick(line=2, uid=OLD, raw=OLD)]
    check = open_order_check(
        order_json(port.with_picks(picks)), inventory, StationConfig(), today=TODAY
    )
    assert check.progress() == [(1, 1, []), (2, 2, [OLD]), (3, 1, [])]
    assert check.scan(OLD).verdict == "duplicate"
    assert json.loads(order_json(port)) == {
        "order_id": "1042",
        "channel": "pickup",
        "customer": {"id": "C-88", "name": "Ada L.", "class": "adult"},
        "lines": [
            {"line": 1, "quantity": 1, "uid": NAMED},
            {"line": 2, "quantity": 2, "sku": "FLW-BD-35", "batch": "B-1"},
            {"line": 3, "quantity": 1, "sku": "EDB-GUM-10"},
        ],
    }


def test_order_check_takes_the_aim_id_apart(inventory: Inventory) -> None:
    check = open_order_check(dump(ORDER), inventory, StationConfig(), today=TODAY)
    gs1 = check.scan("0109501101530003", "]C1")  # 16 digits after ]C1: (01) + GTIN
    assert (gs1.scan, gs1.kind, gs1.verdict) == ("0109501101530003", "gs1", "unknown")
    tag = check.scan(OLD.lower(), "]Q1")
    assert (tag.scan, tag.kind, tag.tag, tag.verdict) == (OLD.lower(), "metrc_tag", OLD, "match")
    assert check.picks() == [(OLD.lower(), OLD, None, 2)]


def test_gs1_ambiguity_and_substitutes_reach_the_verdict(inventory: Inventory) -> None:
    config = StationConfig()
    check = open_order_check(dump(ORDER), inventory, config, today=TODAY)
    lost = verify_scan(check, "0109501101530003" + "10ABCD1234" + "029" + "2110", "]d2")
    assert lost.verdict == "malformed" and "ambiguous GS1 data" in lost.reason
    bracket = "0109501101530003" + "10AB" + "]" + "2110"
    assert "gs_substitutes" in verify_scan(check, bracket, "]d2").reason
    read = verify_scan(check, bracket, "]d2", Gs1Reader(["]"]))
    assert read.verdict == "unknown" and read.gs1 is not None and read.gs1.serial == "10"


def test_cli_refusal_exit_3(files: tuple[Path, Path], capsys: pytest.CaptureFixture[str]) -> None:
    assert run(verify(files, OLD, B2)) == 3
    out = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [d["verdict"] for d in out] == ["match", "wrong_batch"]
    assert out[1]["candidates"] == [NEW]


def test_cli_fifo_policy_from_config(files: tuple[Path, Path], tmp_path: Path) -> None:
    assert run(verify(files, NEW)) == 0  # embedded default: warn
    cfg = tmp_path / "station.toml"
    cfg.write_text('[verify]\nfifo = "refuse"\n')
    assert run(verify(files, NEW, extra=("--config", str(cfg)))) == 3


def test_cli_bad_files_exit_2(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    order_path, inv_path = files
    broken = tmp_path / "broken.json"
    broken.write_text('[{"Label": "A", "Sku": "s"}]')
    assert run(["verify", "--order", str(order_path), "--inventory", str(broken), OLD]) == 2
    assert f"{broken}: package #1 (Label A)" in capsys.readouterr().err
    assert run(["verify", "--order", str(inv_path), "--inventory", str(inv_path), OLD]) == 2
    assert "order_id" in capsys.readouterr().err
    assert (
        run(["verify", "--order", str(tmp_path / "none.json"), "--inventory", str(inv_path), OLD])
        == 2
    )
    assert "cannot read" in capsys.readouterr().err


def test_cli_bad_tag_pattern_exit_78(
    files: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = tmp_path / "station.toml"
    cfg.write_text('[scan]\ntag_patterns = ["^1A4[0-9"]\n')
    assert run(verify(files, OLD, extra=("--config", str(cfg)))) == 78
    assert "[scan] tag_patterns" in capsys.readouterr().err


def test_cli_reads_scans_from_stdin(files: tuple[Path, Path]) -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "edge", *verify(files, "-")],
        input=f"{NAMED}\n{OLD}\r\n",
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert [json.loads(line)["verdict"] for line in proc.stdout.splitlines()] == ["match", "match"]


@settings(max_examples=150)
@given(
    st.lists(
        st.text(max_size=40) | st.sampled_from([OLD, NEW, B2, NAMED, HOLD, "]C1" + OLD]), max_size=8
    )
)
def test_any_scan_gets_a_verdict(scans: list[str]) -> None:
    check = OrderCheck(dump(ORDER), Inventory.from_json(dump(INVENTORY)), TODAY)
    for raw in scans:
        v = check.scan(raw)
        assert v.verdict in VERDICTS and v.reason
        assert v.accepted == (v.verdict in {"match", "fifo"})
    wanted = {line: qty for line, qty, _ in check.progress()}
    assert all(len(tags) <= wanted[line] for line, _, tags in check.progress())


@settings(max_examples=100)
@given(
    st.one_of(
        st.binary(max_size=80), st.dictionaries(st.text(max_size=8), st.text(max_size=8)).map(dump)
    )
)
def test_garbage_orders_raise_named_errors(data: bytes) -> None:
    inv = Inventory.from_json(dump(INVENTORY))
    with pytest.raises(OrderFormatError):
        OrderCheck(data, inv, TODAY)
