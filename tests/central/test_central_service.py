"""The central process: start-up order, graceful stop, configuration errors."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from central.config import load_central_config
from edge.cli import run
from edge.common.errors import ExitCode
from tests.support.central import CentralProcess, make_setup


@pytest.mark.slow
def test_starts_after_self_test_and_stops_cleanly_on_sigterm(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, ["station-01"])
    central = CentralProcess(setup)
    central.start()
    assert central.proc is not None
    central.proc.send_signal(signal.SIGTERM)
    assert central.proc.wait(15) == 0
    log = central.log.read_text()
    # the self-test's refused handshake is logged before "central ready"
    assert log.index("connection refused: unknown key") < log.index("central ready")


def test_shipped_central_config_is_valid_and_complete() -> None:
    cfg = load_central_config(Path(__file__).resolve().parents[2] / "config/central.toml")
    assert cfg == load_central_config(None)


def test_bad_store_url_is_a_config_error(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    bad = tmp_path / "central.toml"
    bad.write_text('[central]\nstore = "mysql://x"\n')
    assert run(["config", "check", str(bad)]) == ExitCode.CONFIG
    assert 'store: expected "sqlite:///PATH" or a "postgresql://" URL' in capsys.readouterr().err


def test_missing_intake_token_is_a_config_error(tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    setup = make_setup(tmp_path, ["station-01"])
    (tmp_path / "intake.token").unlink()
    assert run(["central", "--config", str(setup.config)]) == ExitCode.CONFIG
    assert "[intake] token_file: cannot read" in capsys.readouterr().err
