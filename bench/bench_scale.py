"""Scale driver benchmarks: parser throughput and exactness against the float-regex approach of
Odoo's serial scale driver (shared/hardware.md (b): regex `\\x02\\s*([0-9.]+)N?\\r` then float),
and capture latency over a real pty against the emulator.

    .venv/bin/python bench/bench_scale.py
"""

from __future__ import annotations

import asyncio
import re
import statistics
import time

from drivers.config import ScaleConfig
from drivers.scale import PROTOCOLS, Capture, Reading, Scale
from drivers.scale.sim import SimScale

FRAMES = 100_000


def toledo_stream(n: int) -> tuple[bytes, list[int]]:
    """n 8217 kg frames (every gram from 0.001 kg up) and their exact weights in mg."""
    weights = [(i % 30_000 + 1) * 1000 for i in range(n)]
    data = b"".join(f"\x02{w // 1_000_000}.{w // 1000 % 1000:03d}\r".encode() for w in weights)
    return data, weights


def peer_float_regex(data: bytes) -> list[int]:
    """The peer approach: regex every weight, float() it, scale to mg by multiplication."""
    pattern = re.compile(rb"\x02\s*([0-9.]+)N?\r")
    return [int(float(m.group(1)) * 1_000_000) for m in pattern.finditer(data)]


def ours(data: bytes) -> list[int]:
    parser = PROTOCOLS["toledo-8217"].make_parser("kg")
    out: list[int] = []
    for i in range(0, len(data), 64):  # arrive in 64-byte reads, as from a UART buffer
        for event in parser.feed(data[i : i + 64]):
            if isinstance(event, Reading) and event.weight_mg is not None:
                out.append(event.weight_mg)
    return out


def bench_parsers() -> None:
    data, exact = toledo_stream(FRAMES)
    for name, fn in (
        ("ours (framed, exact)", ours),
        ("peer (Odoo-style float regex)", peer_float_regex),
    ):
        t0 = time.perf_counter()
        got = fn(data)
        dt = time.perf_counter() - t0
        wrong = sum(1 for g, e in zip(got, exact, strict=True) if g != e)
        print(
            f"8217 parse  {name:32s} {len(got) / dt:>10,.0f} frames/s  "
            f"wrong weights: {wrong} of {len(got)}"
        )
    peer = peer_float_regex(data)
    g, e = next((g, e) for g, e in zip(peer, exact, strict=True) if g != e)
    print(f"  e.g. the peer reads {e / 1_000_000:.3f} kg as {g} mg instead of {e} mg")


async def capture_latency(cfg: ScaleConfig, sim: SimScale, rounds: int) -> list[float]:
    times: list[float] = []
    async with Scale.from_config(cfg) as scale:
        for i in range(rounds):
            sim.set_weight_mg(0)
            await asyncio.sleep(cfg.poll_interval_ms * 3 / 1000)
            t0 = time.perf_counter()
            sim.place(3500 + i * 10)
            got = await scale.capture(10)
            assert isinstance(got, Capture), got
            times.append(time.perf_counter() - t0)
    return times


def bench_capture() -> None:
    with SimScale("mt-sics") as sim:
        for label, cfg in (
            ("defaults (poll 100 ms, N=5, T=500 ms)", ScaleConfig(port=sim.port)),
            (
                "fast (poll 20 ms, N=3, T=60 ms)",
                ScaleConfig(port=sim.port, poll_interval_ms=20, stable_readings=3,
                            stable_window_ms=60),
            ),
        ):  # fmt: skip
            times = asyncio.run(capture_latency(cfg, sim, 5))
            print(
                f"capture latency over pty, {label}: median {statistics.median(times) * 1000:.0f} ms"
                f", max {max(times) * 1000:.0f} ms (place -> Capture; scale already stable)"
            )


if __name__ == "__main__":
    bench_parsers()
    bench_capture()
