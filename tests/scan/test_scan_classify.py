"""Scan routing and `scan listen`'s classification, with a GS1 corpus read by edge.scan.gs1:
separator as GS, substituted, lost, typed as 029."""

from __future__ import annotations

import msgspec
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.scanner.events import Scan
from drivers.scanner.keystrokes import decode_events, events_for
from edge.common.errors import ConfigError
from edge.scan import retail_id_url
from edge.scan.classify import (
    AgentBadge,
    BioTrackId,
    Classifier,
    OrderTicket,
    PackageTag,
    Refused,
    RetailIdUrl,
    ScanRouter,
    SealCode,
    Unrecognised,
)
from edge.scan.config import ScanConfig
from edge.scan.gs1 import Gs1Data, Gs1Error, Gs1Reader

GS = "\x1d"
HEAD = "0109501101020917" + "17190508"  # (01) GTIN, (17) expiry: fixed length
WHOLE = HEAD + "10ABCD1234" + GS + "2110"  # (10) lot, variable: GS, then (21) serial


def c(text: str, aim: str | None = None, **cfg: object) -> object:
    return Classifier(ScanConfig(**cfg)).classify(text, aim)  # type: ignore[arg-type]


@pytest.mark.parametrize("aim", ["]d2", "]C1", "]Q3", "]J1", "]e0", None])
def test_gs1_with_separator(aim: str | None) -> None:
    got = c(WHOLE, aim)
    assert isinstance(got, Gs1Data)
    assert [(el.ai, el.value) for el in got.elements] == [
        ("01", "09501101020917"),
        ("17", "190508"),
        ("10", "ABCD1234"),
        ("21", "10"),
    ]
    assert (got.gtin, got.get("10"), got.get("21"), got.aim_id) == (
        "09501101020917",
        "ABCD1234",
        "10",
        aim,
    )


def test_leading_and_trailing_gs_are_not_data() -> None:
    got = c(GS + WHOLE + GS, "]C1")
    assert isinstance(got, Gs1Data)
    assert got.get("21") == "10"


def test_separator_as_bracket_is_refused_with_advice() -> None:
    got = c(WHOLE.replace(GS, "]"), "]d2")
    assert isinstance(got, Refused)
    assert "']'" in got.reason
    assert "gs_substitutes" in got.reason


def test_configured_substitute_is_read_as_gs() -> None:
    got = c(WHOLE.replace(GS, "]"), "]d2", gs_substitutes=["]"])
    assert isinstance(got, Gs1Data)
    assert got.get("10") == "ABCD1234"
    assert got.text == WHOLE
    got2 = c(WHOLE.replace(GS, "~"), "]C1", gs_substitutes=["~"])
    assert isinstance(got2, Gs1Data)
    assert got2.get("21") == "10"


def test_separator_as_029_is_refused_not_silently_corrupted() -> None:
    # biip alone returns (10)ABCD12340292110 here (biip 5.2).
    got = c(WHOLE.replace(GS, "029"), "]d2")
    assert isinstance(got, Refused)
    assert "029" in got.reason
    assert "ambiguous" in got.reason


@pytest.mark.parametrize("aim", ["]d2", None])
def test_lost_separator_is_ambiguous(aim: str | None) -> None:
    got = c(WHOLE.replace(GS, ""), aim)
    assert isinstance(got, Refused)
    assert "ambiguous" in got.reason


def test_variable_field_not_last_without_separator_is_refused() -> None:
    # (10) is 20 characters long at most: biip ends it there and reads on, but without GS the
    # split is a guess.
    text = "10" + "A" * 20 + "17190508"
    got = c(text, "]C1")
    assert isinstance(got, Refused)
    assert "not ended by a separator" in got.reason


def test_single_variable_field_last_needs_no_separator() -> None:
    got = c(HEAD + "10ABCD1234", "]d2")
    assert isinstance(got, Gs1Data)
    assert got.get("10") == "ABCD1234"


def test_gs_is_not_whitespace_to_the_classifier() -> None:
    assert GS.isspace()  # the Python trap the classifier must not fall into
    got = c("10AB" + GS + "21CD", "]C1")
    assert isinstance(got, Gs1Data)
    assert (got.get("10"), got.get("21")) == ("AB", "CD")


def test_gtin_from_ean_and_plain_digits() -> None:
    for aim in ("]E0", None):
        got = c("4006381333931", aim)
        assert isinstance(got, Gs1Data)
        assert got.gtin == "4006381333931"
        assert got.get("01") == "04006381333931"
    bad = c("4006381333932", "]E0")  # check digit wrong
    assert isinstance(bad, Refused)
    with pytest.raises(Gs1Error, match="digits only"):  # biip would strip the space
        Gs1Reader().read(" 4006381333931", "]E0")


def test_element_check_digits_are_checked() -> None:
    bad = c("0109501101530004", "]C1")  # (01) with a wrong check digit
    assert isinstance(bad, Refused) and "check digit" in bad.reason


def test_gs1_symbology_with_garbage_is_refused() -> None:
    assert isinstance(c("99", "]d2"), Refused)
    assert isinstance(c("12345", None), Unrecognised)


