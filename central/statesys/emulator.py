"""A METRC API emulator (aiohttp server) for the tests, the benchmark and `packstation simulate`.

It answers the endpoints the bridge uses with METRC's shapes (Metrc's documentation pages,
https://api-ri.metrc.com/Documentation, as scraped into github.com/thunkier/ThunkMetrc and
github.com/OcelliSolutions/OpenMetrc): HTTP Basic (vendor key : user key), `?licenseNumber=` per
call, per-facility state (packages with quantities, receipts, locations), validation errors as
METRC's `[{"row": i, "message": ...}]` with HTTP 400 (all-or-nothing per body), HTTP 413 above 10
objects, and POSTs that are NOT idempotent ("POST ... is not required to be idempotent",
https://api-mo.metrc.com/Documentation/getting-started): the same receipt posted twice is two
receipts, which the emulator counts as `duplicates`.

Faults are injected per method and path prefix (`inject(...)`, or `POST /_emulator/faults`):
`500` (answered before anything is stored), `timeout` (stored, then the answer is held past the
client's timeout: a timeout AFTER committing), `reset` (stored, then the connection is dropped),
`429` with `Retry-After`, `401`, `validation` (a 400 naming row 0), `revoke` (on
`GET /labtests/v2/results`: the lab revokes every result of the package asked for, dated today,
before the answer: a later pull sees `RevokedDate`). `delay_s` delays every answer (the
benchmark's 200 ms state system).

Lab results (`load_lab_results`, `revoke_result`, `POST /_emulator/labs/revoke`) are served by
`GET /labtests/v2/results?packageId=&licenseNumber=` in Metrc's shape (ThunkMetrc
`specs/generated/bruno/LabTests/GetResults.bru`): one row per test with the package's numeric
`PackageId`; unpaged unless `pageSize` is given ("Pagination is currently disabled by default ...
specifying a value that does not exceed 20"), then `{"Data", "Total", "TotalRecords", "PageSize",
"RecordsOnPage", "Page", "CurrentPage", "TotalPages"}`.

Nothing in production imports this module (an import contract in pyproject.toml).
"""

from __future__ import annotations

import asyncio
import base64
import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal
from fractions import Fraction
from typing import Any

import msgspec
from aiohttp import web

ENCODER = msgspec.json.Encoder(decimal_format="number")
DECODER = msgspec.json.Decoder(float_hook=Decimal)
UNITS_MG = {
    "Milligrams": Fraction(1),
    "Grams": Fraction(1000),
    "Kilograms": Fraction(1_000_000),
    "Ounces": Fraction("28349.523125"),
    "Pounds": Fraction("453592.37"),
}
CUSTOMER_TYPES = ("Consumer", "Patient", "Caregiver", "ExternalPatient", "NonResidentConsumer")
OFFSET = re.compile(r"(Z|[+-]\d\d:?\d\d)$")
ADJUST_REASONS = ("Drying", "Entry Error", "Scale Variance", "Theft", "Waste")


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def out_qty(q: Fraction) -> Decimal:
    """An exact quantity as a decimal (6 places when it does not terminate)."""
    d = Decimal(q.numerator) / Decimal(q.denominator)
    return d if d == d.quantize(Decimal("0.000001")) else d.quantize(Decimal("0.000001"))


def in_qty(value: Any) -> Fraction | None:
    if isinstance(value, bool) or not isinstance(value, int | Decimal | str):
        return None
    try:
        return Fraction(str(value))
    except (ValueError, ZeroDivisionError):
        return None


def convert(qty: Fraction, unit: str, to: str) -> Fraction | None:
    """qty in `unit` expressed in `to`; None when the two cannot be converted (Each vs Grams)."""
    if unit == to:
        return qty
    if unit in UNITS_MG and to in UNITS_MG:
        return qty * UNITS_MG[unit] / UNITS_MG[to]
    return None


@dataclass
class Fault:
    method: str
    path: str  # a prefix of the request path
    kind: str  # 500, timeout, reset, 429, 401, validation, revoke
    count: int = 1
    retry_after: int = 1
    hang_s: float = 3.0


