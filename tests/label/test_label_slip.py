"""Discrepancy slips and the asyncio print API the station daemon calls."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pytest

from drivers.printer.sim import SimPrinter
from edge.cli import run
from edge.common.errors import ExitCode
from edge.label.content import HaltSlip, StationInfo, build_slip, seal_code_for, short_uid
from edge.label.jobs import label_job_id, slip_job_id
from edge.label.layout import layout_slip
from edge.label.preview import render_document
from edge.label.slips import SlipContext
from edge.workflow.ports import HaltInfo
from tests.support.printer import sample_label

UID = "1A4060300002C9B000010128"
SLIP = HaltSlip(
    order_id="1042",
    code="wrong_batch",
    what_happened=f"Scanned {short_uid(UID)}: order 1042 line 2 needs batch B-2291; this package "
    "is batch B-2290.",
    what_to_do=("Put it back.", "Scan the package from batch B-2291."),
    scanned=UID,
    order_line=2,
    station_id="station-07",
    agent_id="A-17",
    at="2026-11-22T14:07:00-06:00",
    timezone="America/Chicago",
)


@pytest.mark.parametrize("width", [58, 80])
def test_slip_says_what_went_wrong_and_what_to_do(width: int) -> None:
    doc = layout_slip(SLIP, width)  # type: ignore[arg-type]
    rendered = render_document(doc)
    text = " ".join(" ".join(rendered.lines).split())
    assert "STOP - ORDER HALTED" in text
    assert "Order 1042 line 2" in text and "Reason: wrong_batch" in text
    assert (
        "What happened: Scanned 1A4...0128: order 1042 line 2 needs batch B-2291; this package "
        "is batch B-2290." in text
    )
    assert "What to do: 1. Put it back. 2. Scan the package from batch B-2291." in text
    assert "A supervisor badge clears this." in text
    assert f"Scanned: {UID}" in text
    assert "2026-11-22 14:07 CST Station station-07 Agent A-17" in text
    assert all(len(line) <= (32 if width == 58 else 48) for line in rendered.lines)
    assert rendered.qr_boxes == []


STATION = StationInfo(
    dispensary_name="Example Dispensary",
    license_number="LIC-1",
    jurisdiction="IL",
    timezone="America/Chicago",
    station_id="station-07",
)


def test_a_halt_becomes_a_slip_in_the_stores_time() -> None:
    halt = HaltInfo(
        code="near_miss",
        reason="Scanned 1A4...0129: not in the vault inventory.",
        raw=UID[:-1] + "9",
        line=2,
        candidates=[f"1A4...012{i}" for i in range(7)],
    )
    at = datetime(2026, 11, 22, 20, 7, tzinfo=UTC)
    slip = build_slip("1042", halt, STATION, "A-17", at)
    assert slip.at == "2026-11-22T14:07:00-06:00" and slip.timezone == "America/Chicago"
    assert slip.scanned == UID[:-1] + "9" and slip.order_line == 2
    assert slip.what_happened.endswith("Scanned 1A4...0129: not in the vault inventory.")
    # at most five candidates, named on the slip
    assert "1A4...0120, 1A4...0121, 1A4...0122, 1A4...0123, 1A4...0124." in slip.what_to_do[0]
    assert "0125" not in " ".join(slip.what_to_do)
    # no raw scan: the slip names the package's UID
    bare = build_slip(
        "1042", HaltInfo(code="over_weight", reason="Too heavy.", uid=UID), STATION, "A-17", at
    )
    assert bare.scanned == UID and bare.what_to_do[0].startswith("Take product out")
    assert bare.order_line is None


def test_wrong_batch_slip_says_where_the_right_batch_is() -> None:
    halt = HaltInfo(code="wrong_batch", reason="Batch B-2290, not B-2304.", uid=UID, line=2)
    ctx = SlipContext(
        product="Blue Dream 3.5g", location="V1-S4", want_batch="B-2304", want_location="V3-S2"
    )
    slip = build_slip("1042", halt, STATION, "A-17", datetime(2026, 11, 22, tzinfo=UTC), ctx)
    assert slip.what_to_do[0] == "Put Blue Dream 3.5g back at V1-S4."
    assert "pick batch B-2304 from location V3-S2 and scan it." in slip.what_to_do[2]
    assert slip.product == "Blue Dream 3.5g" and slip.location == "V1-S4"
    text = " ".join(render_document(layout_slip(slip, 58)).lines)
    assert "Product: Blue Dream 3.5g" in text and "Location: V1-S4" in text


def test_over_limit_slip_says_only_cancelling_works() -> None:
    halt = HaltInfo(code="over_limit", reason="flower 31000 mg of 30000 mg")
    slip = build_slip("1042", halt, STATION, "A-17", datetime(2026, 11, 22, tzinfo=UTC))
    assert "cannot be cleared" in slip.clears and "scan the order ticket to cancel" in slip.clears
    assert "badge again" not in slip.clears


def test_job_ids_come_from_the_content(tmp_path: Path) -> None:
    label = sample_label(tmp_path)
    assert label_job_id(label) == f"label-{seal_code_for(label)}"
    assert label_job_id(label, reprint=1) == f"label-{seal_code_for(label)}-r1"
    same = msgspec.json.decode(msgspec.json.encode(SLIP), type=HaltSlip)
    assert slip_job_id(SLIP) == slip_job_id(same) and slip_job_id(SLIP).startswith("slip-1042-")
    other = msgspec.structs.replace(SLIP, what_happened="Scanned something else.")
    assert slip_job_id(other) != slip_job_id(SLIP)


def test_slip_command_previews_and_prints(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    slip_path = tmp_path / "slip.json"
    slip_path.write_bytes(msgspec.json.encode(SLIP))
    out = tmp_path / "slip.png"
    with SimPrinter() as sim:
        code = run(
            [
                "label",
                "slip",
                str(slip_path),
                "--out",
                str(out),
                "--printer",
                sim.target,
                "--width",
                "58",
            ]
        )
        assert code == ExitCode.OK
        (job,) = sim.wait_for_jobs(1)
    assert out.exists()
    assert "A supervisor badge clears this." in " ".join(job.decoded.lines)
    assert all(len(line) <= 32 for line in job.decoded.lines)
    slip_path.write_text('{"order_id": "1042"}')
    assert run(["label", "slip", str(slip_path), "--out", str(out)]) == ExitCode.USAGE
    assert "not a valid SLIP.json" in capsys.readouterr().err
    assert run(["label", "slip", str(slip_path)]) == ExitCode.USAGE


def test_queue_command_lists_waiting_jobs(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from drivers.printer.spool import Spool
    from tests.support.printer import write_station_toml

    cfg = write_station_toml(tmp_path)
    assert run(["label", "queue", "--config", str(cfg)]) == ExitCode.OK
    assert "no spool" in capsys.readouterr().out
    spool = Spool(tmp_path / "state" / "print-spool.sqlite3")
    spool.add("label-SEAL-1042-0123456789ABCDEF", "label", "label 1042", b"x")
    spool.mark_attempt("label-SEAL-1042-0123456789ABCDEF")
    spool.mark_failed("label-SEAL-1042-0123456789ABCDEF", "The printer is out of paper.")
    spool.add("slip-1042-ab", "slip", "", b"y")
    spool.mark_printed("slip-1042-ab")
    spool.close()
    assert run(["label", "queue", "--config", str(cfg)]) == ExitCode.OK
    out = capsys.readouterr().out
    assert "label-SEAL-1042-0123456789ABCDEF  label  queued  attempts=1" in out
    assert "out of paper" in out and "slip-1042-ab" not in out and "1 job(s) waiting" in out