def test_package_tags_and_retail_id_are_the_cores_word() -> None:
    assert c("1A4000000000000000000001") == PackageTag("1A4000000000000000000001")
    assert c("1a4000000000000000000001") == PackageTag("1A4000000000000000000001")
    url = retail_id_url("1A4060300002C9B000012345", 7)
    assert c(url) == RetailIdUrl(url)
    assert c("HTTPS://1A4.COM/3aBcD") == Refused("HTTPS://1A4.COM/3aBcD", c_problem(url))
    assert isinstance(c("https://example.com/1A4"), Unrecognised)
    assert isinstance(c("1A40000000000000000001"), Unrecognised)  # too short
    assert c("6647382910293847") == BioTrackId("6647382910293847")
    # 16 digits from a GS1 symbology are (01) + GTIN-14, not a BioTrack id
    got = c("0109501101530003", "]C1")
    assert isinstance(got, Gs1Data) and got.gtin == "09501101530003"
    assert c("ABC", tag_patterns=["^ABC$"]) == PackageTag("ABC")


def c_problem(_url: str) -> str:
    from edge.scan import Recogniser

    problem = Recogniser().recognise("HTTPS://1A4.COM/3aBcD").problem
    assert problem
    return problem


def test_the_router_matches_only_station_codes() -> None:
    router = ScanRouter(ScanConfig())
    assert router.route("BADGE-ANNA1") == AgentBadge("BADGE-ANNA1")
    assert router.route("ORD-42") == OrderTicket("ORD-42")
    assert router.route("SEAL-1042-0123456789ABCDEF") == SealCode("SEAL-1042-0123456789ABCDEF")
    for package in ("1A4000000000000000000001", WHOLE, WHOLE.replace(GS, "029"), ""):
        assert router.route(package) is None  # the core judges it, GS1 or not


def test_badge_ticket_seal_from_config() -> None:
    assert c("BADGE-ANNA1") == AgentBadge("BADGE-ANNA1")
    assert c("ORD-42") == OrderTicket("ORD-42")
    assert c("SEAL-1042-0123456789ABCDEF") == SealCode("SEAL-1042-0123456789ABCDEF")
    assert c("EMP:7", badge_pattern=r"^EMP:\d+$") == AgentBadge("EMP:7")
    assert isinstance(c("BADGE-ANNA1", badge_pattern=r"^EMP:\d+$"), Unrecognised)


def test_whitespace_around_gs1_data_is_not_dropped_by_biip() -> None:
    # biip strips the value; the reader must not accept a scan it did not read whole.
    for text in (" 2110", "2110 ", " "):
        with pytest.raises(Gs1Error):
            Gs1Reader().read(text, "]d2")
    # the core trims a scan before judging it (GS kept), and the classifier shows its view
    got = c(" 2110\r", "]d2")
    assert isinstance(got, Gs1Data) and got.get("21") == "10"
    assert c(" ", "]d2") == Unrecognised(" ", "empty scan")


def test_unrecognised_and_empty() -> None:
    assert isinstance(c("hello world"), Unrecognised)
    assert isinstance(c(""), Unrecognised)


@pytest.mark.parametrize(
    ("gs_mode", "kind"),
    [("ctrl", Gs1Data), ("alt", Gs1Data), ("digits", Refused), ("drop", Refused)],
)
@pytest.mark.parametrize("layout", ["us", "de", "fr"])
def test_scanned_gs1_end_to_end(gs_mode: str, kind: type, layout: str) -> None:
    events = events_for(WHOLE, layout_name=layout, gs_mode=gs_mode, aim_id="]d2")  # type: ignore[arg-type]
    from drivers.config import ScannerConfig

    (scan,) = [
        s for s in decode_events(events, ScannerConfig(layout=layout)) if isinstance(s, Scan)
    ]  # type: ignore[arg-type]
    assert isinstance(Classifier().classify(scan.text, scan.aim_id), kind)


@settings(max_examples=300)
@given(
    text=st.text(alphabet=st.sampled_from("0123456789ABCDabcd]~-/:\x1d \t%"), max_size=60),
    aim=st.sampled_from([None, "]d2", "]C1", "]E0", "]C0", "]Q3"]),
)
def test_classification_never_raises(text: str, aim: str | None) -> None:
    got = Classifier(ScanConfig(gs_substitutes=["~"])).classify(text, aim)
    if isinstance(got, Gs1Data):
        # accepted GS1 data reassembles to the scanned text: nothing dropped or invented
        body = got.text.removeprefix(GS).removesuffix(GS)
        joined = "".join(el.ai + el.value for el in got.elements)
        assert got.elements
        assert joined == body.replace(GS, "") or (got.elements[0].ai == "01" and aim == "]E0")


def test_hri_and_digital_link_are_read_with_dates() -> None:
    got = Gs1Reader().read("(01)09501101530003(17)140704(10)AB-1")
    assert (got.gtin, got.batch, got.expiry) == ("09501101530003", "AB-1", "2014-07-04")
    link = c("https://id.gs1.org/01/09501101530003")
    assert isinstance(link, Gs1Data) and link.gtin == "09501101530003"
    assert isinstance(c("(01)09501101530004"), Refused)  # check digit


def test_listen_prints_elements_as_before() -> None:
    got = c("0109501101020917" + GS + "10AB", "]C1")
    assert msgspec.json.decode(msgspec.json.encode(got)) == {
        "type": "gs1",
        "text": "0109501101020917\x1d10AB",
        "elements": [
            {"ai": "01", "value": "09501101020917", "title": "GTIN"},
            {"ai": "10", "value": "AB", "title": "BATCH/LOT"},
        ],
        "gtin": "09501101020917",
        "aim_id": "]C1",
    }


def test_a_tag_pattern_the_core_cannot_compile_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="tag_patterns"):
        Classifier(ScanConfig(tag_patterns=[r"(?=1A4)"]))  # look-ahead: Python only
