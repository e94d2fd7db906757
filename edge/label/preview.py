"""Label and slip previews as PNG: the layout is encoded to ESC/POS, decoded back and rendered,
so the preview shows exactly the bytes a printer would get (58 mm: 384 dots, 80 mm: 576 dots)."""

from __future__ import annotations

from drivers.printer.document import Document
from drivers.printer.escpos_decode import decode
from drivers.printer.escpos_encode import encode
from drivers.printer.render_png import Rendered, render


def render_document(doc: Document) -> Rendered:
    """The PNG rendering of a document as the printer would print it (native QR)."""
    decoded = decode(encode(doc, qr_mode="native"))
    return render(decoded.blocks, doc.width_mm)
