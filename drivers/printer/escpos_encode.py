"""Document -> ESC/POS bytes, by our own small encoder: reset, text with its style and code
page, native QR (GS ( k), GS v 0 rasters, feeds and the cut, byte for byte what python-escpos
3.1's Dummy printer emits for the same calls (tests/drivers/test_printer_escpos.py compares
them). python-escpos is kept for what we do not do ourselves, a QR code sent as an image
(`qr_mode="raster"`: its qrcode/PIL rendering), and is imported only then.

We only borrow python-escpos's command builders; transports, status and timeouts are ours
(python-escpos 3.1: its Network waits 60 s and `paper_status()` trusts empty replies).
"""

from __future__ import annotations

import contextlib
import io
import re
import unicodedata
from typing import TYPE_CHECKING, Literal

from drivers.printer.document import Cut, Document, Feed, Qr, Raster, Size, Text

# python-escpos (~16 MB resident with PIL) is imported only for a QR code sent as an image,
# not when the daemon starts nor for a label with a native QR code.
if TYPE_CHECKING:
    from escpos.printer import Dummy

QrMode = Literal["native", "raster"]

_SIZE_ARGS: dict[Size, dict[str, bool]] = {
    "normal": {"normal_textsize": True},
    "double": {"double_width": True, "double_height": True},
    "wide": {"double_width": True},
    "tall": {"double_height": True},
}

INIT = b"\x1b@"
# GS ( H fn=48 m=48 d1..d4: "transmit a process-ID response once everything before it is
# processed" (Epson ESC/POS reference, TM series); answered with 37 22 d1 d2 d3 d4 00.
PROCESS_ID_HEADER = b"\x1d(H\x06\x00\x30\x30"


def process_id_request(pid: str) -> bytes:
    """The GS ( H request for a 4-digit process id."""
    if len(pid) != 4 or not pid.isdigit():
        raise ValueError("process id must be 4 ASCII digits")
    return PROCESS_ID_HEADER + pid.encode("ascii")


def process_id_response(pid: str) -> bytes:
    """What a printer answers to `process_id_request(pid)`."""
    return b"\x37\x22" + pid.encode("ascii") + b"\x00"


# --- our encoder (Epson ESC/POS command reference: ESC @, ESC !, ESC E, ESC a, ESC t, ESC d,
# GS V, GS ( k, GS v 0) -------------------------------------------------------------------------

_ESC_NORMAL = b"\x1b!\x00"  # ESC ! 0: character size and style reset
_SIZE_BYTES: dict[Size, bytes] = {  # ESC ! n after a reset, as python-escpos sends them
    "normal": _ESC_NORMAL + _ESC_NORMAL + b"\x1b!\x00",
    "double": _ESC_NORMAL + _ESC_NORMAL + b"\x1b!\x30",
    "wide": _ESC_NORMAL + _ESC_NORMAL + b"\x1b!\x20",
    "tall": _ESC_NORMAL + _ESC_NORMAL + b"\x1b!\x10",
}
_BOLD = {False: b"\x1bE\x00", True: b"\x1bE\x01"}
_ALIGN = {"left": b"\x1ba\x00", "center": b"\x1ba\x01", "right": b"\x1ba\x02"}
_CUT = b"\x1bd\x06\x1dV\x00"  # print and feed 6 lines, full cut (python-escpos 3.1's cut())
_QR_EC_M = 1  # GS ( k fn=69: error correction M (48 + 1)
_QR_MODEL_2 = 2

# The code pages python-escpos's default profile offers (ESC t n), in the order its magic
# encoder tries them: pages already used first, then by slot number compared as text ("0",
# "1", "13", ..., "19", "2", ...). Only the pages up to slot "19" are listed: every character
# `printable` lets through is in one of them (cp437, cp858, cp1252, cp852, cp866 are), so the
# search never gets further; a character none of them has sends the job to python-escpos.
_PAGES: tuple[tuple[str, int], ...] = (
    ("cp437", 0),
    ("cp932", 1),
    ("cp857", 13),
    ("cp737", 14),
    ("iso8859_7", 15),
    ("cp1252", 16),
    ("cp866", 17),
    ("cp852", 18),
    ("cp858", 19),
)
_CJK = re.compile("[\u4e00-\u9fa5]")  # python-escpos sends these as GB18030, unannounced
_charmaps: dict[str, dict[str, int]] = {}


