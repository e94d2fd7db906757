"""A sealed order, as the station's events told it, -> the calls that report it (pure functions).

METRC's receipt (`POST /sales/v2/receipts`, Metrc's example in github.com/thunkier/ThunkMetrc
`specs/generated/bruno/Sales/CreateReceipts.bru`):
- one transaction per package: `PackageLabel`, `Quantity` in `UnitOfMeasure`, `TotalAmount`;
- units sold by Retail ID carry each scanned unit URL in `QrCodes`;
- a weighed portion from a bulk package in a weight unit is `Quantity` = the captured grams,
  `UnitOfMeasure` "Grams" (deli-style: Minnesota bulletin MN_IB_0057, "must record the exact
  weight sold for each variable-weight transaction",
  https://www.distru.com/metrc-bulletins/minnesota-metrc-deli-style-flower-guide), or, where the
  facility may repackage, a child package (`POST /packages/v2/`, `Ingredients` from the bulk
  package, Metrc's example `Packages/CreatePackagesPackages.bru`) sold whole;
- `SalesDateTime` "must be the actual date and time of the transaction without the time zone ...
  in the same time zone as the Facility recording the sales ... not in UTC" (same file);
- `SalesCustomerType` from `GET /sales/v2/customertypes`: Consumer, Patient, Caregiver,
  ExternalPatient, NonResidentConsumer.

California retailers "shall not package or label cannabis goods" (4 CCR 15412): whether a weigh-out
may create a package follows the facility's capability flags (`GET /facilities/v2/`,
`FacilityType.CanCreateDerivedPackages`) or the configured `repackaging`.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from central.statesys.store import NewJob

WEIGHT_UNITS_MG = {
    "Milligrams": Decimal(1),
    "Grams": Decimal(1000),
    "Kilograms": Decimal(1_000_000),
    "Ounces": Decimal("28349.523125"),
    "Pounds": Decimal("453592.37"),
}
CUSTOMER_TYPES = {
    "adult": "Consumer",
    "adult_nonresident": "NonResidentConsumer",
    "nonresident": "NonResidentConsumer",
    "medical": "Patient",
    "patient": "Patient",
    "medical_nonresident": "ExternalPatient",
    "caregiver": "Caregiver",
}
RETAIL_ID_HOSTS = ("1A4.COM/", "ID.1A4.COM/", "ID.14A.COM/")


def external_number(station: str, order_id: str) -> str:
    """`ExternalReceiptNumber`: ours to set, the natural key read back before any retry."""
    return f"{station}-{order_id}"


def facility_local(at_utc: str, timezone: str) -> str:
    """An event's UTC instant -> facility-local `YYYY-MM-DDTHH:MM:SS.fff`, no offset."""
    local = datetime.fromisoformat(at_utc).astimezone(ZoneInfo(timezone))
    return local.strftime("%Y-%m-%dT%H:%M:%S.") + f"{local.microsecond // 1000:03d}"


