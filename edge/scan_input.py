"""Turn one raw scan into a workflow input by the [scan] patterns (badge, order ticket, seal, package).

Anything that is not a badge, a ticket or a seal code goes to the Verifier as a package scan, which
names it `malformed` when it is no tag at all: the technician then gets a reason, never silence.
"""

from __future__ import annotations

import re

from drivers.config import ScanConfig
from edge.workflow_state import BadgeScanned, PackageScanned, SealScanned, TicketScanned

ScanInput = BadgeScanned | TicketScanned | PackageScanned | SealScanned


class ScanClassifier:
    def __init__(self, config: ScanConfig) -> None:
        self.badge = re.compile(config.badge_pattern)
        self.ticket = re.compile(config.ticket_pattern)
        self.seal = re.compile(config.seal_pattern)

    def classify(self, raw: str, device: str = "") -> ScanInput:
        text = raw.strip()
        if self.badge.search(text):
            return BadgeScanned(text, device)
        if self.ticket.search(text):
            return TicketScanned(text.removeprefix("ORD-"), text, device)
        if self.seal.search(text):
            return SealScanned(text, device)
        return PackageScanned(text, device)
