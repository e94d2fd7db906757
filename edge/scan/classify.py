"""A decoded scan -> where it goes: a badge, an order ticket or a seal code (the `[scan]` patterns),
else a package scan for the Rust core, which is the one authority on tags, Retail IDs and GS1
shapes.

`ScanRouter` is what the daemon uses: it matches only the three station codes and hands every
other scan on as it came, text and AIM identifier apart. `Classifier` is what `packstation scan
listen` prints: the route, or for a package scan how the core recognises it (and for GS1 data
what edge.scan.gs1 reads in it).
"""

from __future__ import annotations

import re

import msgspec

from edge.scan.config import ScanConfig
from edge.scan.gs1 import Gs1Data, Gs1Error, Gs1Reader
from edge.scan.verify import tag_recogniser


class PackageTag(msgspec.Struct, frozen=True, tag="package_tag"):
    """A state-system package tag (METRC `1A4...`), as configured in [scan] tag_patterns."""

    tag: str


class RetailIdUrl(msgspec.Struct, frozen=True, tag="retail_id_url"):
    """A METRC Retail ID URL; the Rust core decodes it."""

    url: str


class BioTrackId(msgspec.Struct, frozen=True, tag="biotrack"):
    """A BioTrack 16-digit package id."""

    tag: str


class AgentBadge(msgspec.Struct, frozen=True, tag="badge"):
    """A delivery agent's or technician's badge."""

    code: str


class OrderTicket(msgspec.Struct, frozen=True, tag="ticket"):
    """An order ticket."""

    code: str


class SealCode(msgspec.Struct, frozen=True, tag="seal"):
    """A tamper-evident label seal code."""

    code: str


class Refused(msgspec.Struct, frozen=True, tag="refused"):
    """A scan that looks like GS1 data (or a Retail ID) but cannot be read with certainty."""

    text: str
    reason: str


class Unrecognised(msgspec.Struct, frozen=True, tag="unrecognised"):
    """A scan that matches nothing the station knows."""

    text: str
    reason: str = "matches no known barcode kind"


StationCode = AgentBadge | OrderTicket | SealCode
Classified = (
    PackageTag
    | RetailIdUrl
    | BioTrackId
    | Gs1Data
    | AgentBadge
    | OrderTicket
    | SealCode
    | Refused
    | Unrecognised
)


class ScanRouter:
    """Matches the badge, ticket and seal patterns of a [scan] section (compiled once)."""

    def __init__(self, cfg: ScanConfig | None = None) -> None:
        cfg = cfg or ScanConfig()
        self._routes: tuple[tuple[re.Pattern[str], type[StationCode]], ...] = (
            (re.compile(cfg.badge_pattern), AgentBadge),
            (re.compile(cfg.ticket_pattern), OrderTicket),
            (re.compile(cfg.seal_pattern), SealCode),
        )

    def route(self, text: str) -> StationCode | None:
        """The station code `text` (AIM identifier already removed) is, or None: a package scan."""
        for pattern, kind in self._routes:
            if pattern.fullmatch(text):
                return kind(text)
        return None


class Classifier:
    """`scan listen`'s view of a scan: the route, else the core's recognition of it."""

    def __init__(self, cfg: ScanConfig | None = None) -> None:
        cfg = cfg or ScanConfig()
        self.router = ScanRouter(cfg)
        self._recogniser = tag_recogniser(cfg.tag_patterns)
        self._gs1 = Gs1Reader(cfg.gs_substitutes)

    def classify(self, text: str, aim_id: str | None = None) -> Classified:
        """What `text` (AIM identifier already removed) is. Never raises on bad input."""
        if not text:
            return Unrecognised(text, "empty scan")
        code = self.router.route(text)
        if code is not None:
            return code
        r = self._recogniser.recognise(text, aim_id)
        if r.kind == "metrc_tag":
            return PackageTag(r.text)
        if r.kind == "retail_id":
            return RetailIdUrl(r.text)
        if r.kind == "biotrack":
            return BioTrackId(r.text)
        if r.kind == "gs1":
            try:
                return self._gs1.read(r.text, r.symbology)
            except Gs1Error as exc:
                return Refused(text, str(exc)) if exc.certain else Unrecognised(text, str(exc))
        if r.kind == "malformed":
            return Refused(text, r.problem or "malformed")
        if r.kind == "empty":
            return Unrecognised(text, "empty scan")
        return Unrecognised(text)
