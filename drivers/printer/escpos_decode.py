"""ESC/POS bytes -> printed lines, QR payloads, raster images and real-time requests.

Used by the tests (assert what a label says from the bytes a printer received), by the label
preview (`packstation label preview`), and by the simulated printer (answer DLE EOT / GS ( H while
a job streams in, render each job to PNG).
The decoder is incremental: `feed()` may be called with any split of the stream; a command cut
in two waits for its remaining bytes.
"""

from __future__ import annotations

import codecs
import itertools
from dataclasses import dataclass, field
from functools import cache

from drivers.printer.document import Align, Size

ESC, GS, DLE = 0x1B, 0x1D, 0x10
_ALIGN: dict[int, Align] = {
    0: "left",
    1: "center",
    2: "right",
    48: "left",
    49: "center",
    50: "right",
}
# Commands with a fixed number of parameter bytes: (prefix, command) -> parameter count.
_FIXED: dict[tuple[int, int], int] = {
    **{(ESC, c): 1 for c in b"!E-aMGV{dJ3=R "},
    (ESC, ord("2")): 0,
    (ESC, ord("S")): 0,
    (ESC, ord("p")): 3,
    (ESC, ord("B")): 2,
    (ESC, ord("<")): 0,
    **{(GS, c): 1 for c in b"!BbhwHfaIrT"},
    (GS, ord("L")): 2,
    (GS, ord("W")): 2,
    (GS, ord("P")): 2,
}


@dataclass(frozen=True)
class Line:
    """A printed line of text and the style it started with."""

    text: str
    bold: bool = False
    align: Align = "left"
    size: Size = "normal"


@dataclass(frozen=True)
class QrCode:
    """A native QR code (GS ( k) as printed."""

    payload: str
    module_dots: int = 3


@dataclass(frozen=True)
class Raster:
    """A GS v 0 raster image: `width_bytes`*8 dots wide, MSB = leftmost dot, 1 = black."""

    width_bytes: int
    height: int
    data: bytes
    align: Align = "left"


DecodedBlock = Line | QrCode | Raster


@dataclass(frozen=True)
class StatusQuery:
    """DLE EOT n: the host asked for real-time status n (1..4)."""

    n: int


@dataclass(frozen=True)
class ProcessIdRequest:
    """GS ( H fn=48: answer with the process id once everything before it has printed."""

    pid: str


@dataclass(frozen=True)
class BufferClear:
    """DLE DC4 fn=8: discard received data not yet printed."""


Realtime = StatusQuery | ProcessIdRequest | BufferClear


@dataclass
class DecodedJob:
    """Everything a stream of ESC/POS bytes asked the printer to do."""

    blocks: list[DecodedBlock] = field(default_factory=list)
    cuts: int = 0
    beeps: list[tuple[int, int]] = field(default_factory=list)
    realtime: list[Realtime] = field(default_factory=list)
    resets: int = 0
    unknown: list[str] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        """The text of every printed line, blank lines included."""
        return [b.text for b in self.blocks if isinstance(b, Line)]

    @property
    def text(self) -> str:
        """All printed text, one line per line."""
        return "\n".join(self.lines)

    @property
    def qr_payloads(self) -> list[str]:
        """Payloads of the native QR codes, in print order."""
        return [b.payload for b in self.blocks if isinstance(b, QrCode)]

    @property
    def rasters(self) -> list[Raster]:
        """Raster images, in print order."""
        return [b for b in self.blocks if isinstance(b, Raster)]


@cache
def _codec_for(n: int) -> str:
    """Python codec of ESC t n, from python-escpos's default profile; CP437 when unknown."""
    from escpos.capabilities import get_profile

    name = str(get_profile("default").codePages.get(str(n), "CP437"))
    candidate = name.lower().replace("_", "-")
    try:
        return codecs.lookup(candidate).name
    except LookupError:
        return "cp437"