@dataclass
class Facility:
    license: str
    flags: dict[str, Any] = field(default_factory=dict)
    packages: dict[str, dict[str, Any]] = field(default_factory=dict)
    quantities: dict[str, Fraction] = field(default_factory=dict)
    receipts: dict[int, dict[str, Any]] = field(default_factory=dict)
    deliveries: dict[int, dict[str, Any]] = field(default_factory=dict)
    locations: set[str] = field(default_factory=lambda: {"Vault", "Quarantine"})
    adjustments: list[dict[str, Any]] = field(default_factory=list)
    templates: dict[int, dict[str, Any]] = field(
        default_factory=dict
    )  # outgoing transfer templates
    lab_results: dict[str, list[dict[str, Any]]] = field(default_factory=dict)  # label -> rows


class Problem(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(str(body))
        self.status = status
        self.body = body


class MetrcEmulator:
    """The emulator's state and its aiohttp application."""

    def __init__(self, vendor_key: str = "vendor-key", user_key: str = "user-key") -> None:
        self.vendor_key = vendor_key
        self.user_key = user_key
        self.facilities: dict[str, Facility] = {}
        self.faults: list[Fault] = []
        self.delay_s = 0.0
        self.calls: dict[str, int] = {}
        self.writes: list[tuple[str, str, list[str]]] = []  # committed writes, in order
        self._next_id = 1000
        self._lock = threading.Lock()
        self.app = web.Application(client_max_size=16 * 1024 * 1024)
        self.app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner: web.AppRunner | None = None
        self.url = ""

    # -- set-up ---------------------------------------------------------------------------
    def facility(self, license: str, **flags: Any) -> Facility:
        with self._lock:
            fac = self.facilities.get(license)
            if fac is None:
                fac = self.facilities[license] = Facility(license)
            fac.flags.update(flags)
            return fac

    def load_packages(self, license: str, packages: list[dict[str, Any]]) -> None:
        """Packages in METRC's shape (INVENTORY.json works: its extra fields are kept)."""
        fac = self.facility(license)
        with self._lock:
            for pkg in packages:
                label = str(pkg["Label"])
                qty = in_qty(pkg.get("Quantity", 1))
                fac.quantities[label] = qty if qty is not None else Fraction(1)
                fac.packages[label] = {
                    "Id": self._id(),
                    **{k: v for k, v in pkg.items() if k != "Quantity"},
                    "UnitOfMeasureName": pkg.get("UnitOfMeasureName", "Each"),
                    "LastModified": _now(),
                }

    def load_lab_results(self, license: str, label: str, rows: list[dict[str, Any]]) -> None:
        """Lab test rows (Metrc's GetResults fields) for a loaded package; `PackageId` is set."""
        fac = self.facility(license)
        with self._lock:
            pid = fac.packages[label]["Id"]
            kept = fac.lab_results.setdefault(label, [])
            kept += [{**row, "PackageId": pid} for row in rows]

    def revoke_result(self, license: str, result_id: int, when: str | None = None) -> int:
        """The lab revokes a result (every row of that LabTestResultId); the rows changed."""
        with self._lock:
            return self._revoke(self.facilities[license], result_id, when)

    @staticmethod
    def _revoke(fac: Facility, result_id: int | None, when: str | None, label: str = "") -> int:
        day = when or datetime.now(UTC).date().isoformat()
        n = 0
        for tag, rows in fac.lab_results.items():
            for row in rows:
                if row.get("LabTestResultId") == result_id or (label and tag == label):
                    row["RevokedDate"] = day
                    n += 1
        return n

    def inject(self, method: str, path: str, kind: str, count: int = 1, **kw: Any) -> None:
        with self._lock:
            self.faults.append(Fault(method.upper(), path, str(kind), count, **kw))

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    # -- what the tests and the summary count ------------------------------------------------
    def stats(self, license: str | None = None) -> dict[str, Any]:
        with self._lock:
            facs = [self.facilities[license]] if license else list(self.facilities.values())
            receipts = [r for f in facs for r in (*f.receipts.values(), *f.deliveries.values())]
            externals: dict[str, int] = {}
            for r in receipts:
                ext = r.get("ExternalReceiptNumber")
                if ext:
                    externals[ext] = externals.get(ext, 0) + 1
            return {
                "receipts": len(receipts),
                "active_receipts": sum(1 for r in receipts if not r["ArchivedDate"]),
                "archived": sum(1 for r in receipts if r["ArchivedDate"]),
                "deliveries": sum(len(f.deliveries) for f in facs),
                "duplicates": sum(n - 1 for n in externals.values()),
                "externals": sorted(externals),
                "calls": dict(self.calls),
            }

    def quantity(self, license: str, label: str) -> Fraction | None:
        with self._lock:
            return self.facilities[license].quantities.get(label)

    def quantities(self, license: str) -> dict[str, Fraction]:
        with self._lock:
            return dict(self.facilities[license].quantities)

    # -- serving ------------------------------------------------------------------------------
    async def start(self, host: str = "127.0.0.1", port: int = 0) -> str:
        self._runner = web.AppRunner(self.app, access_log=None, shutdown_timeout=1.0)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        server = site._server
        assert server is not None
        sockname = server.sockets[0].getsockname()  # type: ignore[attr-defined]
        self.url = f"http://{host}:{sockname[1]}"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def _id(self) -> int:
        self._next_id += 1
        return self._next_id

    def _fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.method in (method, "*") and path.startswith(fault.path):
                    fault.count -= 1
                    if fault.count <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    def _auth(self, request: web.Request) -> bool:
        header = request.headers.get("Authorization", "")
        if not header.startswith("Basic "):
            return False
        try:
            user, _, password = base64.b64decode(header[6:]).decode().partition(":")
        except ValueError:
            return False
        return (user, password) == (self.vendor_key, self.user_key)

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        path, method = request.path, request.method
        if path.startswith("/_emulator/"):
            return await self._control(request)
        name = f"{method} {re.sub(r'/[^/]*[0-9][^/]*$', '/{id}', path)}"
        self.calls[name] = self.calls.get(name, 0) + 1
        if self.delay_s:
            await asyncio.sleep(self.delay_s)
        fault = self._fault(method, path)
        if fault is not None and fault.kind in ("500", "429", "401", "validation"):
            return self._fault_answer(fault)
        revoke = fault is not None and fault.kind == "revoke"
        if not self._auth(request):
            return self._json(401, {"Message": "Authorization has been denied for this request."})
        license = request.query.get("licenseNumber", "")
        if license not in self.facilities:
            return self._json(401, {"Message": f"No access to facility {license or '(none)'}"})
        try:
            raw = await request.read()
            body = DECODER.decode(raw) if raw.strip() else None
        except msgspec.DecodeError:
            return self._json(400, {"Message": "The request is invalid: body is not JSON."})
        try:
            with self._lock:
                route = self._pick_route(self.facilities[license], path, request, revoke)
                status, answer = route(self.facilities[license], method, path, body, request)
                if method != "GET" and status < 300:
                    labels = _labels(body, path)
                    if method == "DELETE":  # an archive: the labels of its receipt
                        rid = path.rsplit("/", 1)[1]
                        fac = self.facilities[license]
                        table = fac.deliveries if "deliveries" in path else fac.receipts
                        rec = table.get(int(rid)) if rid.isdigit() else None
                        labels = [t["PackageLabel"] for t in (rec or {}).get("Transactions", [])]
                    self.writes.append((method, path, labels))
        except Problem as exc:
            return self._json(exc.status, exc.body)
        if fault is not None and fault.kind == "timeout":
            await asyncio.sleep(fault.hang_s)  # committed: the client gives up before this
        if fault is not None and fault.kind == "reset":
            if request.transport is not None:
                request.transport.abort()
            return web.Response(status=500)
        return self._json(status, answer)

    @staticmethod
    def _json(status: int, body: Any, headers: dict[str, str] | None = None) -> web.Response:
        return web.Response(
            status=status,
            body=ENCODER.encode(body),
            content_type="application/json",
            headers=headers,
        )

    def _fault_answer(self, fault: Fault) -> web.Response:
        if fault.kind == "500":
            return self._json(500, {"Message": "An error has occurred (injected)."})
        if fault.kind == "429":
            return self._json(
                429,
                {"Message": "Too many requests (injected)."},
                {"Retry-After": str(fault.retry_after)},
            )
        if fault.kind == "401":
            return self._json(401, {"Message": "Authorization has been denied (injected)."})
        return self._json(400, [{"row": 0, "message": "Injected validation error."}])

    async def _control(self, request: web.Request) -> web.Response:
        if request.path == "/_emulator/stats":
            return self._json(200, self.stats(request.query.get("licenseNumber")))
        if request.path == "/_emulator/labs/revoke" and request.method == "POST":
            spec = DECODER.decode(await request.read())
            n = self.revoke_result(
                str(spec["licenseNumber"]), int(spec["LabTestResultId"]), spec.get("RevokedDate")
            )
            return self._json(200, {"revoked": n})
        if request.path == "/_emulator/faults" and request.method == "POST":
            spec = DECODER.decode(await request.read())
            self.inject(
                spec["method"],
                spec["path"],
                str(spec["kind"]),
                int(spec.get("count", 1)),
                retry_after=int(spec.get("retry_after", 1)),
                hang_s=float(spec.get("hang_s", 3.0)),
            )
            return self._json(200, {"faults": len(self.faults)})
        return self._json(404, {"Message": "no such control"})

    # -- METRC endpoints ----------------------------------------------------------------------
    def _route(
        self, fac: Facility, method: str, path: str, body: Any, request: web.Request
    ) -> tuple[int, Any]:
        path = path.rstrip("/") or "/"
        if (method, path) == ("GET", "/facilities/v2"):
            return 200, self._facilities()
        if (method, path) == ("POST", "/sales/v2/receipts"):
            return 200, self._post_receipts(fac, self._objects(body))
        if path.startswith("/sales/v2/deliveries"):
            return self._route_deliveries(fac, method, path, body, request)
        if method == "GET" and path.startswith("/sales/v2/receipts/external/"):
            return self._by_external(fac, path.rsplit("/", 1)[1])
        if method == "DELETE" and path.startswith("/sales/v2/receipts/"):
            return self._archive(fac, path.rsplit("/", 1)[1])
        if (method, path) == ("POST", "/packages/v2"):
            return 200, self._create_packages(fac, self._objects(body))
        if (method, path) == ("PUT", "/packages/v2/location"):
            self._locations(fac, self._objects(body))
            return 200, None
        if (method, path) == ("PUT", "/packages/v2/note"):
            self._notes(fac, self._objects(body))
            return 200, None
        if (method, path) == ("PUT", "/packages/v2/adjust"):
            self._adjust(fac, self._objects(body))
            return 200, None
        if (method, path) == ("GET", "/packages/v2/adjust/reasons"):
            return 200, {"Data": [{"Name": n, "RequiresNote": False} for n in ADJUST_REASONS]}
        if method == "GET" and path in ("/packages/v2/active", "/packages/v2/inactive"):
            return 200, self._list(fac, path.endswith("active") and "inactive" not in path, request)
        if method == "GET" and path.startswith("/packages/v2/"):
            label = path.rsplit("/", 1)[1]
            if label not in fac.packages:
                return 404, {"Message": f"Package {label} not found."}
            return 200, self._package(fac, label)
        raise Problem(404, {"Message": f"No HTTP resource was found that matches {path}."})

    def _route_transfers(
        self, fac: Facility, method: str, path: str, body: Any, request: web.Request
    ) -> tuple[int, Any]:
        if path.rstrip("/") == "/transfers/v2/templates/outgoing":
            if method == "POST":
                return 200, {"Ids": self._templates(fac, self._objects(body))}
            if method == "GET":
                return 200, {"Data": list(fac.templates.values())}
        raise Problem(404, {"Message": f"No HTTP resource was found that matches {path}."})

    def _pick_route(self, fac: Facility, path: str, request: web.Request, revoke: bool) -> Any:
        if path.startswith("/transfers/"):
            return self._route_transfers
        if not path.startswith("/labtests/"):
            return self._route
        if revoke:  # the injected revocation: the asked package's results, before the answer
            label = self._label_of(fac, request.query.get("packageId", ""))
            if label:
                self._revoke(fac, None, None, label)
        return self._route_labtests

    @staticmethod
    def _label_of(fac: Facility, package_id: str) -> str | None:
        if not package_id.isdigit():
            return None
        return next((k for k, p in fac.packages.items() if p["Id"] == int(package_id)), None)

    def _route_labtests(
        self, fac: Facility, method: str, path: str, body: Any, request: web.Request
    ) -> tuple[int, Any]:
        """`GET /labtests/v2/results?packageId=` (LabTests/GetResults)."""
        if (method, path.rstrip("/")) != ("GET", "/labtests/v2/results"):
            raise Problem(404, {"Message": f"No HTTP resource was found that matches {path}."})
        raw_id = request.query.get("packageId", "")
        if not raw_id.isdigit():
            raise Problem(400, {"Message": "The request is invalid: packageId is required."})
        label = self._label_of(fac, raw_id)
        if label is None:
            raise Problem(400, {"Message": f"Package {raw_id} not found for this facility."})
        rows = [dict(r) for r in fac.lab_results.get(label, [])]
        size_raw = request.query.get("pageSize", "")
        if not size_raw:
            return 200, {"Data": rows, "Total": len(rows), "TotalPages": 1}
        if not size_raw.isdigit() or not 1 <= int(size_raw) <= 20:
            raise Problem(400, {"Message": "pageSize must be a number from 1 to 20."})
        size = int(size_raw)
        number = max(1, int(request.query.get("pageNumber", "1") or 1))
        page = rows[(number - 1) * size : number * size]
        return 200, {
            "Data": page,
            "Total": len(rows),
            "TotalRecords": len(rows),
            "PageSize": size,
            "RecordsOnPage": len(page),
            "Page": number,
            "CurrentPage": number,
            "TotalPages": max(1, -(-len(rows) // size)),
        }

    def _route_deliveries(
        self, fac: Facility, method: str, path: str, body: Any, request: web.Request
    ) -> tuple[int, Any]:
        if (method, path) == ("POST", "/sales/v2/deliveries"):
            return 200, self._post_receipts(fac, self._objects(body), fac.deliveries)
        if (method, path) == ("GET", "/sales/v2/deliveries/active"):
            return 200, self._deliveries(fac, request)
        if method == "DELETE" and path.startswith("/sales/v2/deliveries/"):
            return self._archive(fac, path.rsplit("/", 1)[1], fac.deliveries)
        raise Problem(404, {"Message": f"No HTTP resource was found that matches {path}."})

    @staticmethod
    def _objects(body: Any) -> list[dict[str, Any]]:
        if not isinstance(body, list) or not all(isinstance(o, dict) for o in body):
            raise Problem(400, [{"row": None, "message": "The request body must be an array."}])
        if len(body) > 10:
            raise Problem(413, {"Message": "Request contains more than 10 objects."})
        return body

    def _facilities(self) -> list[dict[str, Any]]:
        return [
            {
                "FacilityId": i + 1,
                "Name": f"Facility {lic}",
                "License": {"Number": lic, "LicenseType": "Retailer"},
                "FacilityType": {"IsRetail": True, **fac.flags},
            }
            for i, (lic, fac) in enumerate(sorted(self.facilities.items()))
        ]

    def _package(self, fac: Facility, label: str) -> dict[str, Any]:
        qty = fac.quantities[label]
        pkg = dict(fac.packages[label])
        pkg["Quantity"] = out_qty(qty)
        pkg.setdefault("ArchivedDate", None)
        pkg.setdefault("FinishedDate", None)  # a package sold out stays active until finished
        return pkg

    def _check_package(
        self, fac: Facility, label: Any, qty_raw: Any, unit: Any, taken: dict[str, Fraction]
    ) -> tuple[str, Fraction] | str:
        if not isinstance(label, str) or label not in fac.packages:
            return f"Package {label} does not exist or is not active."
        pkg = fac.packages[label]
        qty = in_qty(qty_raw)
        if qty is None or qty <= 0:
            return f"Quantity for package {label} must be a number greater than 0."
        own = convert(qty, str(unit), str(pkg["UnitOfMeasureName"]))
        if own is None:
            return f"Unit of measure {unit} is not compatible with {pkg['UnitOfMeasureName']}."
        if pkg.get("IsOnHold"):
            return f"Package {label} is on hold."
        left = fac.quantities[label] - taken.get(label, Fraction(0))
        if own > left:
            return f"Package {label} has {out_qty(left)} {pkg['UnitOfMeasureName']} left; {out_qty(own)} requested."
        taken[label] = taken.get(label, Fraction(0)) + own
        return label, own

    def _deliveries(self, fac: Facility, request: web.Request) -> dict[str, Any]:
        start = request.query.get("salesDateStart", "")
        end = request.query.get("salesDateEnd", "9999")
        rows = [
            d
            for d in fac.deliveries.values()
            if not d["ArchivedDate"] and start <= d["SalesDateTime"][:10] < end
        ]
        return {"Data": rows, "Total": len(rows), "PageNumber": 1, "PageSize": 20, "TotalPages": 1}

    def _post_receipts(
        self,
        fac: Facility,
        receipts: list[dict[str, Any]],
        into: dict[int, dict[str, Any]] | None = None,
    ) -> dict[str, Any]:
        errors: list[dict[str, Any]] = []
        taken: dict[str, Fraction] = {}
        for row, rec in enumerate(receipts):
            when = rec.get("SalesDateTime")
            if not isinstance(when, str) or OFFSET.search(when):
                errors.append(
                    {
                        "row": row,
                        "message": "SalesDateTime must be the facility's local time without a time zone.",
                    }
                )
                continue
            try:
                datetime.fromisoformat(when)
            except ValueError:
                errors.append({"row": row, "message": f"SalesDateTime {when!r} is not a date."})
                continue
            if rec.get("SalesCustomerType") not in CUSTOMER_TYPES:
                errors.append({"row": row, "message": "SalesCustomerType is invalid."})
                continue
            txs = rec.get("Transactions")
            if not isinstance(txs, list) or not txs:
                errors.append({"row": row, "message": "A receipt needs at least one transaction."})
                continue
            for tx in txs:
                got = self._check_package(
                    fac, tx.get("PackageLabel"), tx.get("Quantity"), tx.get("UnitOfMeasure"), taken
                )
                if isinstance(got, str):
                    errors.append({"row": row, "message": got})
                    break
        if errors:
            raise Problem(400, errors)
        ids = []
        for rec in receipts:
            rid = self._id()
            for tx in rec["Transactions"]:
                label = tx["PackageLabel"]
                own = convert(
                    in_qty(tx["Quantity"]) or Fraction(0),
                    str(tx["UnitOfMeasure"]),
                    str(fac.packages[label]["UnitOfMeasureName"]),
                )
                fac.quantities[label] -= own or Fraction(0)
                fac.packages[label]["LastModified"] = _now()
            (fac.receipts if into is None else into)[rid] = {
                "Id": rid,
                "ReceiptNumber": str(rid),
                **rec,
                "TotalPackages": len(rec["Transactions"]),
                "TotalPrice": sum(
                    Decimal(str(t.get("TotalAmount") or 0)) for t in rec["Transactions"]
                ),
                "IsFinal": False,
                "ArchivedDate": None,
                "RecordedDateTime": _now(),
                "RecordedByUserName": "emulator",
                "LastModified": _now(),
            }
            ids.append(rid)
        return {"Ids": ids, "Warnings": None}

    def _by_external(self, fac: Facility, external: str) -> tuple[int, Any]:
        for rec in fac.receipts.values():
            if rec.get("ExternalReceiptNumber") == external:
                return 200, rec
        return 404, {"Message": f"Receipt with external number {external} not found."}

    def _archive(
        self, fac: Facility, rid: str, table: dict[int, dict[str, Any]] | None = None
    ) -> tuple[int, Any]:
        rec = (fac.receipts if table is None else table).get(int(rid)) if rid.isdigit() else None
        if rec is None:
            raise Problem(400, [{"row": 0, "message": f"Receipt {rid} not found."}])
        if not rec["ArchivedDate"]:  # archiving returns the quantities to the packages
            rec["ArchivedDate"] = _now()
            for tx in rec["Transactions"]:
                label = tx["PackageLabel"]
                back = convert(
                    in_qty(tx["Quantity"]) or Fraction(0),
                    str(tx["UnitOfMeasure"]),
                    str(fac.packages[label]["UnitOfMeasureName"]),
                )
                fac.quantities[label] += back or Fraction(0)
                fac.packages[label]["LastModified"] = _now()
        return 200, None

    def _create_packages(self, fac: Facility, bodies: list[dict[str, Any]]) -> dict[str, Any]:
        if not (
            fac.flags.get("CanCreateDerivedPackages") or fac.flags.get("CanCreatePartialPackages")
        ):
            raise Problem(400, [{"row": 0, "message": "This facility may not create packages."}])
        errors: list[dict[str, Any]] = []
        taken: dict[str, Fraction] = {}
        for row, body in enumerate(bodies):
            tag = body.get("Tag")
            if not isinstance(tag, str) or len(tag) != 24:
                errors.append({"row": row, "message": f"Tag {tag} is not a valid package tag."})
            elif tag in fac.packages:
                errors.append({"row": row, "message": f"Tag {tag} is already in use."})
            elif in_qty(body.get("Quantity")) is None:
                errors.append({"row": row, "message": "Quantity is required."})
            else:
                for ing in body.get("Ingredients") or []:
                    got = self._check_package(
                        fac,
                        ing.get("Package"),
                        ing.get("Quantity"),
                        ing.get("UnitOfMeasure"),
                        taken,
                    )
                    if isinstance(got, str):
                        errors.append({"row": row, "message": got})
                        break
        if errors:
            raise Problem(400, errors)
        ids = []
        for body in bodies:
            sources = []
            for ing in body["Ingredients"]:
                label = ing["Package"]
                own = convert(
                    in_qty(ing["Quantity"]) or Fraction(0),
                    str(ing["UnitOfMeasure"]),
                    str(fac.packages[label]["UnitOfMeasureName"]),
                )
                fac.quantities[label] -= own or Fraction(0)
                fac.packages[label]["LastModified"] = _now()
                sources.append(label)
            first = fac.packages[sources[0]] if sources else {}
            pid = self._id()
            tag = body["Tag"]
            fac.quantities[tag] = in_qty(body["Quantity"]) or Fraction(0)
            fac.packages[tag] = {
                **{k: v for k, v in first.items() if k not in ("Id", "Label", "Location")},
                "Id": pid,
                "Label": tag,
                "UnitOfMeasureName": body["UnitOfMeasure"],
                "SourcePackageLabels": ", ".join(sources),
                "OriginalPackageQuantity": out_qty(fac.quantities[tag]),
                "PackagedDate": body.get("ActualDate"),
                "Note": body.get("Note"),
                "LastModified": _now(),
            }
            ids.append(pid)
        return {"Ids": ids, "Warnings": None}

    def _labels(self, fac: Facility, bodies: list[dict[str, Any]], key: str) -> None:
        errors = [
            {"row": row, "message": f"Package {b.get(key)} not found."}
            for row, b in enumerate(bodies)
            if b.get(key) not in fac.packages
        ]
        if errors:
            raise Problem(400, errors)

    def _templates(self, fac: Facility, bodies: list[dict[str, Any]]) -> list[int]:
        """Outgoing transfer templates (Transfers/CreateOutgoingTemplates): every destination
        names its recipient's license and at least one package the facility holds; a gross
        weight, when given, is a number >= 0 with its unit."""
        for row, b in enumerate(bodies):
            dests = b.get("Destinations")
            if not b.get("Name") or not isinstance(dests, list) or not dests:
                raise Problem(400, [{"row": row, "message": "Name and Destinations are required."}])
            for d in dests:
                pkgs = d.get("Packages") if isinstance(d, dict) else None
                if not d.get("RecipientLicenseNumber") or not isinstance(pkgs, list) or not pkgs:
                    msg = "Each destination needs RecipientLicenseNumber and Packages."
                    raise Problem(400, [{"row": row, "message": msg}])
                self._labels(fac, pkgs, "PackageLabel")
                for p in pkgs:
                    weight = p.get("GrossWeight")
                    if weight is not None and (
                        not isinstance(weight, int | Decimal)
                        or weight < 0
                        or not p.get("GrossUnitOfWeightName")
                    ):
                        msg = f"Package {p.get('PackageLabel')}: bad GrossWeight."
                        raise Problem(400, [{"row": row, "message": msg}])
        ids = []
        for b in bodies:
            tid = self._id()
            fac.templates[tid] = {"Id": tid, **b, "CreatedDateTime": _now()}
            ids.append(tid)
        return ids

    def _locations(self, fac: Facility, bodies: list[dict[str, Any]]) -> None:
        self._labels(fac, bodies, "Label")
        for row, b in enumerate(bodies):
            if b.get("Location") not in fac.locations:
                raise Problem(
                    400, [{"row": row, "message": f"Location {b.get('Location')} not found."}]
                )
        for b in bodies:
            fac.packages[b["Label"]].update(Location=b["Location"], LastModified=_now())

    def _notes(self, fac: Facility, bodies: list[dict[str, Any]]) -> None:
        self._labels(fac, bodies, "PackageLabel")
        for b in bodies:
            fac.packages[b["PackageLabel"]].update(Note=b.get("Note"), LastModified=_now())

    def _adjust(self, fac: Facility, bodies: list[dict[str, Any]]) -> None:
        """`PUT /packages/v2/adjust`: set the package's final quantity (absolute)."""
        self._labels(fac, bodies, "Label")
        for row, b in enumerate(bodies):
            if b.get("AdjustmentReason") not in ADJUST_REASONS:
                raise Problem(400, [{"row": row, "message": "AdjustmentReason is invalid."}])
            qty = in_qty(b.get("Quantity"))
            pkg = fac.packages[b["Label"]]
            own = (
                None
                if qty is None
                else convert(qty, str(b.get("UnitOfMeasure")), pkg["UnitOfMeasureName"])
            )
            if own is None or own < 0:
                raise Problem(400, [{"row": row, "message": "Quantity or unit is invalid."}])
        for b in bodies:
            pkg = fac.packages[b["Label"]]
            qty = in_qty(b["Quantity"]) or Fraction(0)
            fac.quantities[b["Label"]] = convert(
                qty, str(b["UnitOfMeasure"]), pkg["UnitOfMeasureName"]
            ) or Fraction(0)
            pkg["LastModified"] = _now()
            fac.adjustments.append(dict(b))

    def _list(self, fac: Facility, active: bool, request: web.Request) -> dict[str, Any]:
        start = request.query.get("lastModifiedStart")
        end = request.query.get("lastModifiedEnd")
        rows = []
        for label in sorted(fac.packages):
            is_active = not fac.packages[label].get("FinishedDate")
            if is_active != active:
                continue
            modified = fac.packages[label]["LastModified"]
            if start and modified < start:
                continue
            if end and modified > end:
                continue
            rows.append(self._package(fac, label))
        size = max(1, min(20, int(request.query.get("pageSize", "20") or 20)))
        number = max(1, int(request.query.get("pageNumber", "1") or 1))
        pages = max(1, -(-len(rows) // size))
        return {
            "Data": rows[(number - 1) * size : number * size],
            "Total": len(rows),
            "PageNumber": number,
            "PageSize": size,
            "TotalPages": pages,
        }


def _labels(body: Any, path: str) -> list[str]:
    """The package labels a committed write touched (for order checks)."""
    if path.startswith("/sales/v2/receipts/") and not isinstance(body, list):
        return []
    out: list[str] = []
    for obj in body if isinstance(body, list) else []:
        for tx in obj.get("Transactions") or []:
            out.append(str(tx.get("PackageLabel")))
        for ing in obj.get("Ingredients") or []:
            out.append(str(ing.get("Package")))
        for dest in obj.get("Destinations") or []:  # a transfer template
            out += [str(p.get("PackageLabel")) for p in dest.get("Packages") or []]
        for key in ("Tag", "Label", "PackageLabel"):
            if obj.get(key):
                out.append(str(obj[key]))
    return out


class ThreadedEmulator:
    """The emulator on its own event loop in a thread, for callers without a loop (the simulated
    day, subprocess tests, the benchmark's stations)."""

    def __init__(self, emulator: MetrcEmulator | None = None, port: int = 0) -> None:
        self.emulator = emulator or MetrcEmulator()
        self.port = port
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.url = ""

    def start(self) -> str:
        self._thread.start()
        future = asyncio.run_coroutine_threadsafe(self.emulator.start(port=self.port), self.loop)
        self.url = future.result(10)
        return self.url

    def stop(self) -> None:
        if self._thread.is_alive():
            asyncio.run_coroutine_threadsafe(self.emulator.stop(), self.loop).result(10)
            self.loop.call_soon_threadsafe(self.loop.stop)
            self._thread.join(10)
        self.loop.close()
