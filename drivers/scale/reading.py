"""What a scale said, as values: parsers produce these from bytes; nothing here does I/O."""

from __future__ import annotations

import enum
from dataclasses import dataclass


class Status(enum.Enum):
    """The scale's own verdict on one reply."""

    STABLE = "stable"  # a weight the scale calls stable
    MOTION = "motion"  # in motion: a weight may be shown, but it is never captured
    OVERLOAD = "overload"  # over capacity
    UNDERLOAD = "underload"  # under zero / below the minimum
    UNCHANGED = "unchanged"  # 8217 status-only reply: weight unchanged since it was last sent
    ERROR = "error"  # an error reply (MT-SICS ES/ET/EL, S I, Ohaus ES, 8217 zero error)


@dataclass(frozen=True, slots=True)
class Reading:
    """One weight reply. `weight_mg` is set only when the scale sent a number."""

    status: Status
    raw: bytes
    weight_mg: int | None = None
    unit: str = ""  # unit the scale reported in: mg, g, kg, lb or oz ("" when none)
    division_mg: int | None = None  # display step implied by the decimals shown
    net: bool | None = None  # True net, False gross, None not reported
    detail: str = ""  # for errors: what the reply means

    @property
    def has_weight(self) -> bool:
        """True when the reply carries a number (stable or in motion)."""
        return self.weight_mg is not None


@dataclass(frozen=True, slots=True)
class Reply:
    """The answer to a zero / tare / clear-tare command (MT-SICS acknowledges them)."""

    command: str  # "zero", "tare", "clear_tare" or "reset"
    ok: bool
    raw: bytes
    detail: str = ""


@dataclass(frozen=True, slots=True)
class Noise:
    """Bytes that were not a frame of the protocol: skipped, counted and logged."""

    raw: bytes
    reason: str


Event = Reading | Reply | Noise
