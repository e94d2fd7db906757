"""The certificate of analysis (COA) on the exit label: each package's cannabinoid values and the
COA's link, from the lab result that governs the package (edge/common/labs.py).

The lab results central feeds a station (`lab` feed items, `package:<TAG>` else `batch:<BATCH>`)
are looked up per package; of them, the newest test date governs (as for the lab gate,
edge/scan/lab.py), and of its results one is printed: the first (by id) that carries values and a
document, else values, else a document. The values print exactly as the lab printed them (decimal
text, percent: "THC 21.4%"), never re-computed. The link is the result's `document` when it is an
http(s) URL; a METRC document file id is no link a customer can open, so it does not satisfy a
profile that requires the link (`coa_link = true`).

Which values print and whether the link must is the label profile's (`coa_values`, `coa_link`,
config/labels/README.md); a profile asking for neither prints nothing of the COA.
"""

from __future__ import annotations

from collections.abc import Sequence

from edge.common.labs import LabResult


def governing(results: Sequence[LabResult]) -> LabResult | None:
    """The one result of the newest test date whose figures the label prints, or None."""
    if not results:
        return None
    newest = max(r.tested for r in results)
    group = sorted((r for r in results if r.tested == newest), key=lambda r: r.id)
    ranked = sorted(
        group, key=lambda r: (not (r.values and r.document), not r.values, not r.document)
    )
    return ranked[0]


def value_of(result: LabResult, name: str) -> str | None:
    """The value `name` as printed by the lab (names compared without case), or None."""
    if name in result.values:
        return result.values[name]
    folded = name.casefold()
    return next((v for k, v in result.values.items() if k.casefold() == folded), None)


def is_link(document: str | None) -> bool:
    """True when the document is a URL a phone can open (http or https)."""
    if not document:
        return False
    head = document.strip().lower()
    return (head.startswith(("https://", "http://"))) and " " not in document.strip()
