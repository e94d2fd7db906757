"""Key events -> scans, per keyboard layout, with hand-built event streams (no simulator)."""

from __future__ import annotations

import pytest
from evdev import ecodes as e
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.config import ScannerConfig
from drivers.scanner.decoder import Decoder, alt_code_char
from drivers.scanner.events import Scan, ScanDiscarded
from tests.support.scanner import Keys, decode, scans, texts

GS = "\x1d"
Z, Y, TWO, MINUS, RB = e.KEY_Z, e.KEY_Y, e.KEY_2, e.KEY_MINUS, e.KEY_RIGHTBRACE
SHIFT, CTRL, ALT, ALTGR = e.KEY_LEFTSHIFT, e.KEY_LEFTCTRL, e.KEY_LEFTALT, e.KEY_RIGHTALT


# shared/hardware.md (b), verified with libxkbcommon: Z, Shift+Z, Y, Shift+2, '-' per layout.
@pytest.mark.parametrize(
    ("layout", "expected"),
    [("us", "zZy@-"), ("de", 'yYz"ß'), ("fr", "wWy2)")],
)
def test_same_keys_read_per_layout(layout: str, expected: str) -> None:
    k = Keys().tap(Z).tap(SHIFT, Z).tap(Y).tap(SHIFT, TWO).tap(MINUS).enter()
    assert texts(k.events, layout=layout) == [expected]


@pytest.mark.parametrize("layout", ["us", "de", "fr"])
def test_ctrl_rightbrace_is_gs_in_every_layout(layout: str) -> None:
    # xkb's own Ctrl transform gives '+' (de) and '$' (fr) here; scanners mean GS.
    k = Keys().taps(e.KEY_1, e.KEY_0).tap(CTRL, RB).taps(e.KEY_2, e.KEY_1).enter()
    got = texts(k.events, layout=layout)
    digits = {"us": ("10", "21"), "de": ("10", "21"), "fr": ("&à", "é&")}[layout]
    assert got == [digits[0] + GS + digits[1]]


def test_ctrl_letter_follows_the_layout() -> None:
    # Ctrl + the key that types 'z' in German (the Y position) is SUB (0x1A), not EM (0x19).
    assert texts(Keys().tap(CTRL, Y).enter().events, layout="de") == ["\x1a"]
    assert texts(Keys().tap(CTRL, Y).enter().events, layout="us") == ["\x19"]


@pytest.mark.parametrize("layout", ["us", "de", "fr"])
def test_alt_keypad_0029_is_gs(layout: str) -> None:
    k = Keys().taps(e.KEY_KP1, e.KEY_KP0)  # keypad digits type digits (Num Lock on)
    k.key(ALT, 1).taps(e.KEY_KP0, e.KEY_KP0, e.KEY_KP2, e.KEY_KP9).key(ALT, 0)
    k.taps(e.KEY_KP2, e.KEY_KP1).enter()
    assert texts(k.events, layout=layout) == ["10" + GS + "21"]


def test_alt_codes_follow_windows_code_pages() -> None:
    assert alt_code_char("0029") == GS
    assert alt_code_char("29") == GS
    assert alt_code_char("065") == "A"
    assert alt_code_char("0196") == "Ä"  # cp1252 with the leading 0
    assert alt_code_char("142") == "Ä"  # cp437 without
    assert alt_code_char("0") == ""
    assert alt_code_char("321") == "A"  # wraps modulo 256


def test_alt_with_other_keys_types_nothing() -> None:
    k = Keys().tap(e.KEY_A).key(ALT, 1).tap(e.KEY_B).key(ALT, 0).tap(e.KEY_C).enter()
    assert texts(k.events) == ["ac"]


def test_caps_lock_and_shift() -> None:
    k = Keys().tap(e.KEY_CAPSLOCK).taps(e.KEY_A, e.KEY_1).tap(SHIFT, e.KEY_B).enter()
    assert texts(k.events) == ["A1b"]  # Caps Lock affects letters only; Shift undoes it


