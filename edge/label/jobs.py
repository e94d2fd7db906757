"""What the station daemon calls to print: exit labels and discrepancy slips through the
PrinterService spool, with job ids derived from the content so a retried call never prints twice.
"""

from __future__ import annotations

import hashlib

from drivers.printer.document import PaperWidth
from drivers.printer.service import PrinterService
from drivers.printer.spool import JobRecord
from edge.label.content import ExitLabel, HaltSlip, seal_code_for
from edge.label.layout import layout_label, layout_slip


def label_job_id(label: ExitLabel, reprint: int = 0) -> str:
    """`label-<seal code>` (plus `-r<n>` for a deliberate reprint)."""
    base = f"label-{seal_code_for(label)}"
    return f"{base}-r{reprint}" if reprint else base


def slip_job_id(slip: HaltSlip) -> str:
    """`slip-<order>-<digest of the slip content>`."""
    import msgspec

    digest = hashlib.sha256(msgspec.json.encode(slip)).hexdigest()[:16]
    return f"slip-{slip.order_id}-{digest}"


async def print_label(
    service: PrinterService,
    label: ExitLabel,
    *,
    width_mm: PaperWidth,
    qr_module_dots: int = 6,
    reprint: int = 0,
) -> JobRecord:
    """Queue the exit label durably; returns at once (watch `service.subscribe()` or
    `service.wait_printed(record.job_id, ...)` for the outcome)."""
    doc = layout_label(label, width_mm, qr_module_dots)
    return await service.submit(label_job_id(label, reprint), doc, kind="label")


async def print_slip(service: PrinterService, slip: HaltSlip, *, width_mm: PaperWidth) -> JobRecord:
    """Queue a discrepancy slip durably; returns at once."""
    return await service.submit(slip_job_id(slip), layout_slip(slip, width_mm), kind="slip")
