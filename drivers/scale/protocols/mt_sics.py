"""MT-SICS (Mettler Toledo Standard Interface Command Set), level 0/1 replies.

Sources: InstrumentKit `mt_sics.py`, Mettler MT-SICS manuals,
janelia-python README (9600 8N1 factory default). Commands are upper case and end in CR LF; a
reply is `ID status [value unit]`, e.g. `S S     100.00 g`. We poll with `SI` (immediate) so the
balance's own stable/dynamic flag arrives with every reading and our window judges stability too.
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
from drivers.scale.reading import Event, Reading, Reply, Status

_WEIGHT = re.compile(rf"S +([SD]) +({NUMBER}) +(\S+) *")
_STATUS = re.compile(r"S +([I+-]) *")
_ERROR = re.compile(r"(E[STL]) *")
_ZERO = re.compile(rf"(ZI?) +([ASDI+-])(?: +{NUMBER} +\S+)? *")
_TARE = re.compile(rf"(TI?) +([SDI+-])(?: +({NUMBER}) +(\S+))? *")
_CLEAR_TARE = re.compile(r"TAC +([AIL]) *")
_INFO = re.compile(r"I\d+ +[AI].*")

_ERRORS = {
    "ES": "syntax error: the balance did not recognise the command (ES)",
    "ET": "transmission error: the balance received a garbled command (ET)",
    "EL": "logical error: the balance cannot run the command now (EL)",
}
_STATUS_READINGS = {
    "I": (Status.ERROR, "balance busy or no stable value within its own timeout (S I)"),
    "+": (Status.OVERLOAD, "overload: weight above the balance's range (S +)"),
    "-": (Status.UNDERLOAD, "underload: weight below the balance's range (S -)"),
}
_LIMIT = {"I": "not executable now (I)", "+": "upper limit exceeded (+)", "-": "lower limit (-)"}


class MtSicsParser(FramedParser):
    """Bytes -> Readings / Replies for MT-SICS."""

    def __init__(self) -> None:
        super().__init__(LineFramer(max_len=64))

    def _frame(self, frame: bytes) -> list[Event]:
        event = _parse_line(text_of(frame).strip(), frame)
        if event is not None:
            return [event]
        return resynced(frame, _WEIGHT, _weight)  # noise glued before a weight reply


def _weight(match: re.Match[str], raw: bytes) -> Reading:
    status = Status.STABLE if match.group(1) == "S" else Status.MOTION
    return weight_reading(status, match.group(2), match.group(3), raw)


def _parse_line(text: str, raw: bytes) -> Event | None:
    if m := _WEIGHT.fullmatch(text):
        return _weight(m, raw)
    if m := _STATUS.fullmatch(text):
        status, detail = _STATUS_READINGS[m.group(1)]
        return Reading(status, raw, detail=detail)
    if m := _ERROR.fullmatch(text):
        return Reading(Status.ERROR, raw, detail=_ERRORS[m.group(1)])
    if m := _ZERO.fullmatch(text):
        code = m.group(2)
        return Reply("zero", code in "ASD", raw, _LIMIT.get(code, "zeroed"))
    if m := _TARE.fullmatch(text):
        code = m.group(2)
        detail = f"tare {m.group(3).strip()} {m.group(4)}" if m.group(3) else _LIMIT.get(code, "")
        return Reply("tare", code in "SD", raw, detail)
    if m := _CLEAR_TARE.fullmatch(text):
        return Reply("clear_tare", m.group(1) == "A", raw, "" if m.group(1) == "A" else "refused")
    if _INFO.fullmatch(text):
        return Reply("reset", True, raw, text)
    return None


def _make_parser(_unit: ImplicitUnit) -> MtSicsParser:
    return MtSicsParser()


SPEC = ProtocolSpec(
    name="mt-sics",
    serial=SerialDefaults(9600, 8, "N", 1),
    weigh_command=b"SI\r\n",
    zero_command=b"Z\r\n",
    tare_command=b"T\r\n",
    clear_tare_command=b"TAC\r\n",
    acknowledges_commands=True,
    make_parser=_make_parser,
    source="MT-SICS reference manual; InstrumentKit src/instruments/mettler_toledo/mt_sics.py",
)
