"""The scale for asyncio code: readings, captures, zero/tare and connection state.

    async with Scale(settings) as scale:          # or Scale.from_config(cfg.scale)
        result = await scale.capture(timeout=10)  # Capture | NoReading
        async for item in scale.readings():       # Reading | NoReading, as they come
            ...

The serial port lives in a PortWorker thread; its messages hop onto the loop with
`call_soon_threadsafe`, so everything here runs on the loop and needs no locks.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from types import TracebackType
from typing import Generic, Self, TypeVar

from drivers.config import ScaleConfig
from drivers.scale.capture import Capture, Capturer, NoReading, NoReadingReason
from drivers.scale.reading import Noise, Reading, Reply
from drivers.scale.serial_port import (
    DeviceEvent,
    DeviceState,
    PortWorker,
    Received,
    Silence,
    WorkerMessage,
)
from drivers.scale.settings import ScaleSettings, settings_from_config
from drivers.scale.weigh_rules import WeighOutResult, check_weigh_out

LOG = logging.getLogger(__name__)
T = TypeVar("T")
_END = object()  # closes a feed
NOISE_LOG_INTERVAL_S = 10.0


@dataclass(frozen=True, slots=True)
class CommandResult:
    """Outcome of zero / tare / clear-tare."""

    ok: bool
    detail: str


class Feed(Generic[T]):
    """An async iterator over published items; the oldest item is dropped when it falls behind."""

    def __init__(self, owner: list[Feed[T]], size: int) -> None:
        self._queue: asyncio.Queue[T | object] = asyncio.Queue(size)
        self._owner = owner
        owner.append(self)

    def put(self, item: T | object) -> None:
        if self._queue.full():
            self._queue.get_nowait()
        self._queue.put_nowait(item)

    def __aiter__(self) -> Feed[T]:
        return self

    async def __anext__(self) -> T:
        item = await self._queue.get()
        if item is _END:
            self.close()
            raise StopAsyncIteration
        return item  # type: ignore[return-value]

    def close(self) -> None:
        """Stop receiving items."""
        if self in self._owner:
            self._owner.remove(self)


class Scale:
    """One serial scale. Construct, `await start()` (or `async with`), use, `await stop()`."""

    def __init__(
        self,
        settings: ScaleSettings,
        *,
        on_state: Callable[[DeviceEvent], None] | None = None,
        feed_size: int = 256,
    ) -> None:
        self.settings = settings
        self._capturer = Capturer(settings.capture)
        self._on_state = on_state
        self._feed_size = feed_size
        self._worker = PortWorker(settings.port, self._from_thread)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._state = DeviceEvent(DeviceState.STOPPED, settings.port.port, "not started")
        self._first_state: asyncio.Future[DeviceEvent] | None = None
        self._reading_feeds: list[Feed[Reading | NoReading]] = []
        self._state_feeds: list[Feed[DeviceEvent]] = []
        self._waiters: list[asyncio.Future[None]] = []
        self._pending: dict[str, asyncio.Future[Reply]] = {}
        self.noise_count = 0  # frames skipped as noise since start (wrong baud/framing shows here)
        self._noise_logged_at = -NOISE_LOG_INTERVAL_S

    @classmethod
    def from_config(
        cls, cfg: ScaleConfig, *, on_state: Callable[[DeviceEvent], None] | None = None
    ) -> Scale:
        """A Scale from the [scale] section."""
        return cls(settings_from_config(cfg), on_state=on_state)

    # ---- life cycle -------------------------------------------------------------------------

    async def start(self, timeout: float = 5.0) -> DeviceEvent:
        """Start the port thread; return the state after the first open attempt
        (CONNECTED, or UNPLUGGED with the reason; the thread keeps retrying either way)."""
        self._loop = asyncio.get_running_loop()
        self._first_state = self._loop.create_future()
        self._worker.start()
        try:
            return await asyncio.wait_for(asyncio.shield(self._first_state), timeout)
        except TimeoutError:
            return self._state

    async def stop(self) -> None:
        """Stop the thread and close the port; open feeds end."""
        await asyncio.to_thread(self._worker.stop)
        self._publish_state(DeviceEvent(DeviceState.STOPPED, self.settings.port.port))
        for reading_feed in list(self._reading_feeds):
            reading_feed.put(_END)
        for state_feed in list(self._state_feeds):
            state_feed.put(_END)

    async def __aenter__(self) -> Self:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.stop()

    @property
    def state(self) -> DeviceEvent:
        """The current connection state and its reason."""
        return self._state

    # ---- reading ----------------------------------------------------------------------------

    def readings(self) -> Feed[Reading | NoReading]:
        """Every reply from now on (Reading), and every timeout or unplug (NoReading)."""
        return Feed(self._reading_feeds, self._feed_size)

    def device_events(self) -> Feed[DeviceEvent]:
        """Every connection state change from now on."""
        return Feed(self._state_feeds, self._feed_size)

    async def capture(self, timeout: float, *, require_load: bool = True) -> Capture | NoReading:
        """Wait up to `timeout` s for a captured weight (stable flag + window + return-to-zero).

        `require_load=False` also captures an empty pan and skips return-to-zero (diagnostics).
        Never returns zero for silence: a timeout, motion or unplug is a NoReading.
        """
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            got = self._capturer.take(_now_ms(), require_load=require_load)
            if got is not None:
                return got
            remaining = deadline - loop.time()
            if remaining <= 0:
                return self._no_reading()
            waiter: asyncio.Future[None] = loop.create_future()
            self._waiters.append(waiter)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(waiter, remaining)

    def _no_reading(self) -> NoReading:
        if self._state.state is not DeviceState.CONNECTED:
            detail = self._state.detail or f"scale {self._state.state.value}"
            return NoReading(NoReadingReason.DISCONNECTED, detail)
        return self._capturer.condition()

    def weigh_out(self, capture: Capture, labelled_mg: int) -> WeighOutResult:
        """Judge a capture against a label with this scale's [scale] weigh-out settings."""
        return check_weigh_out(capture, labelled_mg, self.settings.weigh_out)

    # ---- commands ---------------------------------------------------------------------------

    async def zero(self, timeout: float = 5.0) -> CommandResult:
        """Zero the scale (empty pan)."""
        return await self._command("zero", self.settings.port.protocol.zero_command, timeout)

    async def tare(self, timeout: float = 5.0) -> CommandResult:
        """Tare the container on the pan."""
        return await self._command("tare", self.settings.port.protocol.tare_command, timeout)

    async def clear_tare(self, timeout: float = 5.0) -> CommandResult:
        """Clear the stored tare."""
        command = self.settings.port.protocol.clear_tare_command
        return await self._command("clear_tare", command, timeout)

    async def _command(self, kind: str, command: bytes | None, timeout: float) -> CommandResult:
        spec = self.settings.port.protocol
        if command is None:
            return CommandResult(False, f"the {spec.name} protocol has no {kind} command")
        if self._state.state is not DeviceState.CONNECTED:
            return CommandResult(False, f"scale not connected: {self._state.detail}")
        if not spec.acknowledges_commands:
            self._worker.send(command)
            return CommandResult(True, f"{kind} sent ({spec.name} sends no acknowledgement)")
        future: asyncio.Future[Reply] = asyncio.get_running_loop().create_future()
        self._pending[kind] = future
        self._worker.send(command)
        try:
            reply = await asyncio.wait_for(future, timeout)
        except TimeoutError:
            return CommandResult(False, f"no {kind} acknowledgement within {timeout:g} s")
        finally:
            if self._pending.get(kind) is future:
                del self._pending[kind]
        return CommandResult(reply.ok, reply.detail)

    # ---- messages from the port thread ------------------------------------------------------

    def _from_thread(self, message: WorkerMessage) -> None:
        """Runs in the port thread: hand the message to the loop."""
        loop = self._loop
        if loop is None:
            return
        with contextlib.suppress(RuntimeError):  # a closed loop: we are shutting down
            loop.call_soon_threadsafe(self._on_message, message)

    def _on_message(self, message: WorkerMessage) -> None:
        if isinstance(message, DeviceEvent):
            self._on_device_event(message)
        elif isinstance(message, Silence):
            self._capturer.observe_silence(message.detail, NoReadingReason.TIMEOUT)
            self._publish_reading(NoReading(NoReadingReason.TIMEOUT, message.detail))
        elif isinstance(message, Received):
            self._on_received(message)
        self._wake()

    def _on_received(self, message: Received) -> None:
        event = message.event
        if isinstance(event, Reading):
            self._capturer.observe(event, int(message.at * 1000))
            self._publish_reading(event)
        elif isinstance(event, Reply):
            future = self._pending.get(event.command)
            if future is not None and not future.done():
                future.set_result(event)
        elif isinstance(event, Noise):
            self.noise_count += 1
            now = time.monotonic()
            if now - self._noise_logged_at >= NOISE_LOG_INTERVAL_S:  # a wrong baud floods
                self._noise_logged_at = now
                LOG.warning(
                    "scale line noise skipped",
                    extra={
                        "reason": event.reason,
                        "raw": event.raw.hex(),
                        "count": self.noise_count,
                    },
                )

    def _on_device_event(self, event: DeviceEvent) -> None:
        if event.state is not DeviceState.CONNECTED:
            self._capturer.observe_silence(event.detail, NoReadingReason.DISCONNECTED)
            self._publish_reading(NoReading(NoReadingReason.DISCONNECTED, event.detail))
            for kind, future in list(self._pending.items()):
                if not future.done():
                    future.set_exception(TimeoutError(f"{kind}: scale {event.state.value}"))
        self._publish_state(event)
        if self._first_state is not None and not self._first_state.done():
            self._first_state.set_result(event)

    def _publish_state(self, event: DeviceEvent) -> None:
        if event == self._state:
            return
        self._state = event
        for feed in list(self._state_feeds):
            feed.put(event)
        if self._on_state is not None:
            try:
                self._on_state(event)
            except Exception:  # a faulty callback must not stop the scale
                LOG.exception("scale state callback failed")

    def _publish_reading(self, item: Reading | NoReading) -> None:
        for feed in list(self._reading_feeds):
            feed.put(item)

    def _wake(self) -> None:
        waiters, self._waiters = self._waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)


def _now_ms() -> int:
    return int(time.monotonic() * 1000)
