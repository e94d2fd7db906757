"""The exit label end to end: ORDER + INVENTORY + config -> ESC/POS on a loopback printer, decoded
back to text; every required field is there, and the QR seal verifies."""

from __future__ import annotations

import json
import re
from pathlib import Path

import msgspec
import pytest

from drivers.printer.escpos_decode import DecodedJob
from drivers.printer.sim import SimPrinter
from edge.cli import run
from edge.common.errors import BadInput, ExitCode
from edge.label.content import grams, seal_code_for, seal_order_id, short_uid, verify_seal
from edge.label.inputs import load_order
from edge.scan.config import ScanConfig
from edge.workflow.ports import Order
from tests.support.printer import ORDER, profile, sample_label, write_inputs, write_station_toml

AT = "2026-11-22T20:05:00Z"


def print_label(
    tmp: Path, sim: SimPrinter, *extra: str, order: dict[str, object] | None = None
) -> int:
    order_path, inv_path = write_inputs(tmp, order)
    cfg = write_station_toml(tmp)
    return run(
        [
            "label",
            "print",
            str(order_path),
            "--inventory",
            str(inv_path),
            "--config",
            str(cfg),
            "--agent",
            "A-17",
            "--printer",
            sim.target,
            "--at",
            AT,
            *extra,
        ]
    )


def words(job: DecodedJob) -> str:
    """All printed text with line breaks turned into spaces (wrapping must not matter)."""
    return " ".join(" ".join(job.lines).split())


@pytest.mark.parametrize("width", ["80", "58"])
def test_printed_label_carries_every_required_field(tmp_path: Path, width: str) -> None:
    with SimPrinter() as sim:
        assert print_label(tmp_path, sim, "--width", width) == ExitCode.OK
        (job,) = sim.wait_for_jobs(1)
    text = words(job.decoded)
    for field in [
        "Green Leaf Dispensary",
        "License 1503060555",
        "ORDER 1042",
        "Channel: DELIVERY",
        "Customer: Ada #C-88",  # IL profile: first name + customer number
        "Date: 2026-11-22 14:05 CST (America/Chicago)",  # 20:05 UTC in the store's zone
        "Station station-07 Agent A-17",
        "Packages: 5",
    ]:
        assert field in text, field
    for uid, name, batch, measures in [
        (
            "1A4060300002C9B000012345",
            "Blue Dream 3.5g",
            "B-2291",
            "Net wt 3.50 g THC 245 mg CBD 2 mg",
        ),
        (
            "1A4060300002C9B000012347",
            "Blue Dream 3.5g",
            "B-2291",
            "Net wt 3.50 g THC 245 mg CBD 2 mg",
        ),
        (  # 3.505 g of a 454 g package of 113500 mg THC, 900 mg CBD: rounded down
            "1A4060300002C9B000012348",
            "OG Kush bulk flower",
            "B-1001",
            "Net wt 3.505 g weighed THC 876 mg CBD 6 mg",
        ),
        ("1A4060300002C9B000012349", "Sour Gummies 10x10mg", "G-0007", "THC 100 mg CBD 0 mg"),
    ]:
        assert re.search(
            rf"1 x {re.escape(name)} UID {uid} Batch {batch} Line \d {re.escape(measures)}", text
        ), uid
    for warning in profile("IL").warnings_for("exit", {"flower"}):
        assert " ".join(warning.text.split()) in text
    columns = 32 if width == "58" else 48
    for block in job.decoded.blocks:
        if hasattr(block, "size"):
            limit = columns // 2 if block.size in ("double", "wide") else columns
            assert len(block.text) <= limit, block.text
    label = sample_label(tmp_path)
    assert job.decoded.qr_payloads == [seal_code_for(label)]
    assert verify_seal(job.decoded.qr_payloads[0], label)
    assert seal_code_for(label) in text


def test_seal_code_binds_order_and_content(tmp_path: Path) -> None:
    label = sample_label(tmp_path)
    code = seal_code_for(label)
    assert re.fullmatch(ScanConfig().seal_pattern, code)
    assert seal_order_id(code) == "1042"
    assert code == seal_code_for(sample_label(tmp_path))  # deterministic
    assert verify_seal(code, label)
    assert not verify_seal(code.lower(), label)
    assert not verify_seal(code[:-1] + ("0" if code[-1] != "0" else "1"), label)
    other_agent = sample_label(tmp_path, agent="A-18")
    assert seal_code_for(other_agent) != code and not verify_seal(code, other_agent)
    changed = msgspec.structs.replace(label, items=label.items[:-1])
    assert not verify_seal(code, changed)
    assert seal_order_id("ORD-1042") is None


