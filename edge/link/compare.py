"""`packstation journal verify --against-central`: this journal against central's copy of it.

Central keeps every row a station sent and each station's chain head. A rewrite of the journal
file that recomputes every hash (by someone without access to central) verifies locally, and so
does a journal whose last rows were removed together with every trace of them; neither matches
central's copy. This connects as the station (its own CURVE key: central only ever shows a key its
own rows), fetches central's rows (PSS/1 FETCH) and compares seq by seq.
"""

from __future__ import annotations

import time
import uuid

import msgspec
import zmq

from edge import __version__
from edge.common import protocol as p
from edge.journal import Journal, VerifyResult


class Unreachable(Exception):
    """Central did not answer in time (offline): nothing could be compared."""


def _request(
    sock: zmq.Socket[bytes],
    command: bytes,
    body: msgspec.Struct,
    want: type[msgspec.Struct],
    timeout_s: float,
) -> msgspec.Struct:
    sock.send_multipart(p.encode(command, body))
    deadline = time.monotonic() + timeout_s
    while (left := deadline - time.monotonic()) > 0:
        if not sock.poll(int(left * 1000)):
            break
        try:
            _, reply = p.decode(sock.recv_multipart())
        except p.ProtocolError:
            continue
        if isinstance(reply, p.Error):
            raise Unreachable(f"central refused: {reply.code}: {reply.reason}")
        if isinstance(reply, want):
            return reply
    raise Unreachable(f"no answer from central within {timeout_s:g} s")


def against_central(
    journal: Journal,
    station_id: str,
    endpoint: str,
    keys: tuple[bytes, bytes, bytes],
    timeout_s: float = 10.0,
) -> VerifyResult:
    """Compare every row with central's copy; the first seq that differs, or that central has
    and this journal lacks, is `first_bad_seq`. Raise Unreachable when central does not answer."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    sock = ctx.socket(zmq.DEALER)
    sock.linger = 0
    sock.curve_publickey, sock.curve_secretkey, sock.curve_serverkey = keys
    try:
        sock.connect(endpoint)
        last = journal.last_seq()
        hello = p.Hello(
            station_id=station_id,
            boot_id=uuid.uuid4().hex,
            last_written_seq=last,
            last_qseq=0,
            sw_version=f"{__version__} verify",
        )
        welcome = _request(sock, p.HELLO, hello, p.Welcome, timeout_s)
        assert isinstance(welcome, p.Welcome)
        central_last = welcome.last_committed_seq
        position, checked = 0, 0
        while position < central_last:
            fetched = _request(sock, p.FETCH, p.Fetch(after=position), p.Fetched, timeout_s)
            assert isinstance(fetched, p.Fetched)
            if not fetched.events:  # central quarantined row position+1: nothing to compare
                position += 1
                continue
            mine = {ev.seq: ev for ev in journal.events(position, len(fetched.events))}
            for theirs in fetched.events:
                local = mine.get(theirs.seq)
                if local is None:
                    return VerifyResult(
                        checked=checked,
                        first_bad_seq=theirs.seq,
                        reason=f"central holds seq {theirs.seq}..{central_last}; this journal ends at {last}",
                    )
                if local.hash != theirs.hash or local.event_id != theirs.event_id:
                    return VerifyResult(
                        checked=checked,
                        first_bad_seq=theirs.seq,
                        reason="row differs from central's copy (rewritten here or there)",
                    )
                checked += 1
            position = fetched.events[-1].seq
        return VerifyResult(checked=checked)
    finally:
        sock.close(0)
        ctx.term()
