"""The end-of-day reconciliation report: `packstation central report day --date D
[--format csv|pdf|json]`.

Per order: received (loaded at the station), packed by, sealed, staged (where), released (how, by
whom, the driver), reported to the state system (central/statesys `report_state`); per package
sold: tag, quantity, order; halts and overrides with the supervisor who cleared them; release
refusals; open exceptions (halts never cleared, state-system reports not confirmed, staged bags
not released). The totals are counted from the same rows, so a reader can recount them.

The PDF is rendered with reportlab (platypus tables), for the compliance officer's file.
"""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, field
from typing import Any

from central.report.ledger import Ledger, fold, stored_events
from central.statesys import report_state
from central.store.base import SqlStore

FORMATS = ("csv", "pdf", "json")


@dataclass
class DayReport:
    date: str
    orders: list[dict[str, Any]] = field(default_factory=list)
    packages: list[dict[str, Any]] = field(default_factory=list)
    halts: list[dict[str, Any]] = field(default_factory=list)
    refusals: list[dict[str, Any]] = field(default_factory=list)
    counts: list[dict[str, Any]] = field(default_factory=list)
    exceptions: list[dict[str, Any]] = field(default_factory=list)
    totals: dict[str, int] = field(default_factory=dict)


def _state_report(store: SqlStore, order_id: str, station: str) -> str:
    try:
        state = report_state(store, order_id, station)
    except Exception:  # noqa: BLE001 - no state-system tables yet: nothing was reported
        return "not reported"
    if state is None or state.get("receipt") is None:
        return "not reported"
    return str(state["receipt"]["state"])


def build(store: SqlStore, date: str) -> DayReport:
    """The report of `date` (YYYY-MM-DD, UTC): orders loaded at a station that day."""
    led: Ledger = fold(stored_events(store), day=date)
    rep = DayReport(date=date)
    for row in sorted(led.orders.values(), key=lambda r: (r.received, r.order_id)):
        reported = _state_report(store, row.order_id, row.station)
        rep.orders.append(
            {
                "order_id": row.order_id,
                "station": row.station,
                "channel": row.channel,
                "received": row.received,
                "packed_by": row.packed_by,
                "sealed": row.sealed,
                "staged": row.staged,
                "location": row.location,
                "status": row.status,
                "released": row.released,
                "released_how": row.released_how,
                "released_by": row.released_by,
                "driver": row.driver,
                "state_report": reported,
            }
        )
        if row.status and row.status != "cancelled":
            for pick in row.picks:
                rep.packages.append(
                    {
                        "tag": pick.uid,
                        "quantity": f"{pick.net_mg} mg" if pick.net_mg is not None else "1",
                        "order_id": row.order_id,
                        "line": pick.line,
                    }
                )
        if row.status and row.status != "cancelled" and reported != "confirmed":
            rep.exceptions.append(
                {"kind": "state_report", "order_id": row.order_id, "detail": reported}
            )
        if row.staged and not row.released:
            rep.exceptions.append(
                {"kind": "not_released", "order_id": row.order_id, "detail": row.location}
            )
    for h in led.halts:
        rep.halts.append(asdict(h))
        if h.action is None:
            rep.exceptions.append(
                {"kind": "open_halt", "order_id": h.order_id, "detail": f"{h.code}: {h.reason}"}
            )
    rep.refusals = list(led.release_refusals)
    rep.counts = list(led.counts)
    for c in rep.counts:
        found = len(c["missing"]) + len(c["unexpected"]) + len(c["wrong_place"])
        c["discrepancies"] = found
        if found and c["approved_by"] is None:
            rep.exceptions.append(
                {"kind": "count_unapproved", "order_id": c["count_id"], "detail": c["scope"]}
            )
    rep.totals = {
        "orders": len(rep.orders),
        "sealed": sum(1 for o in rep.orders if o["sealed"]),
        "staged": sum(1 for o in rep.orders if o["staged"]),
        "released": sum(1 for o in rep.orders if o["released"]),
        "cancelled": sum(1 for o in rep.orders if o["status"] == "cancelled"),
        "packages_sold": len(rep.packages),
        "halts": len(rep.halts),
        "overrides": sum(1 for h in rep.halts if h["action"] is not None),
        "release_refusals": len(rep.refusals),
        "counts": len(rep.counts),
        "count_discrepancies": sum(c["discrepancies"] for c in rep.counts),
        "open_exceptions": len(rep.exceptions),
    }
    return rep


def to_json(rep: DayReport) -> bytes:
    return json.dumps(asdict(rep), indent=2, sort_keys=True).encode() + b"\n"


