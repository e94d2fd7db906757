"""What every protocol module provides: default serial settings, command bytes and a parser."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal, Protocol

from drivers.scale.reading import Event

ImplicitUnit = Literal["auto", "lb", "kg", "g"]


class Parser(Protocol):
    """Turns received bytes into events; keeps partial frames between calls."""

    def feed(self, data: bytes) -> list[Event]:
        """Parse `data` (any piece of the stream) and return the completed events, in order."""
        ...


@dataclass(frozen=True, slots=True)
class SerialDefaults:
    """Factory serial settings of a protocol (pyserial names)."""

    baud: int
    bytesize: Literal[7, 8]
    parity: Literal["N", "E", "O"]
    stopbits: Literal[1, 2]

    @property
    def framing(self) -> str:
        """As written on data plates and in config: "8N1", "7E1"."""
        return f"{self.bytesize}{self.parity}{self.stopbits}"


@dataclass(frozen=True, slots=True)
class ProtocolSpec:
    """One scale protocol: how to talk to it and how to read it."""

    name: str
    serial: SerialDefaults
    weigh_command: bytes  # asks for one weight reply (sent each poll)
    zero_command: bytes | None
    tare_command: bytes | None
    clear_tare_command: bytes | None
    acknowledges_commands: bool  # True: zero/tare get a Reply we can wait for
    make_parser: Callable[[ImplicitUnit], Parser]
    source: str  # where the protocol facts come from
