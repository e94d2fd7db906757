"""The print spool's job ids of exit labels and discrepancy slips, derived from the content: the
station's printer adapter (edge/station/wiring/printer.py) submits under them, so a retried print
of the same label or slip finds the job already spooled and never prints twice.
"""

from __future__ import annotations

import hashlib

from edge.label.content import BoxLabel, ExitLabel, HaltSlip, seal_code_for


def label_job_id(label: ExitLabel | BoxLabel, reprint: int = 0) -> str:
    """`label-<seal code>` (plus `-r<n>` for a deliberate reprint); a wholesale box label's too."""
    base = f"label-{seal_code_for(label)}"
    return f"{base}-r{reprint}" if reprint else base


def slip_job_id(slip: HaltSlip) -> str:
    """`slip-<order>-<digest of the slip content>`."""
    import msgspec

    digest = hashlib.sha256(msgspec.json.encode(slip)).hexdigest()[:16]
    return f"slip-{slip.order_id}-{digest}"
