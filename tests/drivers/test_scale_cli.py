"""`packstation scale read`: JSON on a stable weight (0), the reason when none (4), usage (2)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from drivers.scale.sim import SimScale
from edge.cli import run
from edge.common.errors import ExitCode


def read(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "edge", "scale", "read", *args],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )


def fast_config(tmp_path: Path) -> str:
    path = tmp_path / "station.toml"
    path.write_text(
        "[scale]\npoll_interval_ms = 10\ntimeout_ms = 300\nstable_readings = 3\n"
        "stable_window_ms = 30\n"
    )
    return str(path)


def test_stable_weight_prints_one_json_line(tmp_path: Path) -> None:
    with SimScale("mt-sics", weight_mg=3500) as sim:
        out = read("--port", sim.port, "--protocol", "mt-sics", "--config", fast_config(tmp_path))
    assert out.returncode == ExitCode.OK, out.stderr
    (line,) = out.stdout.splitlines()
    assert json.loads(line) == {
        "net_mg": 3500,
        "unit": "g",
        "stable": True,
        "raw": "S S       3.50 g",
        "division_mg": 10,
        "mode": None,
    }


def test_default_settings_and_protocol_framing(capsys: pytest.CaptureFixture[str]) -> None:
    with SimScale("toledo-8217", unit="lb", decimals=2, weight_mg=453_592) as sim:
        code = run(["scale", "read", "--port", sim.port, "--protocol", "toledo-8217"])
    assert code == ExitCode.OK
    got = json.loads(capsys.readouterr().out)
    assert (got["net_mg"], got["unit"], got["division_mg"]) == (453_592, "lb", 4536)


@pytest.mark.parametrize(
    ("fault", "reason"),
    [("motion", "(motion)"), ("overload", "(overload)"), ("stall", "(timeout)")],
)
def test_no_stable_weight_exits_4_with_the_reason(tmp_path: Path, fault: str, reason: str) -> None:
    with SimScale("st-us", weight_mg=3500) as sim:
        if fault == "stall":
            sim.set_stalled(True)
        else:
            getattr(sim, f"set_{fault}")(True)
        out = read(
            "--port", sim.port, "--protocol", "st-us", "--timeout", "0.8",
            "--config", fast_config(tmp_path),
        )  # fmt: skip
    assert out.returncode == ExitCode.DEVICE
    assert out.stdout == ""
    assert f"packstation: no stable weight {reason}" in out.stderr


def test_error_reply_exits_4(tmp_path: Path) -> None:
    with SimScale("mt-sics", weight_mg=3500) as sim:
        sim.set_error_reply(b"EL\r\n")
        out = read("--port", sim.port, "--protocol", "mt-sics", "--timeout", "0.5")
    assert out.returncode == ExitCode.DEVICE
    assert "(error)" in out.stderr and "logical error" in out.stderr


def test_missing_port_exits_4_at_once(tmp_path: Path) -> None:
    missing = str(tmp_path / "usb-none")
    out = read("--port", missing, "--protocol", "ohaus", "--timeout", "30")
    assert out.returncode == ExitCode.DEVICE
    assert "(disconnected)" in out.stderr and missing in out.stderr


@pytest.mark.parametrize(
    "args",
    [
        ["--port", "/dev/null", "--protocol", "adam"],
        ["--port", "/dev/null"],
        ["--protocol", "mt-sics"],
        ["--port", "/dev/null", "--protocol", "mt-sics", "--baud", "9601"],
        ["--port", "/dev/null", "--protocol", "mt-sics", "--timeout", "0"],
        ["--port", "/dev/null", "--protocol", "mt-sics", "--timeout", "soon"],
    ],
)
def test_bad_arguments_exit_2(args: list[str]) -> None:
    out = read(*args)
    assert out.returncode == ExitCode.USAGE
    assert "usage:" in out.stderr


def test_bad_config_file_exits_78(tmp_path: Path) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text("[scale]\nstable_readings = 0\n")
    out = read("--port", "/dev/null", "--protocol", "mt-sics", "--config", str(bad))
    assert out.returncode == ExitCode.CONFIG
    assert "[scale] stable_readings: expected an integer in 1..100, got 0" in out.stderr


def test_garbage_only_is_a_timeout_with_a_baud_hint() -> None:
    with SimScale("ohaus", weight_mg=3500) as sim:
        sim.set_error_reply(b"\xf3\x9a\x81garbage\r\n")  # what a wrong baud rate looks like
        out = read("--port", sim.port, "--protocol", "ohaus", "--timeout", "2.5")
    assert out.returncode == ExitCode.DEVICE
    assert "(timeout)" in out.stderr and "check the baud rate and framing" in out.stderr
