"""Decoded ESC/POS blocks -> a PNG the size of the printed paper (Pillow).

The preview and the simulated printer both render what the decoder read back from the bytes,
so a preview shows exactly what the printer was sent: 203 dpi, 12-dot font A cells.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

import qrcode
from PIL import Image, ImageDraw, ImageFont
from PIL.PngImagePlugin import PngInfo

from drivers.printer.document import DOTS
from drivers.printer.escpos_decode import DecodedBlock, Line, QrCode, Raster

CELL_W, CELL_H, MARGIN = 12, 24, 8
_FONT_DIRS = ("/usr/share/fonts/truetype/dejavu", "/usr/share/fonts/dejavu")
_SCALE = {"normal": (1, 1), "double": (2, 2), "wide": (2, 1), "tall": (1, 2)}

Font = ImageFont.FreeTypeFont | ImageFont.ImageFont


@dataclass
class Rendered:
    """The image and where each QR code landed (payload, (left, top, right, bottom))."""

    image: Image.Image
    qr_boxes: list[tuple[str, tuple[int, int, int, int]]] = field(default_factory=list)
    lines: list[str] = field(default_factory=list)

    def png_bytes(self) -> bytes:
        """The PNG file, with the printed text and QR payloads as tEXt metadata."""
        info = PngInfo()
        info.add_text("packstation:text", "\n".join(self.lines))
        info.add_text("packstation:qr", "\n".join(p for p, _ in self.qr_boxes))
        out = io.BytesIO()
        self.image.save(out, format="PNG", pnginfo=info)
        return out.getvalue()

    def save(self, path: Path) -> None:
        path.write_bytes(self.png_bytes())


@cache
def _font(bold: bool) -> Font:
    name = "DejaVuSansMono-Bold.ttf" if bold else "DejaVuSansMono.ttf"
    for folder in _FONT_DIRS:
        candidate = Path(folder) / name
        if candidate.exists():
            return ImageFont.truetype(str(candidate), 20)
    return ImageFont.load_default(size=20)  # no DejaVu (fonts-dejavu-core): Pillow's own font


def render(blocks: list[DecodedBlock], width_mm: int = 80) -> Rendered:
    """Render blocks top to bottom on paper `width_mm` wide."""
    width = DOTS.get(width_mm, DOTS[80])
    pieces: list[tuple[Image.Image, str]] = []
    out = Rendered(Image.new("1", (width + 2 * MARGIN, 1), 1))
    for block in blocks:
        if isinstance(block, Line):
            pieces.append((_line_image(block, width), block.align))
            out.lines.append(block.text)
        elif isinstance(block, QrCode):
            pieces.append((_qr_image(block), "center"))
        elif isinstance(block, Raster):
            pieces.append((_raster_image(block), block.align))
    height = sum(p.height for p, _ in pieces) + 2 * MARGIN
    page = Image.new("1", (width + 2 * MARGIN, max(height, CELL_H)), 1)
    y = MARGIN
    qr_payloads = iter(b.payload for b in blocks if isinstance(b, QrCode))
    for piece, align in pieces:
        x = MARGIN + _offset(piece.width, width, align)
        page.paste(piece, (x, y))
        if piece.info.get("qr"):
            out.qr_boxes.append((next(qr_payloads), (x, y, x + piece.width, y + piece.height)))
        y += piece.height
    out.image = page
    return out


def _offset(w: int, width: int, align: str) -> int:
    if align == "center":
        return max(0, (width - w) // 2)
    if align == "right":
        return max(0, width - w)
    return 0


def _line_image(line: Line, width: int) -> Image.Image:
    sx, sy = _SCALE[line.size]
    text = line.text.rstrip("\n")
    cols = max(1, min(len(text), width // (CELL_W * sx)))
    base = Image.new("1", (cols * CELL_W, CELL_H), 1)
    ImageDraw.Draw(base).text((0, 0), text[: width // (CELL_W * sx)], font=_font(line.bold), fill=0)
    if not text:
        return Image.new("1", (1, CELL_H * sy), 1)
    return base.resize((base.width * sx, base.height * sy), Image.Resampling.NEAREST)


def qr_matrix(payload: str) -> list[list[bool]]:
    """The QR modules for `payload` as python-escpos's image mode and our preview draw them."""
    code = qrcode.QRCode(border=0, error_correction=qrcode.constants.ERROR_CORRECT_M)
    code.add_data(payload)
    code.make(fit=True)
    return [list(row) for row in code.get_matrix()]


def _qr_image(block: QrCode) -> Image.Image:
    matrix = qr_matrix(block.payload)
    dots = max(1, block.module_dots)
    quiet = 4 * dots
    size = len(matrix) * dots + 2 * quiet
    img = Image.new("1", (size, size), 1)
    draw = ImageDraw.Draw(img)
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            if dark:
                x, y = quiet + c * dots, quiet + r * dots
                draw.rectangle((x, y, x + dots - 1, y + dots - 1), fill=0)
    img.info["qr"] = True
    return img


def _raster_image(block: Raster) -> Image.Image:
    width = block.width_bytes * 8
    img = Image.frombytes("1", (width, block.height), bytes(b ^ 0xFF for b in block.data))
    return img
