"""`packstation keys new`, `central allow` / `central revoke`: files, modes, exit codes."""

from __future__ import annotations

import stat
from pathlib import Path

import pytest
import zmq.auth

from central.auth import KeyRing
from edge.cli import run
from edge.common.errors import ExitCode
from tests.support.central import make_setup


def test_keys_new_writes_a_pyzmq_pair_with_a_private_secret(tmp_path: Path) -> None:
    assert run(["keys", "new", "station-07", "--dir", str(tmp_path)]) == ExitCode.OK
    public_file, secret_file = tmp_path / "station-07.key", tmp_path / "station-07.key_secret"
    assert stat.S_IMODE(secret_file.stat().st_mode) == 0o600
    public, secret = zmq.auth.load_certificate(secret_file)
    assert secret is not None and len(secret) == 40
    assert zmq.auth.load_certificate(public_file) == (public, None)


def test_keys_new_refuses_to_overwrite(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["keys", "new", "central", "--dir", str(tmp_path)]) == ExitCode.OK
    before = (tmp_path / "central.key_secret").read_bytes()
    assert run(["keys", "new", "central", "--dir", str(tmp_path)]) == ExitCode.USAGE
    assert "already exists" in capsys.readouterr().err
    assert (tmp_path / "central.key_secret").read_bytes() == before
    assert run(["keys", "new", "central", "--dir", str(tmp_path), "--force"]) == ExitCode.OK
    assert (tmp_path / "central.key_secret").read_bytes() != before


def test_allow_copies_only_the_public_key_and_revoke_keeps_it_for_audit(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, [])
    cfg = ["--config", str(setup.config)]
    run(["keys", "new", "station-05", "--dir", str(tmp_path / "new")])
    assert run(["central", "allow", str(tmp_path / "new" / "station-05.key_secret"), *cfg]) == 0
    allowed = tmp_path / "allowed" / "station-05.key"
    assert "secret" not in allowed.read_text()
    ring = KeyRing(tmp_path / "allowed")
    public, _ = zmq.auth.load_certificate(tmp_path / "new" / "station-05.key")
    assert ring.name_of(public) == "station-05"
    assert run(["central", "revoke", "station-05", *cfg]) == 0
    assert not allowed.exists() and (tmp_path / "allowed" / "revoked" / "station-05.key").exists()
    assert ring.reload() and ring.name_of(public) is None
    assert run(["central", "revoke", "station-05", *cfg]) == ExitCode.USAGE


def test_allow_refuses_a_file_that_is_not_a_certificate(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, [])
    junk = tmp_path / "junk.key"
    junk.write_text("hello\n")
    assert run(["central", "allow", str(junk), "--config", str(setup.config)]) == ExitCode.USAGE
    assert (
        run(["central", "allow", str(junk), "--name", "Bad Name", "--config", str(setup.config)])
        == 2
    )


def test_central_refuses_to_start_without_its_secret_key(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    setup = make_setup(tmp_path, [])
    (setup.keys / "central.key_secret").unlink()
    assert run(["central", "--config", str(setup.config)]) == ExitCode.CONFIG
    assert "cannot read central's secret key" in capsys.readouterr().err
