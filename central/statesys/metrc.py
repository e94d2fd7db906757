"""METRC API v2 client (aiohttp), as the bridge uses it.

Sources (Metrc's own documentation; the request bodies are Metrc's published examples):
- Keys, hosts, idempotency: https://api-mo.metrc.com/Documentation/getting-started. HTTP Basic with
  username = the integrator ("vendor") key, password = the facility user's key; the facility is
  chosen per call with `?licenseNumber=`. "POST ... is not required to be idempotent": a POST is
  never blindly repeated (the bridge reads back first); PUT and DELETE are idempotent.
- Endpoint list: https://api-ri.metrc.com/Documentation and
  https://api-ca.metrc.com/Documentation/PrintableList; request/response shapes as scraped into
  github.com/thunkier/ThunkMetrc (`specs/generated/bruno/Sales/CreateReceipts.bru`,
  `GetReceiptsExternalByExternalNumber.bru`, `Packages/CreatePackagesPackages.bru`,
  `Packages/GetPackagesByLabel.bru`, `Facilities/GetFacilities.bru`) and the OpenMetrc OpenAPI file
  (github.com/OcelliSolutions/OpenMetrc, `open-metrc-swagger-v2.yaml`).
- At most 10 objects per write body (HTTP 413 above), v2 list pages of at most 20 records, HTTP 429
  with `Retry-After` over the rate limit: https://www.thcompliance.com/metrc/.

Quantities and money travel as exact JSON decimals (msgspec encodes `Decimal` as a number), never
floats; responses are decoded with `Decimal` for every non-integer number.
"""

from __future__ import annotations

import base64
import email.utils
import time
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any
from urllib.parse import quote

import aiohttp
import msgspec

from central.statesys.base import (
    AuthFailed,
    RateLimited,
    Rejected,
    Remote,
    Sale,
    StatePackage,
    Transient,
)

ENCODER = msgspec.json.Encoder(decimal_format="number")
DECODER = msgspec.json.Decoder(float_hook=Decimal)
MAX_OBJECTS = 10  # per write body (https://www.thcompliance.com/metrc/)
MAX_WINDOW = timedelta(hours=24)  # longest lastModifiedStart..End range asked for at once
PAGE_SIZE = 20  # v2 list pages (ThunkMetrc `Packages/GetAdjustReasons.bru` doc text)
HOLD_FLAGS = (
    "IsOnHold",
    "IsOnHoldCombined",
    "IsOnInvestigation",
    "IsOnInvestigationHold",
    "IsOnInvestigationRecall",
    "IsOnRecall",
    "IsOnRecallCombined",
)


def retry_after_seconds(value: str | None, default: float = 5.0) -> float:
    """`Retry-After`: delta-seconds or an HTTP date (RFC 9110 10.2.3)."""
    if not value:
        return default
    value = value.strip()
    if value.isdigit():
        return float(int(value))
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return default
    return max(0.0, when.timestamp() - time.time())


def error_messages(payload: Any) -> dict[int | None, str]:
    """METRC's error body -> {row: message}; a list of {row, message} or one {Message}."""
    messages: dict[int | None, str] = {}
    if isinstance(payload, list):
        for item in payload:
            if isinstance(item, dict):
                row = item.get("row", item.get("Row"))
                text = item.get("message", item.get("Message", ""))
                messages[row if isinstance(row, int) else None] = str(text)
    elif isinstance(payload, dict):
        text = payload.get("Message") or payload.get("message") or payload.get("error")
        if text:
            messages[None] = str(text)
    return messages or {None: str(payload)[:300]}


