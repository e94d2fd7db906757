"""The limit check's clock (`edge.limits.engine.store_clock`, the core's LimitZone): the
check's ISO 8601 time read to epoch seconds and its store-local day in the core, equal to
Python's `datetime` for every time, across DST transitions and in zones with half-hour and
45-minute offsets; other shapes and bad times go to Python's parser."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from itertools import pairwise
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from edge.common.errors import BadInput
from edge.limits.engine import store_clock

ZONES = (
    "America/Denver",
    "America/New_York",
    "America/St_Johns",  # -03:30 / -02:30
    "Asia/Kolkata",  # +05:30, no DST
    "Asia/Kathmandu",  # +05:45
    "Australia/Lord_Howe",  # a 30-minute DST shift
    "Pacific/Chatham",  # +12:45 / +13:45
    "America/Havana",  # changes at local midnight: the day itself moves
    "America/Santiago",  # changes at local midnight (24:00)
    "UTC",
)
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def expected(text: str, zone: ZoneInfo) -> tuple[int, int]:
    at = datetime.fromisoformat(text)
    return (at - EPOCH) // timedelta(seconds=1), at.astimezone(zone).toordinal()


@settings(max_examples=400, deadline=None)
@given(
    zone=st.sampled_from(ZONES),
    written_in=st.sampled_from(ZONES),
    seconds=st.integers(946_684_800, 2_208_988_800),  # 2000 .. 2040
    micros=st.integers(0, 999_999),
    spec=st.sampled_from(["seconds", "milliseconds", "microseconds", "auto"]),
    zulu=st.booleans(),
)
def test_the_core_reads_times_as_python_does(
    zone: str, written_in: str, seconds: int, micros: int, spec: str, zulu: bool
) -> None:
    at = (EPOCH + timedelta(seconds=seconds, microseconds=micros)).astimezone(ZoneInfo(written_in))
    text = at.isoformat(timespec=spec)
    if zulu and at.utcoffset() == timedelta(0):
        text = text.replace("+00:00", "Z")
    assert store_clock(ZoneInfo(zone)).at(text) == expected(text, ZoneInfo(zone))


@pytest.mark.parametrize("zone", ZONES)
def test_every_quarter_hour_of_a_transition_year(zone: str) -> None:
    clock, tz = store_clock(ZoneInfo(zone)), ZoneInfo(zone)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    for quarter in range(0, 366 * 96, 7):  # every 1 h 45 min: every hour slot, both halves
        text = (start + timedelta(minutes=15 * quarter)).isoformat()
        assert clock.at(text) == expected(text, tz), text
    for quarter in range(0, 366 * 96, 7):  # again, from the hours the core now remembers
        text = (start + timedelta(minutes=15 * quarter, seconds=59)).isoformat()
        assert clock.at(text) == expected(text, tz), text


@pytest.mark.parametrize(
    "text",
    [
        "2026-11-22 12:00:00-07:00",  # space separator
        "2026-11-22T12:00:00+0700",  # basic offset
        "2026-11-22T12:00+00:00",  # no seconds
        "2026-11-22T12:00:00,5+00:00",  # comma fraction
        "2026-11-22T12:00:00.1234567+00:00",  # seven digits
        "2026-11-22T12:00:00+05:30:15",  # offset with seconds
        "20261122T120000Z",  # basic format
    ],
)
def test_other_shapes_python_reads_are_read_as_python_reads_them(text: str) -> None:
    zone = ZoneInfo("America/Denver")
    assert store_clock(zone).at(text) == expected(text, zone)


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("2026-11-22T12:00:00", "has no UTC offset"),
        ("2026-02-29T12:00:00Z", "not an ISO 8601 time"),
        ("2026-11-22T24:00:00Z", "not an ISO 8601 time"),
        ("", "not an ISO 8601 time"),
        ("soon", "not an ISO 8601 time"),
    ],
)
def test_bad_times_are_refused_by_name(text: str, problem: str) -> None:
    with pytest.raises(BadInput, match=problem):
        store_clock(ZoneInfo("UTC")).at(text)


@pytest.mark.parametrize("zone", ZONES)
def test_every_minute_around_each_transition(zone: str) -> None:
    tz = ZoneInfo(zone)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    hours = [start + timedelta(hours=h) for h in range(366 * 24)]
    changes = [
        a
        for a, b in pairwise(hours)
        if a.astimezone(tz).utcoffset() != b.astimezone(tz).utcoffset()
    ]
    assert changes or zone in ("Asia/Kolkata", "Asia/Kathmandu", "UTC")
    for hour in changes:
        clock = store_clock(tz)  # a fresh one: its first look at these hours
        for minute in range(-120, 180):
            text = (hour + timedelta(minutes=minute, seconds=30)).isoformat()
            assert clock.at(text) == expected(text, tz), text
