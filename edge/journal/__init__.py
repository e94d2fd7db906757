"""The station's tamper-evident journal: SQLite (WAL, synchronous=FULL), hash-chained, append-only.

May import: `edge.common`. The station, the link, the CLI, the simulator and the doctor read and
write it through the names re-exported here.
"""

from edge.journal.checkpoint import verify_at_start
from edge.journal.store import (
    SCHEMA_VERSION,
    ChainBroken,
    Journal,
    JournalError,
    JournalEvent,
    Txn,
    VerifyResult,
    export_line,
)

__all__ = [
    "SCHEMA_VERSION",
    "ChainBroken",
    "Journal",
    "JournalError",
    "JournalEvent",
    "Txn",
    "VerifyResult",
    "export_line",
    "verify_at_start",
]