class MetrcClient:
    """One facility (license) at one METRC host."""

    name = "metrc"
    max_batch = MAX_OBJECTS

    def __init__(
        self,
        base_url: str,
        license: str,
        vendor_key: str,
        user_key: str,
        timeout_s: float = 15.0,
    ) -> None:
        self.base = base_url.rstrip("/")
        self.license = license
        token = base64.b64encode(f"{vendor_key}:{user_key}".encode()).decode()
        self._auth = {"Authorization": f"Basic {token}"}  # HTTP Basic, RFC 7617
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(headers=self._auth, timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _call(
        self,
        method: str,
        path: str,
        body: Any = None,
        params: dict[str, str] | None = None,
        missing_ok: bool = False,
    ) -> Any:
        query = {"licenseNumber": self.license, **(params or {})}
        data = None if body is None else ENCODER.encode(body)
        headers = {"Content-Type": "application/json"} if data is not None else {}
        try:
            async with self._http().request(
                method, self.base + path, params=query, data=data, headers=headers
            ) as resp:
                raw = await resp.read()
                status = resp.status
                retry_after = resp.headers.get("Retry-After")
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise Transient(f"{method} {path}: {type(exc).__name__}: {exc}") from exc
        payload: Any = None
        if raw.strip():
            try:
                payload = DECODER.decode(raw)
            except msgspec.DecodeError:
                payload = raw[:300].decode("utf-8", "replace")
        if status < 300:
            return payload
        if missing_ok and status in (404, 204):
            return None
        if status == 429:
            raise RateLimited(retry_after_seconds(retry_after), f"{method} {path}")
        if status in (401, 403):
            raise AuthFailed(status, f"{method} {path}: {error_messages(payload).get(None, '')}")
        if status >= 500 or status in (408,):
            raise Transient(f"{method} {path}: HTTP {status}: {str(payload)[:200]}")
        raise Rejected(status, error_messages(payload))

    @staticmethod
    def _ids(payload: Any, n: int) -> list[str]:
        ids = payload.get("Ids") if isinstance(payload, dict) else None
        if not isinstance(ids, list) or len(ids) != n:
            raise Transient(f"unexpected answer to a write of {n}: {str(payload)[:200]}")
        return [str(i) for i in ids]

    # -- sales ---------------------------------------------------------------------------------
    async def post_sales(self, sales: list[Sale]) -> list[str]:
        """`POST /sales/v2/receipts`: one receipt per sealed order, at most 10 per call."""
        assert 0 < len(sales) <= MAX_OBJECTS
        payload = await self._call("POST", "/sales/v2/receipts", [s.receipt for s in sales])
        return self._ids(payload, len(sales))

    async def find_sale(self, external: str) -> Remote | None:
        """`GET /sales/v2/receipts/external/{externalNumber}`: did the first try land?"""
        found = await self._call(
            "GET", f"/sales/v2/receipts/external/{quote(external, safe='')}", missing_ok=True
        )
        if not isinstance(found, dict) or found.get("Id") is None:
            return None
        return Remote(id=str(found["Id"]), archived=bool(found.get("ArchivedDate")), raw=found)

    async def archive_sale(self, remote_id: str, external: str) -> None:
        """`DELETE /sales/v2/receipts/{id}` "Archives a sales receipt" (idempotent)."""
        del external
        await self._call("DELETE", f"/sales/v2/receipts/{quote(remote_id, safe='')}")

    # -- deliveries (the receipt's fields plus driver, vehicle, recipient, route) -------------
    async def post_deliveries(self, sales: list[Sale]) -> list[str]:
        """`POST /sales/v2/deliveries` (Metrc's example `Sales/CreateDeliveries.bru`)."""
        assert 0 < len(sales) <= MAX_OBJECTS
        payload = await self._call("POST", "/sales/v2/deliveries", [s.receipt for s in sales])
        return self._ids(payload, len(sales))

    async def find_delivery(self, sale: Sale) -> Remote | None:
        """Deliveries have no look-up by our number: list the active ones of the sale's day
        (`GET /sales/v2/deliveries/active?salesDateStart=&salesDateEnd=`) and match on
        ExternalReceiptNumber, or on SalesDateTime and the package labels."""
        when = str(sale.receipt["SalesDateTime"])
        day = datetime.fromisoformat(when).date()
        params = {
            "salesDateStart": day.isoformat(),
            "salesDateEnd": (day + timedelta(days=1)).isoformat(),
        }
        labels = sorted(t["PackageLabel"] for t in sale.receipt["Transactions"])
        for found in await self._pages("/sales/v2/deliveries/active", params):
            theirs = sorted(str(t.get("PackageLabel")) for t in found.get("Transactions") or [])
            same = found.get("ExternalReceiptNumber") == sale.external or (
                str(found.get("SalesDateTime", ""))[:23] == when[:23] and theirs == labels
            )
            if same and found.get("Id") is not None:
                return Remote(id=str(found["Id"]), raw=found)
        return None

    async def archive_delivery(self, remote_id: str, external: str) -> None:
        """`DELETE /sales/v2/deliveries/{id}` (idempotent)."""
        del external
        await self._call("DELETE", f"/sales/v2/deliveries/{quote(remote_id, safe='')}")

    # -- packages ------------------------------------------------------------------------------
    async def create_child(self, body: dict[str, Any]) -> str:
        """`POST /packages/v2/`: a new package (the weighed-out container) from a source."""
        payload = await self._call("POST", "/packages/v2/", [body])
        return self._ids(payload, 1)[0]

    async def find_child(self, tag: str, source: str) -> Remote | None:
        """`GET /packages/v2/{label}`: a retried create landed if the tag exists from `source`."""
        found = await self._call("GET", f"/packages/v2/{quote(tag, safe='')}", missing_ok=True)
        if not isinstance(found, dict) or not found.get("Label"):
            return None
        sources = found.get("SourcePackageLabels") or ""
        labels = sources if isinstance(sources, list) else str(sources).split(",")
        if source not in [str(s).strip() for s in labels]:
            raise Rejected(409, {None: f"tag {tag} exists but was not made from {source}"})
        return Remote(id=str(found.get("Id", tag)), raw=found)

    async def move_location(self, label: str, location: str, note: str) -> None:
        """`PUT /packages/v2/location` (then `PUT /packages/v2/note`): both idempotent."""
        today = datetime.now(UTC).date().isoformat()
        await self._call(
            "PUT",
            "/packages/v2/location",
            [{"Label": label, "Location": location, "Sublocation": None, "MoveDate": today}],
        )
        if note:
            await self._call("PUT", "/packages/v2/note", [{"PackageLabel": label, "Note": note}])

    async def adjust(self, body: dict[str, Any]) -> None:
        """`PUT /packages/v2/adjust`: "set the final quantity for a package" (absolute)."""
        await self._call("PUT", "/packages/v2/adjust", [body])

    async def create_transfer(
        self, template: dict[str, Any], manifest: dict[str, Any] | None = None
    ) -> str:
        """`POST /transfers/v2/templates/outgoing` (permission "Manage Transfer Templates"): METRC
        creates no outgoing licensed transfer through the API, only its template, which a person
        registers in Metrc (Treez: "Metrc currently doesn't provide an API for outgoing
        transfers", https://support.treez.io/en/articles/9129448-outgoing-transfers-in-metrc).
        Template shape: ThunkMetrc's Transfers/CreateOutgoingTemplates example."""
        del manifest  # BioTrack's fields
        payload = await self._call("POST", "/transfers/v2/templates/outgoing", [template])
        return self._ids(payload, 1)[0]

    async def find_transfer(self, name: str) -> Remote | None:
        """A retried template landed if `GET /transfers/v2/templates/outgoing` lists one of its
        Name (the manifest id: central names each template after its order)."""
        for found in await self._pages("/transfers/v2/templates/outgoing", {}):
            if found.get("Name") == name and found.get("Id") is not None:
                return Remote(id=str(found["Id"]), raw=found)
        return None

    # -- lab results ---------------------------------------------------------------------------
    async def package_id(self, label: str) -> str | None:
        """METRC's numeric package Id (`GET /packages/v2/{label}`), which the lab-results call
        takes; None when the facility has no such package."""
        found = await self._call("GET", f"/packages/v2/{quote(label, safe='')}", missing_ok=True)
        if not isinstance(found, dict) or found.get("Id") is None:
            return None
        return str(found["Id"])

    async def lab_results(self, package_id: str) -> list[dict[str, Any]]:
        """`GET /labtests/v2/results?packageId=&licenseNumber=` (LabTests "GetResults", ThunkMetrc
        `specs/generated/bruno/LabTests/GetResults.bru`): one row per test, every page (pages of
        at most 20, `pageNumber`/`pageSize`: "Pagination is currently disabled by default. You
        can enable pagination on this query by specifying a value that does not exceed 20")."""
        return await self._pages("/labtests/v2/results", {"packageId": package_id})

    async def _pages(self, path: str, params: dict[str, str]) -> list[dict[str, Any]]:
        items: list[dict[str, Any]] = []
        page = 1
        while True:
            payload = await self._call(
                "GET", path, params={**params, "pageNumber": str(page), "pageSize": str(PAGE_SIZE)}
            )
            if isinstance(payload, list):
                return items + [p for p in payload if isinstance(p, dict)]
            data = payload.get("Data") if isinstance(payload, dict) else None
            if not isinstance(data, list):
                raise Transient(f"GET {path}: unexpected answer {str(payload)[:200]}")
            items += [p for p in data if isinstance(p, dict)]
            pages = payload.get("TotalPages")
            if not isinstance(pages, int) or page >= pages or not data:
                return items
            page += 1

    async def packages(self, since: str | None) -> list[StatePackage]:
        """`GET /packages/v2/active` and `/inactive` modified since `since`, in windows of at most
        24 hours (METRC's limit for a lastModified range); the first pull lists every active
        package and no inactive one (the facility's whole history)."""
        windows: list[dict[str, str]] = [{}]
        if since:
            end = datetime.now(UTC)
            try:
                start = datetime.fromisoformat(since)
            except ValueError:
                start = end - MAX_WINDOW
            start = start if start.tzinfo else start.replace(tzinfo=UTC)
            windows = []
            while True:
                stop = min(end, start + MAX_WINDOW)
                windows.append(
                    {
                        "lastModifiedStart": start.isoformat(timespec="seconds"),
                        "lastModifiedEnd": stop.isoformat(timespec="seconds"),
                    }
                )
                if stop >= end:
                    break
                start = stop
        out: list[StatePackage] = []
        for params, (path, active) in (
            (w, kind)
            for w in windows
            for kind in (("/packages/v2/active", True), ("/packages/v2/inactive", False))
        ):
            if not params and not active:
                continue
            for p in await self._pages(path, params):
                out.append(
                    StatePackage(
                        label=str(p.get("Label", "")),
                        quantity=Decimal(str(p.get("Quantity", 0))),
                        unit=str(p.get("UnitOfMeasureName", "")),
                        last_modified=str(p.get("LastModified", "")),
                        flags=p,
                        active=active,
                    )
                )
        return out

    async def facility(self) -> dict[str, Any]:
        """`GET /facilities/v2/`: the facilities this user may use; ours by license number."""
        payload = await self._call("GET", "/facilities/v2/")
        rows = payload if isinstance(payload, list) else (payload or {}).get("Data", [])
        for row in rows:
            lic = row.get("License") or {}
            if lic.get("Number") == self.license:
                return dict(row)
        raise Rejected(403, {None: f"this user key has no access to facility {self.license}"})
