"""The ESC/POS label printer: documents, transports with hard timeouts, DLE EOT status, the
durable spool and the asyncio-facing PrinterService (see docs/printer.md).

Layers: `document` what a label is; `escpos_encode` document -> bytes; `escpos_decode` bytes ->
blocks and `render_png` blocks -> PNG (the label preview); `transport`, `session` and `status`
the wire; `spool` the durable job queue; `service` the asyncio `PrinterService`. `sim` is the
simulated network printer (not imported by the driver). Imports nothing from `edge` or `central`.
"""

from __future__ import annotations

from drivers.printer.document import Document, Feed, Qr, Text
from drivers.printer.service import (
    PrinterEvent,
    PrinterService,
    PrinterSettings,
    settings_from_config,
)
from drivers.printer.spool import JobRecord, JobState, SpoolConflict
from drivers.printer.status import PrinterStatus, Readiness

__all__ = [
    "Document",
    "Feed",
    "JobRecord",
    "JobState",
    "PrinterEvent",
    "PrinterService",
    "PrinterSettings",
    "PrinterStatus",
    "Qr",
    "Readiness",
    "SpoolConflict",
    "Text",
    "settings_from_config",
]
