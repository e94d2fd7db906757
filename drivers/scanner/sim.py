"""A simulated keyboard-wedge scanner: barcodes typed into pipes that the real device reader reads.

The simulated pack day and the tests write the key events a real scanner would send
(`drivers.scanner.keystrokes.events_for`) into pipes (`SimScanners`), so a scan travels the same
path as one from a device: fds, loop callbacks, idle timers and hot-plug.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from typing import Any

from evdev import InputEvent

from drivers.scanner.device import pack_events
from drivers.scanner.keystrokes import events_for


class SimNode:
    """A simulated event node: the read end of a pipe, fed `struct input_event` records."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._r, self._w = os.pipe()
        self.closed = False

    def fileno(self) -> int:
        return self._r

    def read(self, size: int) -> bytes:
        return os.read(self._r, size)

    def close(self) -> None:
        """The reader's side (called by the device reader)."""
        if not self.closed:
            self.closed = True
            os.close(self._r)

    def write(self, events: Iterable[InputEvent]) -> None:
        os.write(self._w, pack_events(events))

    def pull_plug(self) -> None:
        """The device side goes away: the reader sees end of file, like a vanished device."""
        if self._w >= 0:
            os.close(self._w)
            self._w = -1


class SimScanners:
    """Simulated scanner hardware behind the real device reader.

    `ScannerService(configs, opener=sims.open, resolver=sims.resolve)` then reads the simulated
    scanners through the same fds, loop callbacks, idle timers and hot-plug path as real ones.
    """

    def __init__(self) -> None:
        self._plugged: dict[str, list[str]] = {}
        self._nodes: dict[str, SimNode] = {}
        self._count = 0

    def plug(self, spec: str, nodes: int = 1) -> list[str]:
        """Connect a scanner answering to `spec` (as configured) with `nodes` event nodes."""
        paths = []
        for _ in range(nodes):
            paths.append(f"/sim/input/event{self._count}")
            self._count += 1
        self._plugged[spec] = paths
        return paths

    def unplug(self, spec: str) -> None:
        """Disconnect: open nodes hit end of file, and reopening finds nothing."""
        for path in self._plugged.pop(spec, []):
            node = self._nodes.get(path)
            if node is not None:
                node.pull_plug()

    def resolve(self, spec: str) -> list[str]:
        return list(self._plugged.get(spec, []))

    def open(self, path: str) -> SimNode:
        node = self._nodes[path] = SimNode(path)
        return node

    def send(self, spec: str, events: Iterable[InputEvent], node: int = 0) -> None:
        """Write events to the scanner's `node`-th event node (it must be open)."""
        self._nodes[self._plugged[spec][node]].write(events)

    def scan(self, spec: str, text: str, *, node: int = 0, **options: Any) -> None:
        """The scanner reads barcode `text` now (options as for `events_for`)."""
        options.setdefault("start", time.time())
        self.send(spec, events_for(text, **options), node)

    def close(self) -> None:
        """Release every fd (the reader's ends are closed by the reader or here)."""
        for node in self._nodes.values():
            node.pull_plug()
            node.close()