def test_blocked_printer_exits_4_and_prints_nothing(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with SimPrinter() as sim:
        sim.set_state(paper="end")
        assert print_label(tmp_path, sim) == ExitCode.DEVICE
        assert "out of paper" in capsys.readouterr().err
        sim.refuse()
        assert print_label(tmp_path, sim) == ExitCode.DEVICE
        assert sim.jobs == []


def test_silent_printer_prints_and_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with SimPrinter() as sim:
        sim.answer = "silent"
        assert print_label(tmp_path, sim) == ExitCode.OK
        assert "warning" in capsys.readouterr().err
        sim.wait_for_jobs(1)


def test_unpicked_line_or_unknown_package_is_bad_input(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    unpicked = json.loads(json.dumps(ORDER))
    del unpicked["lines"][1]["picked"]
    with SimPrinter() as sim:
        assert print_label(tmp_path, sim, order=unpicked) == ExitCode.USAGE
        assert "line 2: no picked package" in capsys.readouterr().err
        unknown = json.loads(json.dumps(ORDER))
        unknown["lines"][0]["uid"] = "1A4000000000000000000000"
        assert print_label(tmp_path, sim, order=unknown) == ExitCode.USAGE
        assert "1A4000000000000000000000 is not in inventory" in capsys.readouterr().err
        short = json.loads(json.dumps(ORDER))
        short["lines"][1]["picked"] = short["lines"][1]["picked"][:1]
        assert print_label(tmp_path, sim, order=short) == ExitCode.USAGE
        assert "1 packages picked, 2 ordered" in capsys.readouterr().err
        assert sim.jobs == []


def test_malformed_order_names_the_field(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = json.loads(json.dumps(ORDER))
    bad["channel"] = "drone"
    with SimPrinter() as sim:
        assert print_label(tmp_path, sim, order=bad) == ExitCode.USAGE
    err = capsys.readouterr().err
    assert "not a valid ORDER.json" in err and "$.channel" in err


def test_order_json_is_the_workflows_order_with_its_picks(tmp_path: Path) -> None:
    order_path, _ = write_inputs(tmp_path)
    order = load_order(order_path)
    assert isinstance(order, Order)  # one order model: the workflow's
    assert order.lines[1].picked == ORDER["lines"][1]["picked"]  # type: ignore[index]
    for key, value, where in (
        ("quantity", 0, "$.lines[0].quantity"),
        ("line", 0, "$.lines[0].line"),
        ("labelled_weight_mg", -1, "$.lines[0].labelled_weight_mg"),
    ):
        bad = json.loads(json.dumps(ORDER))
        bad["lines"][0][key] = value
        write_inputs(tmp_path, bad)
        with pytest.raises(BadInput, match=re.escape(where)):
            load_order(order_path)
    for key, empty in (("lines", []), ("order_id", "")):
        write_inputs(tmp_path, {**ORDER, key: empty})
        with pytest.raises(BadInput, match=re.escape("not a valid ORDER.json: ")) as err:
            load_order(order_path)
        assert f"$.{key}" in str(err.value)


def test_jurisdiction_without_warning_text_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    order_path, inv_path = write_inputs(tmp_path)
    cfg = write_station_toml(tmp_path)
    cfg.write_text(cfg.read_text().replace('jurisdiction = "IL"', 'jurisdiction = "ZZ"'))
    code = run(
        [
            "label",
            "preview",
            str(order_path),
            "--inventory",
            str(inv_path),
            "--config",
            str(cfg),
            "--out",
            str(tmp_path / "x.png"),
        ]
    )
    assert code == ExitCode.CONFIG
    assert "no label profile for jurisdiction ZZ" in capsys.readouterr().err
    assert not (tmp_path / "x.png").exists()


@pytest.mark.parametrize(
    ("mg", "text"),
    [
        (3500, "3.50 g"),
        (3505, "3.505 g"),
        (0, "0.00 g"),
        (28350, "28.35 g"),
        (999, "0.999 g"),
        (1000, "1.00 g"),
    ],
)
def test_grams_are_formatted_from_integer_mg(mg: int, text: str) -> None:
    assert grams(mg) == text


def test_short_uid() -> None:
    assert short_uid("1A4060300002C9B000010128") == "1A4...0128"


def test_label_status_command(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    with SimPrinter() as sim:
        assert run(["label", "status", "--printer", sim.target]) == ExitCode.OK
        assert capsys.readouterr().out.strip().endswith(": ok")
        sim.set_state(cover_open=True)
        assert run(["label", "status", "--printer", sim.target, "--json"]) == ExitCode.DEVICE
        status = json.loads(capsys.readouterr().out)
        assert status["state"] == "cover_open" and status["cover_open"] is True
        sim.answer = "silent"
        assert run(["label", "status", "--printer", sim.target]) == ExitCode.DEVICE
        assert "unknown" in capsys.readouterr().out
        sim.refuse()
        assert run(["label", "status", "--printer", sim.target]) == ExitCode.DEVICE
