"""The ST/US header family: CAS, Dini Argeo, Tiger and similar weighing indicators.

Sources (Tiger TI-02-P manual 7.1; ellery-it/odoo-serial-scale-drivers
`SSD-DiniArgeo3590Standard.py`): comma-separated ASCII lines such as `ST,GS,+  12.34kg` CR LF.
Header: ST stable, US unstable, OL overload, UL underload. Mode: GS gross, NT net, TR a tare
value (not a weight on the pan). Some indicators insert a device number (`ST,1,...`). Most
stream continuously (`mode = "stream"`); Dini Argeo answers `READ` CR LF, zeroes on `ZERO` and
tares on `TARE`. Factory serial setting 9600 8N1.
"""

from __future__ import annotations

import re

from drivers.scale.protocols.base import ImplicitUnit, ProtocolSpec, SerialDefaults
from drivers.scale.protocols.common import NUMBER, FramedParser, text_of, weight_reading
from drivers.scale.protocols.framing import LineFramer
from drivers.scale.reading import Event, Noise, Reading, Status

_HEADER = re.compile(r"(ST|US|OL|UL),")
_WEIGHT = re.compile(rf" *({NUMBER}) *([A-Za-z]+) *")
_MODES = {"GS": False, "G": False, "NT": True, "N": True}


class StUsParser(FramedParser):
    """Bytes -> Readings for ST/US header frames."""

    def __init__(self) -> None:
        super().__init__(LineFramer(max_len=64))

    def _frame(self, frame: bytes) -> list[Event]:
        text = text_of(frame)
        header = _HEADER.search(text)
        if header is None:
            if text.strip() in ("OK", "ERR"):  # Dini acknowledgements of ZERO/TARE
                return []
            return [Noise(frame, "not an ST/US frame")]
        events: list[Event] = []
        if header.start() > 0:  # resync: noise glued before the header
            events.append(Noise(frame[: header.start()], "noise before a frame"))
            frame, text = frame[header.start() :], text[header.start() :]
        events.append(_parse(header.group(1), text.split(",")[1:], frame))
        return events


def _parse(status: str, fields: list[str], raw: bytes) -> Event:
    if status == "OL":
        return Reading(Status.OVERLOAD, raw, detail="overload (OL)")
    if status == "UL":
        return Reading(Status.UNDERLOAD, raw, detail="underload (UL)")
    net: bool | None = None
    for field in fields:
        key = field.strip().upper()
        if key == "TR":
            return Noise(raw, "tare value frame (TR), not a weight")
        if key in _MODES:
            net = _MODES[key]
            continue
        if m := _WEIGHT.fullmatch(field):
            reading_status = Status.STABLE if status == "ST" else Status.MOTION
            return weight_reading(reading_status, m.group(1), m.group(2), raw, net)
    return Noise(raw, "ST/US frame without a weight and unit")


def _make_parser(_unit: ImplicitUnit) -> StUsParser:
    return StUsParser()


SPEC = ProtocolSpec(
    name="st-us",
    serial=SerialDefaults(9600, 8, "N", 1),
    weigh_command=b"READ\r\n",
    zero_command=b"ZERO\r\n",
    tare_command=b"TARE\r\n",
    clear_tare_command=None,
    acknowledges_commands=False,
    make_parser=_make_parser,
    source="Tiger TI-02-P manual 7.1; ellery-it SSD-DiniArgeo3590Standard.py (hardware.md (b))",
)
