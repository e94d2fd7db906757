"""Rule files: the shipped ones load and cite sources; broken ones are refused, named precisely."""

from __future__ import annotations

import json
from datetime import date
from pathlib import Path
from typing import Any

import pytest

from edge.common.errors import BadInput, ConfigError
from edge.limits.engine import LimitEngine, default_rules_dir, line_from_package, resolve_rules_dir
from edge.limits.rules import load_rules
from edge.scan import Inventory, Package
from tests.support.limits import CODES

REPO = Path(__file__).resolve().parents[2]
SHIPPED = REPO / "config" / "limits"
TAG = "1A4060300002C9B000012345"

GOOD = """
jurisdiction = "XX"
name = "Example"
timezone = "America/Chicago"
ounce = "28.349523125 g"
sources = ["[L0] example"]

[[version]]
effective = 2024-01-01
source = "example"

[version.class.adult]
window = "day"
exempt = ["topical"]
prohibited = ["plant", "seed"]

[[version.class.adult.bucket]]
name = "ounce"
cap = "1 oz"
count = [
  { category = "flower", measure = "net_weight" },
  { category = "concentrate", measure = "net_weight", fills = "8 g" },
  { category = "edible", measure = "thc", per = "800 mg" },
  { category = "infused_liquid", measure = "thc", per = "800 mg" },
]
"""


def write(tmp_path: Path, text: str, code: str = "XX") -> Path:
    path = tmp_path / f"{code}.toml"
    path.write_text(text, encoding="utf-8")
    return path


def problems(tmp_path: Path, text: str) -> list[str]:
    with pytest.raises(ConfigError) as info:
        load_rules(write(tmp_path, text))
    return info.value.problems


def test_every_required_jurisdiction_ships_and_loads() -> None:
    assert sorted(p.stem for p in SHIPPED.glob("*.toml")) == sorted(CODES)
    engine = LimitEngine(SHIPPED)
    for code in CODES:
        rules = engine.rules(code)
        assert rules.sources, code
        for version in rules.versions:
            assert {"adult", "medical"} <= set(version.classes) or code == "MO", code


def test_rule_files_record_conflicts_and_unverified_facts() -> None:
    text = {code: (SHIPPED / f"{code}.toml").read_text(encoding="utf-8") for code in CODES}
    assert "CONFLICT" in text["IL"] and "60 g" in text["IL"]
    assert "CONFLICT" in text["NJ"] and "5 g" in text["NJ"]
    assert "CONFLICT" in text["MD"] and "1,000 mg" in text["MD"]
    assert "disputed" in text["OH"]
    assert all("UNVERIFIED" in t for t in text.values())


def test_effective_dated_versions_are_data() -> None:
    engine = LimitEngine(SHIPPED)
    nv, oregon, ohio = engine.rules("NV"), engine.rules("OR"), engine.rules("OH")
    assert nv.version_at(date(2024, 1, 1)).effective == date(2024, 1, 1)  # type: ignore[union-attr]
    assert oregon.version_at(date(2021, 12, 31)).effective < date(2022, 1, 1)  # type: ignore[union-attr]
    assert ohio.version_at(date(2025, 6, 4)).effective == date(2025, 6, 4)  # type: ignore[union-attr]


def test_a_minimal_file_loads(tmp_path: Path) -> None:
    rules = load_rules(write(tmp_path, GOOD))
    (bucket,) = rules.versions[0].classes["adult"].buckets
    factors = {m.category: m.factor for m in bucket.members}
    # 1 oz cap: flower 1 oz per ounce-of-mg, concentrate 8 g fills it, edible 800 mg per oz.
    assert str(factors["concentrate"]) == "1/8000"
    assert str(factors["edible"]) == "1/800"
    assert factors["flower"] * rules.ounce.base == 1


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (
            ('cap = "1 oz"', "cap = 28"),
            "version 2024-01-01: class adult: bucket ounce: cap: expected a quantity",
        ),
        (('name = "Example"', 'name = "Example"\ncolour = "red"'), "colour: unknown key"),
        (
            ('window = "day"', 'window = "weekly"'),
            'class adult: window: expected "transaction", "day" or "rolling N days", got "weekly"',
        ),
        (
            ('exempt = ["topical"]', "exempt = []"),
            "class adult: topical: each category must be counted",
        ),
        (
            ('exempt = ["topical"]', 'exempt = ["topical", "flower"]'),
            "class adult: flower: each category must be counted",
        ),
        (
            ('fills = "8 g"', 'fills = "8 ml"'),
            "bucket ounce: count concentrate: fills: expected a positive mass quantity",
        ),
        (
            ('fills = "8 g"', 'fills = "8 g", per = "1 g"'),
            'count concentrate: fills: give either "fills" or "per"',
        ),
        (
            (
                'measure = "thc", per = "800 mg" },\n  { category = "infused_liquid"',
                'measure = "volume" },\n  { category = "infused_liquid"',
            ),
            "count edible: measure: volume (volume) cannot count 1:1 against a cap in oz",
        ),
        (
            ('category = "flower"', 'category = "bud"'),
            "count: category: expected one of flower, concentrate",
        ),
        (
            ("effective = 2024-01-01", 'effective = "2024-01-01"'),
            "version #1: effective: expected a TOML date",
        ),
        (
            ('timezone = "America/Chicago"', 'timezone = "Mars/Olympus"'),
            'timezone: expected an IANA time zone name, got "Mars/Olympus"',
        ),
        (
            ('jurisdiction = "XX"', 'jurisdiction = "YY"'),
            'jurisdiction: must match the file name "XX", got "YY"',
        ),
        (
            ('ounce = "28.349523125 g"', 'ounce = "1 oz"'),
            "ounce: expected the state's ounce in g or mg",
        ),
        (('sources = ["[L0] example"]', "sources = []"), "sources: cite at least one source"),
    ],
)
def test_problems_name_file_version_class_and_key(
    tmp_path: Path, change: tuple[str, str], message: str
) -> None:
    old, new = change
    assert old in GOOD
    found = problems(tmp_path, GOOD.replace(old, new, 1))
    assert any(message in p for p in found), found
    assert all(p.startswith(str(tmp_path / "XX.toml")) for p in found)


