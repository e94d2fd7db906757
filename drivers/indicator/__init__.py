"""LED and beeper feedback: `build_indicator(config)` returns an `Indicator` whatever the hardware
(missing hardware degrades to a warning and the null back-end).

Back-ends: `sysfs` LEDs, `gpiod_backend` GPIO lines, `printer_buzzer` the printer's beeper,
`recording` for tests and the simulator. Imports nothing from `edge` or `central`.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from drivers.config import IndicatorConfig
from drivers.indicator.base import Backend, Indicator, IndicatorUnavailable, NullBackend, Signal
from drivers.indicator.recording import RecordingBackend

LOG = logging.getLogger(__name__)

__all__ = ["Backend", "Indicator", "RecordingBackend", "Signal", "build_indicator"]


def build_indicator(
    cfg: IndicatorConfig,
    *,
    printer_send: Callable[[bytes], None] | None = None,
    gpio_glob: str = "/dev/gpiochip*",
) -> Indicator:
    """The configured indicator; on missing hardware, a warning and a silent one."""
    try:
        backend = _backend(cfg, printer_send, gpio_glob)
    except IndicatorUnavailable as exc:
        LOG.warning(
            "indicator %s unavailable, running without LED/beeper: %s",
            cfg.backend,
            exc,
            extra={"backend": cfg.backend},
        )
        backend = NullBackend()
    return Indicator(backend, cfg.signals)


def _backend(
    cfg: IndicatorConfig, printer_send: Callable[[bytes], None] | None, gpio_glob: str
) -> Backend:
    if cfg.backend == "sysfs":
        from drivers.indicator.sysfs import SysfsBackend

        return SysfsBackend(cfg.sysfs)
    if cfg.backend == "gpiod":
        from drivers.indicator.gpiod_backend import GpiodBackend

        return GpiodBackend(cfg.gpiod, gpio_glob)
    if cfg.backend == "printer-buzzer":
        from drivers.indicator.printer_buzzer import PrinterBuzzerBackend

        if printer_send is None:
            raise IndicatorUnavailable("no printer to beep on")
        return PrinterBuzzerBackend(printer_send)
    if cfg.backend == "recording":
        return RecordingBackend()
    return NullBackend()
