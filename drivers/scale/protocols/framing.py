"""Byte-stream framing with a length cap and resynchronisation after line noise.

Serial lines deliver frames in arbitrary pieces (one byte at a time on a slow UART, several frames
in one read) and sometimes garbage (power-up bytes, a cable swapped live, wrong baud). The framers
buffer across reads, never hold more than `max_len` bytes, and after an over-long run skip to the
next terminator instead of parsing half a frame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

STX = 0x02
CR = 0x0D
LF = 0x0A
_IDLE = frozenset({CR, LF, 0x20, 0x00})


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
        for byte in data:
            if byte in (CR, LF):
                if self._skipping:
                    self._skipping = False
                elif self._buf:
                    out.frames.append(bytes(self._buf))
                self._buf.clear()
                continue
            if self._skipping:
                continue
            self._buf.append(byte)
            if len(self._buf) > self._max_len:
                out.dropped.append((bytes(self._buf), f"line longer than {self._max_len} bytes"))
                self._buf.clear()
                self._skipping = True
        return out


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
        for byte in data:
            if byte == STX:
                self._flush_junk(out)
                if self._in_frame and self._buf:
                    out.dropped.append((b"\x02" + bytes(self._buf), "frame cut off by a new STX"))
                self._buf.clear()
                self._in_frame = True
            elif not self._in_frame:
                if byte not in _IDLE:  # line-end padding between frames is not noise
                    self._junk.append(byte)
                    if len(self._junk) >= self._max_len:
                        self._flush_junk(out)
            elif byte == CR:
                out.frames.append(b"\x02" + bytes(self._buf) + b"\r")
                self._buf.clear()
                self._in_frame = False
            else:
                self._buf.append(byte)
                if len(self._buf) > self._max_len:
                    out.dropped.append((b"\x02" + bytes(self._buf), "frame too long"))
                    self._buf.clear()
                    self._in_frame = False
        return out

    def _flush_junk(self, out: FrameChunks) -> None:
        if self._junk:
            out.dropped.append((bytes(self._junk), "bytes outside an STX...CR frame"))
            self._junk.clear()