def _charmap(codec: str) -> dict[str, int]:
    """Characters 128..255 of a code page, as python-escpos reads them from Python's codec
    (a byte the codec cannot decode is skipped; a later byte wins a duplicate)."""
    got = _charmaps.get(codec)
    if got is None:
        got = {}
        for byte in range(128, 256):
            try:
                got[bytes([byte]).decode(codec)] = byte
            except UnicodeDecodeError:
                got[" "] = byte  # what python-escpos's table holds there (never looked up)
        _charmaps[codec] = got
    return got


class _NeedsEscpos(Exception):
    """A document our encoder does not cover: python-escpos encodes it."""


class _Writer:
    """The bytes of one job and the code page the printer is in (unknown at the start)."""

    def __init__(self) -> None:
        self.out: list[bytes] = [INIT]
        self.page: int | None = None  # index into _PAGES
        self.used: set[int] = set()

    def set(self, align: str | None, bold: bool | None, size: Size | None) -> None:
        if size is not None:
            self.out.append(_SIZE_BYTES[size])
        if bold is not None:
            self.out.append(_BOLD[bold])
        if align is not None:
            self.out.append(_ALIGN[align])

    def _fits(self, page: int, ch: str) -> bool:
        return ord(ch) < 128 or ch in _charmap(_PAGES[page][0])

    def _find(self, ch: str) -> int:
        for page in sorted(range(len(_PAGES)), key=lambda i: (i not in self.used, i)):
            if self._fits(page, ch):
                self.used.add(page)
                return page
        raise _NeedsEscpos(ch)

    def _emit(self, page: int, text: str) -> None:
        if page != self.page:
            self.page = page
            self.out.append(b"\x1bt" + bytes([_PAGES[page][1]]))
        if text:
            table = _charmap(_PAGES[page][0])
            self.out.append(bytes(ord(c) if ord(c) < 128 else table[c] for c in text))

    def text(self, text: str) -> None:
        """python-escpos's magic encoding: as far as the current page goes, then the first page
        (used ones first) that has the next character, switching with ESC t n."""
        if self.page is not None and text.isascii():  # ASCII is the same in every page
            self.out.append(text.encode("ascii"))
            return
        if _CJK.search(text):
            raise _NeedsEscpos(text)
        rest = text
        if self.page is not None:
            rest = self._write_run(self.page, rest)
        while rest:
            rest = self._write_run(self._find(rest[0]), rest)

    def _write_run(self, page: int, text: str) -> str:
        n = 0
        while n < len(text) and self._fits(page, text[n]):
            n += 1
        if n:
            self._emit(page, text[:n])
        return text[n:]

    def raw(self, data: bytes) -> None:
        self.out.append(data)


def _gs_k(fn: int, data: bytes, m: bytes = b"") -> bytes:
    """GS ( k pL pH cn=49 fn [m] data: one QR code function."""
    size = len(data) + len(m) + 2
    if size > 256 << 15:  # python-escpos's bound for its two length bytes
        raise ValueError("QR payload too large")
    return b"\x1d(k" + bytes((size & 0xFF, (size >> 8) & 0xFF)) + b"1" + bytes([fn]) + m + data


def _native_qr(w: _Writer, block: Qr) -> None:
    if not 1 <= block.module_dots <= 16:
        raise ValueError("Invalid block size (must be 1-16)")
    w.set("center", False, "normal")
    if block.payload:
        w.raw(_gs_k(65, bytes((48 + _QR_MODEL_2, 0))))  # model 2
        w.raw(_gs_k(67, bytes([block.module_dots])))  # module size in dots
        w.raw(_gs_k(69, bytes([48 + _QR_EC_M])))  # error correction M
        w.raw(_gs_k(80, block.payload.encode("utf-8"), b"0"))  # store the data
        w.raw(_gs_k(81, b"", b"0"))  # print it
    w.text("\n")
    w.set("left", None, None)


