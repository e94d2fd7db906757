"""The capture gate: scale flag AND software window, return to zero, never zero on silence."""

from __future__ import annotations

from drivers.scale import Capture, Capturer, CaptureRules, NoReadingReason, Reading, Status

RULES = CaptureRules(stable_readings=3, window_ms=200, zero_threshold_mg=20, max_age_ms=1000)


def stable(mg: int, division: int = 10, unit: str = "g") -> Reading:
    return Reading(Status.STABLE, f"S S {mg}".encode(), mg, unit, division)


def feed(c: Capturer, readings: list[Reading], start: int = 0, step: int = 100) -> int:
    t = start
    for r in readings:
        c.observe(r, t)
        t += step
    return t - step


def test_capture_needs_n_readings_spanning_the_window() -> None:
    c = Capturer(RULES)
    c.observe(stable(3500), 0)
    c.observe(stable(3500), 100)
    assert c.take(100) is None
    assert c.condition().reason is NoReadingReason.SETTLING
    c.observe(stable(3500), 150)  # three readings but only 150 ms
    assert c.take(150) is None
    c.observe(stable(3500), 200)
    got = c.take(200)
    assert got == Capture(3500, "g", 10, b"S S 3500", None)


def test_readings_more_than_one_division_apart_restart_the_window() -> None:
    c = Capturer(RULES)
    t = feed(c, [stable(3500), stable(3520), stable(3510), stable(3500)])
    assert c.take(t) is None  # 3500 vs 3520 is two divisions: only the last two/three agree
    c.observe(stable(3510), t + 100)
    got = c.take(t + 100)
    assert got is not None and got.net_mg == 3500  # the lowest agreeing reading: never overstated


def test_motion_overload_underload_error_reset_the_window() -> None:
    for status, reason in [
        (Status.MOTION, NoReadingReason.MOTION),
        (Status.OVERLOAD, NoReadingReason.OVERLOAD),
        (Status.UNDERLOAD, NoReadingReason.UNDERLOAD),
        (Status.ERROR, NoReadingReason.ERROR_REPLY),
    ]:
        c = Capturer(RULES)
        t = feed(c, [stable(3500), stable(3500)])
        c.observe(Reading(status, b"x", 3500 if status is Status.MOTION else None), t + 100)
        assert c.take(t + 100) is None
        assert c.condition().reason is reason
        t = feed(c, [stable(3500), stable(3500)], start=t + 200)
        assert c.take(t) is None  # the window starts over after the interruption


def test_silence_is_no_reading_not_zero() -> None:
    c = Capturer(RULES)
    t = feed(c, [stable(3500)] * 3)
    c.observe_silence("no reply within 2000 ms", NoReadingReason.TIMEOUT)
    assert c.take(t) is None
    assert c.condition().reason is NoReadingReason.TIMEOUT
    assert c.armed is True  # a timeout is not the pan returning to zero


def test_return_to_zero_between_captures() -> None:
    c = Capturer(RULES)
    t = feed(c, [stable(3500)] * 3)
    assert c.take(t) is not None
    t = feed(c, [stable(3500)] * 4, start=t + 100)
    assert c.take(t) is None
    assert c.condition().reason is NoReadingReason.NOT_ZEROED
    t = feed(c, [stable(5)], start=t + 100)  # lifted off: within the zero threshold
    t = feed(c, [stable(4200)] * 3, start=t + 100)
    got = c.take(t)
    assert got is not None and got.net_mg == 4200


def test_motion_near_zero_does_not_rearm() -> None:
    c = Capturer(RULES)
    t = feed(c, [stable(3500)] * 3)
    assert c.take(t) is not None
    c.observe(Reading(Status.MOTION, b"S D 0", 0, "g", 10), t + 100)
    t = feed(c, [stable(3500)] * 3, start=t + 200)
    assert c.take(t) is None


def test_empty_pan_is_not_captured_unless_asked() -> None:
    c = Capturer(RULES)
    t = feed(c, [stable(0)] * 3)
    assert c.take(t) is None
    assert c.condition().reason is NoReadingReason.EMPTY
    got = c.take(t, require_load=False)
    assert got is not None and got.net_mg == 0


def test_negative_weight_is_named() -> None:
    c = Capturer(RULES)
    t = feed(c, [stable(-500)] * 3)
    assert c.take(t) is None
    assert c.condition().reason is NoReadingReason.NEGATIVE
    assert "-0.50 g" in c.condition().detail


def test_stale_window_is_not_captured() -> None:
    c = Capturer(RULES)
    t = feed(c, [stable(3500)] * 3)
    assert c.take(t + 1001) is None
    assert c.take(t + 1000) is not None


def test_unit_change_restarts_the_window() -> None:
    c = Capturer(RULES)
    t = feed(c, [stable(3500), stable(3500)])
    c.observe(stable(3500, unit="oz", division=29), t + 100)
    assert c.take(t + 100) is None


def test_configured_division_widens_the_band_and_is_reported() -> None:
    rules = CaptureRules(stable_readings=3, window_ms=200, division_mg=20)
    c = Capturer(rules)
    t = feed(c, [stable(3500), stable(3520), stable(3510)])
    got = c.take(t)
    assert got is not None and got.division_mg == 20 and got.net_mg == 3500


def test_unchanged_status_repeats_the_last_weight() -> None:
    c = Capturer(RULES)
    c.observe(Reading(Status.UNCHANGED, b"\x02?`\r"), 0)  # nothing to repeat yet
    assert c.take(0) is None
    unchanged = Reading(Status.UNCHANGED, b"\x02?`\r")
    t = feed(c, [stable(3500), unchanged, unchanged], start=100)
    got = c.take(t)
    assert got is not None and got.net_mg == 3500


def test_window_memory_is_bounded() -> None:
    c = Capturer(RULES)
    feed(c, [stable(3500)] * 10_000, step=10)
    assert len(c._window) <= 21