def test_versions_must_be_in_date_order(tmp_path: Path) -> None:
    second = GOOD[GOOD.index("[[version]]") :].replace("2024-01-01", "2023-01-01")
    found = problems(tmp_path, GOOD + second)
    assert any("increasing effective-date order" in p for p in found)


def test_unreadable_files(tmp_path: Path) -> None:
    (found,) = problems(tmp_path, "jurisdiction = \n")
    assert found.startswith(f"{tmp_path / 'XX.toml'}: ") and "line 1" in found
    with pytest.raises(ConfigError, match="no such rule file"):
        LimitEngine(tmp_path).rules("ZZ")
    with pytest.raises(BadInput, match="two-letter code"):
        LimitEngine(tmp_path).rules("../etc")


def test_rules_dir_resolution(tmp_path: Path) -> None:
    assert default_rules_dir() == SHIPPED  # a source checkout
    assert resolve_rules_dir("") == SHIPPED
    assert resolve_rules_dir(str(tmp_path)) == tmp_path


def test_explain_reads_like_the_rule() -> None:
    engine = LimitEngine(SHIPPED)
    text = engine.explain("IL", "adult_nonresident", date(2026, 11, 22))
    assert "cannabis concentrate: at most 2.5 g per calendar day" in text
    assert "Not sold to this class" in text and "60 g" in text  # the conflict is shown
    before = engine.explain("OH", "adult", date(2025, 6, 3))
    after = engine.explain("OH", "adult", date(2025, 6, 4))
    assert "plant material: at most 1 oz" in before and "2025-06-04" in before
    assert "plant material: at most 2.5 oz" in after
    with pytest.raises(BadInput, match="no class 'adult'"):
        engine.explain("MO", "adult", date(2023, 1, 1))


def _lookup(**fields: Any) -> Package:
    pkg = {"Label": TAG, "Item": {"Name": "Gummies"}, "Sku": "EDB-1", "Batch": "B-1", **fields}
    found = Inventory.from_json(json.dumps([pkg]).encode()).lookup(TAG)
    assert found is not None
    return found


def test_line_from_inventory_package() -> None:
    package = _lookup(Category="edible", ThcMg=100, ConcentrateMg=120, CbdMg=2)
    item = line_from_package(package, quantity=2)
    assert (item.category, item.quantity, item.thc_mg, item.concentrate_mg) == (
        "edible",
        2,
        100,
        120,
    )
    assert item.net_weight_mg is None and item.volume_ml is None
    with pytest.raises(BadInput, match=f"package {TAG}: category must be one of"):
        line_from_package(_lookup())


def test_a_weighed_line_counts_the_captured_weight() -> None:
    package = _lookup(Category="flower", NetWeightMg=3500)
    assert line_from_package(package).net_weight_mg == 3500
    assert line_from_package(package, net_weight_mg=3512).net_weight_mg == 3512


def test_epoch_seconds_is_exact_integer_time() -> None:
    from datetime import UTC, datetime, timedelta

    from edge.limits.engine import epoch_seconds

    epoch = datetime(1970, 1, 1, tzinfo=UTC)
    for text in (
        "2026-11-22T14:05:00-06:00",
        "1969-12-31T23:59:59+00:00",
        "2026-03-08T02:30:00.999999-05:00",
    ):
        at = datetime.fromisoformat(text)
        assert epoch_seconds(at) == (at - epoch) // timedelta(seconds=1)
