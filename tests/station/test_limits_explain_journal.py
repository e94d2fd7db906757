"""`packstation limits explain --journal`: the decisions the real daemon journalled (a weighed
portion with rational values, an over-limit order with a prior purchase) reproduce from the
export alone, and an export whose decision was altered does not (exit 3). The same journal keeps
only what the IL label profile's privacy rule allows of the customer (first name + number)."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import UTC, datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import pytest

from drivers.printer.sim import SimPrinter
from drivers.scale.sim import SimScale
from edge.limits.rules import load_rules
from tests.support.station import REPO, Daemon, tag, write_real_station

pytestmark = pytest.mark.slow  # the real daemon as a subprocess, with simulated devices

IL = load_rules(REPO / "config" / "limits" / "IL.toml")


def cli(*args: str, stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "edge", *args],
        cwd=REPO,
        input=stdin,
        capture_output=True,
        check=False,
    )


def wait_for(d: Daemon, phase: str) -> None:
    d.wait_phase(phase, 15)


STATION: list[Path] = []  # the module's station directory


@pytest.fixture(scope="module")
def export(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """The journal export of a day: order 1042 with a 3.55 g portion of a 454 g bulk package
    (sealed), and order 3001 over IL's THC limit with a prior purchase (cancelled)."""
    tmp = tmp_path_factory.mktemp("station")
    STATION.append(tmp)
    with SimPrinter() as printer, SimScale("mt-sics") as scale:
        config = write_real_station(tmp, printer.target, scale.port)
        with Daemon(config) as d:
            assert d.send("scan BADGE-ALICE")["ok"]
            assert d.send("scan ORD-1042")["phase"] == "picking"
            for n in (1, 2, 6):
                d.send(f"scan {tag(n)}")
            scale.place(3550)
            wait_for(d, "seal")
            (payload,) = printer.wait_for_jobs(1)[0].decoded.qr_payloads
            assert d.send(f"scan {payload}")["phase"] == "ready"
            assert d.send("scan ORD-3001")["phase"] == "picking"
            assert d.send(f"scan {tag(4)}")["phase"] == "halted"
            d.send("scan BADGE-BOSS")
            assert d.send("scan ORD-3001")["phase"] == "ready"  # the supervisor cancels it
    done = cli("journal", "export", str(tmp / "journal.sqlite3"))
    assert done.returncode == 0, done.stderr
    return done.stdout


def events(export: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in export.splitlines() if line.strip()]


def altered(export: bytes, change: Any) -> bytes:
    """The export with `change(body)` applied to every `limits` event's body."""
    out = []
    for e in events(export):
        if e["type"] == "limits":
            change(e["body"])
        out.append(json.dumps(e).encode())
    return b"\n".join(out) + b"\n"


def test_every_journalled_decision_reproduces_with_its_source(
    export: bytes, tmp_path: Path
) -> None:
    path = tmp_path / "export.jsonl"
    path.write_bytes(export)
    done = cli("limits", "explain", "--journal", str(path), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    doc = json.loads(done.stdout)
    assert doc["ok"] and len(doc["decisions"]) == 2
    sealed, over = doc["decisions"]
    today = datetime.now(UTC).date()
    version = IL.version_at(today)
    assert version is not None
    for d in doc["decisions"]:
        assert d["reproduced"] and (d["jurisdiction"], d["customer_class"]) == ("IL", "adult")
        assert d["rule_version"] == version.effective.isoformat()
        assert d["source"] == version.source  # the rule file's citation for that version
    assert sealed["allowed"] is sealed["recomputed_allowed"] is True
    flower = next(b for b in sealed["buckets"] if b["name"] == "cannabis flower")
    # 3.5 g + 3.5 g + the captured 3.55 g portion, exactly
    used = Fraction(flower["used_exact"])
    assert used == Fraction(10550, 1000) == Fraction(flower["cart_exact"])
    assert flower["limit_exact"] == "30" and flower["rule_cap"] == "30 g"
    assert flower["used_exact"] == "211/20"  # the journal did not round it to 10
    assert over["allowed"] is over["recomputed_allowed"] is False
    assert any(b["over"] and b["prior_exact"] != "0" for b in over["buckets"])


def test_one_order_from_stdin_in_words(export: bytes) -> None:
    done = cli("limits", "explain", "--journal", "-", "--order", "1042", stdin=export)
    assert done.returncode == 0, done.stdout + done.stderr
    text = done.stdout.decode()
    assert "order 1042: IL adult" in text and "Reproduced." in text and "3001" not in text
    assert "cannabis flower: used 211/20 (~10.550) g" in text
    assert "1 limit decision(s), 0 not reproduced." in text


def test_an_altered_allowed_flag_does_not_reproduce(export: bytes) -> None:
    def flip(body: dict[str, Any]) -> None:
        body["allowed"] = not body["allowed"]

    done = cli("limits", "explain", "--journal", "-", stdin=altered(export, flip))
    assert done.returncode == 3
    assert done.stdout.decode().count("NOT REPRODUCED.") == 2


def test_an_altered_bucket_value_does_not_reproduce(export: bytes) -> None:
    def shrink(body: dict[str, Any]) -> None:
        for b in body["buckets"]:
            b["cart_exact"] = str(Fraction(b["cart_exact"]) / 2)

    done = cli(
        "limits", "explain", "--journal", "-", "--order", "1042", stdin=altered(export, shrink)
    )
    assert done.returncode == 3
    assert b"is not prior" in done.stdout


def test_a_limit_that_is_not_the_rule_cap_does_not_reproduce(export: bytes) -> None:
    def raise_cap(body: dict[str, Any]) -> None:
        for b in body["buckets"]:
            b["limit_exact"] = "1000"

    done = cli("limits", "explain", "--journal", "-", stdin=altered(export, raise_cap))
    assert done.returncode == 3
    assert b"is not the rule's cap" in done.stdout


def test_an_older_journal_without_the_rule_fields_needs_the_jurisdiction(export: bytes) -> None:
    def old(body: dict[str, Any]) -> None:
        for key in ("jurisdiction", "rule_version", "customer_class"):
            body.pop(key)

    data = altered(export, old)
    done = cli("limits", "explain", "--journal", "-", stdin=data)
    assert done.returncode == 3 and b"give --jurisdiction CODE" in done.stdout
    done = cli("limits", "explain", "--journal", "-", "--jurisdiction", "IL", stdin=data)
    assert done.returncode == 0, done.stdout  # the class comes from the order_loaded event


def test_a_bad_export_is_exit_2() -> None:
    done = cli("limits", "explain", "--journal", "-", stdin=b'{"seq": 1}\nnot json\n')
    assert done.returncode == 2 and b"stdin:1" in done.stderr


def test_the_journal_keeps_the_first_name_and_number_only(export: bytes) -> None:
    # config/labels/IL.toml: privacy = "first_name_and_number"; the orders give "Ada L.", "Cy D."
    loaded = [e["body"] for e in events(export) if e["type"] == "order_loaded"]
    assert [(b["customer_id"], b["order"]["customer"]["name"]) for b in loaded] == [
        ("C-88", "Ada"),
        ("C-7", "Cy"),
    ]
    assert b"Ada L." not in export and b"Cy D." not in export
    # nor anywhere in the journal database (its events and the workflow state it keeps)
    for path in sorted(STATION[0].glob("journal.sqlite3*")):
        data = path.read_bytes()
        assert b"Ada L." not in data and b"Cy D." not in data, path
