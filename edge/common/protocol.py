"""PSS/1: the wire protocol between a station (DEALER) and central (ROUTER), and central's feeds.

Every message is a ZeroMQ multipart `[VERSION, COMMAND, BODY]` (the ROUTER prepends the routing
id on its side): VERSION is `b"PSS1"`, COMMAND an ASCII verb, BODY one msgpack-encoded struct below.
Defined once here and imported by both ends; the message set follows the zguide's Clone and
Idempotent Services patterns (zguide chapters 4 and 5), over CurveZMQ (RFC 26) and ZAP (RFC 27).

Station -> central: HELLO, EVENTS, PING, SNAPREQ, CLAIM, FETCH.
Central -> station: WELCOME, ACK, PONG, SNAP, QUPD, ERROR, CLAIMED, FETCHED.
Downstream (central -> subscribers): PUB `[topic, VERSION, BODY=Published]`; replay over a
ROUTER: REPLAY (request) -> REPLAYED (reply).
"""

from __future__ import annotations

import re
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
CLAIM = b"CLAIM"
CLAIMED = b"CLAIMED"
FETCH = b"FETCH"
FETCHED = b"FETCHED"

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


class Claim(msgspec.Struct, kw_only=True):
    """S->C: reserve `amount` (units, or mg for a weighed package) of package `uid` (its Retail ID
    `unit`, if the scan named one) for open order `order_id`, before the scan is accepted.
    Central answers CLAIMED at once: exactly one of two stations claiming the last unit gets it."""

    claim_id: Annotated[str, msgspec.Meta(min_length=1, max_length=64)]
    order_id: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    uid: Annotated[str, msgspec.Meta(min_length=1, max_length=128)]
    amount: Annotated[int, msgspec.Meta(ge=1, le=2**62)] = 1
    unit: Annotated[int, msgspec.Meta(ge=0, le=2**31)] | None = None
    at: Annotated[str, msgspec.Meta(max_length=64)] = ""


class Claimed(msgspec.Struct, kw_only=True):
    """C->S: the answer to CLAIM. Refused (`ok` false): `verdict` is sold, held or quarantined,
    with the order, station and time that took or halted the package, and `reason` (a
    quarantine's)."""

    claim_id: str
    ok: bool
    verdict: str = ""
    order_id: str = ""
    station: str = ""
    at: str = ""
    reason: str = ""


FeedKind = Literal["order", "package", "badge", "lab"]  # lab: edge/common/labs.py


class FeedItem(msgspec.Struct, kw_only=True, frozen=True):
    """One key of the central -> station feed; `body` None deletes the key."""

    kind: FeedKind
    # stations keep keys up to 128 characters (edge.link.usable) and skip a longer one alone;
    # refusing it here would fail the whole message that carries it
    key: Annotated[str, msgspec.Meta(min_length=1, max_length=4096)]
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


class Fetch(msgspec.Struct, kw_only=True):
    """S->C: central's copy of this station's own journal rows with seq > `after` (recovery of
    a journal restored behind central, or a new card)."""

    after: Cursor = 0
    limit: Annotated[int, msgspec.Meta(ge=1, le=MAX_EVENTS_PER_MESSAGE)] = 256


class Fetched(msgspec.Struct, kw_only=True):
    """C->S: rows seq > `after` in order (stops at a row central quarantined);
    `last_committed_seq` is where central's copy ends."""

    events: Annotated[list[Event], msgspec.Meta(max_length=MAX_EVENTS_PER_MESSAGE)]
    last_committed_seq: Cursor


ENCODER = msgspec.msgpack.Encoder()


def encode(command: bytes, body: msgspec.Struct) -> list[bytes]:
    """The frames of one message (without a routing id)."""
    return [VERSION, command, ENCODER.encode(body)]


# An event type and a station id are tokens without "/", so a topic names them unambiguously;
# central quarantines an event whose type is not one (it is never published).
EVENT_TYPE_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
STATION_ID_RE = re.compile(r"^[a-z0-9][a-z0-9._-]{0,62}$")


def topic(type_: str, station_id: str) -> bytes:
    """The PUB topic of an event: `event/<type>/<station>/`, terminated by "/".

    Subscribe to `event/` (all), `event/<type>/` (one type) or `event/<type>/<station>/` (one
    type from one station): the final "/" keeps `station-02` from matching `station-021`, as
    ZeroMQ subscriptions are byte prefixes (zmq_setsockopt(3) ZMQ_SUBSCRIBE). ValueError when
    either part is not a token (central publishes only events that passed that check).
    """
    if not EVENT_TYPE_RE.match(type_):
        raise ValueError(f"event type {type_!r} is not a topic token")
    if not STATION_ID_RE.match(station_id):
        raise ValueError(f"station id {station_id!r} is not a topic token")
    return f"event/{type_}/{station_id}/".encode()


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
    CLAIM: Claim,
    CLAIMED: Claimed,
    FETCH: Fetch,
    FETCHED: Fetched,
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
    except RecursionError as exc:  # msgpack nested thousands deep
        raise ProtocolError("body", f"{command.decode()}: nested too deeply") from exc
