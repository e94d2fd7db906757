"""A packed wholesale order as a transfer: the manifest, the invoice (PDF) and METRC's template.

Built from what central stored of the station's journal, never from the order as sent: the
packages are those the station accepted for the order (`verdict` events with an accepting outcome,
in the last `order_loaded` of the order) once it was sealed (`order_status` `ready_to_ship`), so
the package list and the quantities of the manifest and the invoice are the packed ones. Each
package's product and batch come from central's inventory, its COA from the lab results central
holds (central/labs.py: the package's own, else its batch's), its gross weight from a `weight`
event for it when the line was weighed (else the manifest leaves `GrossWeight` empty).

- `transfer_template` is the body of METRC's `POST /transfers/v2/templates/outgoing` (example of
  ThunkMetrc's Transfers/CreateOutgoingTemplates; a template, since Metrc creates no outgoing
  licensed transfer through the API: https://support.treez.io/en/articles/9129448-outgoing-transfers-in-metrc);
  `enqueue_transfer` hands it to the state-system bridge as a `transfer` job.
- `render_pdf` prints the manifest (shipper, destination license, driver, vehicle, package tags,
  gross weights, the COA per batch), the invoice (the same packages per order line) and one COA
  page per batch (central/coa_packet.py) with reportlab
  (https://docs.reportlab.com/reportlab/userguide/ch1_intro/); `render_coa_pdf` the COA pages
  alone. A batch without a current passing lab result on the ship date refuses the manifest
  (`ManifestError` naming it).
"""

from __future__ import annotations

import io
import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from central import coa_packet
from central.statesys.store import NewJob, ReportStore
from central.store.base import SqlStore
from edge.common import labs
from edge.common.protocol import Published

ACCEPTING = ("accepted", "accepted_with_warning")


class ManifestError(ValueError):
    """The order cannot be shipped as a transfer (not sealed, not wholesale, unknown)."""


@dataclass(frozen=True)
class Transport:
    """Who carries it (METRC template's Transporters entry); empty fields print as blanks."""

    transporter_license: str = ""
    driver_name: str = ""
    driver_license: str = ""
    driver_occupational_license: str = ""
    vehicle_make: str = ""
    vehicle_model: str = ""
    vehicle_plate: str = ""
    phone: str = ""
    route: str = ""
    employee_id: str = ""  # BioTrack: the driver's employee id (employee_add)
    vehicle_id: str = ""  # BioTrack: the vehicle's id (vehicle_add)


@dataclass(frozen=True)
class ManifestPackage:
    label: str
    line: int
    product: str
    sku: str
    batch: str
    gross_mg: int | None
    coa: str | None  # the COA document (METRC file id or URL) covering the package


@dataclass(frozen=True)
class Manifest:
    manifest_id: str
    order_id: str
    station: str
    shipper_license: str
    buyer_license: str
    buyer_name: str
    ship_date: str
    license_snapshot: str
    packages: list[ManifestPackage]
    transport: Transport = field(default_factory=Transport)
    coa_pages: list[coa_packet.BatchCoa] = field(default_factory=list)  # one per batch

    def lines(self) -> dict[int, list[ManifestPackage]]:
        out: dict[int, list[ManifestPackage]] = {}
        for p in self.packages:
            out.setdefault(p.line, []).append(p)
        return dict(sorted(out.items()))

    def coas(self) -> dict[str, str | None]:
        """Batch -> its COA document, in package order."""
        found: dict[str, str | None] = {}
        for p in self.packages:
            found.setdefault(p.batch, p.coa)
        return found


def order_events(store: SqlStore, order_id: str) -> list[Published]:
    """Every stored event of the order (in central's order)."""
    out: list[Published] = []
    after = 0
    while True:
        page = store.events_after(after, 1000)
        if not page:
            return out
        for ev in page:
            body = json.loads(ev.body)
            if body.get("order_id") == order_id:
                out.append(ev)
        after = page[-1].gseq


