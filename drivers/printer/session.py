"""One print attempt over one connection: status before, the bytes, confirmation after.

Blocking code, bounded by timeouts; the spooler runs it in its worker thread. A job counts as
printed only when the printer confirms it (see `Confirm`); anything else leaves the job queued,
and the next attempt first clears what the printer may still hold of it, so a half-received
job cannot finish printing after its reprint.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Literal

from drivers.printer.escpos_encode import process_id_request, process_id_response
from drivers.printer.status import (
    UNKNOWN,
    PrinterStatus,
    Readiness,
    first_status_byte,
    foreign_reply,
    query,
)
from drivers.printer.transport import Target, Transport, TransportError, open_transport

LOG = logging.getLogger(__name__)

# How the spooler knows a job printed:
#  "status"     - DLE EOT after the job shows no cover-open/paper-end/error (default);
#  "process-id" - the printer answers GS ( H once the job is printed (Epson TM series);
#  "none"       - the bytes were accepted (write-only devices).
Confirm = Literal["status", "process-id", "none"]

# DLE DC4 fn=8 d1..d7 = 1 3 20 1 6 2 8: "clear buffers" (Epson ESC/POS, real-time command).
CLEAR_BUFFERS = b"\x10\x14\x08\x01\x03\x14\x01\x06\x02\x08"


@dataclass(frozen=True)
class Timeouts:
    """Seconds: connect/write, one status answer, the wait for a printed confirmation."""

    io: float = 5.0
    status: float = 0.5
    confirm: float = 20.0


@dataclass(frozen=True)
class AttemptResult:
    """What one attempt achieved."""

    printed: bool
    status_before: PrinterStatus
    status_after: PrinterStatus
    error: str = ""  # plain words for the technician when not printed
    warning: str = ""  # printed, but something is off (status unknown, paper near end)


def read_status(t: Transport, timeout: float) -> PrinterStatus:
    """DLE EOT 1, 2, 4 (and 3 when 2 reports an error); UNKNOWN if the printer stays silent."""
    if not t.can_read:
        return UNKNOWN
    _drain(t)
    answers: dict[int, int | None] = {}
    for n in (1, 2, 4):
        try:
            answers[n] = _ask(t, n, timeout)
        except _NotEscPos as exc:
            return PrinterStatus(foreign=str(exc))
        if n == 1 and answers[1] is None:
            return UNKNOWN  # a silent printer: don't wait three more timeouts
    if answers[2] is not None and answers[2] & 0x40:
        answers[3] = _ask(t, 3, timeout)
    return PrinterStatus(answers.get(1), answers.get(2), answers.get(3), answers.get(4))


class _NotEscPos(Exception):
    """The reply is a text protocol's, not a printer's (its first line is the message)."""


def _ask(t: Transport, n: int, timeout: float) -> int | None:
    t.write(query(n), timeout=max(timeout, 0.5))
    deadline = time.monotonic() + timeout
    seen = b""
    while (left := deadline - time.monotonic()) > 0:
        reply = t.read(64, left)
        seen += reply
        banner = foreign_reply(seen)
        if banner and (b"\n" in seen or len(seen) >= 64):  # its whole first line, for the message
            raise _NotEscPos(banner)
        value = first_status_byte(reply)
        if value is not None and not banner and not _textlike(seen):
            return value
    if banner := foreign_reply(seen):
        raise _NotEscPos(banner)
    return None


def _textlike(data: bytes) -> bool:
    """Two or more printable bytes and nothing else: the start of a text reply, not a status
    byte (a printer answers DLE EOT with one byte): read on until foreign_reply can tell."""
    return len(data) >= 2 and all(32 <= b < 127 or b in (9, 10, 13) for b in data)


def _drain(t: Transport) -> None:
    for _ in range(16):  # stale ASB blocks or late answers; bounded
        if not t.read(64, 0):
            return


def attempt(
    target: Target,
    data: bytes,
    *,
    timeouts: Timeouts,
    confirm: Confirm,
    pid: str,
    clear_first: bool,
) -> AttemptResult:
    """Try to print `data` once; never raises for printer trouble."""
    before = UNKNOWN
    try:
        with open_transport(target, timeouts.io) as t:
            if clear_first:
                t.write(CLEAR_BUFFERS, timeouts.io)
            before = read_status(t, timeouts.status)
            if before.readiness is Readiness.BLOCKED:
                return AttemptResult(False, before, before, " ".join(before.problems()))
            t.write(data, timeouts.io)
            return _confirm(t, before, confirm, pid, timeouts)
    except TransportError as exc:
        return AttemptResult(False, before, UNKNOWN, str(exc))


def _confirm(
    t: Transport, before: PrinterStatus, confirm: Confirm, pid: str, timeouts: Timeouts
) -> AttemptResult:
    warning = "" if before.readiness is Readiness.READY else " ".join(before.problems())
    if not t.can_read:
        return AttemptResult(True, before, UNKNOWN, warning=_unconfirmed(t))
    if confirm == "none":
        return AttemptResult(True, before, UNKNOWN, warning=warning)
    if confirm == "process-id":
        t.write(process_id_request(pid), timeouts.io)
        if _await(t, process_id_response(pid), timeouts.confirm):
            return AttemptResult(True, before, read_status(t, timeouts.status), warning=warning)
    after = read_status(t, timeouts.status)
    if after.readiness is Readiness.BLOCKED:
        return AttemptResult(False, before, after, " ".join(after.problems()))
    if confirm == "process-id":
        return AttemptResult(False, before, after, "the printer did not confirm the job")
    if after.readiness is Readiness.UNKNOWN and not warning:
        warning = "printed without status confirmation: the printer did not answer DLE EOT"
    elif after.paper_near_end:
        warning = " ".join(after.problems())
    return AttemptResult(True, before, after, warning=warning)


def _unconfirmed(t: Transport) -> str:
    return "" if t.can_read else "the printer has no back channel: printing is unconfirmed"


def _await(t: Transport, expected: bytes, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    seen = b""
    while (left := deadline - time.monotonic()) > 0:
        seen = (seen + t.read(64, left))[-256:]
        if expected in seen:
            return True
    return False
