"""The Indicator port over the LED/beeper driver (and the recording back-end's log)."""

from __future__ import annotations

import contextlib
import os
import time

from drivers.indicator import Indicator as DriverIndicator
from edge.station.config import StationConfig, StationPaths
from edge.workflow.ports import Signal


class IndicatorPort:
    """edge.station.ports.Indicator over the driver; with the `recording` back-end each signal is also
    appended to <state_dir>/indicator.log as `<CLOCK_MONOTONIC ns> <signal> <detail>` (tests,
    the simulated day and the benchmark watch it from outside the process)."""

    def __init__(self, cfg: StationConfig, indicator: DriverIndicator) -> None:
        self.indicator = indicator
        self._log_fd: int | None = None
        if cfg.indicator.backend == "recording":
            path = StationPaths.of(cfg).indicator_log
            self._log_fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)

    def signal(self, signal: Signal, detail: str = "") -> None:
        self.indicator.signal(signal)
        if self._log_fd is not None:
            line = f"{time.monotonic_ns()} {signal.value} {detail}".replace("\n", " ") + "\n"
            with contextlib.suppress(OSError):
                os.write(self._log_fd, line.encode())
