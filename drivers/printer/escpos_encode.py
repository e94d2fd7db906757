"""Document -> ESC/POS bytes, built with python-escpos (its Dummy printer collects the bytes).

We only borrow python-escpos's command builders; transports, status and timeouts are ours
(python-escpos 3.1: its Network waits 60 s and `paper_status()` trusts empty replies).
"""

from __future__ import annotations

import contextlib
import io
import unicodedata
from typing import TYPE_CHECKING, Literal

from drivers.printer.document import Cut, Document, Feed, Qr, Raster, Size, Text

# python-escpos (~16 MB resident) is imported when a document is first encoded, not when the
# daemon starts (the process-id helpers below do not need it).
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


def encode(doc: Document, *, qr_mode: QrMode = "native") -> bytes:
    """The ESC/POS bytes of `doc`: reset, each block, feed and cut."""
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
