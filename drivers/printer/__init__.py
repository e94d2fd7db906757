"""The ESC/POS label printer: documents, transports with hard timeouts, DLE EOT status, the
durable spool and the asyncio-facing PrinterService (see README.md)."""

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
