"""A scan's text -> a typed value: package tag, Retail ID URL, GS1 data, badge, ticket, seal.

GS1 data is parsed with biip; the separator GS and any configured substitutes are honoured. A
separator lost on the way (a scanner in Alt mode whose Alt is dropped types `029`; one without a
separator setting types nothing) makes biip glue the next field into a variable-length one -
`(10)ABCD1234` + `(21)10` reads as `(10)ABCD12340292110` (shared/hardware.md (b)) - so such a scan
is refused as ambiguous, never passed on. Payloads are never `strip()`ped: '\\x1d'.isspace() is
True in Python.
"""

from __future__ import annotations

import re
from functools import cache
from typing import TYPE_CHECKING, Final

import msgspec

from edge.scan.config import ScanConfig

# biip (~24 MB resident) is imported only when a scan looks like GS1 data, a rare path for the
# daemon: each use site imports it, and annotations use the TYPE_CHECKING import.
if TYPE_CHECKING:
    from biip import ParseConfig
    from biip.gs1_messages import GS1Message

GS: Final = "\x1d"
# AIM identifiers of GS1 symbologies (biip symbology.py; shared/hardware.md (b)).
GS1_AIM: Final = frozenset({"]C1", "]e0", "]e1", "]e2", "]d2", "]Q3", "]J1"})
GTIN_AIM: Final = frozenset({"]E0", "]E1", "]E2", "]E3", "]E4", "]I1"})
RETAIL_ID: Final = re.compile(r"https://1a4\.com/[!-~]+", re.IGNORECASE)


@cache
def _config() -> ParseConfig:
    from biip import ParseConfig

    return ParseConfig(separator_chars=(GS,))


class PackageTag(msgspec.Struct, frozen=True, tag="package_tag"):
    """A state-system package tag (METRC `1A4...`), as configured in [scan] tag_patterns."""

    tag: str


class RetailIdUrl(msgspec.Struct, frozen=True, tag="retail_id_url"):
    """A METRC Retail ID URL; the Rust core decodes it."""

    url: str


class Gs1Element(msgspec.Struct, frozen=True):
    """One GS1 element string: application identifier and value."""

    ai: str
    value: str
    title: str = ""


class Gs1Data(msgspec.Struct, frozen=True, tag="gs1"):
    """GS1 element strings (or a lone GTIN from an EAN/UPC barcode)."""

    text: str  # as scanned, with the separator as GS
    elements: tuple[Gs1Element, ...]
    gtin: str | None = None
    aim_id: str | None = None

    def get(self, ai: str) -> str | None:
        """The value of application identifier `ai`, if present."""
        return next((e.value for e in self.elements if e.ai == ai), None)


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
    """A scan that looks like GS1 data but cannot be read with certainty."""

    text: str
    reason: str


class Unrecognised(msgspec.Struct, frozen=True, tag="unrecognised"):
    """A scan that matches nothing the station knows."""

    text: str
    reason: str = "matches no known barcode kind"


Classified = (
    PackageTag
    | RetailIdUrl
    | Gs1Data
    | AgentBadge
    | OrderTicket
    | SealCode
    | Refused
    | Unrecognised
)


