"""GS1 data -> `Gs1Data`: the station's one GS1 parser (biip), used by `scan listen`, the verdict
reason and the slip.

The Rust core says *whether* a scan is GS1 data (`Recognised.kind == "gs1"`); this module reads
*what* it says: element strings (the separator GS and any `[scan] gs_substitutes`), the HRI form
`(01)...(17)...`, a GS1 Digital Link URI, or the lone GTIN of an EAN/UPC barcode.

A separator lost on the way (a scanner in Alt mode whose Alt is dropped types `029`; one without a
separator setting types nothing) makes biip glue the next field into a variable-length one -
`(10)ABCD1234` + `(21)10` reads as `(10)ABCD12340292110` - so such a scan is refused as
ambiguous (`Gs1Error`), never read. Payloads are never `strip()`ped: '\\x1d'.isspace() is True
in Python.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import cache
from typing import TYPE_CHECKING, Final

from edge.workflow.ports import Gs1Data, Gs1Element

# biip (~24 MB resident) is imported only when a scan is GS1 data, a rare path for the daemon:
# each use site imports it, and annotations use the TYPE_CHECKING import.
if TYPE_CHECKING:
    from biip import ParseConfig
    from biip.gs1_element_strings import GS1ElementString
    from biip.gs1_messages import GS1Message

__all__ = ["GS", "GS1_AIM", "GTIN_AIM", "Gs1Data", "Gs1Element", "Gs1Error", "Gs1Reader"]

GS: Final = "\x1d"
# AIM identifiers of GS1 symbologies and of EAN/UPC (biip symbology.py).
GS1_AIM: Final = frozenset({"]C1", "]e0", "]e1", "]e2", "]d2", "]Q3", "]J1"})
GTIN_AIM: Final = frozenset({"]E0", "]E1", "]E2", "]E3", "]E4", "]I1"})


class Gs1Error(ValueError):
    """GS1 data that cannot be read with certainty. `str()` says so in full; `detail` is the bare
    cause (biip's message, or the ambiguity); `certain` is False when the text may simply not be
    GS1 data at all (no GS1 AIM identifier and no separator)."""

    def __init__(self, message: str, *, detail: str | None = None, certain: bool = True) -> None:
        super().__init__(message)
        self.detail = detail or message
        self.certain = certain


@cache
def _config() -> ParseConfig:
    from biip import ParseConfig

    return ParseConfig(separator_chars=(GS,))


class Gs1Reader:
    """Reads GS1 data with the separator substitutes of `[scan] gs_substitutes`."""

    def __init__(self, gs_substitutes: Sequence[str] = ()) -> None:
        self._subs = str.maketrans(dict.fromkeys(gs_substitutes, GS))
        self._sub_chars = "".join(gs_substitutes)

    def read(self, text: str, aim_id: str | None = None) -> Gs1Data:
        """The GS1 data of `text` (AIM identifier already split off into `aim_id`); Gs1Error
        when it cannot be read with certainty."""
        if aim_id in GTIN_AIM:
            return _gtin(text, aim_id)
        if text.startswith("("):
            return self._hri(text, aim_id)
        if text.startswith(("https://", "http://")):
            return _digital_link(text, aim_id)
        if aim_id is None and text.isascii() and text.isdigit() and len(text) in (8, 12, 13, 14):
            try:
                return _gtin(text, None)
            except Gs1Error:
                pass  # may still be element strings: `17190508` is (17) expiry, no GTIN-8
        return self._elements(text, aim_id, certain=aim_id in GS1_AIM or GS in text)

    def _hri(self, text: str, aim_id: str | None) -> Gs1Data:
        from biip import ParseError
        from biip.gs1_messages import GS1Message

        try:
            message = GS1Message.parse_hri(text)
        except ParseError as exc:
            raise Gs1Error(f"unreadable GS1 data: {exc}", detail=str(exc)) from exc
        return _data(text, message.element_strings, aim_id)

    def _elements(self, text: str, aim_id: str | None, *, certain: bool) -> Gs1Data:
        data = text.translate(self._subs)
        # FNC1 in first position may arrive as a leading GS; a trailing GS is padding. Only GS is
        # removed here: never str.strip(), which also eats GS.
        body = data.removeprefix(GS).removesuffix(GS)
        from biip import ParseError
        from biip.gs1_messages import GS1Message

        try:
            message = GS1Message.parse(body, config=_config())
        except ParseError as exc:
            raise self._failed(text, str(exc), certain=certain) from exc
        strings = message.element_strings
        if not strings or "".join(e.ai.ai + e.value for e in strings) != body.replace(GS, ""):
            # biip strips whitespace at the ends; nothing may be lost or added on the way.
            raise self._failed(text, "characters outside the element strings", certain=certain)
        problem = _separator_problem(body, message)
        if problem:
            raise Gs1Error(problem)
        return _data(data, strings, aim_id)

    def _failed(self, text: str, error: str, *, certain: bool) -> Gs1Error:
        if "]" in text and "]" not in self._sub_chars:
            return Gs1Error(
                "GS1 data holds ']' where a separator may have been (a scanner sending GS as "
                "Ctrl+] without Ctrl?); set the scanner to send GS, or add ']' to [scan] "
                f"gs_substitutes ({error})",
            )
        if certain:
            return Gs1Error(f"unreadable GS1 data: {error}", detail=error)
        return Gs1Error(f"not GS1 data: {error}", detail=error, certain=False)


def _data(text: str, strings: Sequence[GS1ElementString], aim_id: str | None) -> Gs1Data:
    elements = []
    for e in strings:
        error = e.gtin_error or e.sscc_error or e.gln_error
        if error:
            raise Gs1Error(f"unreadable GS1 data: {error}", detail=error)
        date = e.date.isoformat() if e.date is not None else None
        elements.append(Gs1Element(e.ai.ai, e.value, e.ai.data_title, date))
    gtin = next((e.value for e in elements if e.ai == "01"), None)
    return Gs1Data(text=text, elements=tuple(elements), gtin=gtin, aim_id=aim_id)


def _gtin(text: str, aim_id: str | None) -> Gs1Data:
    if not (text.isascii() and text.isdigit()):  # biip would strip spaces away
        raise Gs1Error("not a valid GTIN: digits only", detail="a GTIN is digits only")
    from biip import ParseError
    from biip.gtin import Gtin

    try:
        gtin = Gtin.parse(text)
    except ParseError as exc:
        raise Gs1Error(f"not a valid GTIN: {exc}", detail=str(exc)) from exc
    element = Gs1Element("01", gtin.as_gtin_14(), "GTIN")
    return Gs1Data(text=text, elements=(element,), gtin=gtin.value, aim_id=aim_id)


def _digital_link(text: str, aim_id: str | None) -> Gs1Data:
    from biip import ParseError
    from biip.gs1_digital_link_uris import GS1DigitalLinkURI

    try:
        uri = GS1DigitalLinkURI.parse(text)
    except ParseError as exc:
        raise Gs1Error(f"unreadable GS1 Digital Link: {exc}", detail=str(exc)) from exc
    return _data(text, uri.element_strings, aim_id)


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
