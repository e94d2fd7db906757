#!/usr/bin/env python3
"""Example: a central-event subscriber that never misses an event (PUB + replay over CurveZMQ).

Stand-alone: needs only pyzmq and a msgpack decoder (msgspec here; `msgpack` works the same):

    pip install pyzmq msgspec
    python3 examples/subscriber.py --pub tcp://central:5561 --replay tcp://central:5562 \
        --key keys/erp.key_secret --server-key keys/central.key --state erp.gseq

It prints one JSON line per event, in gseq order, from the gseq stored in --state (or --since),
and saves its position after each one, so a restart resumes without a gap or a repeat.

The wire (docs/protocol.md): a PUB message is three frames [topic, b"PSS1", BODY], BODY a
msgpack map {gseq, station_id, seq, event_id, at, type,
body, hash}. `body` is the event's canonical JSON as BYTES (decode it; never re-encode it if you
check the hash) and `hash` 32 raw bytes (SHA-256 chain hash). Body schemas: docs/schemas/events.json.
Replay is a DEALER request [b"PSS1", b"REPLAY", msgpack {after, limit}] answered by
[b"PSS1", b"REPLAYED", msgpack {events: [...], head}] (or b"ERROR" {code, reason}).
PUB may drop messages (high-water mark, slow joiner): a jump in gseq, or a quiet second, is
filled from replay.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import msgspec
import zmq
import zmq.auth

VERSION = b"PSS1"
QUIET_MS = 1000  # no message for this long: ask replay whether PUB dropped the newest


class Stream:
    def __init__(self, args: argparse.Namespace) -> None:
        public, secret = zmq.auth.load_certificate(args.key)
        server, _ = zmq.auth.load_certificate(args.server_key)
        self.ctx = zmq.Context()
        self.sub = self.ctx.socket(zmq.SUB)
        self.req = self.ctx.socket(zmq.DEALER)
        for sock in (self.sub, self.req):
            sock.linger = 0
            sock.curve_publickey, sock.curve_secretkey, sock.curve_serverkey = (
                public,
                secret,
                server,
            )
        self.sub.setsockopt(zmq.SUBSCRIBE, b"")  # everything: only a whole stream shows gaps
        self.sub.connect(args.pub)  # subscribe before replaying: nothing falls between the two
        self.req.connect(args.replay)

    def replay(self, after: int) -> tuple[list[dict[str, Any]], int]:
        self.req.send_multipart([VERSION, b"REPLAY", msgspec.msgpack.encode({"after": after})])
        if not self.req.poll(10_000):
            sys.exit("subscriber: no answer from central's replay endpoint")
        _, command, body = self.req.recv_multipart()
        answer = msgspec.msgpack.decode(body)
        if command != b"REPLAYED":
            sys.exit(f"subscriber: replay refused: {answer['code']}: {answer['reason']}")
        return answer["events"], answer["head"]

    def events(self, position: int, idle_exit: float | None) -> Any:
        """Every event after `position`, forever (or until idle for `idle_exit` seconds)."""
        idle_ms = 0
        while True:
            if self.sub.poll(QUIET_MS):
                frames = self.sub.recv_multipart()
                if len(frames) != 3 or frames[1] != VERSION:
                    continue
                event = msgspec.msgpack.decode(frames[2])
                if event["gseq"] <= position:
                    continue
                if event["gseq"] > position + 1:  # a gap: PUB dropped some
                    for missed in self.fill(position, event["gseq"]):
                        position = missed["gseq"]
                        yield missed
                position = event["gseq"]
                idle_ms = 0
                yield event
                continue
            tail = list(self.fill(position, None))  # quiet: did PUB drop the newest?
            for missed in tail:
                position = missed["gseq"]
                yield missed
            idle_ms = 0 if tail else idle_ms + QUIET_MS
            if idle_exit is not None and idle_ms >= idle_exit * 1000:
                return

    def fill(self, position: int, upto: int | None) -> Any:
        while upto is None or position < upto - 1:
            events, head = self.replay(position)
            for event in events:
                if upto is not None and event["gseq"] >= upto:
                    return
                position = event["gseq"]
                yield event
            if not events or position >= head:
                return


def main() -> int:
    parser = argparse.ArgumentParser(description="print central's events as JSON lines")
    parser.add_argument("--pub", required=True, help="central's [downstream] pub_bind")
    parser.add_argument("--replay", required=True, help="central's [downstream] replay_bind")
    parser.add_argument("--key", required=True, help="this subscriber's NAME.key_secret")
    parser.add_argument("--server-key", required=True, help="central's central.key")
    parser.add_argument("--since", type=int, default=0, help="start after this gseq (default 0)")
    parser.add_argument("--state", type=Path, help="file keeping the last gseq (resume from it)")
    parser.add_argument(
        "--topic",
        default="event/",
        help="only events whose event/<type>/<station_id>/ starts with this"
        " (event/order_status/, event/scan/station-01/)",
    )
    parser.add_argument("--count", type=int, help="exit after N events")
    parser.add_argument("--idle-exit", type=float, help="exit after this many quiet seconds")
    args = parser.parse_args()
    position = args.since
    if args.state is not None and args.state.exists():
        position = int(args.state.read_text())
    stream = Stream(args)
    printed = 0
    for event in stream.events(position, args.idle_exit):
        topic = f"event/{event['type']}/{event['station_id']}/"
        if topic.startswith(args.topic):
            body = json.loads(event["body"])  # canonical JSON bytes -> an object
            assert len(event["hash"]) == 32
            line = {**event, "body": body, "hash": event["hash"].hex()}
            print(json.dumps(line, sort_keys=True), flush=True)
            printed += 1
        if args.state is not None:  # after handling it: a crash replays it, never skips it
            tmp = args.state.with_suffix(".tmp")
            tmp.write_text(str(event["gseq"]))
            os.replace(tmp, args.state)
        if args.count is not None and printed >= args.count:
            break
    return 0


if __name__ == "__main__":
    sys.exit(main())