class Classifier:
    """Classifies scans with the patterns of a [scan] section (compiled once)."""

    def __init__(self, cfg: ScanConfig | None = None) -> None:
        cfg = cfg or ScanConfig()
        self._tags = [re.compile(p) for p in cfg.tag_patterns]
        self._badge = re.compile(cfg.badge_pattern)
        self._ticket = re.compile(cfg.ticket_pattern)
        self._seal = re.compile(cfg.seal_pattern)
        self._subs = str.maketrans(dict.fromkeys(cfg.gs_substitutes, GS))
        self._sub_chars = "".join(cfg.gs_substitutes)

    def classify(self, text: str, aim_id: str | None = None) -> Classified:
        """What `text` (AIM identifier already removed) is. Never raises on bad input."""
        if not text:
            return Unrecognised(text, "empty scan")
        if RETAIL_ID.fullmatch(text):
            return RetailIdUrl(text)
        for pattern, kind in (
            (self._badge, AgentBadge),
            (self._ticket, OrderTicket),
            (self._seal, SealCode),
        ):
            if pattern.fullmatch(text):
                return kind(text)
        if aim_id in GS1_AIM:
            return self._gs1(text, aim_id, certain=True)
        if aim_id in GTIN_AIM:
            return self._gtin(text, aim_id)
        if any(p.fullmatch(text) for p in self._tags):
            return PackageTag(text)
        if aim_id is None and (GS in text or text[:2].isdigit()):
            if text.isdigit() and len(text) in (8, 12, 13, 14):
                gtin = self._gtin(text, None)
                if isinstance(gtin, Gs1Data):
                    return gtin
            found = self._gs1(text, None, certain=GS in text)
            return found
        return Unrecognised(text)

    def _gtin(self, text: str, aim_id: str | None) -> Gs1Data | Refused:
        if not (text.isascii() and text.isdigit()):  # biip would strip spaces away
            return Refused(text, "not a valid GTIN: digits only")
        from biip import ParseError
        from biip.gtin import Gtin

        try:
            gtin = Gtin.parse(text)
        except ParseError as exc:
            return Refused(text, f"not a valid GTIN: {exc}")
        element = Gs1Element("01", gtin.as_gtin_14(), "GTIN")
        return Gs1Data(text=text, elements=(element,), gtin=gtin.value, aim_id=aim_id)

    def _gs1(self, text: str, aim_id: str | None, *, certain: bool) -> Classified:
        data = text.translate(self._subs)
        # FNC1 in first position may arrive as a leading GS; a trailing GS is padding. Only GS is
        # removed here: never str.strip(), which also eats GS.
        body = data.removeprefix(GS).removesuffix(GS)
        from biip import ParseError
        from biip.gs1_messages import GS1Message

        try:
            message = GS1Message.parse(body, config=_config())
        except ParseError as exc:
            return self._gs1_failed(text, str(exc), certain=certain)
        elements = tuple(
            Gs1Element(e.ai.ai, e.value, e.ai.data_title) for e in message.element_strings
        )
        if not elements or "".join(e.ai + e.value for e in elements) != body.replace(GS, ""):
            # biip strips whitespace at the ends; nothing may be lost or added on the way.
            return self._gs1_failed(text, "characters outside the element strings", certain=certain)
        problem = _separator_problem(body, message)
        if problem:
            return Refused(text, problem)
        gtin = next((e.value for e in elements if e.ai == "01"), None)
        return Gs1Data(text=data, elements=elements, gtin=gtin, aim_id=aim_id)

    def _gs1_failed(self, text: str, error: str, *, certain: bool) -> Classified:
        if "]" in text and "]" not in self._sub_chars:
            return Refused(
                text,
                "GS1 data holds ']' where a separator may have been (a scanner sending GS as "
                "Ctrl+] without Ctrl?); set the scanner to send GS, or add ']' to [scan] "
                f"gs_substitutes ({error})",
            )
        if certain:
            return Refused(text, f"unreadable GS1 data: {error}")
        return Unrecognised(text, f"not GS1 data: {error}")


def _is_variable(fmt: str) -> bool:
    return ".." in fmt


def _parses_whole(tail: str) -> bool:
    if not tail[:2].isdigit():
        return False
    from biip import ParseError
    from biip.gs1_messages import GS1Message

    try:
        GS1Message.parse(tail, config=_config())
    except ParseError:
        return False
    return True


def _separator_problem(body: str, message: GS1Message) -> str | None:
    """Why the separators of `body` cannot be trusted, or None.

    - a variable-length field that is not the last must end with GS; if it does not, the field
      after it may be glued into it;
    - a variable-length field whose value holds `029` followed by a valid element string is the
      Alt+0029 separator typed as digits;
    - with no GS at all in the scan, a variable-length field whose value ends in a valid element
      string may have swallowed it.
    """
    has_gs = GS in body
    pos = 0
    strings = message.element_strings
    for i, element in enumerate(strings):
        pos += len(element.ai.ai) + len(element.value)
        ended_by_gs = body[pos : pos + 1] == GS
        pos += 1 if ended_by_gs else 0
        if not _is_variable(element.ai.format) or ended_by_gs:
            continue
        if i < len(strings) - 1:
            return (
                f"ambiguous GS1 data: ({element.ai.ai}) is not ended by a separator before "
                f"({strings[i + 1].ai.ai}); the separator was probably lost"
            )
        value = element.value
        splits = [(k, value[k:]) for k in range(1, len(value) - 1) if _parses_whole(value[k:])]
        for k, tail in splits:
            if value[:k].endswith("029"):
                return (
                    f"ambiguous GS1 data: ({element.ai.ai}){value} holds '029' + ({tail[:2]}...): "
                    "the separator was typed as Alt+0029 and the Alt key was lost"
                )
        if splits and not has_gs:
            return (
                f"ambiguous GS1 data: ({element.ai.ai}){value} may hold the field "
                f"{splits[0][1]!r} after a lost separator; set the scanner to send GS "
                "(Ctrl+] or Alt+0029)"
            )
    return None
