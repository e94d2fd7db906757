"""A printable document as a list of blocks: what a label or slip says, independent of bytes.

The station lays labels out as a `Document`; `escpos_encode` turns it into ESC/POS bytes and
`drivers.printer.escpos_decode` turns bytes back into the same blocks, so the PNG preview and the
simulated printer render exactly what a real printer receives.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

Align = Literal["left", "center", "right"]
Size = Literal["normal", "double", "wide", "tall"]
PaperWidth = Literal[58, 80]

# Font A is 12 dots wide on 203 dpi heads: 384 dots (58 mm) and 576 dots (80 mm) printable.
DOTS: dict[int, int] = {58: 384, 80: 576}
COLUMNS: dict[int, int] = {58: 32, 80: 48}


@dataclass(frozen=True)
class Text:
    """One printed line (the layout has already wrapped it to the paper's columns)."""

    text: str
    bold: bool = False
    align: Align = "left"
    size: Size = "normal"


@dataclass(frozen=True)
class Qr:
    """A QR code, centred; `module_dots` is the printer's dot size per module (1..16)."""

    payload: str
    module_dots: int = 6


@dataclass(frozen=True)
class Feed:
    """Blank lines."""

    lines: int = 1


@dataclass(frozen=True)
class Raster:
    """A monochrome bitmap printed as a GS v 0 raster image: `width_bytes`*8 dots wide, `height`
    rows, MSB = leftmost dot, 1 = black (e.g. a state's universal symbol)."""

    width_bytes: int
    height: int
    data: bytes
    align: Align = "center"


@dataclass(frozen=True)
class Cut:
    """Cut the paper here (between the parts of one job, e.g. container labels and the exit
    label); the document's own final cut is `Document.cut`."""


Block = Text | Qr | Feed | Raster | Cut


@dataclass(frozen=True)
class Document:
    """A whole print job: blocks top to bottom, then an optional cut."""

    blocks: tuple[Block, ...]
    width_mm: PaperWidth = 80
    cut: bool = True
    title: str = field(default="", compare=False)  # for logs and PNG metadata only

    @property
    def columns(self) -> int:
        """Characters per normal-size line."""
        return COLUMNS[self.width_mm]


def columns_for(width_mm: int, size: Size = "normal") -> int:
    """Characters per line at a text size (double and wide halve the count)."""
    cols = COLUMNS[width_mm]
    return cols // 2 if size in ("double", "wide") else cols
