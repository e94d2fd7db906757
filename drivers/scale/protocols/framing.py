"""Byte-stream framing with a length cap and resynchronisation after line noise.

Serial lines deliver frames in arbitrary pieces (one byte at a time on a slow UART, several frames
in one read) and sometimes garbage (power-up bytes, a cable swapped live, wrong baud). The framers
buffer across reads, never hold more than `max_len` bytes, and after an over-long run skip to the
next terminator instead of parsing half a frame.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

STX = 0x02
CR = 0x0D
LF = 0x0A
_IDLE = b"\r\n \x00"  # padding between 8217 frames
_OUTSIDE = "bytes outside an STX...CR frame"
_LINE_END = re.compile(rb"[\r\n]")
_CR_OR_STX = re.compile(rb"[\x02\r]")


@dataclass
class FrameChunks:
    """Result of one `feed`: complete frames and the bytes dropped as noise (with why)."""

    frames: list[bytes] = field(default_factory=list)
    dropped: list[tuple[bytes, str]] = field(default_factory=list)


class LineFramer:
    """Frames terminated by CR, LF or CR LF (MT-SICS, Ohaus, ST/US). Empty lines are skipped."""

    def __init__(self, max_len: int = 64) -> None:
        self._max_len = max_len
        self._buf = bytearray()
        self._skipping = False  # inside an over-long run: drop up to the next terminator

    def feed(self, data: bytes) -> FrameChunks:
        out = FrameChunks()
        pos = 0
        for match in _LINE_END.finditer(data):
            self._take(data[pos : match.start()], out, ended=True)
            pos = match.end()
        self._take(data[pos:], out, ended=False)
        return out

    def _take(self, piece: bytes, out: FrameChunks, ended: bool) -> None:
        if self._skipping:
            self._skipping = not ended
            return
        self._buf += piece
        if len(self._buf) > self._max_len:
            out.dropped.append((bytes(self._buf), f"line longer than {self._max_len} bytes"))
            self._buf.clear()
            self._skipping = not ended
        elif ended:
            if self._buf:
                out.frames.append(bytes(self._buf))
            self._buf.clear()


class StxFramer:
    """Frames of the form STX ... CR (Toledo 8217). Bytes outside STX..CR are noise (reported
    when the next STX comes or `max_len` of them pile up); a new STX inside a frame restarts it
    (the old partial frame was cut off)."""

    def __init__(self, max_len: int = 16) -> None:
        self._max_len = max_len
        self._buf = bytearray()
        self._in_frame = False
        self._junk = bytearray()

    def feed(self, data: bytes) -> FrameChunks:
        out = FrameChunks()
        i, n = 0, len(data)
        while i < n:
            i = (
                self._in_frame_bytes(data, i, out)
                if self._in_frame
                else self._outside(data, i, out)
            )
        return out

    def _outside(self, data: bytes, i: int, out: FrameChunks) -> int:
        stx = data.find(b"\x02", i)
        end = len(data) if stx < 0 else stx
        self._junk += data[i:end].translate(None, _IDLE)  # line-end padding is not noise
        while len(self._junk) >= self._max_len:
            out.dropped.append((bytes(self._junk[: self._max_len]), _OUTSIDE))
            del self._junk[: self._max_len]
        if stx < 0:
            return end
        self._flush_junk(out)
        self._in_frame = True
        self._buf.clear()
        return stx + 1

    def _in_frame_bytes(self, data: bytes, i: int, out: FrameChunks) -> int:
        match = _CR_OR_STX.search(data, i)
        end = len(data) if match is None else match.start()
        self._buf += data[i:end]
        if len(self._buf) > self._max_len:
            out.dropped.append((b"\x02" + bytes(self._buf), "frame too long"))
            self._buf.clear()
            self._in_frame = False
            return end
        if match is None:
            return end
        if data[end] == CR:
            out.frames.append(b"\x02" + bytes(self._buf) + b"\r")
            self._in_frame = False
        elif self._buf:
            out.dropped.append((b"\x02" + bytes(self._buf), "frame cut off by a new STX"))
        self._buf.clear()
        return end + 1

    def _flush_junk(self, out: FrameChunks) -> None:
        if self._junk:
            out.dropped.append((bytes(self._junk), _OUTSIDE))
            self._junk.clear()