def grams(mg: int) -> Decimal:
    """Exact grams from integer milligrams (3501 mg -> 3.501)."""
    return (Decimal(mg) / 1000).normalize() if mg % 1000 else Decimal(mg // 1000)


def retail_id_url(raw: str, uid: str) -> str | None:
    """A scanned Retail ID unit URL (the `raw` of a verdict), as METRC's `QrCodes` wants it."""
    text = raw.strip()
    bare = text.upper().removeprefix("HTTPS://").removeprefix("HTTP://")
    if text.upper() == uid.upper() or not bare.startswith(RETAIL_ID_HOSTS):
        return None
    return text if text.lower().startswith("http") else "https://" + text


def customer_type(order: dict[str, Any]) -> str:
    klass = str((order.get("customer") or {}).get("class") or "adult")
    return CUSTOMER_TYPES.get(klass, "Consumer")


def _amount(line: dict[str, Any] | None) -> Decimal:
    """`TotalAmount` from the line's `price` (a decimal string or number) when the POS sent it."""
    price = (line or {}).get("price")
    if isinstance(price, str | int):
        try:
            return Decimal(str(price))
        except ArithmeticError:
            return Decimal(0)
    return Decimal(0)


def can_repackage(mode: str, facility: dict[str, Any] | None) -> bool:
    """Child packages where configured, or (auto) where METRC's facility flags allow them."""
    if mode != "auto":
        return mode == "child_package"
    flags = (facility or {}).get("FacilityType") or {}
    return bool(flags.get("CanCreateDerivedPackages") or flags.get("CanCreatePartialPackages"))


def _transaction(label: str, qty: Decimal, unit: str, amount: Decimal) -> dict[str, Any]:
    return {
        "PackageLabel": label,
        "Quantity": qty,
        "UnitOfMeasure": unit,
        "TotalAmount": amount,
        "UnitThcPercent": None,
        "UnitThcContent": None,
        "UnitThcContentUnitOfMeasure": None,
        "UnitWeight": None,
        "UnitWeightUnitOfMeasure": None,
        "InvoiceNumber": None,
        "Price": None,
        "ExciseTax": None,
        "CityTax": None,
        "CountyTax": None,
        "MunicipalTax": None,
        "DiscountAmount": None,
        "SubTotal": None,
        "SalesTax": None,
        "QrCodes": None,
    }


DELIVERY_FIELDS = {  # ORDER.json `delivery` key -> METRC sales delivery field
    "transporter_license": "TransporterFacilityLicenseNumber",
    "driver_employee_id": "DriverEmployeeId",
    "driver_name": "DriverName",
    "drivers_license": "DriversLicenseNumber",
    "phone": "PhoneNumberForQuestions",
    "vehicle_make": "VehicleMake",
    "vehicle_model": "VehicleModel",
    "vehicle_plate": "VehicleLicensePlateNumber",
    "recipient_name": "RecipientName",
    "street1": "RecipientAddressStreet1",
    "street2": "RecipientAddressStreet2",
    "city": "RecipientAddressCity",
    "county": "RecipientAddressCounty",
    "state": "RecipientAddressState",
    "postal_code": "RecipientAddressPostalCode",
    "zone_id": "RecipientZoneId",
    "planned_route": "PlannedRoute",
}


def delivery_body(receipt: dict[str, Any], order: dict[str, Any], timezone: str) -> dict[str, Any]:
    """A METRC sales delivery (`POST /sales/v2/deliveries`, `Sales/CreateDeliveries.bru`): the
    receipt's fields plus what the POS sent in the order's `delivery` object (times facility-local
    without offset, as for SalesDateTime). Missing fields go as null: METRC names what it needs."""
    given = order.get("delivery")
    info: dict[str, Any] = given if isinstance(given, dict) else {}
    body = dict(receipt)
    for ours, theirs in DELIVERY_FIELDS.items():
        body[theirs] = info.get(ours)
    for ours, theirs in (
        ("departure", "EstimatedDepartureDateTime"),
        ("arrival", "EstimatedArrivalDateTime"),
    ):
        when = info.get(ours)
        body[theirs] = facility_local(when, timezone) if isinstance(when, str) else None
    return body


def sale_jobs(
    asm: dict[str, Any],
    packages: dict[str, dict[str, Any]],
    timezone: str,
    repackage: bool,
    deliveries: bool = False,
) -> list[NewJob]:
    """The jobs for one sealed order: child packages first (weigh-outs into new containers),
    then its receipt. `packages` is central's inventory (label -> package)."""
    station, order_id = asm["station"], asm["order_id"]
    order = asm.get("order") or {}
    lines = {int(ln.get("line", i + 1)): ln for i, ln in enumerate(order.get("lines") or [])}
    sealed_at = str(asm.get("status_at") or asm.get("loaded_at"))
    external = external_number(station, order_id)
    jobs: list[NewJob] = []
    per_pkg: dict[str, dict[str, Any]] = {}
    for pick in asm.get("picks", []):
        line_no, uid = int(pick.get("line") or 0), str(pick["uid"])
        line = lines.get(line_no)
        pkg = packages.get(uid) or {}
        unit = str(pkg.get("UnitOfMeasureName") or "Each")
        weight = (asm.get("weights") or {}).get(f"{line_no}:{uid}")
        if weight is not None and unit in WEIGHT_UNITS_MG:
            qty = grams(int(weight["net_mg"]))
            child = weight.get("child_tag") or (asm.get("child_tags") or {}).get(f"{line_no}:{uid}")
            if repackage and child:
                jobs.append(_child_job(asm, uid, str(child), qty, sealed_at))
                uid, unit = str(child), "Grams"
            else:
                unit = "Grams"
            entry = per_pkg.setdefault(uid, {"qty": Decimal(0), "unit": unit, "qr": [], "amt": 0})
            entry["qty"] += qty
        else:
            entry = per_pkg.setdefault(uid, {"qty": Decimal(0), "unit": unit, "qr": [], "amt": 0})
            entry["qty"] += 1
            url = retail_id_url(str(pick.get("raw") or ""), uid)
            if url:
                entry["qr"].append(url)
        entry["amt"] += _amount(line)
    transactions = []
    for label, entry in per_pkg.items():
        tx = _transaction(label, entry["qty"], entry["unit"], Decimal(entry["amt"]))
        tx["QrCodes"] = entry["qr"] or None
        transactions.append(tx)
    customer = order.get("customer") or {}
    receipt = {
        "SalesDateTime": facility_local(sealed_at, timezone),
        "ExternalReceiptNumber": external,
        "SalesCustomerType": customer_type(order),
        "PatientLicenseNumber": customer.get("patient_license"),
        "CaregiverLicenseNumber": customer.get("caregiver_license"),
        "IdentificationMethod": None,
        "PatientRegistrationLocationId": None,
        "Transactions": transactions,
    }
    jobs.append(
        NewJob(
            key=f"sale:{station}:{order_id}",
            kind="sale",
            station=station,
            order_id=order_id,
            external=external,
            packages=sorted(per_pkg),
            body=(
                {"receipt": delivery_body(receipt, order, timezone), "endpoint": "deliveries"}
                if deliveries and order.get("channel") == "delivery"
                else {"receipt": receipt, "endpoint": "receipts"}
            )
            | {"channel": order.get("channel", "pickup")},
            origin_at=sealed_at,
        )
    )
    return jobs


def _child_job(asm: dict[str, Any], bulk: str, child: str, qty: Decimal, at: str) -> NewJob:
    station, order_id = asm["station"], asm["order_id"]
    body = {
        "Tag": child,
        "Location": None,
        "Sublocation": None,
        "Item": None,
        "UseSameItem": True,
        "Quantity": qty,
        "UnitOfMeasure": "Grams",
        "PatientLicenseNumber": None,
        "Note": f"weighed out at {station} for order {order_id}",
        "IsProductionBatch": False,
        "ProductionBatchNumber": None,
        "IsDonation": False,
        "IsTradeSample": False,
        "IsFinishedGood": False,
        "ProductRequiresRemediation": False,
        "ActualDate": at[:10],
        "ExpirationDate": None,
        "SellByDate": None,
        "UseByDate": None,
        "Ingredients": [{"Package": bulk, "Quantity": qty, "UnitOfMeasure": "Grams"}],
        "RequiredLabTestBatches": None,
        "ProcessingJobTypeId": None,
        "LabTestStageId": None,
    }
    return NewJob(
        key=f"child:{child}",
        kind="child",
        station=station,
        order_id=order_id,
        external=child,
        packages=sorted({bulk, child}),
        body={"package": body, "source": bulk},
        origin_at=at,
    )


def quantity_mg(qty: Decimal, unit: str) -> Decimal | None:
    """A weight quantity in mg (exact for the metric units), None for counted units."""
    factor = WEIGHT_UNITS_MG.get(unit)
    return None if factor is None else qty * factor