class Decoder:
    """Incremental ESC/POS decoder; see the module docstring."""

    def __init__(self) -> None:
        self.job = DecodedJob()
        self._buf = bytearray()
        self._line = bytearray()
        self._codec = "cp437"
        self._line_codec: list[tuple[int, str]] = []  # (offset in _line, codec) switches
        self._bold = False
        self._align: Align = "left"
        self._size: Size = "normal"
        self._line_style: tuple[bool, Align, Size] | None = None
        self._qr_data = b""
        self._qr_module = 3

    def feed(self, data: bytes) -> list[Realtime]:
        """Decode `data`; return the real-time requests found in it, in order."""
        self._buf += data
        found: list[Realtime] = []
        pos = 0
        while pos < len(self._buf):
            used = self._step(pos, found)
            if used == 0:  # incomplete command: wait for more bytes
                break
            pos += used
        del self._buf[:pos]
        self.job.realtime.extend(found)
        return found

    def finish(self) -> DecodedJob:
        """Flush a trailing unterminated line and return the decoded job."""
        if self._line:
            self._end_line()
        if self._buf:
            self.job.unknown.append(f"truncated command {bytes(self._buf[:8]).hex(' ')}")
            self._buf.clear()
        return self.job

    # -- one command ------------------------------------------------------------------------
    def _step(self, pos: int, found: list[Realtime]) -> int:
        b = self._buf[pos]
        if b == 0x0A:
            self._end_line()
            return 1
        if b in (ESC, GS, DLE):
            return self._command(pos, found)
        if b == 0x07:  # BEL
            self.job.beeps.append((1, 1))
            return 1
        if b < 0x20 and b != 0x09:
            return 1  # CR and other controls print nothing
        if self._line_style is None:
            self._line_style = (self._bold, self._align, self._size)
        if not self._line_codec or self._line_codec[-1][1] != self._codec:
            self._line_codec.append((len(self._line), self._codec))
        self._line.append(b)
        return 1

    def _need(self, pos: int, n: int) -> bool:
        return len(self._buf) - pos >= n

    def _command(self, pos: int, found: list[Realtime]) -> int:
        if not self._need(pos, 2):
            return 0
        prefix, cmd = self._buf[pos], self._buf[pos + 1]
        if prefix == DLE:
            return self._dle(pos, cmd, found)
        if (prefix, cmd) in _FIXED:
            n = _FIXED[(prefix, cmd)]
            if not self._need(pos, 2 + n):
                return 0
            self._fixed(prefix, cmd, bytes(self._buf[pos + 2 : pos + 2 + n]))
            return 2 + n
        if prefix == ESC:
            return self._esc(pos, cmd)
        return self._gs(pos, cmd, found)

    def _dle(self, pos: int, cmd: int, found: list[Realtime]) -> int:
        if cmd in {4, 5}:  # DLE EOT n / DLE ENQ n
            if not self._need(pos, 3):
                return 0
            if cmd == 0x04:
                found.append(StatusQuery(self._buf[pos + 2]))
            return 3
        if cmd == 0x14:  # DLE DC4 fn ...: fn 8 (clear buffers) has 7 bytes, the others 2
            if not self._need(pos, 3):
                return 0
            size = 10 if self._buf[pos + 2] == 8 else 5
            if not self._need(pos, size):
                return 0
            if size == 10:
                found.append(BufferClear())
            return size
        self.job.unknown.append(f"DLE {cmd:02x}")
        return 2

    def _fixed(self, prefix: int, cmd: int, args: bytes) -> None:
        c = chr(cmd)
        arg = args[0] if args else 0
        if prefix == ESC:
            if c == "E":
                self._bold = bool(arg & 1)
            elif c == "a":
                self._align = _ALIGN.get(arg, "left")
            elif c == "!":
                self._size = _size_of(bool(arg & 0x20), bool(arg & 0x10))
                self._bold = bool(arg & 0x08)
            elif c == "d":
                for _ in range(arg):
                    self._end_line()
            elif c == "B":
                self.job.beeps.append((args[0], args[1]))
        elif prefix == GS and c == "!":
            self._size = _size_of(arg & 0x70 != 0, arg & 0x07 != 0)

    def _esc(self, pos: int, cmd: int) -> int:
        c = chr(cmd)
        if c == "@":
            self.job.resets += 1
            self._bold, self._align, self._size, self._codec = False, "left", "normal", "cp437"
            return 2
        if c == "t":
            if not self._need(pos, 3):
                return 0
            self._codec = _codec_for(self._buf[pos + 2])
            return 3
        if c == "*":  # bit image: m nL nH data
            if not self._need(pos, 5):
                return 0
            m, n = self._buf[pos + 2], self._buf[pos + 3] | self._buf[pos + 4] << 8
            total = 5 + n * (3 if m in (32, 33) else 1)
            return total if self._need(pos, total) else 0
        if c == "D":  # tab stops, NUL-terminated
            end = self._buf.find(0, pos + 2)
            return end - pos + 1 if end >= 0 else 0
        if c == "c":  # ESC c 3/4/5 n
            return 4 if self._need(pos, 4) else 0
        self.job.unknown.append(f"ESC {cmd:02x}")
        return 2

    def _gs(self, pos: int, cmd: int, found: list[Realtime]) -> int:
        c = chr(cmd)
        if c == "V":
            if not self._need(pos, 3):
                return 0
            m = self._buf[pos + 2]
            self._end_line_if_pending()
            self.job.cuts += 1
            return 3 if m in (0, 1, 48, 49) else (4 if self._need(pos, 4) else 0)
        if c == "(":
            return self._gs_paren(pos, found)
        if c == "v":
            return self._raster(pos)
        if c == "k":
            return self._barcode(pos)
        self.job.unknown.append(f"GS {cmd:02x}")
        return 2

    def _gs_paren(self, pos: int, found: list[Realtime]) -> int:
        if not self._need(pos, 5):
            return 0
        kind = chr(self._buf[pos + 2])
        length = self._buf[pos + 3] | self._buf[pos + 4] << 8
        if not self._need(pos, 5 + length):
            return 0
        body = bytes(self._buf[pos + 5 : pos + 5 + length])
        if kind == "k" and len(body) >= 2 and body[0] == 0x31:
            self._qr_function(body[1], body[2:])
        elif kind == "H" and len(body) == 6 and body[0] == 0x30:
            found.append(ProcessIdRequest(body[2:6].decode("ascii", "replace")))
        elif kind not in "kHL":
            self.job.unknown.append(f"GS ( {kind}")
        return 5 + length

    def _qr_function(self, fn: int, args: bytes) -> None:
        if fn == 67 and args:  # module size
            self._qr_module = args[0]
        elif fn == 80 and args:  # store data: m=48 then the payload
            self._qr_data = args[1:]
        elif fn == 81:  # print the stored symbol
            self._end_line_if_pending()
            payload = self._qr_data.decode("utf-8", "replace")
            self.job.blocks.append(QrCode(payload, self._qr_module))

    def _raster(self, pos: int) -> int:
        if not self._need(pos, 8):
            return 0
        w = self._buf[pos + 4] | self._buf[pos + 5] << 8
        h = self._buf[pos + 6] | self._buf[pos + 7] << 8
        total = 8 + w * h
        if not self._need(pos, total):
            return 0
        self._end_line_if_pending()
        data = bytes(self._buf[pos + 8 : pos + total])
        self.job.blocks.append(Raster(w, h, data, self._align))
        return total

    def _barcode(self, pos: int) -> int:
        if not self._need(pos, 3):
            return 0
        m = self._buf[pos + 2]
        if m <= 6:
            end = self._buf.find(0, pos + 3)
            return end - pos + 1 if end >= 0 else 0
        if not self._need(pos, 4):
            return 0
        total = 4 + self._buf[pos + 3]
        return total if self._need(pos, total) else 0

    # -- lines ------------------------------------------------------------------------------
    def _end_line_if_pending(self) -> None:
        if self._line:
            self._end_line()

    def _end_line(self) -> None:
        bold, align, size = self._line_style or (self._bold, self._align, self._size)
        self.job.blocks.append(Line(self._line_text(), bold, align, size))
        self._line.clear()
        self._line_codec.clear()
        self._line_style = None

    def _line_text(self) -> str:
        parts = []
        spans = [*self._line_codec, (len(self._line), "")]
        for (start, codec), (end, _) in itertools.pairwise(spans):
            parts.append(bytes(self._line[start:end]).decode(codec, "replace"))
        return "".join(parts)


def _size_of(wide: bool, tall: bool) -> Size:
    if wide and tall:
        return "double"
    return "wide" if wide else ("tall" if tall else "normal")


def decode(data: bytes) -> DecodedJob:
    """Decode a whole ESC/POS stream."""
    decoder = Decoder()
    decoder.feed(data)
    return decoder.finish()
