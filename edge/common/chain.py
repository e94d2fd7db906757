"""The journal's hash chain, shared by the station (writes it) and central (checks it).

h(n) = SHA-256( h(n-1) || seq as u64 big-endian || event_id (16 bytes) || type || 0x00 || at ||
0x00 || body ), with h(0) = 32 zero bytes (shared/messaging.md 2.4, "Tamper evidence"). `body` is
the canonical JSON of the event's fields: sorted keys, no spaces, UTF-8.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from typing import Any

GENESIS = bytes(32)


def canonical_json(body: dict[str, Any]) -> bytes:
    """The one byte form of an event body: the hash covers exactly these bytes."""
    return json.dumps(body, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def chain_hash(
    prev_hash: bytes, seq: int, event_id: str, type_: str, at: str, body: bytes
) -> bytes:
    """The hash of one journal row given the previous row's hash."""
    h = hashlib.sha256(prev_hash)
    h.update(seq.to_bytes(8, "big"))
    h.update(uuid.UUID(event_id).bytes)
    h.update(type_.encode() + b"\0" + at.encode() + b"\0")
    h.update(body)
    return h.digest()