def test_caps_lock_survives_scans_until_toggled() -> None:
    k = Keys().tap(e.KEY_CAPSLOCK).tap(e.KEY_A).enter().tap(e.KEY_A).enter()
    k.tap(e.KEY_CAPSLOCK).tap(e.KEY_A).enter()
    assert texts(k.events) == ["A", "A", "a"]


def test_num_lock_off_keypad_types_nothing() -> None:
    k = Keys().tap(e.KEY_KP1).tap(e.KEY_NUMLOCK).tap(e.KEY_KP2).tap(e.KEY_NUMLOCK).tap(e.KEY_KP3)
    assert texts(k.enter().events) == ["13"]
    assert texts(Keys().tap(e.KEY_KP5).enter().events, numlock=False) == []


def test_altgr_in_german_and_french() -> None:
    q, zero = e.KEY_Q, e.KEY_0
    assert texts(Keys().tap(ALTGR, q).tap(ALTGR, e.KEY_8).enter().events, layout="de") == ["@["]
    assert texts(Keys().tap(ALTGR, zero).tap(ALTGR, e.KEY_3).enter().events, layout="fr") == ["@#"]


def test_dead_key_then_space_types_the_accent() -> None:
    # German '^' exists only as a dead key: scanners send it + Space.
    k = Keys().tap(e.KEY_GRAVE).tap(e.KEY_SPACE).tap(e.KEY_A).enter()
    assert texts(k.events, layout="de") == ["^a"]


def test_autorepeat_is_ignored() -> None:
    k = Keys().key(e.KEY_A, 1).key(e.KEY_A, 2).key(e.KEY_A, 2).key(e.KEY_A, 0).enter()
    assert texts(k.events) == ["a"]


@pytest.mark.parametrize(
    ("key", "ended_by"),
    [(e.KEY_ENTER, "enter"), (e.KEY_KPENTER, "kpenter"), (e.KEY_TAB, "tab")],
)
def test_end_keys(key: int, ended_by: str) -> None:
    got = scans(Keys().taps(e.KEY_A, e.KEY_B).tap(key).taps(e.KEY_C).tap(key).events)
    assert [(s.text, s.ended_by) for s in got] == [("ab", ended_by), ("c", ended_by)]


def test_tab_not_an_end_key_is_a_character() -> None:
    k = Keys().tap(e.KEY_A).tap(e.KEY_TAB).tap(e.KEY_B).enter()
    assert texts(k.events, end_keys=["enter"]) == ["a\tb"]


def test_idle_gap_ends_a_scan_without_suffix() -> None:
    k = Keys().taps(e.KEY_A, e.KEY_B).wait(81).taps(e.KEY_C)
    got = scans(k.events, idle_gap_ms=80)
    assert [(s.text, s.ended_by) for s in got] == [("ab", "idle"), ("c", "idle")]
    # a slower scanner keeps one scan with a longer gap configured
    assert texts(k.events, idle_gap_ms=200) == ["abc"]


def test_idle_gap_needs_the_clock_when_no_key_follows() -> None:
    dec = Decoder(ScannerConfig(idle_gap_ms=80), device="d", node="n")
    for ev in Keys(start=100.0).taps(e.KEY_A).events:
        dec.feed(ev)
    assert dec.poll(100.05) == []
    assert dec.deadline() == pytest.approx(100.001 + 0.08)  # key up at +1 ms
    got = dec.poll(100.2)
    assert [s.text for s in got if isinstance(s, Scan)] == ["a"]


def test_syn_dropped_discards_partial_scan_and_says_so() -> None:
    k = Keys().taps(e.KEY_A, e.KEY_B).dropped()
    k.key(e.KEY_C, 1)  # part of the unreliable frame: ignored
    k.raw(e.EV_SYN, e.SYN_REPORT, 0)
    k.taps(e.KEY_D).enter()
    out = decode(k.events)
    assert isinstance(out[0], ScanDiscarded)
    assert (out[0].partial, out[0].reason) == ("ab", "syn_dropped")
    assert [s.text for s in out[1:] if isinstance(s, Scan)] == ["d"]


