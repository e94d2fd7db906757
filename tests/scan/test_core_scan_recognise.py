"""Scan recognition through the extension: normalising, classifying, Retail ID decoding."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from edge._core import CoreError, Inventory, Recogniser, TagPatternError, retail_id_url

TAG = "1A4060300002C9B000012345"


@pytest.fixture(scope="module")
def rec() -> Recogniser:
    return Recogniser()


@pytest.mark.parametrize(
    ("raw", "kind", "tag"),
    [
        (TAG, "metrc_tag", TAG),
        (f"  {TAG.lower()}\r\n", "metrc_tag", TAG),
        (f"\x02{TAG}\x03", "metrc_tag", TAG),
        ("ABCDEF012345670000010331", "metrc_tag", "ABCDEF012345670000010331"),
        ("HTTPS://1A4.COM/5LN8CBN1UB33DON9CHKX", "retail_id", "1A4060300020081000006609"),
        ("6647382910293847", "biotrack", "6647382910293847"),
        ("]C1010950110153000317140704\x1d10AB-123", "gs1", None),
        ("(01)09501101530003(17)140704", "gs1", None),
        ("https://id.gs1.org/01/09501101530003", "gs1", None),
        ("", "empty", None),
        ("\r\n", "empty", None),
        ("HTTPS://1A4.COM/5LN8", "malformed", None),
        ("1A40603\x0700002C9B000012345", "malformed", None),
        ("hello", "unrecognised", None),
        (TAG[:-1], "unrecognised", None),
    ],
)
def test_classifies(rec: Recogniser, raw: str, kind: str, tag: str | None) -> None:
    r = rec.recognise(raw)
    assert (r.kind, r.tag) == (kind, tag)


def test_an_aim_id_split_off_by_the_driver_is_taken_as_given(rec: Recogniser) -> None:
    r = rec.recognise("\x1d0109501101530003\x1d10AB\r", "]d2")
    assert (r.symbology, r.text, r.kind) == ("]d2", "\x1d0109501101530003\x1d10AB", "gs1")
    assert rec.recognise("6647382910293847", "]C1").kind == "gs1"  # not a BioTrack id
    assert rec.recognise("6647382910293847", "]Q1").kind == "biotrack"
    # the text after a split-off identifier is never split again
    assert rec.recognise("]C1" + TAG, "]Q1").kind == "unrecognised"
    assert rec.recognise(TAG.lower(), "]Q1").tag == TAG
    assert rec.recognise("]C1" + TAG).symbology == "]C1"  # no aim_id: a raw scan


def test_symbology_is_kept_and_gs_is_never_stripped(rec: Recogniser) -> None:
    r = rec.recognise("]d2\x1d0109501101530003\x1d10AB\x1d\n")
    assert r.symbology == "]d2"
    assert r.text == "\x1d0109501101530003\x1d10AB\x1d"
    assert r.kind == "gs1"


def test_retail_id_decodes_both_encodings(rec: Recogniser) -> None:
    r = rec.recognise("HTTPS://1A4.COM/5LN8CBN1UB33DON9CHKX")
    assert (r.tag, r.unit) == ("1A4060300020081000006609", 1)
    lower = retail_id_url("1a4060300020081000006609", 300, base36=False)
    assert lower.startswith("https://1a4.com/")
    r = rec.recognise(lower)
    assert (r.kind, r.tag, r.unit) == ("retail_id", "1A4060300020081000006609", 300)


@given(st.text(alphabet="0123456789ABCDEF", min_size=24, max_size=24), st.integers(0, 2**64 - 1))
def test_retail_id_round_trips(tag: str, unit: int) -> None:
    rec = Recogniser()
    for base36 in (True, False):
        r = rec.recognise(retail_id_url(tag, unit, base36=base36))
        assert (r.kind, r.tag, r.unit) == ("retail_id", tag, unit)


@given(st.text())
def test_recognise_never_raises(raw: str) -> None:
    r = Recogniser().recognise(raw)
    assert r.kind in {
        "empty",
        "metrc_tag",
        "retail_id",
        "biotrack",
        "gs1",
        "malformed",
        "unrecognised",
    }


def test_tag_patterns_come_from_config() -> None:
    only_1a4 = Recogniser([r"^1A4[0-9A-F]{21}$"])
    assert only_1a4.recognise("ABCDEF012345670000010331").kind == "unrecognised"
    assert only_1a4.recognise(TAG).kind == "metrc_tag"
    with pytest.raises(TagPatternError, match=r"\^1A4\[0-9"):
        Recogniser(["^1A4[0-9"])


def test_bad_options_raise_core_error() -> None:
    with pytest.raises(CoreError, match="24-hex-digit package id"):
        retail_id_url("XYZ", 1)
    with pytest.raises(CoreError, match=r"max_distance must be 0\.\.4"):
        Inventory.from_json(b"[]").near(TAG, 9)
