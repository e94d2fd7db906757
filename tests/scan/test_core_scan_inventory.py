"""The inventory index through the extension: loading, lookup, near-miss and reconciliation,
with hypothesis properties against brute force and Python set arithmetic."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge._core import Inventory, InventoryFormatError, ScanCoreError
from tests.support.core_scan import dump, osa, package

TAG = "1A4060300002C9B000012345"


def test_loads_array_or_metrc_page_and_keeps_decimals_exact(tmp_path: Path) -> None:
    # Written by hand: Python's json would already have turned 3.50 into the float 3.5.
    pkg = json.dumps(package(TAG.lower(), Item={"Name": "Blue Dream"}, Quantity="Q", ThcMg="T"))
    pkg = pkg.replace('"Q"', "3.50").replace('"T"', "857")
    pkg = pkg.replace('"Name": "Blue Dream"', '"Name": "Blue Dream", "UnitThcContent": 245.10')
    for text in (f"[{pkg}]", f'{{"Data": [{pkg}], "Total": 1, "PageNumber": 1}}'):
        path = tmp_path / "inv.json"
        path.write_text(text)
        for inv in (Inventory.from_file(path), Inventory.from_json(text.encode())):
            p = inv.lookup(TAG)
            assert p is not None
            assert (p.label, p.sku, p.batch, p.name) == (TAG, "FLW-BD-35", "B-1", "Blue Dream")
            assert (p.quantity, p.unit_thc_content) == ("3.50", "245.10")  # never a float
            assert (p.net_weight_mg, p.thc_mg, p.cbd_mg) == (3500, 857, None)
            assert (p.packaged_date, p.expiration_date) == ("2026-09-30", "2027-03-31")
            assert TAG.lower() in inv and len(inv) == 1


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (
            '[{"Label": "A", "Item": {"Name": "n"}, "Batch": "b"}]',
            'package #1 (Label A): "Sku" is missing',
        ),
        (
            '[{"Label": "A", "Item": {"Name": "n"}, "Sku": "s", "Batch": "b", "ThcMg": 2.5}]',
            "whole number",
        ),
        ('{"Total": 0}', '"Data"'),
        ("[{", "EOF"),
        ("", "EOF"),
    ],
)
def test_bad_inventory_raises_a_named_error(tmp_path: Path, data: str, message: str) -> None:
    with pytest.raises(InventoryFormatError, match=re.escape(message)):
        Inventory.from_json(data.encode())
    path = tmp_path / "bad.json"
    path.write_text(data)
    with pytest.raises(InventoryFormatError, match=re.escape(message)) as err:
        Inventory.from_file(path)
    assert str(path) in str(err.value)
    assert isinstance(err.value, ScanCoreError) and isinstance(err.value, ValueError)


def test_duplicate_labels_are_refused() -> None:
    with pytest.raises(InventoryFormatError, match=f"duplicate Label {TAG}: packages #1 and #2"):
        Inventory.from_json(dump([package(TAG), package(TAG.lower(), batch="B-9")]))


def test_missing_file_is_an_oserror(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        Inventory.from_file(tmp_path / "nope.json")


def test_near_ranks_by_distance_then_tag() -> None:
    tags = [TAG, TAG[:-2] + "54", TAG[:-1] + "9", "1A4060300002C9B000099999"]
    inv = Inventory.from_json(dump([package(t) for t in tags]))
    query = TAG[:-2] + "54"  # a transposition of TAG's last two digits, and a real tag itself
    assert inv.near(query) == [(query, 0), (TAG, 1), (TAG[:-1] + "9", 2)]
    assert inv.near(query, max_distance=1, limit=2) == [(query, 0), (TAG, 1)]
    assert inv.near(query, limit=None) == inv.near(query, limit=10)


hex_tags = st.text(alphabet="0123AB", min_size=3, max_size=8)


@settings(max_examples=60)
@given(
    st.lists(hex_tags, min_size=1, max_size=60, unique_by=str.upper),
    st.lists(hex_tags, min_size=1, max_size=10),
    st.integers(0, 2),
)
def test_near_equals_brute_force(tags: list[str], queries: list[str], k: int) -> None:
    inv = Inventory.from_json(dump([package(t) for t in tags]))
    for q in queries:
        want = sorted((osa(t, q), t) for t in tags if osa(t, q) <= k)
        assert inv.near(q, k, None) == [(t, d) for d, t in want]
        assert inv.near(q, k, 3) == [(t, d) for d, t in want[:3]]


counted_pairs = st.lists(
    st.tuples(
        st.sampled_from(["T1", "T2", "T3", "T4", "T5", "T6", "X1", "X2"]),
        st.sampled_from(["s1", "s2", "s3"]),
    ),
    max_size=12,
)


@settings(max_examples=80)
@given(
    st.dictionaries(
        st.sampled_from(["T1", "T2", "T3", "T4", "T5", "T6"]),
        st.sampled_from(["s1", "s2", "s3"]),
        min_size=1,
    ),
    counted_pairs,
    st.one_of(st.none(), st.lists(st.sampled_from(["s1", "s2", "s3"]), unique=True)),
)
def test_reconcile_equals_set_arithmetic(
    located: dict[str, str], counted: list[tuple[str, str]], scope: list[str] | None
) -> None:
    inv = Inventory.from_json(dump([package(t, Location=loc) for t, loc in located.items()]))
    r = inv.reconcile(counted, scope)
    first: dict[str, str] = {}
    for tag, loc in counted:
        first.setdefault(tag, loc)
    expected = {t for t, loc in located.items() if scope is None or loc in scope}
    assert set(r.missing) == expected - set(first)
    assert {t for t, _ in r.unexpected} == set(first) - set(located)
    assert {(t, c, e) for t, c, e in r.wrong_place} == {
        (t, loc, located[t]) for t, loc in first.items() if t in located and located[t] != loc
    }
    assert set(r.matched) == {t for t, loc in first.items() if located.get(t) == loc}
    assert set(r.duplicates) == {t for t in first if sum(1 for c, _ in counted if c == t) > 1}
    assert len(r.missing) == len(set(r.missing))


def test_reconcile_big_counts_stay_linear() -> None:
    tags = [f"1A4060300002C9B{i:09X}" for i in range(20_000)]
    inv = Inventory.from_json(
        json.dumps([package(t, Location=f"s{i % 7}") for i, t in enumerate(tags)]).encode()
    )
    counted = [(t, f"s{i % 7}") for i, t in enumerate(tags)][100:]
    r = inv.reconcile(counted)
    assert r.missing == tags[:100]
    assert len(r.matched) == len(tags) - 100 and not r.wrong_place and not r.unexpected


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4)
    ),
    max_leaves=20,
)
package_like = st.fixed_dictionaries(
    {"Label": st.text(max_size=30), "Sku": st.text(max_size=5), "Batch": st.text(max_size=5)},
    optional={
        "Item": st.dictionaries(st.sampled_from(["Name", "UnitThcContent"]), json_values),
        "NetWeightMg": json_values,
        "Quantity": json_values,
        "PackagedDate": json_values,
        "IsOnHold": json_values,
    },
)


@settings(max_examples=150)
@given(
    st.one_of(
        st.binary(max_size=120), json_values.map(dump), st.lists(package_like, max_size=4).map(dump)
    )
)
def test_garbage_never_panics(data: bytes) -> None:
    """Whatever the bytes, the core answers with an inventory or a named error, never a panic."""
    try:
        inv = Inventory.from_json(data)
    except InventoryFormatError:
        return
    for label in inv.labels():
        assert inv.lookup(label) is not None
        inv.near(label, 2, None)
