"""Parsing and checking intake bodies off the event loop.

A small body is parsed in a worker thread: every step there is a short call, so the GIL is handed
back to the loop within the interpreter's switch interval. A large one (a 100,000-package
inventory is ~50 MB) is parsed in a worker process from the spooled file: splitting 50 MB of JSON
is one long C call that would otherwise hold the GIL, and so the loop, for tens of milliseconds.
The process hands back the changes as msgpack chunks, which the loop's worker thread decodes a
chunk at a time (bench/bench_intake.py measures the loop's longest stall).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import multiprocessing
from pathlib import Path

import msgspec

from central.intake.records import Change, Kind, changes
from edge.common.feed import RecordError
from edge.common.protocol import FeedItem

PROCESS_THRESHOLD = 1024 * 1024  # bodies from 1 MiB are parsed in the worker process
CHUNK = 1000  # changes per msgpack chunk handed back by the process
_CHUNK = msgspec.msgpack.Decoder(list[tuple[FeedItem, str | None]])
_ENCODER = msgspec.msgpack.Encoder()


def parse_file(kind: Kind, path: str) -> tuple[list[bytes], tuple[str, str] | None]:
    """In the worker process: the changes of the body in `path` as msgpack chunks, or the
    (path, message) of the first bad field."""
    raw = Path(path).read_bytes()
    try:
        found = changes(kind, raw)
    except RecordError as exc:
        return [], (exc.path, exc.message)
    return [_ENCODER.encode(found[i : i + CHUNK]) for i in range(0, len(found), CHUNK)], None


def _decode_chunks(chunks: list[bytes]) -> list[Change]:
    out: list[Change] = []
    for chunk in chunks:
        out.extend(_CHUNK.decode(chunk))
    return out


class Parser:
    """Owns the worker process (started on first use, one at a time)."""

    def __init__(self) -> None:
        self._pool: concurrent.futures.ProcessPoolExecutor | None = None
        self._lock = asyncio.Lock()

    async def parse(self, kind: Kind, body: bytes | Path) -> list[Change]:
        """The changes a body asks for; RecordError names the bad field."""
        if isinstance(body, bytes):
            return await asyncio.to_thread(changes, kind, body)
        async with self._lock:  # one large body at a time: memory stays bounded
            if self._pool is None:
                ctx = multiprocessing.get_context("spawn")
                self._pool = concurrent.futures.ProcessPoolExecutor(1, mp_context=ctx)
            loop = asyncio.get_running_loop()
            try:
                chunks, error = await loop.run_in_executor(self._pool, parse_file, kind, str(body))
            except concurrent.futures.process.BrokenProcessPool:
                self._pool = None
                raise
        if error is not None:
            raise RecordError(*error)
        return await asyncio.to_thread(_decode_chunks, chunks)

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None