def _own_encode(doc: Document) -> bytes:
    w = _Writer()
    for block in doc.blocks:
        if isinstance(block, Text):
            w.set(block.align, block.bold, block.size)
            w.text(printable(block.text) + "\n")
        elif isinstance(block, Qr):
            _native_qr(w, block)
        elif isinstance(block, Feed):
            if block.lines < 0:
                raise ValueError("Count cannot be lesser than 0")
            if block.lines:
                w.text("\n" * block.lines)
        elif isinstance(block, Raster):
            w.set(block.align, False, "normal")
            w.raw(raster_command(block))
            w.set("left", None, None)
        elif isinstance(block, Cut):
            w.set("left", False, "normal")
            w.raw(_CUT)
    w.set("left", False, "normal")
    if doc.cut:
        w.raw(_CUT)
    return b"".join(w.out)


def encode(doc: Document, *, qr_mode: QrMode = "native") -> bytes:
    """The ESC/POS bytes of `doc`: reset, each block, feed and cut. Our encoder builds them;
    python-escpos only for QR codes sent as images (and a character our pages lack)."""
    if qr_mode == "native":
        with contextlib.suppress(_NeedsEscpos):
            return _own_encode(doc)
    return encode_with_escpos(doc, qr_mode=qr_mode)


def encode_with_escpos(doc: Document, *, qr_mode: QrMode = "native") -> bytes:
    """`encode` through python-escpos's Dummy printer (what our encoder must equal)."""
    from escpos.printer import Dummy

    p = Dummy()
    p._raw(INIT)
    for block in doc.blocks:
        if isinstance(block, Text):
            _text(p, block)
        elif isinstance(block, Qr):
            _qr(p, block, qr_mode)
        elif isinstance(block, Feed):
            p.ln(block.lines)
        elif isinstance(block, Raster):
            _raster(p, block)
        elif isinstance(block, Cut):
            p.set(align="left", bold=False, normal_textsize=True)
            p.cut()
    p.set(align="left", bold=False, normal_textsize=True)
    if doc.cut:
        p.cut()
    return bytes(p.output)


# Western code pages of the default profile: python-escpos switches among them (ESC t n). A
# character outside all of them would make it switch to GB18030 without telling the printer,
# garbling the rest of the label on a Western printer, so such characters are folded first.
_CODEPAGES = ("cp437", "cp858", "cp1252", "cp852", "cp866")


def _encodable(ch: str) -> bool:
    for codec in _CODEPAGES:
        try:
            ch.encode(codec)
        except UnicodeEncodeError:
            continue
        return True
    return False


def printable(text: str) -> str:
    """`text` with every character a Western ESC/POS code page lacks folded to its base letter
    (NFKD without accents) or replaced by "?"."""
    if text.isascii():  # every page has ASCII
        return text
    out = []
    for ch in text:
        if _encodable(ch):
            out.append(ch)
            continue
        base = "".join(c for c in unicodedata.normalize("NFKD", ch) if not unicodedata.combining(c))
        out.append(base if base and all(_encodable(c) for c in base) else "?")
    return "".join(out)


def _text(p: Dummy, block: Text) -> None:
    p.set(align=block.align, bold=block.bold, **_SIZE_ARGS[block.size])
    p.textln(printable(block.text))


def raster_command(block: Raster) -> bytes:
    """GS v 0 m=0 (normal density): xL xH (width in bytes) yL yH (rows), then the bits."""
    if len(block.data) != block.width_bytes * block.height:
        raise ValueError("raster data does not match its size")
    w, h = block.width_bytes, block.height
    return b"\x1dv0\x00" + bytes((w & 0xFF, w >> 8, h & 0xFF, h >> 8)) + block.data


def _raster(p: Dummy, block: Raster) -> None:
    p.set(align=block.align, bold=False, normal_textsize=True)
    p._raw(raster_command(block))
    p.set(align="left")


def _qr(p: Dummy, block: Qr, mode: QrMode) -> None:
    from escpos.constants import QR_ECLEVEL_M

    p.set(align="center", bold=False, normal_textsize=True)
    if mode == "native":
        p.qr(block.payload, ec=QR_ECLEVEL_M, size=block.module_dots, native=True)
        p.ln(1)
    else:  # python-escpos 3.1 prints a profile warning to stdout here; keep stdout clean
        with contextlib.redirect_stdout(io.StringIO()):
            p.qr(block.payload, ec=QR_ECLEVEL_M, size=block.module_dots, native=False)
    p.set(align="left")
