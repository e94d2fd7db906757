"""examples/: each client run exactly as examples/README.md shows it, against a real central."""

from __future__ import annotations

import asyncio
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.support.central import LinkRunner, Setup, make_setup, running_central, until

REPO = Path(__file__).resolve().parents[2]
README = REPO / "examples" / "README.md"


def blocks() -> dict[str, str]:
    """The shell blocks of examples/README.md marked `<!-- run: NAME -->`."""
    found = re.findall(r"<!-- run: ([a-z-]+) -->\n```sh\n(.*?)```", README.read_text(), re.DOTALL)
    return dict(found)


def run_block(name: str, setup: Setup, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        # the venv's python3 first: the one with pyzmq and msgspec
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",
        "INTAKE": f"http://{setup.intake}",
        "TOKEN_FILE": str(setup.root / "intake.token"),
        "PUB": setup.pub,
        "REPLAY": setup.replay,
        "KEYS": str(cwd / "keys"),
    }
    return subprocess.run(
        ["bash", "-e", "-c", blocks()[name]],
        check=False,
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_readme_has_the_blocks_the_tests_run() -> None:
    assert set(blocks()) == {"intake-curl", "intake-python", "subscriber"}


def _lines(out: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.mark.slow
def test_intake_examples_as_documented(tmp_path: Path) -> None:
    setup = make_setup(tmp_path / "central", ["station-01"])
    work = tmp_path / "work"
    shutil.copytree(REPO / "examples", work / "examples")
    with running_central(setup):
        curl = run_block("intake-curl", setup, work)
        assert curl.returncode == 0, curl.stdout + curl.stderr
        answers = _lines(curl.stdout)
        assert answers[0] == {"status": "ok"}
        assert [a["accepted"] for a in answers[1:4]] == [2, 2, 2]
        assert answers[4] == answers[3]  # the retry: the same answer, nothing applied twice
        status = answers[5]
        assert (status["order_id"], status["status"], status["station"]) == (
            "1042",
            "queued",
            "station-01",
        )
        assert answers[6] == {
            "error": "$.channel: Invalid enum value 'teleport'",
            "path": "$.channel",
        }
        assert answers[7]["accepted"] == 1
        python = run_block("intake-python", setup, work)
        assert python.returncode == 0, python.stdout + python.stderr
        replies = _lines(python.stdout)
        assert replies[2]["status"] == "queued" and replies[2]["order_id"] == "1043"
        assert replies[3]["path"] == "$.channel"
        assert "refused at $.channel" in python.stderr


@pytest.mark.slow
def test_subscriber_example_as_documented(tmp_path: Path) -> None:
    setup = make_setup(tmp_path / "central", ["station-01"])
    work = tmp_path / "work"
    shutil.copytree(REPO / "examples", work / "examples")
    (work / "keys").mkdir()
    shutil.copy(setup.keys / "central.key", work / "keys" / "central.key")
    shutil.copy(setup.keys / "tailer.key_secret", work / "keys" / "erp.key_secret")  # enrolled

    async def journal(n: int) -> None:
        runner = LinkRunner(setup, "station-01", tmp_path)
        runner.start()
        start = runner.journal.last_seq()
        runner.append(n)
        await until(lambda: runner.journal.acked_seq() == start + n, 30)
        await runner.stop()

    with running_central(setup):
        asyncio.run(journal(30))
        first = run_block("subscriber", setup, work)
        assert first.returncode == 0, first.stderr
        events = _lines((work / "events.jsonl").read_text())
        assert [e["gseq"] for e in events] == list(range(1, 31))
        assert all(e["type"] == "scan" and isinstance(e["body"], dict) for e in events)
        assert all(len(str(e["hash"])) == 64 for e in events)
        assert events[0]["body"]["station"] == "station-01"
        assert (work / "erp.gseq").read_text() == "30"
        asyncio.run(journal(5))
        again = run_block("subscriber", setup, work)  # resumes from erp.gseq
        assert again.returncode == 0, again.stderr
        assert [e["gseq"] for e in _lines((work / "events.jsonl").read_text())] == list(
            range(31, 36)
        )
