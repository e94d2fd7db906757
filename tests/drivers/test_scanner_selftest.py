"""`scan selftest`: the label reaches a TCP printer; read-back diffs name the wrong layout."""

from __future__ import annotations

import json
import socket
import threading
from pathlib import Path

import pytest

from drivers.config import ScannerConfig
from drivers.scanner import selftest
from drivers.scanner.events import Scan
from drivers.scanner.keystrokes import decode_events, events_for
from edge.cli import run
from edge.cli.cmd_scan import scan_json
from edge.scan.classify import Classifier


def scanned(scanner_layout: str, host_layout: str, **kw: object) -> list[Scan]:
    """The label's barcodes scanned in order by a scanner set to `scanner_layout`."""
    out: list[Scan] = []
    for item in selftest.items():
        events = events_for(item.expected, layout_name=scanner_layout, aim_id=item.aim_id, **kw)  # type: ignore[arg-type]
        out += [
            s
            for s in decode_events(events, ScannerConfig(layout=host_layout))
            if isinstance(s, Scan)
        ]  # type: ignore[arg-type]
    return out


def test_label_holds_every_printable_ascii_character_and_a_gs1_separator() -> None:
    joined = "".join(i.expected for i in selftest.items() if i.aim_id == "]C0")
    assert joined == "".join(chr(c) for c in range(0x20, 0x7F))
    assert "\x1d" in selftest.items()[-1].expected


def test_matching_layout_passes() -> None:
    report = selftest.compare(scanned("us", "us"), "us")
    assert report.ok, report.lines()
    assert report.lines()[-1] == "self-test passed"


@pytest.mark.parametrize(
    ("scanner", "host"), [("de", "us"), ("fr", "us"), ("us", "de"), ("gb", "us"), ("be", "fr")]
)
def test_wrong_layout_is_named(scanner: str, host: str) -> None:
    report = selftest.compare(scanned(scanner, host), host)
    assert not report.ok
    assert report.likely_layout == scanner
    assert any(f'layout = "{scanner}"' in line for line in report.lines())


def test_german_scanner_on_us_host_reports_y_z_swap() -> None:
    report = selftest.compare(scanned("de", "us"), "us")
    table = next(line for line in report.lines() if "read wrong" in line)
    assert "'y' reads as 'z'" in table
    assert "'z' reads as 'y'" in table
    assert "'a' reads" not in table
    letters = next(r for r in report.results if "DEF" in r.item.expected)
    assert letters.diffs == ["position 1: ']' missing"]  # ']' is AltGr+9 in German: lost


@pytest.mark.parametrize(
    ("gs_mode", "phrase"),
    [("digits", "029"), ("drop", "not sent at all"), ("substitute", "missing")],
)
def test_separator_problems_are_explained(gs_mode: str, phrase: str) -> None:
    report = selftest.compare(scanned("us", "us", gs_mode=gs_mode), "us")
    assert not report.ok
    gs1 = report.results[-1]
    assert any(phrase in d for d in gs1.diffs)


def test_configured_substitute_passes() -> None:
    scans = scanned("us", "us", gs_mode="substitute", substitute="~")
    assert selftest.compare(scans, "us", ["~"]).ok


def test_missing_aim_and_missing_scans_are_reported() -> None:
    scans = []
    for item in selftest.items()[:3]:
        scans += [s for s in decode_events(events_for(item.expected)) if isinstance(s, Scan)]
    report = selftest.compare(scans + scans[-1:], "us")  # the last one read twice
    lines = report.lines()
    assert sum("not scanned" in line for line in lines) == len(selftest.items()) - 3
    assert any("AIM" in line for line in lines)


def test_char_diffs_positions() -> None:
    assert selftest.char_diffs("abc", "abd") == ["position 3: expected 'c', got 'd'"]
    assert selftest.char_diffs("abc", "ac") == ["position 2: 'b' missing"]
    assert selftest.char_diffs("a\x1db", "a029b") == ["position 2: expected '<GS>', got '029'"]


class Printer:
    """A TCP 'printer' on 127.0.0.1 that records the bytes of one connection."""

    def __init__(self) -> None:
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.port = self.sock.getsockname()[1]
        self.data = b""
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        self.sock.settimeout(10)
        conn, _ = self.sock.accept()
        with conn:
            conn.settimeout(10)
            while chunk := conn.recv(65536):
                self.data += chunk

    def wait(self) -> bytes:
        self.thread.join(10)
        self.sock.close()
        return self.data


def test_selftest_prints_the_label_to_a_tcp_printer(tmp_path: Path) -> None:
    printer = Printer()
    config = tmp_path / "station.toml"
    config.write_text("[printer]\npaper_width_mm = 58\n")
    rc = run(
        [
            "scan",
            "selftest",
            "--config",
            str(config),
            "--print-only",
            "--printer",
            f"tcp://127.0.0.1:{printer.port}",
        ]
    )
    assert rc == 0
    data = printer.wait()
    assert data == selftest.build_label(58)
    assert b"packstation scanner self-test" in data
    assert b"\x1dk" in data  # GS k: the printer draws the barcodes itself
    assert b"{B{101095011010209171719050810ABCD1234{12110" in data  # FNC1 as separator
    assert data.endswith(b"\x1dV\x00")  # cut


def test_selftest_printer_refused_is_a_device_error(capsys: pytest.CaptureFixture[str]) -> None:
    with socket.create_server(("127.0.0.1", 0)) as s:
        port = s.getsockname()[1]
    rc = run(["scan", "selftest", "--print-only", "--printer", f"tcp://127.0.0.1:{port}"])
    assert rc == 4
    assert "cannot open printer" in capsys.readouterr().err


def test_selftest_bad_target_is_bad_usage(capsys: pytest.CaptureFixture[str]) -> None:
    rc = run(["scan", "selftest", "--print-only", "--printer", "lpt1"])
    assert rc == 2
    assert "unknown printer target" in capsys.readouterr().err


def test_listen_reports_absent_scanner_as_json(capsys: pytest.CaptureFixture[str]) -> None:
    rc = run(
        [
            "scan",
            "listen",
            "--device",
            "/dev/input/by-id/no-such-scanner",
            "--count",
            "1",
            "--timeout",
            "0.3",
        ]
    )
    assert rc == 4
    first = json.loads(capsys.readouterr().out.splitlines()[0])
    assert first["type"] == "device_state"
    assert first["state"] == "unplugged"


def test_listen_without_scanner_is_a_config_error(tmp_path: Path) -> None:
    config = tmp_path / "station.toml"
    config.write_text("")
    assert run(["scan", "listen", "--config", str(config)]) == 78


def test_listen_json_line_carries_the_classification() -> None:
    (scan,) = decode_events(events_for("0109501101020917\x1d10AB", aim_id="]C1"))
    line = json.loads(scan_json(scan, Classifier()))
    assert line["type"] == "scan"
    assert line["text"] == "0109501101020917\x1d10AB"
    assert line["aim_id"] == "]C1"
    assert line["kind"]["type"] == "gs1"
    assert line["kind"]["gtin"] == "09501101020917"
