"""The verified checkpoint: start-up checks only the events added since the last verified start.

After the station verified its journal it stores `(seq, hash)` of the last verified row in the
journal's `state` table (key `journal.verified_checkpoint`, in a transaction of its own). At the
next start `verify_at_start` checks that the row at `seq` still carries that hash (and that its
contents still give it) and verifies the chain from there on, so start-up costs what is new, not the whole history. A checkpoint that
does not match its row (or a journal that ends before it) is not trusted: the whole chain is
verified instead, and a break anywhere is reported as before. The full audit stays on demand:
`packstation journal verify` (`Journal.verify`) always recomputes every row.
"""

from __future__ import annotations

import logging

import msgspec

from edge.common.chain import GENESIS, chain_hash
from edge.journal.store import Journal, VerifyResult

LOG = logging.getLogger(__name__)
CHECKPOINT_KEY = "journal.verified_checkpoint"
BATCH = 2000


class Checkpoint(msgspec.Struct, frozen=True, kw_only=True):
    """The last row a start verified: its seq and hash (hex)."""

    seq: int
    hash: str


def load_checkpoint(journal: Journal) -> Checkpoint | None:
    raw = journal.get_state(CHECKPOINT_KEY)
    if raw is None:
        return None
    try:
        return msgspec.json.decode(raw, type=Checkpoint)
    except msgspec.DecodeError:
        LOG.error("journal checkpoint unreadable: verifying the whole chain")
        return None


def save_checkpoint(journal: Journal, checkpoint: Checkpoint) -> None:
    with journal.transaction() as txn:
        txn.put_state(CHECKPOINT_KEY, msgspec.json.encode(checkpoint))


def verify_after(journal: Journal, seq: int, prev: bytes) -> tuple[VerifyResult, Checkpoint]:
    """Verify the rows after `seq` (whose hash is `prev`); the result and the new checkpoint."""
    expected, checked, last = seq + 1, 0, Checkpoint(seq=seq, hash=prev.hex())
    after = seq
    while chunk := journal.events(after, BATCH):
        for ev in chunk:
            if ev.seq != expected:
                bad = VerifyResult(
                    checked=checked, first_bad_seq=expected, reason=f"seq {expected} is missing"
                )
                return bad, last
            if ev.prev_hash != prev:
                reason = "prev_hash does not match the previous row"
                return VerifyResult(checked=checked, first_bad_seq=ev.seq, reason=reason), last
            if chain_hash(prev, ev.seq, ev.event_id, ev.type, ev.at, ev.body) != ev.hash:
                reason = "hash does not match the row's contents"
                return VerifyResult(checked=checked, first_bad_seq=ev.seq, reason=reason), last
            prev, expected, checked = ev.hash, expected + 1, checked + 1
        after = chunk[-1].seq
        last = Checkpoint(seq=after, hash=prev.hex())
    return VerifyResult(checked=checked), last


def verify_at_start(journal: Journal) -> VerifyResult:
    """Verify what is new since the stored checkpoint (everything without a usable one) and
    move the checkpoint to the last row when the chain verifies."""
    cp = load_checkpoint(journal)
    start, prev = 0, GENESIS
    if cp is not None:
        row = journal.events(cp.seq - 1, 1) if cp.seq > 0 else []
        if cp.seq == 0 and cp.hash == GENESIS.hex():
            pass
        elif row and row[0].seq == cp.seq and row[0].hash.hex() == cp.hash:
            start, prev = cp.seq - 1, row[0].prev_hash  # the checkpoint's row is checked again
        else:
            LOG.error(
                "journal checkpoint does not match its row: verifying the whole chain",
                extra={"checkpoint_seq": cp.seq, "last_seq": journal.last_seq()},
            )
    result, last = verify_after(journal, start, prev)
    if result.ok and last != cp:
        save_checkpoint(journal, last)
    return result
