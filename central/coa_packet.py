"""The COA pages of a wholesale order's packet: one page per batch shipped, and the refusal to
ship a batch without a current passing lab result.

A package's lab results are those central holds for it (central/labs.py: the package's own feed
item `lab` / `package:<TAG>`, else its batch's, `batch:<BATCH>`); the results of the newest test
date govern (edge/common/labs.py). A batch may ship only when every packed package of it has
governing results and none of them failed, was revoked or expires before the ship date
(`labs.refusal`): else `CoaRefused` names the batch, its package and why, and no manifest is
built.

Each page (`story`) prints, per batch: the lab, its license, the test batch (the COA's TestBatch or
METRC's LabTestResultId), the tested date, the expiry, pass, the cannabinoid and terpene values as
the COA prints them (or METRC's test levels), the COA document (METRC's file id, fetched with
`GET /labtests/v2/labtestdocument/{id}`, or the COA's URL, with a QR code of the URL) and the
packed packages it covers. Rendered with reportlab
(https://docs.reportlab.com/reportlab/userguide/ch1_intro/; its QR widget
`reportlab.graphics.barcode.qr.QrCodeWidget`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from edge.common import labs


class CoaRefused(ValueError):
    """A batch of the order has no current passing lab result: it may not ship."""


@dataclass(frozen=True)
class BatchCoa:
    """One COA page: a batch, the results that govern it, the packed packages they cover."""

    batch: str
    results: tuple[labs.LabResult, ...]
    packages: tuple[str, ...]

    @property
    def document(self) -> str | None:
        return next((r.document for r in self.results if r.document), None)


def governing(results: Sequence[labs.LabResult]) -> list[labs.LabResult]:
    """The results of the newest test date (those `labs.refusal` judges), by id."""
    if not results:
        return []
    newest = max(r.tested for r in results)
    return sorted((r for r in results if r.tested == newest), key=lambda r: r.id)


def batches(
    packed: Sequence[tuple[str, str]], get: Callable[[str], bytes | None], day: str
) -> list[BatchCoa]:
    """The COA pages for the packed (label, batch) pairs, in packing order; CoaRefused names
    the first batch that may not ship on `day` (YYYY-MM-DD)."""
    pages: dict[tuple[str, tuple[str, ...]], tuple[list[labs.LabResult], list[str]]] = {}
    for label, batch in packed:
        found = governing(labs.lookup(get, label, batch or None))
        name = batch or "(no batch)"
        if not found:
            raise CoaRefused(
                f"batch {name} may not ship: package {label} has no lab result (import its COA"
                " with `packstation central import labs`, or let the METRC lab pull fetch it)"
            )
        why = labs.refusal(found, day)
        if why is not None:
            raise CoaRefused(f"batch {name} may not ship on {day}: package {label}: {why}")
        key = (name, tuple(r.id for r in found))
        pages.setdefault(key, (found, []))[1].append(label)
    return [
        BatchCoa(batch=batch, results=tuple(results), packages=tuple(labels))
        for (batch, _), (results, labels) in pages.items()
    ]


def _values(results: Sequence[labs.LabResult]) -> list[tuple[str, str, str]]:
    """(kind, name, value) of every value on the COA: cannabinoids, terpenes, METRC tests."""
    out: list[tuple[str, str, str]] = []
    for r in results:
        for name, value in sorted(r.values.items()):
            if name.startswith("terpene:"):
                out.append(("terpene", name.removeprefix("terpene:"), f"{value} %"))
            elif name.startswith("test:"):
                out.append(("test (METRC)", name.removeprefix("test:"), value))
            else:
                out.append(("cannabinoid", name, f"{value} %"))
    return out


def _is_url(text: str | None) -> bool:
    return bool(text) and str(text).startswith(("https://", "http://"))


def story(pages: Sequence[BatchCoa], manifest_id: str, styles: Any, grid: Any) -> list[Any]:
    """The reportlab flowables of the COA pages (each starts on a new page)."""
    from reportlab.graphics.barcode.qr import QrCodeWidget
    from reportlab.graphics.shapes import Drawing
    from reportlab.platypus import PageBreak, Paragraph, Spacer, Table

    def para(text: str) -> Paragraph:
        return Paragraph(text, styles["Normal"])

    out: list[Any] = []
    for page in pages:
        out.append(PageBreak())
        out.append(Paragraph(f"Certificate of analysis: batch {page.batch}", styles["Title"]))
        out.append(para(f"For manifest {manifest_id}."))
        for r in page.results:
            when = "revoked " + r.revoked if r.revoked else ("pass" if r.passed else "FAIL")
            rows = [
                ["Lab", r.lab or "", "Lab license", r.lab_license or ""],
                ["Test batch / id", r.sample or r.id, "Source", r.source.upper()],
                ["Tested", r.tested, "Expires", r.expires or "no expiry given"],
                ["Result", when, "Test", r.test or "all"],
                ["Document", r.document or "none", "", ""],
            ]
            out += [Spacer(1, 8), Table(rows, style=grid)]
        values = _values(page.results)
        if values:
            out += [
                Spacer(1, 8),
                Table([["Kind", "Analyte", "Value"], *values], style=grid, repeatRows=1),
            ]
        else:
            out += [Spacer(1, 8), para("No cannabinoid or terpene values on record.")]
        doc = page.document
        if _is_url(doc):
            assert doc is not None
            widget = QrCodeWidget(doc)
            x0, y0, x1, y1 = widget.getBounds()
            size = 96.0
            drawing = Drawing(
                size, size, transform=[size / (x1 - x0), 0, 0, size / (y1 - y0), 0, 0]
            )
            drawing.add(widget)
            out += [Spacer(1, 8), para(f"COA: {doc}"), drawing]
        out += [
            Spacer(1, 8),
            para(f"Covers {len(page.packages)} packed package(s):"),
            Table([[str(i), t] for i, t in enumerate(page.packages, 1)], style=grid),
        ]
    return out
