"""The scale driver against emulated scales on real pty pairs, opened by pyserial."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from drivers.scale import (
    Capture,
    DeviceEvent,
    DeviceState,
    NoReading,
    NoReadingReason,
    Reading,
    Scale,
    Status,
)
from drivers.scale.sim import SimScale
from tests.support.scale import fast_config, run_with_scale, wait_until

# (protocol, unit, decimals, weight in mg that the display shows exactly)
SCALES = [
    ("mt-sics", "g", 2, 3500),
    ("toledo-8217", "kg", 3, 1_234_000),
    ("ohaus", "g", 2, 3500),
    ("st-us", "g", 2, 3500),
]
IDS = [s[0] for s in SCALES]


def sim_for(protocol: str, unit: str, decimals: int, **kw: object) -> SimScale:
    return SimScale(protocol, unit=unit, decimals=decimals, **kw)  # type: ignore[arg-type]


@pytest.mark.parametrize(("protocol", "unit", "decimals", "mg"), SCALES, ids=IDS)
@pytest.mark.parametrize("split", [False, True], ids=["whole", "bytewise"])
def test_stable_weight_is_captured(
    protocol: str, unit: str, decimals: int, mg: int, split: bool
) -> None:
    with sim_for(protocol, unit, decimals, weight_mg=mg) as sim:
        sim.set_split(split, gap_s=0.0005)
        got = run_with_scale(fast_config(sim), lambda s: s.capture(5))
    assert isinstance(got, Capture), got
    assert (got.net_mg, got.unit, got.division_mg) == (
        mg,
        unit,
        10 ** (3 - decimals) * (1000 if unit == "kg" else 1),
    )


@pytest.mark.parametrize(("protocol", "unit", "decimals", "mg"), SCALES, ids=IDS)
def test_noise_before_frames_is_skipped(protocol: str, unit: str, decimals: int, mg: int) -> None:
    with sim_for(protocol, unit, decimals, weight_mg=mg) as sim:

        async def body(scale: Scale) -> tuple[Capture | NoReading, int]:
            for _ in range(3):
                sim.inject_noise(b"\xff\x00#!")
                await asyncio.sleep(0.03)
            return await scale.capture(5), scale.noise_count

        cfg = fast_config(sim, stable_readings=6, stable_window_ms=60)
        got, noise = run_with_scale(cfg, body)
    assert isinstance(got, Capture) and got.net_mg == mg
    assert noise >= 1


def test_noise_is_counted() -> None:
    with SimScale("mt-sics", weight_mg=3500) as sim:

        async def body(scale: Scale) -> int:
            sim.inject_noise(b"\xfe\xfe\r\n")
            await wait_until(lambda: scale.noise_count > 0)
            return scale.noise_count

        assert run_with_scale(fast_config(sim), body) >= 1


@pytest.mark.parametrize(("protocol", "unit", "decimals", "mg"), SCALES, ids=IDS)
def test_motion_then_stable(protocol: str, unit: str, decimals: int, mg: int) -> None:
    with sim_for(protocol, unit, decimals) as sim:

        async def body(scale: Scale) -> tuple[NoReading | Capture, Capture | NoReading, float]:
            sim.place(mg, motion_s=0.5)
            during = await scale.capture(0.2)
            t0 = time.monotonic()
            after = await scale.capture(5)
            return during, after, time.monotonic() - t0

        during, after, _ = run_with_scale(fast_config(sim), body)
    assert isinstance(during, NoReading) and during.reason is NoReadingReason.MOTION
    assert isinstance(after, Capture) and after.net_mg == mg


def test_readings_stream_shows_motion_flag() -> None:
    with SimScale("mt-sics") as sim:

        async def body(scale: Scale) -> list[Status]:
            feed = scale.readings()
            sim.place(3500, motion_s=0.1)
            seen: list[Status] = []
            async for item in feed:
                if isinstance(item, Reading):
                    seen.append(item.status)
                if seen[-3:] == [Status.STABLE] * 3 and Status.MOTION in seen:
                    break
            feed.close()
            return seen

        seen = run_with_scale(fast_config(sim), body)
    assert seen.index(Status.MOTION) < len(seen) - 3


@pytest.mark.parametrize("protocol", ["mt-sics", "toledo-8217", "st-us"])
@pytest.mark.parametrize("fault", ["overload", "underload"])
def test_overload_and_underload_are_never_a_weight(protocol: str, fault: str) -> None:
    unit, decimals = ("kg", 3) if protocol == "toledo-8217" else ("g", 2)
    with sim_for(protocol, unit, decimals, weight_mg=1_000_000) as sim:
        getattr(sim, f"set_{fault}")(True)
        got = run_with_scale(fast_config(sim), lambda s: s.capture(0.5, require_load=False))
    assert isinstance(got, NoReading)
    assert got.reason is NoReadingReason(fault)


def test_ohaus_overload_is_a_timeout_not_a_weight() -> None:
    with SimScale("ohaus", weight_mg=3500) as sim:
        sim.set_overload(True)
        got = run_with_scale(fast_config(sim), lambda s: s.capture(0.8))
    assert isinstance(got, NoReading) and got.reason is NoReadingReason.TIMEOUT


@pytest.mark.parametrize(
    ("protocol", "raw", "words"),
    [
        ("mt-sics", b"ES\r\n", "syntax error"),
        ("mt-sics", b"EL\r\n", "logical error"),
        ("mt-sics", b"ET\r\n", "transmission error"),
        ("mt-sics", b"S I\r\n", "busy"),
        ("ohaus", b"ES\r\n", "(ES)"),
        ("toledo-8217", b"\x02?h\r", "zero the scale"),
    ],
)
def test_error_replies(protocol: str, raw: bytes, words: str) -> None:
    with SimScale(protocol, weight_mg=3500) as sim:
        sim.set_error_reply(raw)
        got = run_with_scale(fast_config(sim), lambda s: s.capture(0.4))
    assert isinstance(got, NoReading) and got.reason is NoReadingReason.ERROR_REPLY
    assert words in got.detail


@pytest.mark.parametrize(("protocol", "unit", "decimals", "mg"), SCALES, ids=IDS)
def test_stall_is_a_timeout_then_recovers(protocol: str, unit: str, decimals: int, mg: int) -> None:
    with sim_for(protocol, unit, decimals, weight_mg=mg) as sim:
        sim.set_stalled(True)  # before the driver starts: no weight can have been seen

        async def body(scale: Scale) -> tuple[Capture | NoReading, Capture | NoReading]:
            stalled = await scale.capture(0.7, require_load=False)
            sim.set_stalled(False)
            return stalled, await scale.capture(5, require_load=False)

        stalled, recovered = run_with_scale(fast_config(sim), body)
    assert isinstance(stalled, NoReading) and stalled.reason is NoReadingReason.TIMEOUT
    assert isinstance(recovered, Capture) and recovered.net_mg == mg


def test_stream_mode_stall_and_capture() -> None:
    with SimScale("st-us", weight_mg=3500, stream_interval_ms=10) as sim:

        async def body(scale: Scale) -> tuple[Capture | NoReading, Capture | NoReading, int]:
            first = await scale.capture(5)
            sim.set_weight_mg(0)
            sim.set_stalled(True)
            await asyncio.sleep(0.1)
            stalled = await scale.capture(0.7)
            return first, stalled, len(sim.commands)

        first, stalled, commands = run_with_scale(fast_config(sim, mode="stream"), body)
    assert isinstance(first, Capture) and first.net_mg == 3500
    assert isinstance(stalled, NoReading) and stalled.reason is NoReadingReason.TIMEOUT
    assert commands == 0  # stream mode sends nothing


def test_package_is_not_captured_twice_without_return_to_zero() -> None:
    with SimScale("mt-sics", weight_mg=3500) as sim:

        async def body(scale: Scale) -> list[Capture | NoReading]:
            results = [await scale.capture(5), await scale.capture(0.3)]
            sim.set_weight_mg(3600)  # more product added, never lifted off
            results.append(await scale.capture(0.3))
            sim.set_weight_mg(0)
            await asyncio.sleep(0.1)
            sim.set_weight_mg(4200)
            results.append(await scale.capture(5))
            return results

        first, again, added, next_package = run_with_scale(fast_config(sim), body)
    assert isinstance(first, Capture) and first.net_mg == 3500
    for refused in (again, added):
        assert isinstance(refused, NoReading) and refused.reason is NoReadingReason.NOT_ZEROED
    assert isinstance(next_package, Capture) and next_package.net_mg == 4200


def test_unplug_reported_reopened_with_backoff_and_replug_works() -> None:
    with SimScale("mt-sics", weight_mg=3500) as sim:
        events: list[DeviceEvent] = []

        async def body(scale: Scale) -> tuple[object, ...]:
            first = await scale.capture(5)
            sim.unplug()
            await wait_until(lambda: scale.state.state is DeviceState.REOPENING)
            cpu0 = time.process_time()
            await asyncio.sleep(0.5)
            cpu = time.process_time() - cpu0
            gone = await scale.capture(0.1)
            sim.set_weight_mg(0)
            sim.replug()
            await wait_until(lambda: scale.state.state is DeviceState.CONNECTED)
            await asyncio.sleep(0.05)
            sim.set_weight_mg(2500)
            back = await scale.capture(5)
            return first, gone, back, cpu

        cfg = fast_config(sim)

        async def main() -> tuple[object, ...]:
            async with Scale.from_config(cfg, on_state=events.append) as scale:
                return await asyncio.wait_for(body(scale), 20)

        first, gone, back, cpu = asyncio.run(main())
    assert isinstance(first, Capture)
    assert isinstance(gone, NoReading) and gone.reason is NoReadingReason.DISCONNECTED
    assert isinstance(back, Capture) and back.net_mg == 2500
    states = [e.state for e in events]
    assert states == [
        DeviceState.CONNECTED,
        DeviceState.UNPLUGGED,
        DeviceState.REOPENING,
        DeviceState.CONNECTED,
        DeviceState.STOPPED,
    ]
    assert "No such file" in events[2].detail
    assert isinstance(cpu, float) and cpu < 0.3  # backoff, not a busy loop


def test_scale_plugged_in_after_start(tmp_path: Path) -> None:
    link = tmp_path / "usb-scale-if00"
    cfg_sim = SimScale("mt-sics", link=link, weight_mg=3500)

    async def main() -> tuple[DeviceEvent, Capture | NoReading]:
        async with Scale.from_config(fast_config(cfg_sim)) as scale:
            first = scale.state
            with cfg_sim:
                got = await scale.capture(5)
            return first, got

    first, got = asyncio.run(main())
    assert first.state is DeviceState.UNPLUGGED and str(link) in first.detail
    assert isinstance(got, Capture) and got.net_mg == 3500


def test_readings_feed_reports_unplug_and_timeout() -> None:
    with SimScale("mt-sics", weight_mg=3500) as sim:

        async def body(scale: Scale) -> list[NoReadingReason]:
            feed = scale.readings()
            reasons: list[NoReadingReason] = []
            sim.set_stalled(True)
            async for item in feed:
                if isinstance(item, NoReading):
                    reasons.append(item.reason)
                    if item.reason is NoReadingReason.TIMEOUT:
                        sim.unplug()
                    else:
                        break
            return reasons

        reasons = run_with_scale(fast_config(sim), body)
    assert reasons == [NoReadingReason.TIMEOUT, NoReadingReason.DISCONNECTED]


def test_mt_sics_zero_and_tare_are_acknowledged() -> None:
    with SimScale("mt-sics", weight_mg=120) as sim:

        async def body(scale: Scale) -> tuple[object, ...]:
            await wait_until(lambda: scale.state.state is DeviceState.CONNECTED)
            zero = await scale.zero(2)
            sim.set_weight_mg(120 + 15_000)  # a container
            await asyncio.sleep(0.05)
            tare = await scale.tare(2)
            sim.set_weight_mg(120 + 15_000 + 3500)
            net = await scale.capture(5)
            sim.set_motion(True)
            refused = await scale.zero(2)
            sim.set_motion(False)
            cleared = await scale.clear_tare(2)
            return zero, tare, net, refused, cleared

        zero, tare, net, refused, cleared = run_with_scale(fast_config(sim), body)
        assert sim.commands.count(b"Z") == 2 and b"T" in sim.commands and b"TAC" in sim.commands
    assert zero.ok and tare.ok and "15.00 g" in tare.detail  # type: ignore[attr-defined]
    assert isinstance(net, Capture) and net.net_mg == 3500
    assert not refused.ok  # type: ignore[attr-defined]
    assert cleared.ok  # type: ignore[attr-defined]


@pytest.mark.parametrize(("protocol", "command"), [("toledo-8217", b"T"), ("ohaus", b"T")])
def test_unacknowledged_tare_is_sent(protocol: str, command: bytes) -> None:
    with SimScale(protocol, unit="kg", decimals=3, weight_mg=500_000) as sim:

        async def body(scale: Scale) -> tuple[object, int, object]:
            await wait_until(lambda: scale.state.state is DeviceState.CONNECTED)
            result = await scale.tare()
            await wait_until(lambda: command in sim.commands)
            net_after_tare = sim.net_mg
            return result, net_after_tare, await scale.clear_tare()

        tare, net_after_tare, clear = run_with_scale(fast_config(sim), body)
    assert tare.ok and "no acknowledgement" in tare.detail  # type: ignore[attr-defined]
    assert net_after_tare == 0
    expected_clear = protocol == "toledo-8217"  # Ohaus has no clear-tare command
    assert clear.ok is expected_clear  # type: ignore[attr-defined]


def test_8217_weight_once_then_unchanged_status() -> None:
    with SimScale(
        "toledo-8217", unit="kg", decimals=3, weight_mg=1_234_000, repeat_as_status=True
    ) as sim:
        got = run_with_scale(fast_config(sim), lambda s: s.capture(5))
    assert isinstance(got, Capture) and got.net_mg == 1_234_000


def test_8217_lb_scale_rounds_toward_the_customer() -> None:
    with SimScale("toledo-8217", unit="lb", decimals=2, weight_mg=453_592) as sim:
        got = run_with_scale(fast_config(sim), lambda s: s.capture(5))
    assert isinstance(got, Capture)
    assert (got.net_mg, got.unit, got.division_mg) == (453_592, "lb", 4536)


def test_weigh_out_end_to_end_short_then_topped_up() -> None:
    with SimScale("mt-sics") as sim:

        async def body(scale: Scale) -> list[str]:
            out: list[str] = []
            sim.place(3480, motion_s=0.05)
            short = await scale.capture(5)
            assert isinstance(short, Capture)
            result = scale.weigh_out(short, 3500)
            out.append(getattr(result, "reason", "accepted"))
            sim.set_weight_mg(0)  # lifted off to add product
            await asyncio.sleep(0.05)
            sim.place(3520, motion_s=0.05)
            topped = await scale.capture(5)
            assert isinstance(topped, Capture)
            out.append(getattr(scale.weigh_out(topped, 3500), "reason", "accepted"))
            return out

        results = run_with_scale(fast_config(sim), body)
    assert results == [
        "Net 3.48 g is below the labelled 3.50 g: add product and weigh again.",
        "accepted",
    ]


def test_weigh_out_refuses_a_coarse_scale_end_to_end() -> None:
    with SimScale("ohaus", decimals=1, weight_mg=3500) as sim:

        async def body(scale: Scale) -> object:
            got = await scale.capture(5)
            assert isinstance(got, Capture) and got.division_mg == 100
            return scale.weigh_out(got, 3500)

        result = run_with_scale(fast_config(sim), body)
    assert "steps of 0.10 g" in getattr(result, "reason", "")
