"""Prometheus text-format metrics for both daemons, on a local port (off by default).

A tiny registry (counters and histograms with labels, gauges read when scraped) and a minimal
HTTP responder for `GET /metrics` (text format 0.0.4, as documented at
https://prometheus.io/docs/instrumenting/exposition_formats/). No client library: the station
runs on a Pi, and this is all it needs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

LOG = logging.getLogger(__name__)
Labels = tuple[tuple[str, str], ...]
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


def _escape(value: str) -> str:
    return value.replace("\\", "\\\\").replace("\n", "\\n").replace('"', '\\"')


def _labels(labels: Labels, extra: Labels = ()) -> str:
    pairs = [*labels, *extra]
    if not pairs:
        return ""
    return "{" + ",".join(f'{k}="{_escape(v)}"' for k, v in pairs) + "}"


def _num(value: float) -> str:
    if value == float("inf"):
        return "+Inf"
    return repr(value) if isinstance(value, float) and not value.is_integer() else str(int(value))


@dataclass
class Counter:
    name: str
    help: str
    values: dict[Labels, int] = field(default_factory=dict)

    def inc(self, n: int = 1, **labels: str) -> None:
        key = tuple(sorted(labels.items()))
        self.values[key] = self.values.get(key, 0) + n

    def lines(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} counter"
        for key, value in sorted(self.values.items()):
            yield f"{self.name}{_labels(key)} {value}"


@dataclass
class Histogram:
    """Observations in seconds; `buckets` are the upper bounds (le)."""

    name: str
    help: str
    buckets: tuple[float, ...] = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0)
    counts: list[int] = field(default_factory=list)
    total: float = 0.0
    n: int = 0

    def observe(self, seconds: float) -> None:
        if not self.counts:
            self.counts = [0] * len(self.buckets)
        for i, bound in enumerate(self.buckets):
            if seconds <= bound:
                self.counts[i] += 1
        self.total += seconds
        self.n += 1

    def lines(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} histogram"
        counts = self.counts or [0] * len(self.buckets)
        for bound, count in zip(self.buckets, counts, strict=True):
            yield f'{self.name}_bucket{{le="{bound}"}} {count}'
        yield f'{self.name}_bucket{{le="+Inf"}} {self.n}'
        yield f"{self.name}_sum {self.total!r}"
        yield f"{self.name}_count {self.n}"


@dataclass
class Gauge:
    """Read when scraped: `read()` gives {labels: value}."""

    name: str
    help: str
    read: Callable[[], dict[Labels, float]]

    def lines(self) -> Iterable[str]:
        yield f"# HELP {self.name} {self.help}"
        yield f"# TYPE {self.name} gauge"
        try:
            values = self.read()
        except Exception:  # a metric must never break the scrape
            LOG.exception("gauge read failed", extra={"metric": self.name})
            return
        for key, value in sorted(values.items()):
            yield f"{self.name}{_labels(key)} {_num(value)}"


Metric = Counter | Histogram | Gauge


class Registry:
    def __init__(self) -> None:
        self.metrics: list[Metric] = []

    def counter(self, name: str, help_: str) -> Counter:
        metric = Counter(name, help_)
        self.metrics.append(metric)
        return metric

    def histogram(self, name: str, help_: str) -> Histogram:
        metric = Histogram(name, help_)
        self.metrics.append(metric)
        return metric

    def gauge(self, name: str, help_: str, read: Callable[[], dict[Labels, float]]) -> Gauge:
        metric = Gauge(name, help_, read)
        self.metrics.append(metric)
        return metric

    def render(self) -> str:
        return "".join(line + "\n" for m in self.metrics for line in m.lines())


def one(value: float) -> dict[Labels, float]:
    """A gauge value without labels."""
    return {(): value}


class MetricsServer:
    """`GET /metrics` on HOST:PORT; anything else 404. One request per connection."""

    def __init__(self, registry: Registry, listen: str) -> None:
        self.registry = registry
        self.listen = listen
        self.address = ""
        self._server: asyncio.Server | None = None

    async def start(self) -> None:
        host, _, port = self.listen.rpartition(":")
        self._server = await asyncio.start_server(self._serve, host, int(port))
        sock = self._server.sockets[0].getsockname()
        self.address = f"{sock[0]}:{sock[1]}"

    async def run(self) -> None:
        """Serve until cancelled (starting first unless `start` was awaited already)."""
        if self._server is None:
            await self.start()
        try:
            await asyncio.get_running_loop().create_future()
        finally:
            self.close()

    def close(self) -> None:
        if self._server is not None:
            self._server.close()

    async def aclose(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def render(self) -> str:
        """The scrape's text (subclasses may read their sources first)."""
        return self.registry.render()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            async with asyncio.timeout(10):
                request = await reader.readuntil(b"\r\n")
                while await reader.readuntil(b"\r\n") != b"\r\n":
                    pass
            parts = request.decode("latin-1").split()
            if len(parts) >= 2 and parts[0] == "GET" and parts[1].split("?")[0] == "/metrics":
                status, ctype, body = "200 OK", CONTENT_TYPE, (await self.render()).encode()
            else:
                status, ctype, body = "404 Not Found", "text/plain", b"GET /metrics\n"
            writer.write(
                f"HTTP/1.1 {status}\r\nContent-Type: {ctype}\r\nContent-Length: {len(body)}\r\n"
                "Connection: close\r\n\r\n".encode()
                + body
            )
            await writer.drain()
        except (TimeoutError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, OSError):
            pass
        finally:
            with contextlib.suppress(OSError):
                writer.close()
