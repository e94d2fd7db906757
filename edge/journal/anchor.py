"""The journal anchored at central: a station behind central's copy recovers from it.

Central keeps every row a station sent (its chain head is the `stations` row: last seq and hash).
A station that comes back with less (a card restored from an older image, a new empty card) must
not number new events from where its file ends: those seqs are central's already, with other
contents, and would be quarantined as integrity alarms while the station counted them sent.
Instead the link fetches central's copy of the missing rows (PSS/1 FETCH) and `adopt` inserts them
verbatim, hash-checked against this journal's last row, before anything new is journalled.

If this journal has rows of its own past the point where it fell behind (events were journalled
offline before central was reached), the two histories differ: `adopt` refuses (Diverged), the
link sends nothing more, and every row stays in the journal until a supervisor decides
(docs/journal.md "A journal behind central").
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Sequence

import msgspec

from edge.common.chain import chain_hash
from edge.common.errors import PackstationError
from edge.journal.store import ChainBroken, Journal, JournalEvent


class Diverged(PackstationError):
    """This journal and central's copy of it differ: neither may be extended automatically."""


RECOVER_COMMAND = "packstation journal recover --from-central --config STATION_TOML"


class DivergedAtStart(ChainBroken):
    """The daemon refuses to start on a journal whose history forks from central's (exit 5)."""

    @classmethod
    def of(cls, path: object, why: str) -> DivergedAtStart:
        head = f"{path}: journal differs from central's copy ({why}); the station does not start on it."
        if why.startswith(HELD):  # its rows past central's are in central's quarantine
            return cls(
                f"{head} A supervisor decides: `packstation central release STATION` at central "
                "takes this journal on from where it stands (the forked rows stay in central's "
                'quarantine) (docs/journal.md "A journal behind central")'
            )
        return cls(
            f"{head} A supervisor decides: keep the card, then `{RECOVER_COMMAND}` sets this "
            "journal aside (every row kept) and adopts central's copy (docs/journal.md "
            '"A journal behind central")'
        )


HELD = "central holds this station"  # edge.link.client: central refused the forked chain


def adopt(journal: Journal, after: int, rows: Sequence[JournalEvent]) -> int:
    """Append central's `rows` (seq after+1..) to a journal that ends at `after`; return the new
    last seq. Raise Diverged when the journal no longer ends at `after` or a row does not chain."""
    with journal.transaction() as txn:
        last = journal.last_seq()
        if last != after:
            raise Diverged(
                f"this journal ends at seq {last}, not {after}: it has rows central does not"
            )
        for row in rows:
            digest = chain_hash(row.prev_hash, row.seq, row.event_id, row.type, row.at, row.body)
            if digest != row.hash:
                raise Diverged(f"central's row {row.seq} does not verify: not adopted")
            try:
                txn.adopt(row)
            except ValueError as exc:
                raise Diverged(f"central's copy does not continue this journal: {exc}") from exc
    return after + len(rows)


# -- the signed chain head ----------------------------------------------------------------------
# The station keeps an HMAC-SHA256 of its chain head (seq, hash), keyed with its CURVE secret key,
# in the journal's `state` table (key "signed_head"), renewed by the link at most every
# SIGN_INTERVAL_S as ACKs arrive. Rewriting any row up to that seq changes its hash; making the
# head agree again needs the key. `packstation journal verify DB --config station.toml` checks it.
SIGNED_HEAD_KEY = "signed_head"
SIGN_INTERVAL_S = 5.0


def _mac(secret: bytes, seq: int, digest: bytes) -> bytes:
    key = hashlib.sha256(b"packstation journal head\x00" + secret).digest()
    return hmac.new(key, seq.to_bytes(8, "big") + digest, hashlib.sha256).digest()


def sign_head(journal: Journal, secret: bytes) -> int:
    """Sign the journal's last row; return its seq (0: an empty journal, nothing signed)."""
    with journal.transaction() as txn:
        rows = journal.events(max(0, journal.last_seq() - 1), 1)
        if not rows:
            return 0
        head = rows[0]
        value = msgspec.msgpack.encode([head.seq, head.hash, _mac(secret, head.seq, head.hash)])
        txn.put_state(SIGNED_HEAD_KEY, value)
    return head.seq


def check_head(journal: Journal, secret: bytes) -> tuple[int | None, str]:
    """(bad seq or None, reason): the signed head must match the row it names and the key."""
    raw = journal.get_state(SIGNED_HEAD_KEY)
    if raw is None:
        if journal.acked_seq() > 0:
            return journal.acked_seq(), "no signed chain head, yet central acknowledged rows"
        return None, ""
    try:
        seq, digest, mac = msgspec.msgpack.decode(raw, type=tuple[int, bytes, bytes])
    except (msgspec.DecodeError, RecursionError):
        return 0, "the signed chain head is unreadable"
    if not hmac.compare_digest(mac, _mac(secret, seq, digest)):
        return seq, "the signed chain head's signature does not match this station's key"
    rows = journal.events(seq - 1, 1)
    if not rows or rows[0].seq != seq:
        return seq, f"the signed chain head names seq {seq}, which this journal lacks"
    if rows[0].hash != digest:
        return seq, "row differs from the signed chain head (rewritten without the key)"
    return None, ""
