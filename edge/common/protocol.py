"""PSS/1: the wire protocol between a station (DEALER) and central (ROUTER), and central's feeds.

Every message is a ZeroMQ multipart `[VERSION, COMMAND, BODY]` (the ROUTER prepends the routing
id on its side): VERSION is `b"PSS1"`, COMMAND an ASCII verb, BODY one msgpack-encoded struct below.
Defined once here and imported by both ends; the message set follows the zguide's Clone and
Idempotent Services patterns (zguide chapters 4 and 5), over CurveZMQ (RFC 26) and ZAP (RFC 27).

Station -> central: HELLO, EVENTS, PING, SNAPREQ.
Central -> station: WELCOME, ACK, PONG, SNAP, QUPD, ERROR.
Downstream (central -> subscribers): PUB `[topic, VERSION, BODY=Published]`; replay over a
ROUTER: REPLAY (request) -> REPLAYED (reply).
"""

from __future__ import annotations

from typing import Annotated, Literal

import msgspec

VERSION = b"PSS1"
MAX_MESSAGE_BYTES = 4 * 1024 * 1024  # the ROUTER's MAXMSGSIZE: a bigger message drops the peer
MAX_BODY_BYTES = 256 * 1024  # one event body (canonical JSON)
MAX_EVENTS_PER_MESSAGE = 512

# Commands (frame 1).
HELLO = b"HELLO"
WELCOME = b"WELCOME"
EVENTS = b"EVENTS"
ACK = b"ACK"
PING = b"PING"
PONG = b"PONG"
SNAPREQ = b"SNAPREQ"
SNAP = b"SNAP"
QUPD = b"QUPD"
ERROR = b"ERROR"
REPLAY = b"REPLAY"
REPLAYED = b"REPLAYED"

Seq = Annotated[int, msgspec.Meta(ge=1, le=2**63 - 1)]
Cursor = Annotated[int, msgspec.Meta(ge=0, le=2**63 - 1)]
Hash = Annotated[bytes, msgspec.Meta(min_length=32, max_length=32)]
Name = Annotated[str, msgspec.Meta(min_length=1, max_length=64)]


class Hello(msgspec.Struct, kw_only=True, forbid_unknown_fields=False):
    """S->C on every (re)connect. `station_id` must equal the authenticated key's name."""

    station_id: Name
    boot_id: Annotated[str, msgspec.Meta(max_length=64)]
    last_written_seq: Cursor
    last_qseq: Cursor
    sw_version: Annotated[str, msgspec.Meta(max_length=64)] = ""


class Welcome(msgspec.Struct, kw_only=True):
    """C->S: where central's copy of this station's journal ends; resend from there."""

    last_committed_seq: Cursor
    server_epoch: str
    window: Annotated[int, msgspec.Meta(ge=1)]


class Event(msgspec.Struct, kw_only=True, frozen=True):
    """One journal row (edge.journal.JournalEvent) as sent: central re-checks the hash chain."""

    seq: Seq
    event_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    at: Annotated[str, msgspec.Meta(max_length=64)]
    type: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    body: bytes  # > MAX_BODY_BYTES is quarantined by central (and still acknowledged)
    prev_hash: Hash
    hash: Hash


class Events(msgspec.Struct, kw_only=True):
    """S->C: consecutive journal rows, oldest first."""

    events: Annotated[list[Event], msgspec.Meta(min_length=1, max_length=MAX_EVENTS_PER_MESSAGE)]


class Ack(msgspec.Struct, kw_only=True):
    """C->S: everything <= seq is committed (stored or quarantined). `gap` asks for go-back-N."""

    seq: Cursor
    gap: bool = False


class Ping(msgspec.Struct, kw_only=True):
    """Either direction: liveness plus the sender's latest journal seq / feed qseq."""

    seq: Cursor = 0
    qseq: Cursor = 0


class SnapReq(msgspec.Struct, kw_only=True):
    """S->C: send a full snapshot of the station's feed (after a gap or on first start)."""

    last_qseq: Cursor = 0


FeedKind = Literal["order", "package", "badge", "lab"]  # lab: edge/common/labs.py


class FeedItem(msgspec.Struct, kw_only=True, frozen=True):
    """One key of the central -> station feed; `body` None deletes the key."""

    kind: FeedKind
    key: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    body: bytes | None  # canonical JSON of the order / package / badge


class Snap(msgspec.Struct, kw_only=True):
    """C->S: one part of a snapshot taken at `qseq`; parts are numbered from 0, `last` closes it."""

    snap_id: str
    qseq: Cursor
    part: Cursor
    last: bool
    items: list[FeedItem]


class QueueUpdate(msgspec.Struct, kw_only=True):
    """C->S: one change after a snapshot. Apply only when `prev_qseq` equals the replica's."""

    qseq: Seq
    prev_qseq: Cursor
    item: FeedItem


class Error(msgspec.Struct, kw_only=True):
    """C->S: the previous message was refused (malformed, unknown station, wrong version...)."""

    code: str
    reason: str


class Published(msgspec.Struct, kw_only=True):
    """Downstream: one accepted event with its global sequence number `gseq`."""

    gseq: Seq
    station_id: str
    seq: Seq
    event_id: str
    at: str
    type: str
    body: bytes
    hash: bytes


class ReplayRequest(msgspec.Struct, kw_only=True):
    """Subscriber -> central: events with gseq > `after`, at most `limit`."""

    after: Cursor = 0
    limit: Annotated[int, msgspec.Meta(ge=1, le=10_000)] = 1000


class ReplayBatch(msgspec.Struct, kw_only=True):
    """Central -> subscriber: `events` in gseq order; `head` is the newest gseq stored."""

    events: list[Published]
    head: Cursor


ENCODER = msgspec.msgpack.Encoder()


def encode(command: bytes, body: msgspec.Struct) -> list[bytes]:
    """The frames of one message (without a routing id)."""
    return [VERSION, command, ENCODER.encode(body)]


def topic(type_: str, station_id: str) -> bytes:
    """The PUB topic of an event: subscribe to `event/<type>/` or `event/<type>/<station>`."""
    return f"event/{type_}/{station_id}".encode()


BODY_TYPES: dict[bytes, type[msgspec.Struct]] = {
    HELLO: Hello,
    WELCOME: Welcome,
    EVENTS: Events,
    ACK: Ack,
    PING: Ping,
    PONG: Ping,
    SNAPREQ: SnapReq,
    SNAP: Snap,
    QUPD: QueueUpdate,
    ERROR: Error,
    REPLAY: ReplayRequest,
    REPLAYED: ReplayBatch,
}
DECODERS: dict[bytes, msgspec.msgpack.Decoder[msgspec.Struct]] = {
    cmd: msgspec.msgpack.Decoder(cls) for cmd, cls in BODY_TYPES.items()
}


class ProtocolError(ValueError):
    """A message that does not follow PSS/1; `code` is sent back in ERROR."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


def decode(frames: list[bytes]) -> tuple[bytes, msgspec.Struct]:
    """Validate and decode `[VERSION, COMMAND, BODY]`; raise ProtocolError naming the problem."""
    if len(frames) != 3:
        raise ProtocolError("frames", f"expected 3 frames, got {len(frames)}")
    version, command, body = frames
    if version != VERSION:
        raise ProtocolError("version", f"expected {VERSION!r}, got {version[:16]!r}")
    decoder = DECODERS.get(command)
    if decoder is None:
        raise ProtocolError("command", f"unknown command {command[:32]!r}")
    try:
        return command, decoder.decode(body)
    except msgspec.DecodeError as exc:
        raise ProtocolError("body", f"{command.decode()}: {exc}") from exc
