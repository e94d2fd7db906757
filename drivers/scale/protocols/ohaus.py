"""Ohaus balances and indicators (Navigator, Scout, Adventurer, Defender, Ranger...).

Sources (Ohaus RS232 interface manual and Defender 3000 manual
"Output Format"): a right-justified weight with a "-" sign when negative, a space, the unit,
then "?" when the reading is NOT stable, then an optional legend (G / N / NET / B/G gross/net,
T / Tare for a tare printout), CR LF. Commands end in CR or CR LF: `IP` immediate print (stable
or not), `P`, `SP` stable print, `Z` zero, `T` tare. An invalid command returns `ES`. Factory
serial setting 9600 8N1 (Ohaus manuals' defaults). The protocol has no over/underload reply:
an overloaded Ohaus sends no weight, which the driver reports as a timeout, never as a weight.
"""

from __future__ import annotations

import re

from drivers.scale.protocols.base import ImplicitUnit, ProtocolSpec, SerialDefaults
from drivers.scale.protocols.common import (
    NUMBER,
    FramedParser,
    resynced,
    text_of,
    weight_reading,
)
from drivers.scale.protocols.framing import LineFramer
from drivers.scale.reading import Event, Noise, Reading, Status

_WEIGHT = re.compile(rf" *({NUMBER}) +([A-Za-z]+) *(\?)? *([A-Za-z/ ]*?) *")
_ERROR = re.compile(r" *ES *")
_NET = {"N": True, "NET": True, "G": False, "B/G": False, "GROSS": False, "": None}
_TARE_LEGENDS = {"T", "TARE"}


class OhausParser(FramedParser):
    """Bytes -> Readings for Ohaus print output."""

    def __init__(self) -> None:
        super().__init__(LineFramer(max_len=64))

    def _frame(self, frame: bytes) -> list[Event]:
        text = text_of(frame)
        if _ERROR.fullmatch(text):
            detail = "the balance did not recognise the command (ES)"
            return [Reading(Status.ERROR, frame, detail=detail)]
        if m := _WEIGHT.fullmatch(text):
            return [_weight(m, frame)]
        return resynced(frame, _WEIGHT, _weight)


def _weight(match: re.Match[str], raw: bytes) -> Event:
    legend = match.group(4).strip().upper()
    if legend in _TARE_LEGENDS:  # a printout of the stored tare, not what is on the pan
        return Noise(raw, "tare printout, not a weight")
    if legend not in _NET:
        return Noise(raw, f"weight with an unknown legend {legend!r} (totals, counting...)")
    status = Status.MOTION if match.group(3) else Status.STABLE
    return weight_reading(status, match.group(1), match.group(2), raw, _NET[legend])


def _make_parser(_unit: ImplicitUnit) -> OhausParser:
    return OhausParser()


SPEC = ProtocolSpec(
    name="ohaus",
    serial=SerialDefaults(9600, 8, "N", 1),
    weigh_command=b"IP\r\n",
    zero_command=b"Z\r\n",
    tare_command=b"T\r\n",
    clear_tare_command=None,
    acknowledges_commands=False,
    make_parser=_make_parser,
    source="Ohaus RS232 interface manual; Defender 3000 manual 5.2",
)
