"""Parsing, checking and committing intake bodies off the event loop.

A small body is parsed in a worker thread: every step there is a short call, so the GIL is handed
back to the loop within the interpreter's switch interval, and committed by the store in another.
A large one (a 100,000-package inventory is ~50 MB) goes whole to a worker process
(`python -m central.intake.worker`) that reads the spooled file, checks every record, diffs it
against the live keys and commits it through its own connection to the store (SQLite's file
lock or PostgreSQL's row locks order it with central's own commits). Splitting 50 MB of JSON is
one long C call, and the diff of 100,000 keys seconds of Python: in central's process either
would hold the GIL, and so the loop (bench/bench_intake.py measures the loop's longest stall).

The worker reads one JSON line per request on stdin ({"kind", "body", "store"}) and answers one
JSON line on stdout: {"accepted", "qseq"}, {"path", "message"} for a bad record, or {"error"}.
"""

from __future__ import annotations

import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any

from central.intake.records import Change, Kind, changes, full
from central.store import open_store
from central.store.base import SqlStore
from edge.common.feed import RecordError

LOG = logging.getLogger(__name__)
PROCESS_THRESHOLD = 1024 * 1024  # bodies from 1 MiB go to the worker process


def serve(stdin: Any, stdout: Any) -> None:
    """The worker's loop: check and commit each spooled body, answer what it did."""
    stores: dict[str, SqlStore] = {}
    for line in stdin:
        request = json.loads(line)
        try:
            answer = _commit(stores, request["kind"], Path(request["body"]), request["store"])
        except RecordError as exc:
            answer = {"path": exc.path, "message": exc.message}
        except Exception as exc:  # the store is down, the file is gone: say so, keep serving
            LOG.exception("intake worker: commit failed")
            stores.pop(request["store"], None)
            answer = {"error": f"{type(exc).__name__}: {exc}"}
        stdout.write(json.dumps(answer) + "\n")
        stdout.flush()


def _commit(stores: dict[str, SqlStore], kind: Kind, body: Path, url: str) -> dict[str, Any]:
    upserts = changes(kind, body.read_bytes())
    store = stores.get(url) or stores.setdefault(url, open_store(url))
    existing: set[str] = set()
    if kind != "orders":
        existing = store.feed_keys("package" if kind == "inventory" else "badge")
    found = full(kind, upserts, existing)
    return {"accepted": len(found), "qseq": store.feed_put(found)}


class Parser:
    """Owns the worker process (started on first use, restarted if it dies; one body at a time)."""

    def __init__(self) -> None:
        self._proc: asyncio.subprocess.Process | None = None
        self._dead: list[asyncio.subprocess.Process] = []  # killed, reaped at aclose()
        self._lock = asyncio.Lock()

    async def parse(self, kind: Kind, body: bytes) -> list[Change]:
        """The changes a small body asks for; RecordError names the bad field."""
        return await asyncio.to_thread(changes, kind, body)

    async def commit_large(self, kind: Kind, body: Path, store_url: str) -> tuple[int, int]:
        """Check and commit a spooled body in the worker process: (changes, qseq)."""
        async with self._lock:  # one large body at a time: memory stays bounded
            answer = await self._ask({"kind": kind, "body": str(body), "store": store_url})
        if "path" in answer:
            raise RecordError(answer["path"], answer["message"])
        if "error" in answer:
            raise RuntimeError(f"the intake's worker could not commit: {answer['error']}")
        return int(answer["accepted"]), int(answer["qseq"])

    async def _ask(self, request: dict[str, str]) -> dict[str, Any]:
        if self._proc is None or self._proc.returncode is not None:
            self._proc = await asyncio.create_subprocess_exec(
                sys.executable,
                "-m",
                "central.intake.worker",
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
            )
        proc = self._proc
        assert proc.stdin is not None and proc.stdout is not None
        try:
            proc.stdin.write((json.dumps(request) + "\n").encode())
            await proc.stdin.drain()
            line = await proc.stdout.readline()
        except BaseException:
            self._kill()  # cancelled or broken mid-request: the next one starts afresh
            raise
        if not line:
            self._kill()
            raise RuntimeError("the intake's parsing worker exited")
        answer: dict[str, Any] = json.loads(line)
        return answer

    def _kill(self) -> None:
        if self._proc is not None:
            if self._proc.returncode is None:
                self._proc.kill()
            self._dead.append(self._proc)
        self._proc = None

    async def aclose(self) -> None:
        self._kill()
        for proc in self._dead:
            await proc.wait()
        self._dead.clear()