def to_csv(rep: DayReport) -> bytes:
    """One CSV: a `record` column (order, package, halt, refusal, exception, total) per row."""
    cols = [
        "record",
        "order_id",
        "station",
        "channel",
        "received",
        "packed_by",
        "sealed",
        "staged",
        "location",
        "status",
        "released",
        "released_how",
        "released_by",
        "driver",
        "state_report",
        "tag",
        "quantity",
        "code",
        "reason",
        "cleared_by",
        "action",
        "name",
        "value",
    ]
    out = io.StringIO()
    w = csv.DictWriter(out, fieldnames=cols, extrasaction="ignore", lineterminator="\n")
    w.writeheader()
    for o in rep.orders:
        w.writerow({"record": "order", **o})
    for p in rep.packages:
        w.writerow({"record": "package", **p})
    for h in rep.halts:
        w.writerow({"record": "halt", **h})
    for r in rep.refusals:
        w.writerow({"record": "release_refused", **r})
    for c in rep.counts:
        detail = "; ".join(
            f"{k}: {' '.join(c[k])}" for k in ("missing", "unexpected", "wrong_place") if c[k]
        )
        w.writerow(
            {
                "record": "count",
                "order_id": c["count_id"],
                "station": c["station"],
                "location": c["scope"],
                "received": c["at"],
                "code": c["discrepancies"],
                "reason": detail,
                "cleared_by": c["approved_by"],
            }
        )
    for e in rep.exceptions:
        w.writerow(
            {
                "record": "exception",
                "order_id": e["order_id"],
                "code": e["kind"],
                "reason": e["detail"],
            }
        )
    for name, value in rep.totals.items():
        w.writerow({"record": "total", "name": name, "value": value})
    return out.getvalue().encode()


def to_pdf(rep: DayReport, store_name: str = "") -> bytes:
    """The report as a PDF (A4 landscape): totals, then one table per section."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.lib.units import mm
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

    styles = getSampleStyleSheet()
    small = styles["BodyText"].clone("small", fontSize=7, leading=8)
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf,
        pagesize=landscape(A4),
        leftMargin=10 * mm,
        rightMargin=10 * mm,
        topMargin=10 * mm,
        bottomMargin=10 * mm,
        title=f"Reconciliation {rep.date}",
    )
    story: list[Any] = [
        Paragraph(f"End-of-day reconciliation {rep.date} {store_name}".strip(), styles["Title"])
    ]

    def table(
        title: str, header: list[str], rows: list[list[Any]], widths_mm: list[int] | None = None
    ) -> None:
        story.append(Paragraph(title, styles["Heading2"]))
        if not rows:
            story.append(Paragraph("none", styles["BodyText"]))
            return
        data = [header] + [[Paragraph(str(c or ""), small) for c in r] for r in rows]
        widths = [w * mm for w in widths_mm] if widths_mm else None
        t = Table(data, colWidths=widths, repeatRows=1)
        t.setStyle(
            TableStyle(
                [
                    ("FONTSIZE", (0, 0), (-1, 0), 7),
                    ("BACKGROUND", (0, 0), (-1, 0), colors.lightgrey),
                    ("GRID", (0, 0), (-1, -1), 0.25, colors.grey),
                    ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ]
            )
        )
        story.append(t)
        story.append(Spacer(1, 4 * mm))

    table("Totals", ["total", "count"], [[k, v] for k, v in rep.totals.items()])
    table(
        "Orders",
        [
            "order",
            "station",
            "channel",
            "received",
            "packed by",
            "sealed",
            "staged at",
            "released",
            "by / driver",
            "state system",
        ],
        [
            [
                o["order_id"],
                o["station"],
                o["channel"],
                _hms(o["received"]),
                o["packed_by"],
                _hms(o["sealed"]),
                f"{o['location']} {_hms(o['staged'])}".strip(),
                f"{o['released_how']} {_hms(o['released'])}".strip(),
                " / ".join(x for x in (o["released_by"], o["driver"]) if x),
                o["state_report"],
            ]
            for o in rep.orders
        ],
        [22, 22, 18, 18, 30, 18, 38, 38, 48, 25],
    )
    table(
        "Packages sold",
        ["tag", "quantity", "order", "line"],
        [[p["tag"], p["quantity"], p["order_id"], p["line"]] for p in rep.packages],
        [80, 30, 30, 15],
    )
    table(
        "Halts and overrides",
        ["order", "station", "at", "code", "reason", "cleared by", "action"],
        [
            [
                h["order_id"],
                h["station"],
                h["at"],
                h["code"],
                h["reason"],
                h["cleared_by"],
                h["action"] or "OPEN",
            ]
            for h in rep.halts
        ],
    )
    table(
        "Release refusals",
        ["order", "station", "at", "code", "reason"],
        [[r.get("order_id"), r["station"], r["at"], r["code"], r["reason"]] for r in rep.refusals],
    )
    table(
        "Cycle counts",
        [
            "count",
            "station",
            "at",
            "scope",
            "counted",
            "missing",
            "unexpected",
            "wrong place",
            "approved by",
        ],
        [
            [
                c["count_id"],
                c["station"],
                c["at"],
                c["scope"],
                c["counted"],
                " ".join(c["missing"]),
                " ".join(c["unexpected"]),
                " ".join(c["wrong_place"]),
                c["approved_by"],
            ]
            for c in rep.counts
        ],
    )
    table(
        "Open exceptions",
        ["kind", "order", "detail"],
        [[e["kind"], e["order_id"], e["detail"]] for e in rep.exceptions],
    )
    doc.build(story)
    return buf.getvalue()


def _hms(at: str) -> str:
    """The time of day of an ISO time of the report's day (the date is in the title)."""
    return at[11:19] if len(at) >= 19 else at


def render(rep: DayReport, fmt: str) -> bytes:
    if fmt == "csv":
        return to_csv(rep)
    if fmt == "pdf":
        return to_pdf(rep)
    return to_json(rep)
