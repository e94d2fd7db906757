"""Shared by the scale tests: a fast [scale] config for a SimScale, and a Scale runner."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Any, TypeVar

from drivers.config import ScaleConfig
from drivers.scale import Scale
from drivers.scale.sim import SimScale

T = TypeVar("T")

# Short enough to keep the pty tests fast; long enough for a loaded 2-core CI machine.
FAST: dict[str, Any] = {
    "poll_interval_ms": 10,
    "timeout_ms": 300,
    "stable_readings": 3,
    "stable_window_ms": 30,
    "reopen_backoff_ms": 20,
    "reopen_backoff_max_ms": 100,
}


def fast_config(sim: SimScale, **overrides: Any) -> ScaleConfig:
    """A [scale] section pointing at `sim` with test-speed timings."""
    return ScaleConfig(**{"port": sim.port, "protocol": sim.protocol, **FAST, **overrides})


def run_with_scale(cfg: ScaleConfig, body: Callable[[Scale], Awaitable[T]]) -> T:
    """Start a Scale on `cfg`, run `body(scale)` with a hard 20 s bound, stop the scale."""

    async def main() -> T:
        async with Scale.from_config(cfg) as scale:
            return await asyncio.wait_for(body(scale), 20)

    return asyncio.run(main())


async def wait_until(predicate: Callable[[], bool], timeout: float = 3.0) -> None:
    """Poll `predicate` every 10 ms; AssertionError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(0.01)
