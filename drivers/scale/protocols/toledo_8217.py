"""Mettler Toledo 8217 (the retail "weight only" protocol of Datalogic/Magellan scanner-scales,
Ariva-S option 3, Rice Lake BenchPro and others).

Sources: Odoo `serial_scale_driver.py`,
pywebdriver `mettler_toledo_8217.py`, Datalogic Magellan service manual; Rice Lake BenchPro
operation manual (status byte layout). Serial 9600 baud, 7 data bits, even parity, 1 stop bit.
The host sends `W` (no terminator). The scale answers `STX weight [N] CR` when stable, or
`STX ? status CR` when in motion, at zero, under zero or over capacity.

Status byte: bit 0 motion, bit 1 over capacity, bit 2 under zero, bit 3 outside the zero-capture
range, bit 4 centre of zero. Bits 5 and 6 differ between manuals ("always 1" on Rice Lake;
net / bad command on Datalogic), so we act on bits 0-4 only. A status with none of bits 0-4 set
means "weight unchanged since last sent" (pywebdriver: "some scales return the weight once and
then only status ... until the weight changes").

The frame carries no unit: it follows the scale's setting, and by convention lb has 2 decimals
and kg 3 (`WW.WW` / `W.WWW`). `implicit_unit = "auto"` uses that convention.
"""

from __future__ import annotations

import re

from drivers.scale.protocols.base import ImplicitUnit, ProtocolSpec, SerialDefaults
from drivers.scale.protocols.common import FramedParser, text_of, weight_reading
from drivers.scale.protocols.framing import StxFramer
from drivers.scale.reading import Event, Noise, Reading, Status

_WEIGHT = re.compile(r"\x02 *(-?\d+(?:\.(\d*))?)(N?) *\r")
_STATUS = re.compile(r"\x02 *\?(.)\r", re.DOTALL)

MOTION, OVER, UNDER, ZERO_RANGE, CENTER_ZERO = 0x01, 0x02, 0x04, 0x08, 0x10


class Toledo8217Parser(FramedParser):
    """Bytes -> Readings for the 8217 protocol."""

    def __init__(self, implicit_unit: ImplicitUnit = "auto") -> None:
        super().__init__(StxFramer(max_len=16))
        self._unit = implicit_unit

    def _frame(self, frame: bytes) -> list[Event]:
        return [self._event(frame)]

    def _event(self, frame: bytes) -> Event:
        text = text_of(frame)
        if m := _WEIGHT.fullmatch(text):
            unit = self._unit_for(m.group(2) or "")
            if unit is None:
                return Noise(frame, "weight with neither 2 (lb) nor 3 (kg) decimals; set the unit")
            return weight_reading(Status.STABLE, m.group(1), unit, frame, net=m.group(3) == "N")
        if m := _STATUS.fullmatch(text):
            return status_reading(ord(m.group(1)), frame)
        return Noise(frame, "not an 8217 weight or status frame")

    def _unit_for(self, decimals: str) -> str | None:
        if self._unit != "auto":
            return self._unit
        return {2: "lb", 3: "kg"}.get(len(decimals))


def status_reading(status: int, raw: bytes) -> Reading:
    """What a `? status` reply means, most serious condition first."""
    if status & OVER:
        return Reading(Status.OVERLOAD, raw, detail="over capacity (8217 status bit 1)")
    if status & UNDER:
        return Reading(Status.UNDERLOAD, raw, detail="under zero (8217 status bit 2)")
    if status & ZERO_RANGE:
        detail = "outside the zero-capture range: zero the scale (8217 status bit 3)"
        return Reading(Status.ERROR, raw, detail=detail)
    if status & MOTION:
        return Reading(Status.MOTION, raw, detail="in motion (8217 status bit 0)")
    if status & CENTER_ZERO:  # an empty pan at the centre of zero: a stable zero
        return Reading(Status.STABLE, raw, weight_mg=0, detail="centre of zero")
    return Reading(Status.UNCHANGED, raw, detail="weight unchanged since last sent")


def _make_parser(unit: ImplicitUnit) -> Toledo8217Parser:
    return Toledo8217Parser(unit)


SPEC = ProtocolSpec(
    name="toledo-8217",
    serial=SerialDefaults(9600, 7, "E", 1),
    weigh_command=b"W",
    zero_command=b"Z",
    tare_command=b"T",
    clear_tare_command=b"C",
    acknowledges_commands=False,
    make_parser=_make_parser,
    source="Odoo serial_scale_driver.py, pywebdriver mettler_toledo_8217.py, Rice Lake BenchPro",
)
