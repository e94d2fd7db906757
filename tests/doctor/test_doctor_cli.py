"""`packstation doctor` end to end: the report a person reads, the JSON a script reads, exit codes."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge.cli import run
from tests.support.doctor import KEYBOARD_KEYS, FakeSystem, key_bitmap, make_keys, station_toml


def pi(tmp_path: Path) -> FakeSystem:
    fake = FakeSystem(tmp_path)
    fake.model("Raspberry Pi 4 Model B Rev 1.5")
    fake.input_device(
        "event2", "Honeywell Imaging 1900", key_bitmap(KEYBOARD_KEYS), ("0c2e", "0b61")
    )
    fake.tty("ttyACM0", ("0eb8", "2200"), "cdc_acm")
    fake.usblp("lp0", ("04b8", "0e28"), "MFG:EPSON;CMD:ESC/POS;MDL:TM-T20III;")
    fake.gpiochip("gpiochip0", "soc/fe200000.gpio", ["brcm,bcm2711-gpio", "brcm,bcm2835-gpio"])
    fake.led("ACT", "none [mmc0]")
    fake.dev_link("packstation/scale", "ttyACM0")
    fake.dev_link("packstation/printer", "usb/lp0")
    fake.installed()
    return fake


def test_report_lists_devices_and_each_problem_with_its_fix(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pi(tmp_path)
    config = tmp_path / "station.toml"
    config.write_text(station_toml(scanner="usb:05e0:1200"))  # a Zebra that is not plugged in

    code = run(["doctor", "--root", str(tmp_path), "--config", str(config), "--timeout", "0.2"])

    out = capsys.readouterr().out
    assert code == 4
    assert "Raspberry Pi 4 Model B Rev 1.5" in out
    assert "/dev/input/event2 scanner: 'Honeywell Imaging 1900' usb 0c2e:0b61" in out
    assert "/dev/ttyACM0 (cdc_acm) usb 0eb8:2200 = /dev/packstation/scale" in out
    assert "/dev/usb/lp0 EPSON TM-T20III (ESC/POS) usb 04b8:0e28 = /dev/packstation/printer" in out
    assert "/dev/gpiochip0 pinctrl-bcm2711, 40-pin header" in out
    assert "ACT: trigger mmc0" in out
    assert "[FAIL] scanner: no input device with USB id 05e0:1200 is plugged in" in out
    assert "fix: plug the scanner in" in out
    assert "[ ok ] scale: /dev/packstation/scale is present (/dev/ttyACM0)" in out
    assert out.rstrip().endswith("exit code 4")


def default_keys(root: Path) -> None:
    """The station's keys where [link] looks by default: <state_dir>/keys/<station id>.*."""
    keys = root / "var/lib/packstation/keys"
    make_keys(keys, "station-07")
    make_keys(keys, "central")


def test_json_report_for_scripts(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pi(tmp_path)
    config = tmp_path / "station.toml"
    config.write_text(station_toml(scanner=None, printer="file:/dev/packstation/printer"))
    default_keys(tmp_path)

    code = run(
        ["doctor", "--json", "--timeout", "0.3", "--root", str(tmp_path), "--config", str(config)]
    )

    report = json.loads(capsys.readouterr().out)
    # Warnings (no scanner, no journal) and one failure: no central listens in this test.
    assert code == report["exit_code"] == 4
    failed = [c["check"] for c in report["checks"] if c["status"] == "fail"]
    assert failed == ["central"]
    assert report["board"] == "Raspberry Pi 4 Model B Rev 1.5"
    assert report["devices"]["printers"][0]["usb"] == ["04b8", "0e28"]
    assert {c["status"] for c in report["checks"]} == {"ok", "warn", "fail"}
    assert any(c["check"] == "scanner" and c["fix"] for c in report["checks"])


def test_invalid_config_exits_78(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "station.toml"
    config.write_text("[scale]\nbaud = 1234\n")
    code = run(["doctor", "--root", str(tmp_path), "--config", str(config)])
    out = capsys.readouterr().out
    assert code == 78
    assert "[FAIL] config:" in out and "[scale] baud" in out


def test_the_installed_command_runs(tmp_path: Path) -> None:
    """The console script a technician types, in a fresh process."""
    config = tmp_path / "station.toml"
    config.write_text(station_toml(scanner=None, scale_port=None, printer="file:/dev/null"))
    fake = FakeSystem(tmp_path)
    fake.write("dev/null", "")
    fake.installed()
    default_keys(tmp_path)
    exe = Path(sys.executable).with_name("packstation")
    result = subprocess.run(
        [str(exe), "doctor", "--timeout", "0.3", "--root", str(tmp_path), "--config", str(config)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env={**os.environ, "NO_COLOR": "1"},
    )
    assert result.returncode == 4, result.stdout + result.stderr  # no central listens here
    assert "Checks" in result.stdout and "1 failed" in result.stdout
    assert "[FAIL] central:" in result.stdout