def from_events(
    events: Iterable[Published],
    order_id: str,
    shipper_license: str,
    inventory: dict[str, dict[str, Any]],
    lab_bodies: dict[str, bytes],
    transport: Transport | None = None,
    today: str = "",
) -> Manifest:
    """The manifest of a sealed wholesale order from its stored events. ManifestError when the
    order is not a sealed wholesale one, or a batch has no current passing lab result on the
    ship date (else `today`)."""
    loaded: dict[str, Any] | None = None
    station = ""
    picks: list[tuple[str, int]] = []
    gross: dict[str, int] = {}
    sealed = False
    for ev in events:
        body = json.loads(ev.body)
        if ev.type == "order_loaded":
            loaded, station, picks, gross, sealed = body["order"], ev.station_id, [], {}, False
        elif ev.type == "verdict" and body.get("outcome") in ACCEPTING and body.get("uid"):
            picks.append((str(body["uid"]), int(body["line"])))
        elif ev.type == "weight" and body.get("ok"):
            gross[str(body["uid"])] = int(body["net_mg"])
        elif ev.type == "order_status":
            sealed = body.get("status") == "ready_to_ship"
    if loaded is None:
        raise ManifestError(f"order {order_id}: no station loaded it")
    if loaded.get("channel") != "wholesale":
        raise ManifestError(f"order {order_id} is not a wholesale order")
    if not sealed:
        raise ManifestError(f"order {order_id} is not sealed for shipping (ready_to_ship)")
    packages = []
    for label, line in dict.fromkeys(picks):  # a pick journalled twice counts once
        pkg = inventory.get(label, {})
        batch = str(pkg.get("Batch", ""))
        results = labs.lookup(lab_bodies.get, label, batch or None)
        coa = next((r.document for r in reversed(results) if r.document), None)
        packages.append(
            ManifestPackage(
                label=label,
                line=line,
                product=str((pkg.get("Item") or {}).get("Name", "")),
                sku=str(pkg.get("Sku", "")),
                batch=batch,
                gross_mg=gross.get(label),
                coa=coa,
            )
        )
    buyer = loaded.get("buyer") or {}
    day = str(loaded.get("ship_date") or today)[:10]
    try:
        pages = coa_packet.batches([(p.label, p.batch) for p in packages], lab_bodies.get, day)
    except coa_packet.CoaRefused as exc:
        raise ManifestError(f"order {order_id}: {exc}") from None
    return Manifest(
        manifest_id=f"MAN-{order_id}",
        order_id=order_id,
        station=station,
        shipper_license=shipper_license,
        buyer_license=str(buyer.get("license", "")),
        buyer_name=str(buyer.get("name", "")),
        ship_date=str(loaded.get("ship_date", "")),
        license_snapshot=str((loaded.get("license_check") or {}).get("snapshot", "")),
        packages=packages,
        transport=transport or Transport(),
        coa_pages=pages,
    )


def build(
    store: SqlStore, order_id: str, shipper_license: str, transport: Transport | None = None
) -> Manifest:
    """`from_events` over central's store: its events, inventory and lab results."""
    from datetime import UTC, datetime

    from central.wholesale import lab_items, packages

    inventory = {str(p.get("Label", "")).upper(): p for p in packages(store)}
    events = order_events(store, order_id)
    today = datetime.now(UTC).date().isoformat()
    labs_now = lab_items(store)
    return from_events(events, order_id, shipper_license, inventory, labs_now, transport, today)


def _grams(mg: int | None) -> Decimal | None:
    # METRC's JSON number, exact to the milligram (the METRC client writes a Decimal as a number)
    return None if mg is None else Decimal(mg) / 1000


def transfer_template(m: Manifest) -> dict[str, Any]:
    """METRC's outgoing transfer template for the manifest (one destination: the buyer)."""
    t = m.transport
    depart = f"{m.ship_date}T09:00:00.000" if m.ship_date else None
    return {
        "Name": m.manifest_id,
        "TransporterFacilityLicenseNumber": t.transporter_license or None,
        "DriverOccupationalLicenseNumber": t.driver_occupational_license or None,
        "DriverName": t.driver_name or None,
        "DriverLicenseNumber": t.driver_license or None,
        "PhoneNumberForQuestions": t.phone or None,
        "VehicleMake": t.vehicle_make or None,
        "VehicleModel": t.vehicle_model or None,
        "VehicleLicensePlateNumber": t.vehicle_plate or None,
        "Destinations": [
            {
                "RecipientLicenseNumber": m.buyer_license,
                "InvoiceNumber": f"INV-{m.order_id}",
                "TransferTypeName": "Transfer",
                "PlannedRoute": t.route or None,
                "EstimatedDepartureDateTime": depart,
                "EstimatedArrivalDateTime": depart,
                "Transporters": [],
                "Packages": [
                    {
                        "PackageLabel": p.label,
                        "WholesalePrice": None,
                        "GrossWeight": _grams(p.gross_mg),
                        "GrossUnitOfWeightName": "Grams" if p.gross_mg is not None else None,
                    }
                    for p in m.packages
                ],
            }
        ],
    }


def biotrack_manifest(m: Manifest, timezone: str = "UTC") -> dict[str, Any]:
    """What BioTrack's `inventory_manifest` needs beyond METRC's template: the driver's employee
    id, the vehicle id, departure and arrival as Unix seconds (09:00 on the ship date in the
    facility's time zone, as the template's EstimatedDepartureDateTime)."""
    from datetime import datetime
    from zoneinfo import ZoneInfo

    depart = 0
    try:
        local = datetime.fromisoformat(f"{m.ship_date[:10]}T09:00:00")
        depart = int(local.replace(tzinfo=ZoneInfo(timezone)).timestamp())
    except ValueError:
        pass  # no readable ship date: 0, and BioTrack's answer decides
    t = m.transport
    return {
        "employee_id": t.employee_id,
        "vehicle_id": t.vehicle_id,
        "departure": depart,
        "arrival": depart,
        "route": t.route,
    }