def test_syn_dropped_releases_held_shift() -> None:
    k = Keys().key(SHIFT, 1).dropped().raw(e.EV_SYN, e.SYN_REPORT, 0).tap(e.KEY_A).enter()
    assert texts(k.events) == ["a"]


def test_aim_identifier_is_kept_apart() -> None:
    k = Keys().tap(RB).tap(SHIFT, e.KEY_D).tap(e.KEY_2).taps(e.KEY_0, e.KEY_1).enter()
    (scan,) = scans(k.events)
    assert (scan.aim_id, scan.text) == ("]D2", "01")
    (plain,) = scans(k.events, aim_ids=False)
    assert (plain.aim_id, plain.text) == (None, "]D201")


def test_too_long_scan_is_discarded() -> None:
    k = Keys().taps(*([e.KEY_A] * 20)).enter().tap(e.KEY_B).enter()
    out = decode(k.events, max_scan_chars=16)
    assert isinstance(out[0], ScanDiscarded)
    assert out[0].reason == "too_long"
    assert [s.text for s in out[1:] if isinstance(s, Scan)] == ["b"]


def test_empty_scan_is_no_scan() -> None:
    assert decode(Keys().enter().enter().events) == []


def test_scan_timestamps_are_first_and_last_key() -> None:
    (scan,) = scans(Keys(start=50.0, step_us=1000).taps(e.KEY_A, e.KEY_B).enter().events)
    assert scan.t_first == pytest.approx(50.0)
    assert scan.t_last == pytest.approx(50.003)  # b pressed at +2 ms, released at +3 ms


def test_two_nodes_interleaved_keep_their_own_scans() -> None:
    # Two event nodes (two interfaces or two scanners) type at once; each node has its own
    # modifier state and buffer, so neither scan is mixed into the other.
    a = Keys(start=10.0).tap(SHIFT, e.KEY_A).taps(e.KEY_1, e.KEY_2).enter().events
    b = Keys(start=10.0005).taps(e.KEY_B).tap(CTRL, RB).taps(e.KEY_3).enter().events
    decoders = {n: Decoder(ScannerConfig(), device="d", node=n) for n in ("n1", "n2")}
    out = []
    merged = sorted(
        [("n1", ev) for ev in a] + [("n2", ev) for ev in b],
        key=lambda p: p[1].sec + p[1].usec / 1e6,
    )
    for node, ev in merged:
        out += decoders[node].feed(ev)
    got = sorted((s.node, s.text) for s in out if isinstance(s, Scan))
    assert got == [("n1", "A12"), ("n2", "b" + GS + "3")]


_EVENTS = st.lists(
    st.tuples(
        st.sampled_from([e.EV_SYN, e.EV_KEY, e.EV_MSC, e.EV_LED]),
        st.integers(0, 0x2FF),
        st.integers(-1, 3),
    ),
    max_size=200,
)


@settings(max_examples=150)
@given(stream=_EVENTS, layout=st.sampled_from(["us", "de", "fr"]))
def test_any_event_stream_decodes_without_error(
    stream: list[tuple[int, int, int]], layout: str
) -> None:
    # Garbage from a device must never raise: the daemon never dies on input.
    dec = Decoder(ScannerConfig(layout=layout, max_scan_chars=64), device="d", node="n")  # type: ignore[arg-type]
    t = Keys()
    for type_, code, value in stream:
        t.raw(type_, code, value)
        t.t_us += 500
    out = []
    for ev in t.events:
        out += dec.feed(ev)
    out += dec.expire()
    for ev in out:
        assert isinstance(ev, Scan | ScanDiscarded)
        if isinstance(ev, Scan):
            assert ev.text
            assert len(ev.text) <= 64
