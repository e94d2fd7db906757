"""Exit codes are carried by the exception classes; `--help` lists every one of them."""

from __future__ import annotations

import argparse
import subprocess
import sys
from pathlib import Path

import pytest

from edge.cli import build_parser, run
from edge.common.errors import BadInput, ConfigError, DeviceError, ExitCode, PackstationError
from edge.journal import ChainBroken, JournalError, VerifyResult

REPO = Path(__file__).resolve().parents[2]

# The numbers installers, systemd units (RestartPreventExitStatus=78) and scripts rely on.
DOCUMENTED = {
    "OK": 0,
    "INTERNAL": 1,
    "USAGE": 2,
    "REFUSED": 3,
    "DEVICE": 4,
    "CHAIN_BROKEN": 5,
    "CONFIG": 78,
}


def test_the_exit_code_numbers_do_not_move() -> None:
    assert {code.name: int(code) for code in ExitCode} == DOCUMENTED


def test_help_lists_every_exit_code_with_its_description() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "edge", "--help"],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    ).stdout
    block = out[out.index("exit codes:") :].splitlines()[1:]
    assert [line.split(maxsplit=1) for line in block] == [
        [str(int(code)), code.description] for code in ExitCode
    ]
    assert all(code.description for code in ExitCode)
    assert build_parser().epilog == out[out.index("exit codes:") :]


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (PackstationError("a bug"), 1),
        (BadInput("ORDER.json: not JSON"), 2),
        (JournalError("j.db: no such journal file"), 2),
        (DeviceError("scale: no answer"), 4),
        (ChainBroken.at("j.db", VerifyResult(checked=2, first_bad_seq=3, reason="x")), 5),
        (ConfigError(["station.toml: [scale] baud: bad"]), 78),
    ],
)
def test_the_cli_maps_each_error_class_to_its_code(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    error: PackstationError,
    code: int,
) -> None:
    def fail(args: argparse.Namespace) -> int:
        raise error

    monkeypatch.setattr("edge.cli.cmd_journal._verify", fail)
    assert run(["journal", "verify", "j.db"]) == code
    assert str(error).splitlines()[0] in capsys.readouterr().err


def test_a_broken_chain_is_a_journal_error_with_its_own_code() -> None:
    broken = ChainBroken.at("j.db", VerifyResult(checked=2, first_bad_seq=3, reason="why"))
    assert isinstance(broken, JournalError)
    assert broken.exit_code is ExitCode.CHAIN_BROKEN
    assert str(broken) == "j.db: chain broken at seq 3: why"


def test_bad_input_file_is_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    missing = tmp_path / "ORDER.json"
    inventory = tmp_path / "INVENTORY.json"  # never reached: the order is read first
    assert run(["verify", "--order", str(missing), "--inventory", str(inventory), "X"]) == 2
    assert f"{missing}: cannot read" in capsys.readouterr().err