def enqueue_transfer(store: SqlStore, m: Manifest, at: str, timezone: str = "UTC") -> bool:
    """Hand the transfer to the state-system bridge (job `transfer:<station>:<order>`): METRC's
    template and BioTrack's manifest fields (the bridge's back-end takes the one it needs);
    False when it was handed over before."""
    job = NewJob(
        key=f"transfer:{m.station}:{m.order_id}",
        kind="transfer",
        station=m.station,
        order_id=m.order_id,
        external=m.manifest_id,
        packages=[p.label for p in m.packages],
        body={"template": transfer_template(m), "biotrack": biotrack_manifest(m, timezone)},
        origin_at=at,
    )
    return ReportStore(store).add_job(job)


def _weight(mg: int | None) -> str:
    if mg is None:
        return "not weighed"
    grams, rest = divmod(mg, 1000)
    return f"{grams}.{rest:03d} g"


def render_pdf(m: Manifest) -> bytes:
    """Page 1 the transport manifest, page 2 the invoice; both list exactly `m.packages`."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import PageBreak, Paragraph, SimpleDocTemplate, Spacer, Table

    out = io.BytesIO()
    doc = SimpleDocTemplate(out, pagesize=letter, title=f"{m.manifest_id} / INV-{m.order_id}")
    styles = getSampleStyleSheet()
    t = m.transport
    grid = [("GRID", (0, 0), (-1, -1), 0.5, colors.grey), ("FONTSIZE", (0, 0), (-1, -1), 8)]

    def para(text: str) -> Paragraph:
        return Paragraph(text, styles["Normal"])

    head = [
        ["Manifest", m.manifest_id, "Order", m.order_id],
        ["Shipper license", m.shipper_license, "Ship date", m.ship_date],
        ["Destination license", m.buyer_license, "Destination", m.buyer_name],
        ["Driver", t.driver_name, "Driver license", t.driver_license],
        ["Vehicle", f"{t.vehicle_make} {t.vehicle_model}".strip(), "Plate", t.vehicle_plate],
        ["License list checked", m.license_snapshot[:16], "Station", m.station],
    ]
    rows = [["#", "Package tag", "Product", "Batch", "Gross weight", "COA"]]
    for i, p in enumerate(m.packages, 1):
        rows.append([str(i), p.label, p.product, p.batch, _weight(p.gross_mg), p.coa or "none"])
    story: list[Any] = [
        Paragraph(f"Transport manifest {m.manifest_id}", styles["Title"]),
        Table(head, style=grid),
        Spacer(1, 12),
        para(f"Packages: {len(m.packages)}"),
        Table(rows, style=grid, repeatRows=1),
        Spacer(1, 12),
        para("Certificates of analysis by batch:"),
        Table([["Batch", "COA"], *[[b, c or "none"] for b, c in m.coas().items()]], style=grid),
        PageBreak(),
        Paragraph(f"Invoice INV-{m.order_id}", styles["Title"]),
        para(f"Bill to {m.buyer_name} (license {m.buyer_license}); manifest {m.manifest_id}."),
    ]
    inv = [["Line", "SKU", "Product", "Batch", "Quantity", "Package tags"]]
    for line, pkgs in m.lines().items():
        batches = ", ".join(dict.fromkeys(p.batch for p in pkgs))
        tags = " ".join(p.label for p in pkgs)
        inv.append([str(line), pkgs[0].sku, pkgs[0].product, batches, str(len(pkgs)), para(tags)])
    story += [Table(inv, style=grid, repeatRows=1), Spacer(1, 12)]
    story.append(para(f"Total packages: {len(m.packages)}. Prices: see the accounting invoice."))
    story += coa_packet.story(m.coa_pages, m.manifest_id, styles, grid)
    doc.build(story)
    return out.getvalue()


def render_coa_pdf(m: Manifest) -> bytes:
    """The COA pages alone (one per batch), for the buyer's compliance file."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import letter
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    out = io.BytesIO()
    doc = SimpleDocTemplate(
        out, pagesize=letter, title=f"{m.manifest_id}: certificates of analysis"
    )
    styles = getSampleStyleSheet()
    grid = [("GRID", (0, 0), (-1, -1), 0.5, colors.grey), ("FONTSIZE", (0, 0), (-1, -1), 8)]
    head = Paragraph(
        f"Certificates of analysis for {m.manifest_id} ({len(m.coa_pages)} batch(es))",
        styles["Title"],
    )
    pages = coa_packet.story(m.coa_pages, m.manifest_id, styles, grid)
    doc.build([head, *pages[1:]] if pages else [head])
    return out.getvalue()
