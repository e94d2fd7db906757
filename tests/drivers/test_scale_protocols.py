"""Pure parsers: every reply of each protocol, frames split byte by byte, noise and resync."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.scale import PROTOCOLS, Noise, Reading, Reply, Status
from drivers.scale.protocols import Parser
from drivers.scale.protocols.framing import LineFramer, StxFramer
from drivers.scale.reading import Event


def parse(protocol: str, data: bytes, *, unit: str = "auto", bytewise: bool = False) -> list[Event]:
    parser: Parser = PROTOCOLS[protocol].make_parser(unit)  # type: ignore[arg-type]
    if not bytewise:
        return parser.feed(data)
    return [event for byte in data for event in parser.feed(bytes([byte]))]


def only(events: list[Event]) -> Event:
    assert len(events) == 1, events
    return events[0]


def reading(events: list[Event]) -> Reading:
    found = [e for e in events if isinstance(e, Reading)]
    assert len(found) == 1, events
    return found[0]


# ---- MT-SICS -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "status", "mg", "unit", "step"),
    [
        (b"S S     100.00 g\r\n", Status.STABLE, 100_000, "g", 10),
        (b"S D       3.51 g\r\n", Status.MOTION, 3510, "g", 10),
        (b"S S      4.08 kg\r\n", Status.STABLE, 4_080_000, "kg", 10_000),
        (b"S S     -1.234 g\r\n", Status.STABLE, -1234, "g", 1),
        (b"S S    0.1234 lb\r\n", Status.STABLE, 55_973, "lb", 46),
    ],
)
def test_mt_sics_weights(frame: bytes, status: Status, mg: int, unit: str, step: int) -> None:
    r = only(parse("mt-sics", frame))
    assert r == Reading(status, frame.rstrip(b"\r\n"), mg, unit, step, None)


@pytest.mark.parametrize(
    ("frame", "status", "words"),
    [
        (b"S I\r\n", Status.ERROR, "busy"),
        (b"S +\r\n", Status.OVERLOAD, "overload"),
        (b"S -\r\n", Status.UNDERLOAD, "underload"),
        (b"ES\r\n", Status.ERROR, "syntax error"),
        (b"ET\r\n", Status.ERROR, "transmission error"),
        (b"EL\r\n", Status.ERROR, "logical error"),
        (b"S S     1.00 ct\r\n", Status.ERROR, "'ct' is not a mass unit"),
    ],
)
def test_mt_sics_status_and_error_replies(frame: bytes, status: Status, words: str) -> None:
    r = only(parse("mt-sics", frame))
    assert isinstance(r, Reading) and r.status is status and r.weight_mg is None
    assert words in r.detail


@pytest.mark.parametrize(
    ("frame", "command", "ok"),
    [
        (b"Z A\r\n", "zero", True),
        (b"Z I\r\n", "zero", False),
        (b"Z +\r\n", "zero", False),
        (b"ZI D\r\n", "zero", True),
        (b"T S     12.00 g\r\n", "tare", True),
        (b"T I\r\n", "tare", False),
        (b"TAC A\r\n", "clear_tare", True),
        (b'I4 A "0123456789"\r\n', "reset", True),
    ],
)
def test_mt_sics_command_replies(frame: bytes, command: str, ok: bool) -> None:
    r = only(parse("mt-sics", frame))
    assert isinstance(r, Reply) and (r.command, r.ok) == (command, ok)


def test_mt_sics_split_byte_by_byte_equals_whole() -> None:
    data = b"S D       3.40 g\r\nS S       3.50 g\r\nS +\r\n"
    assert parse("mt-sics", data, bytewise=True) == parse("mt-sics", data)
    assert [r.status for r in parse("mt-sics", data) if isinstance(r, Reading)] == [
        Status.MOTION,
        Status.STABLE,
        Status.OVERLOAD,
    ]


def test_mt_sics_noise_glued_before_a_frame_is_skipped() -> None:
    events = parse("mt-sics", b"\x00\xff#garbage S S       3.50 g\r\n")
    assert isinstance(events[0], Noise) and events[0].raw == b"\x00\xff#garbage "
    assert reading(events).weight_mg == 3500


def test_mt_sics_noise_line_then_frame() -> None:
    events = parse("mt-sics", b"\xfe\xfe\r\nS S       3.50 g\r\n", bytewise=True)
    assert isinstance(events[0], Noise)
    assert reading(events).weight_mg == 3500


def test_overlong_line_is_dropped_up_to_the_next_terminator() -> None:
    data = b"S S " + b"9" * 200 + b" g\r\nS S       3.50 g\r\n"
    events = parse("mt-sics", data)
    assert isinstance(events[0], Noise) and "longer than 64" in events[0].reason
    assert reading(events).weight_mg == 3500  # the tail of the long line is not parsed


def test_bare_cr_and_bare_lf_both_terminate() -> None:
    events = parse("mt-sics", b"S S       1.00 g\rS S       2.00 g\n")
    assert [e.weight_mg for e in events if isinstance(e, Reading)] == [1000, 2000]


# ---- Toledo 8217 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "unit_setting", "mg", "unit", "net"),
    [
        (b"\x02  1.234\r", "auto", 1_234_000, "kg", False),
        (b"\x0201.23\r", "auto", 557_918, "lb", False),  # 557 918.615 1 mg, floored
        (b"\x0201.23N\r", "auto", 557_918, "lb", True),
        (b"\x02 12.34\r", "g", 12_340, "g", False),
    ],
)
def test_8217_weights(frame: bytes, unit_setting: str, mg: int, unit: str, net: bool) -> None:
    r = reading(parse("toledo-8217", frame, unit=unit_setting))
    assert (r.status, r.weight_mg, r.unit, r.net) == (Status.STABLE, mg, unit, net)


@pytest.mark.parametrize(
    ("status_byte", "status", "weight"),
    [
        (0x61, Status.MOTION, None),
        (0x62, Status.OVERLOAD, None),
        (0x64, Status.UNDERLOAD, None),
        (0x68, Status.ERROR, None),
        (0x63, Status.OVERLOAD, None),  # motion + over capacity: the worse wins
        (0x70, Status.STABLE, 0),  # centre of zero: an empty pan
        (0x60, Status.UNCHANGED, None),
        (0x20, Status.UNCHANGED, None),
    ],
)
def test_8217_status_bytes(status_byte: int, status: Status, weight: int | None) -> None:
    r = reading(parse("toledo-8217", b"\x02?" + bytes([status_byte]) + b"\r"))
    assert (r.status, r.weight_mg) == (status, weight)


def test_8217_ambiguous_decimals_without_unit_setting_is_noise() -> None:
    (event,) = parse("toledo-8217", b"\x02 12.3\r")
    assert isinstance(event, Noise) and "set the unit" in event.reason


def test_8217_split_noise_and_resync() -> None:
    data = b"\xff\x7fjunk\x02 0.5\x02  1.234\r\x02?a\r"
    events = parse("toledo-8217", data, bytewise=True)
    noise = [e for e in events if isinstance(e, Noise)]
    readings = [e for e in events if isinstance(e, Reading)]
    assert [n.reason for n in noise] == [
        "bytes outside an STX...CR frame",
        "frame cut off by a new STX",
    ]
    assert [(r.status, r.weight_mg) for r in readings] == [
        (Status.STABLE, 1_234_000),
        (Status.MOTION, None),
    ]


def test_8217_frame_without_cr_is_capped() -> None:
    events = parse("toledo-8217", b"\x02" + b"1" * 40 + b"\r\x02  1.000\r")
    assert isinstance(events[0], Noise) and events[0].reason == "frame too long"
    assert reading(events).weight_mg == 1_000_000


def test_8217_line_end_padding_is_not_noise() -> None:
    assert parse("toledo-8217", b"\r\n\x02  1.000\r\n") == parse("toledo-8217", b"\x02  1.000\r")


# ---- Ohaus --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "status", "mg", "unit", "net"),
    [
        (b"     12.73 g    \r\n", Status.STABLE, 12_730, "g", None),
        (b"     12.73 g    ?\r\n", Status.MOTION, 12_730, "g", None),
        (b"    0.4500 oz   \r\n", Status.STABLE, 12_757, "oz", None),
        (b"  -  3.50 g      N\r\n", Status.STABLE, -3500, "g", True),
        (b"      3.50 g     ? NET\r\n", Status.MOTION, 3500, "g", True),
        (b"     0.211 kg ? G\r\n", Status.MOTION, 211_000, "kg", False),
    ],
)
def test_ohaus_weights(frame: bytes, status: Status, mg: int, unit: str, net: bool | None) -> None:
    r = reading(parse("ohaus", frame))
    assert (r.status, r.weight_mg, r.unit, r.net) == (status, mg, unit, net)


def test_ohaus_es_is_an_error_reply() -> None:
    r = reading(parse("ohaus", b"ES\r\n"))
    assert r.status is Status.ERROR and "(ES)" in r.detail


@pytest.mark.parametrize(
    "frame", [b"          3 PCS  ?\r\n", b"     12.00 g  TOTAL\r\n", b"      1.00 g  T\r\n"]
)
def test_ohaus_non_weight_prints_are_not_weights(frame: bytes) -> None:
    events = parse("ohaus", frame)
    assert not [e for e in events if isinstance(e, Reading) and e.has_weight], events


def test_ohaus_split_and_noise() -> None:
    events = parse("ohaus", b"\x00\x00     12.73 g    ?\r\n      12.70 g\r\n", bytewise=True)
    assert isinstance(events[0], Noise)
    assert [(e.status, e.weight_mg) for e in events if isinstance(e, Reading)] == [
        (Status.MOTION, 12_730),
        (Status.STABLE, 12_700),
    ]


# ---- ST/US --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("frame", "status", "mg", "unit", "net"),
    [
        (b"ST,GS,+  12.34kg\r\n", Status.STABLE, 12_340_000, "kg", False),
        (b"US,GS,+00.742kg\r\n", Status.MOTION, 742_000, "kg", False),
        (b"ST,NT,+    3.50g\r\n", Status.STABLE, 3500, "g", True),
        (b"ST,GS,-00.015kg\r\n", Status.STABLE, -15_000, "kg", False),
        (b"ST,GS,+001.62lb\r\n", Status.STABLE, 734_819, "lb", False),
        (b"ST,1,   3.50 g\r\n", Status.STABLE, 3500, "g", None),
    ],
)
def test_st_us_weights(frame: bytes, status: Status, mg: int, unit: str, net: bool | None) -> None:
    r = reading(parse("st-us", frame))
    assert (r.status, r.weight_mg, r.unit, r.net) == (status, mg, unit, net)


@pytest.mark.parametrize(
    ("frame", "status"),
    [(b"OL,GS,+99999999\r\n", Status.OVERLOAD), (b"UL,GS,-99999999\r\n", Status.UNDERLOAD)],
)
def test_st_us_overload_underload(frame: bytes, status: Status) -> None:
    r = reading(parse("st-us", frame))
    assert r.status is status and r.weight_mg is None


def test_st_us_tare_frame_is_not_a_weight() -> None:
    (event,) = parse("st-us", b"ST,TR,+00.015kg\r\n")
    assert isinstance(event, Noise)


def test_st_us_resync_after_noise_split() -> None:
    events = parse("st-us", b"\x13\x11~~ST,GS,+    3.50g\r\nxyz\r\n", bytewise=True)
    assert isinstance(events[0], Noise) and events[0].raw == b"\x13\x11~~"
    assert reading(events).weight_mg == 3500
    assert isinstance(events[-1], Noise)


def test_st_us_dini_acknowledgements_are_silent() -> None:
    assert parse("st-us", b"OK\r\n") == []


# ---- framers ------------------------------------------------------------------------------------


def test_line_framer_keeps_partial_frame_between_feeds() -> None:
    framer = LineFramer(max_len=8)
    assert framer.feed(b"abc").frames == []
    assert framer.feed(b"de\r\n").frames == [b"abcde"]


def test_stx_framer_reports_junk_once_when_the_next_frame_starts() -> None:
    framer = StxFramer(max_len=16)
    assert framer.feed(b"x").dropped == []
    chunks = framer.feed(b"yz\x02 1.000\r")
    assert chunks.frames == [b"\x02 1.000\r"] and chunks.dropped == [
        (b"xyz", "bytes outside an STX...CR frame")
    ]


def test_stx_framer_caps_junk() -> None:
    assert StxFramer(max_len=16).feed(b"j" * 40).dropped == [
        (b"j" * 16, "bytes outside an STX...CR frame"),
        (b"j" * 16, "bytes outside an STX...CR frame"),
    ]


@pytest.mark.parametrize("protocol", sorted(PROTOCOLS))
def test_random_bytes_never_raise(protocol: str) -> None:
    import random

    rng = random.Random(protocol)
    parser = PROTOCOLS[protocol].make_parser("auto")
    for _ in range(300):
        for event in parser.feed(bytes(rng.randrange(256) for _ in range(rng.randrange(40)))):
            assert isinstance(event, Reading | Reply | Noise)


_GOOD = {
    "mt-sics": [b"S S       3.50 g\r\n", b"S D       3.40 g\r\n", b"S +\r\n", b"ES\r\n"],
    "toledo-8217": [b"\x02  1.234\r", b"\x02?a\r", b"\x02?p\r"],
    "ohaus": [b"      3.50 g    \r\n", b"      3.40 g    ?\r\n", b"ES\r\n"],
    "st-us": [b"ST,GS,+    3.50g\r\n", b"US,GS,+    3.40g\r\n", b"OL,GS,+99999999\r\n"],
}


@settings(max_examples=150)
@given(data=st.data(), protocol=st.sampled_from(sorted(_GOOD)))
def test_readings_do_not_depend_on_how_the_stream_is_split(
    data: st.DataObject, protocol: str
) -> None:
    frames = data.draw(st.lists(st.sampled_from(_GOOD[protocol]), min_size=1, max_size=8))
    # High-bit junk (what a wrong baud rate produces) can never itself be a valid frame.
    junk = data.draw(st.binary(max_size=12).map(lambda b: bytes(x | 0x80 for x in b)))
    stream = junk + b"\r\n" + b"".join(frames)
    cuts = sorted(data.draw(st.sets(st.integers(1, max(1, len(stream) - 1)), max_size=10)))
    pieces = [stream[a:b] for a, b in zip([0, *cuts], [*cuts, len(stream)], strict=True)]
    parser = PROTOCOLS[protocol].make_parser("auto")
    split = [e for p in pieces for e in parser.feed(p) if not isinstance(e, Noise)]
    whole = [e for e in parse(protocol, stream) if not isinstance(e, Noise)]
    assert split == whole
    assert len([e for e in whole if isinstance(e, Reading)]) == len(frames)
