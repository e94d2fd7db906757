"""`packstation limits check|explain|validate`: output and exit codes (0, 2, 3, 78)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from edge.cli import run

README_CART: dict[str, Any] = {
    "jurisdiction": "IL",
    "customer_class": "adult_nonresident",
    "at": "2026-11-22T14:05:00-06:00",
    "lines": [
        {"category": "flower", "quantity": 2, "net_weight_mg": 3500},
        {"category": "edible", "quantity": 1, "thc_mg": 100, "concentrate_mg": 120},
    ],
    "prior": [
        {
            "at": "2026-11-22T09:00:00-06:00",
            "category": "concentrate",
            "quantity": 1,
            "net_weight_mg": 1000,
        }
    ],
}
SHIPPED = Path(__file__).resolve().parents[2] / "config" / "limits"


def cart_file(tmp_path: Path, cart: dict[str, Any] | str) -> Path:
    path = tmp_path / "CART.json"
    path.write_text(cart if isinstance(cart, str) else json.dumps(cart), encoding="utf-8")
    return path


def test_readme_cart_is_allowed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["limits", "check", str(cart_file(tmp_path, README_CART))]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["allowed"] is True and out["rule_version"] == "2020-01-01"
    flower = next(b for b in out["buckets"] if b["name"] == "cannabis flower")
    assert (flower["cap"], flower["cart_used"], flower["remaining_display"]) == ("15", "7", "8 g")
    more = {m["category"]: m["display"] for m in out["max_more"]}
    assert more["flower"] == "8 g" and more["concentrate"] == "1.5 g"


def test_over_a_limit_exits_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    cart = dict(README_CART, lines=[{"category": "flower", "quantity": 5, "net_weight_mg": 3500}])
    assert run(["limits", "check", str(cart_file(tmp_path, cart))]) == 3
    out = json.loads(capsys.readouterr().out)
    assert out["allowed"] is False and out["crossing_line"] == 0
    assert out["crossing_bucket"] == "cannabis flower"
    assert out["reason"] == (
        "Cart line 1 (flower) goes over the IL adult_nonresident limit 'cannabis flower' of "
        "15 g per calendar day (store time zone); the cart is 2.5 g over."
    )


@pytest.mark.parametrize(
    ("cart", "message"),
    [
        ("{not json", "CART.json: Expecting property name"),
        (
            dict(README_CART, at="2026-11-22T14:05:00"),
            "at: time '2026-11-22T14:05:00' has no UTC offset",
        ),
        (
            dict(README_CART, lines=[{"category": "flower", "quantity": 1}]),
            "lines[0]: a flower line needs net_weight_mg",
        ),
        (dict(README_CART, lines=[{"category": "weed"}]), "lines[0]: category must be one of"),
        (
            dict(README_CART, lines=[{"category": "flower", "net_weight_mg": -1}]),
            "lines[0]: net_weight_mg must be an integer",
        ),
        (
            dict(README_CART, lines=[{"category": "flower", "net_weight_mg": 3.5}]),
            "lines[0]: net_weight_mg must be an integer",
        ),
        (dict(README_CART, customer_class="tourist"), 'customer class "tourist" is not defined'),
        (dict(README_CART, at="2019-06-01T12:00:00-05:00"), "no rule version is in force"),
        (
            dict(README_CART, prior=[{"category": "edible", "at": "2026-11-22T09:00:00-06:00"}]),
            "prior[0]: a edible line needs thc_mg",
        ),
        (dict(README_CART, extra=1), "unknown field 'extra'"),
        (
            dict(README_CART, lines=[{"category": "flower", "at": "2026-11-22T09:00:00-06:00"}]),
            "lines[0]: unknown field 'at'",
        ),
        (dict(README_CART, prior={}), "prior must be a list"),
    ],
)
def test_bad_input_exits_2_and_names_the_problem(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], cart: Any, message: str
) -> None:
    assert run(["limits", "check", str(cart_file(tmp_path, cart))]) == 2
    err = capsys.readouterr().err
    assert message in err, err


def test_broken_rule_file_exits_78(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(SHIPPED, rules)
    il = rules / "IL.toml"
    il.write_text(
        il.read_text(encoding="utf-8").replace('cap = "15 g"', 'cap = "15"'), encoding="utf-8"
    )
    cart = cart_file(tmp_path, README_CART)
    assert run(["limits", "check", str(cart), "--rules-dir", str(rules)]) == 78
    err = capsys.readouterr().err
    assert (
        "IL.toml: version 2020-01-01: class adult_nonresident: bucket cannabis flower: cap:" in err
    )
    assert run(["limits", "validate", "--rules-dir", str(rules)]) == 78
    assert run(["limits", "validate"]) == 0


def test_timezone_override_moves_the_calendar_day(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Prior at 23:30 Chicago the day before = 00:30 New York today: it counts only in New York.
    cart = dict(
        README_CART,
        at="2026-11-22T10:00:00-06:00",
        lines=[{"category": "flower", "quantity": 1, "net_weight_mg": 10000}],
        prior=[{"at": "2026-11-21T23:30:00-06:00", "category": "flower", "net_weight_mg": 10000}],
    )
    path = str(cart_file(tmp_path, cart))
    assert run(["limits", "check", path]) == 0
    assert run(["limits", "check", path, "--timezone", "America/New_York"]) == 3
    assert run(["limits", "check", path, "--timezone", "Nowhere/City"]) == 2
    capsys.readouterr()


def test_explain(capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["limits", "explain", "NV", "--at", "2023-12-31"]) == 0
    before = capsys.readouterr().out
    assert "usable cannabis equivalent: at most 1 oz per transaction" in before
    assert "3543 mg fills the cap" in before and "2024-01-01" in before
    assert run(["limits", "explain", "nv", "--class", "adult", "--at", "2024-01-01"]) == 0
    assert "at most 2.5 oz" in capsys.readouterr().out
    assert run(["limits", "explain", "NV", "--class", "tourist"]) == 2
    assert run(["limits", "explain", "QQ"]) == 78


def test_console_script_end_to_end(tmp_path: Path) -> None:
    cart = cart_file(tmp_path, README_CART)
    exe = Path(sys.executable).parent / "packstation"
    done = subprocess.run(
        [str(exe), "limits", "check", str(cart)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["allowed"] is True
