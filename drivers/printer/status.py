"""DLE EOT real-time status: validated bytes -> what the technician must do.

Byte meanings are Epson's ESC/POS reference (DLE EOT n, real-time status). Every valid reply
byte has the fixed bits 0xx1xx10; anything else (no answer, an ASB block, line noise) is not
status. No answer means UNKNOWN, never "ok" (python-escpos 3.1 reports "paper adequate" on an
empty reply). A reply no ESC/POS printer sends, a text protocol's banner such as an HTTP server's
"HTTP/1.1 400 Bad Request" at the printer's address, is `not_escpos`: its letters would otherwise
pass as status bytes ('R' = 0x52 reads as "paper end").
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

DLE_EOT = b"\x10\x04"
QUERIES = (1, 2, 4)  # printer, offline cause, roll sensor; 3 (error cause) only when 2 says error


class Readiness(StrEnum):
    """What the spooler does next."""

    READY = "ready"  # print
    UNKNOWN = "unknown"  # no valid answer: print anyway, warn (Odoo PR #223525)
    BLOCKED = "blocked"  # cover open, paper end, offline, error: keep the job, retry later


def is_status_byte(value: int) -> bool:
    """True when `value` has the fixed bits of a DLE EOT reply: 0xx1xx10."""
    return value & 0b1001_0011 == 0b0001_0010


def query(n: int) -> bytes:
    """The DLE EOT n request."""
    if n not in (1, 2, 3, 4):
        raise ValueError(f"DLE EOT {n}: n must be 1..4")
    return DLE_EOT + bytes([n])


@dataclass(frozen=True)
class PrinterStatus:
    """Decoded status; None = that query got no valid answer."""

    printer: int | None = None  # DLE EOT 1
    offline_cause: int | None = None  # DLE EOT 2
    error_cause: int | None = None  # DLE EOT 3
    paper: int | None = None  # DLE EOT 4
    foreign: str = ""  # the start of a reply no ESC/POS printer sends (not an ESC/POS printer)

    @property
    def known(self) -> bool:
        """At least the printer byte answered."""
        return self.printer is not None

    @property
    def online(self) -> bool | None:
        return None if self.printer is None else not self.printer & 0x08

    @property
    def cover_open(self) -> bool | None:
        return None if self.offline_cause is None else bool(self.offline_cause & 0x04)

    @property
    def paper_end(self) -> bool | None:
        if self.paper is not None:
            return bool(self.paper & 0x60)
        return None if self.offline_cause is None else bool(self.offline_cause & 0x20)

    @property
    def paper_near_end(self) -> bool | None:
        return None if self.paper is None else bool(self.paper & 0x0C)

    @property
    def error(self) -> bool | None:
        return None if self.offline_cause is None else bool(self.offline_cause & 0x40)

    @property
    def readiness(self) -> Readiness:
        """Print, print-and-warn, or hold the job."""
        if self.foreign or any((self.cover_open, self.paper_end, self.error, self.online is False)):
            return Readiness.BLOCKED
        return Readiness.READY if self.known and self.paper is not None else Readiness.UNKNOWN

    @property
    def state(self) -> str:
        """One word for logs and events: ok, unknown, not_escpos, cover_open, paper_end, error,
        offline."""
        if self.foreign:
            return "not_escpos"
        for name, flag in (
            ("cover_open", self.cover_open),
            ("paper_end", self.paper_end),
            ("error", self.error),
            ("offline", self.online is False),
        ):
            if flag:
                return name
        if not self.known:
            return "unknown"
        return "paper_near_end" if self.paper_near_end else "ok"

    def problems(self) -> list[str]:
        """Plain-words messages for the technician (slips, logs); empty when all is well."""
        out = []
        if self.foreign:
            message = (
                "The device at the printer's address is not an ESC/POS printer (it answered "
                f"{self.foreign!r}): check [printer] target's address and port."
            )
            return [message]
        if self.cover_open:
            out.append("The printer cover is open: close it.")
        if self.paper_end:
            out.append("The printer is out of paper: load a new roll.")
        elif self.paper_near_end:
            out.append("The paper roll is nearly empty: have a new roll ready.")
        if self.error:
            out.append("The printer reports an error: check the cutter, then switch it off and on.")
        if self.online is False and not (self.cover_open or self.paper_end or self.error):
            out.append("The printer is offline: check the feed button and power.")
        if not self.known:
            out.append("The printer does not answer status queries: printing anyway.")
        return out

    def as_dict(self) -> dict[str, object]:
        """For events and `packstation label status --json`."""
        return {
            "state": self.state,
            "readiness": str(self.readiness),
            "online": self.online,
            "cover_open": self.cover_open,
            "paper_end": self.paper_end,
            "paper_near_end": self.paper_near_end,
            "error": self.error,
            "not_escpos": self.foreign or None,
            "raw": {
                "1": self.printer,
                "2": self.offline_cause,
                "3": self.error_cause,
                "4": self.paper,
            },
        }


UNKNOWN = PrinterStatus()


def first_status_byte(reply: bytes) -> int | None:
    """The first byte of `reply` that is a valid status byte (ASB blocks and noise skipped)."""
    for value in reply:
        if is_status_byte(value):
            return value
    return None


def foreign_reply(reply: bytes) -> str:
    """The first line of `reply` when it is text no ESC/POS printer sends (eight or more bytes,
    nearly all printable ASCII: an HTTP or other text server); "" otherwise. Status bytes and
    ASB blocks are single bytes or 4-byte groups mostly of control values."""
    data = reply.lstrip(b"\0")
    if len(data) < 8:
        return ""
    printable = sum(32 <= b < 127 or b in (9, 10, 13) for b in data)
    if printable * 10 < len(data) * 9:
        return ""
    return data.decode("ascii", "replace").splitlines()[0][:60]
