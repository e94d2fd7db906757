"""The simulated day's progress bar, summary table and run directory rules (no services started)."""

from __future__ import annotations

import io
import os
import subprocess
import sys
from pathlib import Path

import pytest

from edge.common.errors import BadInput
from edge.sim.report import Progress, Summary, render
from edge.sim.setup import MARKER, prepare_dir


class _Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_redraws_in_place_on_a_terminal() -> None:
    out = _Tty()
    bar = Progress(4, out, width=8)
    for n in range(5):
        bar.update(n, f"order {n}")
    text = out.getvalue()
    assert text.count("\r") == 5 and text.endswith("\n") and text.count("\n") == 1
    assert "[########] 4/4 orders  order 4" in text
    assert "[####....] 2/4 orders" in text


def test_progress_writes_a_line_now_and_then_when_not_a_terminal() -> None:
    out = io.StringIO()
    bar = Progress(40, out, width=10)
    for n in range(41):
        bar.update(n)
    lines = out.getvalue().splitlines()
    assert "\r" not in out.getvalue()
    assert lines[0].endswith("0/40 orders") and lines[-1] == "[##########] 40/40 orders"
    assert 6 <= len(lines) <= 10  # every eighth of the day, not every order


def test_summary_table_names_failures_and_outputs() -> None:
    summary = Summary(orders=3, sealed=2, cancelled=1, halts={"over_limit": 1})
    summary.outputs = {"journal": "/x/journal.sqlite3"}
    summary.failures = ["central stored 9 events, the station journalled 10"]
    out = io.StringIO()
    render(summary, out)
    text = out.getvalue()
    assert "  over_limit" in text and "journal         /x/journal.sqlite3" in text
    assert "FAILED:" in text and "central stored 9 events" in text
    assert not summary.ok and summary.to_json()["ok"] is False
    ok = Summary(orders=1, sealed=1)
    out = io.StringIO()
    render(ok, out)
    assert ok.ok and "All invariants hold." in out.getvalue()


def test_run_directory_is_replaced_only_when_an_earlier_run_made_it(tmp_path: Path) -> None:
    fresh = prepare_dir(tmp_path / "new")
    assert (fresh.root / MARKER).exists() and fresh.labels.is_dir()
    (fresh.labels / "0001-old.png").write_bytes(b"old")
    again = prepare_dir(tmp_path / "new")
    assert not (again.labels / "0001-old.png").exists()  # the earlier run's output is gone
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "thesis.tex").write_text("years of work")
    with pytest.raises(BadInput, match="not the output of an earlier"):
        prepare_dir(foreign)
    assert (foreign / "thesis.tex").read_text() == "years of work"
    a_file = tmp_path / "file"
    a_file.write_text("x")
    with pytest.raises(BadInput, match="not a directory"):
        prepare_dir(a_file)


@pytest.mark.slow
def test_bad_options_are_usage_errors(tmp_path: Path) -> None:
    for args in (["--orders", "0"], ["--orders", "many"], ["--seed", "x"]):
        proc = subprocess.run(
            [sys.executable, "-m", "edge", "simulate", *args, "--out", str(tmp_path / "o")],
            capture_output=True,
            text=True,
            timeout=30,
            check=False,
            env={**os.environ},
        )
        assert proc.returncode == 2, (args, proc.stderr)
        assert "simulate" in proc.stderr
    assert not (tmp_path / "o").exists()
