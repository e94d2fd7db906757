"""The inject channel: a Unix stream socket where tests and the simulated day feed the daemon.

Enabled only by `[station] inject_socket = PATH`: the wiring then adds an `InjectServer` to the
daemon's services (`inject_services`), which talks to the daemon through `StationHandle` like any
other service. One command per line, one JSON reply line each, sent after the command's events are
committed (so a reply means "durable"):

    scan [--device NAME] [--raw] TEXT
                                   a scan typed as evdev key events through the real scanner
                                   decoder (the device's layout), then classified by the
                                   [scan] patterns; `\x1d` in TEXT is the GS1 separator;
                                   --raw skips the decoder (text no layout can type)
    weight MG                      a stable net reading from the scale, integer milligrams
    device NAME ok|fault [DETAIL]  a device state (scanner, scale, printer, indicator, central)
    next                           take the next order central assigned (same as re-badging)
    tick                           run the inactivity check now
    state                          the workflow state (no input)

Reply: {"ok": true, "seq": N, "phase": "...", "events": [...], "signals": [[signal, detail]...]}
or {"ok": false, "error": "..."}; `state` replies {"ok": true, "state": {...}}.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from pathlib import Path
from typing import Any

import msgspec

from edge.station.config import StationConfig
from edge.station.one_input import own_cancel
from edge.station.ports import FeedResult, Service, StationHandle
from edge.workflow.state import Tick, WeightCaptured

LOG = logging.getLogger(__name__)
MAX_LINE = 4096
GS = "\x1d"
SCAN_USAGE = "scan: expected 'scan [--device NAME] [--raw] TEXT'"


class InjectError(ValueError):
    """A malformed inject command; the reply names the problem."""


class InjectServer:
    """edge.station.ports.Service: the inject socket, open while `run` runs."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._station: StationHandle | None = None
        self._server: asyncio.Server | None = None
        self._clients: set[asyncio.StreamWriter] = set()

    async def run(self, station: StationHandle) -> None:
        self._station = station
        try:
            await self.start()
            await asyncio.get_running_loop().create_future()  # until cancelled (shutdown)
        finally:
            await self.close()

    @property
    def station(self) -> StationHandle:
        assert self._station is not None, "inject channel not running"
        return self._station

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()  # a stale socket from a killed daemon
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._server = await asyncio.start_unix_server(self._client, path=str(self.path))
        os.chmod(self.path, 0o600)
        LOG.info("inject channel open", extra={"path": str(self.path)})

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for writer in list(self._clients):
                writer.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1)
        with contextlib.suppress(FileNotFoundError):
            self.path.unlink()

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._clients.add(writer)
        try:
            while line := await reader.readline():
                reply = await self.handle(line[:MAX_LINE].decode("utf-8", "replace").strip())
                writer.write(msgspec.json.encode(reply) + b"\n")
                await writer.drain()
        except ValueError as exc:  # a line over the stream's limit: the rest cannot be framed
            LOG.warning("inject client dropped: line too long", extra={"error": str(exc)})
        except (ConnectionError, asyncio.IncompleteReadError) as exc:
            LOG.info("inject client gone", extra={"error": repr(exc)})
        except asyncio.CancelledError:
            if not own_cancel():  # handle() turns a stray one into a reply: this is a bug
                LOG.error("inject client dropped by a cancellation from below")
            # else the daemon is stopping; the client reconnects to the next one
        finally:
            self._clients.discard(writer)
            writer.close()

    async def handle(self, line: str) -> dict[str, Any]:
        """Run one command; never raises (bad input gets a reason)."""
        try:
            if line == "state":
                return {"ok": True, "state": self.station.snapshot()}
            return _reply(await self._command(line))
        except InjectError as exc:
            return {"ok": False, "error": str(exc)}
        except asyncio.CancelledError:
            if own_cancel():
                raise
            # Raised from below (a future cancelled under the step), not the daemon's stop: the
            # command failed; the connection, and the commands after it, go on.
            LOG.exception("inject command interrupted", extra={"command": line[:80]})
            return {"ok": False, "error": "not committed: interrupted"}
        except Exception as exc:  # e.g. the journal could not commit: the input did not happen
            LOG.exception("inject command failed", extra={"command": line[:80]})
            return {"ok": False, "error": f"not committed: {exc}"}

    async def _command(self, line: str) -> FeedResult:
        verb, _, rest = line.partition(" ")
        rest = rest.strip()
        if verb == "scan":
            return await self._scan(rest)
        if verb == "weight":
            if not rest.isdigit():
                raise InjectError(f"weight: expected integer milligrams, got {rest!r}")
            return await self.station.feed(WeightCaptured(int(rest)))
        if verb == "device":
            parts = rest.split(" ", 2)
            if len(parts) < 2 or parts[1] not in ("ok", "fault"):
                raise InjectError("device: expected 'device NAME ok|fault [DETAIL]'")
            detail = parts[2] if len(parts) > 2 else ""
            return await self.station.device_state(parts[0], parts[1] == "ok", detail)
        if verb == "next":
            return await self.station.next_order()
        if verb == "tick":
            return await self.station.feed(Tick())
        raise InjectError(
            f"unknown command {verb!r}: expected scan, weight, device, next, tick, state"
        )

    async def _scan(self, rest: str) -> FeedResult:
        device, raw = "inject", False
        while rest.startswith("--"):
            flag, _, rest = rest.partition(" ")
            if flag == "--raw":
                raw = True
            elif flag == "--device" and rest.strip():
                device, _, rest = rest.strip().partition(" ")
            else:
                raise InjectError(SCAN_USAGE)
            rest = rest.strip()
        if not rest:
            raise InjectError(SCAN_USAGE)
        text = rest.replace("\\x1d", GS)
        if raw:
            return await self.station.feed_scan(text, device)
        try:
            results = await self.station.inject_scan(text, device)
        except ValueError as exc:
            raise InjectError(f"scan: {exc}") from exc
        if not results:
            raise InjectError("scan: the decoder made no scan of it")
        return results[-1]


def _reply(result: FeedResult) -> dict[str, Any]:
    return {"ok": True, **msgspec.to_builtins(result)}


def inject_services(cfg: StationConfig) -> list[Service]:
    """The inject channel as a service when `[station] inject_socket` is set, else none (for
    port factories: the built-in wiring and the test fixtures add these to their services)."""
    path = cfg.station.inject_socket
    return [InjectServer(Path(path))] if path else []
