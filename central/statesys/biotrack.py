"""BioTrackTHC (classic JSON API 4.0) behind the same interface as METRC.

Sources: openthc/cre-adapter `lib/BioTrack.php` (https://github.com/openthc/cre-adapter), openthc/pos
`lib/Controller/POS/Checkout/Commit.php` (https://github.com/openthc/pos), the BioTrackTHC JSON API
manual vol. 4 (https://vdocuments.us/biotrackthc-api-bio-tech-medical-software-inc-biotrackthc-json-api-2015-bio-tech.html).

- One POST endpoint; `action` selects the call; every request carries `API: "4.0"`, `sessionid`
  (from `login` with `license_number, username, password`) and a `nonce`. An expired session comes
  back as an error matching /session.+expired/: log in again and repeat.
- `nonce_replay {nonce}` returns the outcome of an earlier request by its nonce: the bridge derives
  the nonce from the job (the ExternalReceiptNumber, the child tag), so a retry after a timeout asks
  `nonce_replay` first and never dispenses twice.
- `sale_dispense {terminal_id, sale_time (Unix s), data: [{barcodeid, quantity, price}]}` returns
  `transactionid`; `sale_void {transactionid}`; `inventory_split {data: [{barcodeid,
  remove_quantity, remove_quantity_uom}]}` returns the new `barcode_id`s; `inventory_move {data:
  [{barcodeid, room}]}`; `inventory_adjust {data: {barcodeid, quantity, quantity_uom, type,
  reason}}` (type 4 = Correction, cre-adapter `$adj_list`); `sync_inventory` lists the lots;
  `inventory_manifest {location, employee_id, vehicle_id, stop_overview: [...]}` files a wholesale
  transfer's manifest (`create_transfer`).

BioTrack assigns the new id of a split itself; the station's scanned container tag is sent as the
split's note, and the id BioTrack returns is the child's.
"""

from __future__ import annotations

import hashlib
import re
from datetime import datetime
from decimal import Decimal
from typing import Any

import aiohttp
import msgspec

from central.statesys.base import (
    AuthFailed,
    Rejected,
    Remote,
    Sale,
    StatePackage,
    Transient,
)

ENCODER = msgspec.json.Encoder(decimal_format="number")
DECODER = msgspec.json.Decoder(float_hook=Decimal)
EXPIRED = re.compile(r"session.+expired", re.IGNORECASE)


def nonce_for(key: str) -> str:
    """The same nonce for every try of one job (`nonce_replay` then finds the first)."""
    return hashlib.sha1(f"packstation:{key}".encode()).hexdigest()


class BioTrackClient:
    name = "biotrack"
    max_batch = 1  # one sale_dispense per order (its nonce is the order's)

    def __init__(
        self,
        base_url: str,
        license: str,
        username: str,
        password: str,
        timeout_s: float = 15.0,
        terminal_id: str = "packstation",
    ) -> None:
        self.url = base_url
        self.license = license
        self.username = username
        self.password = password
        self.terminal_id = terminal_id
        self._timeout = aiohttp.ClientTimeout(total=timeout_s)
        self._session: aiohttp.ClientSession | None = None
        self._sessionid = ""

    def _http(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(timeout=self._timeout)
        return self._session

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()

    async def _post(self, body: dict[str, Any]) -> dict[str, Any]:
        try:
            async with self._http().post(
                self.url,
                data=ENCODER.encode({"API": "4.0", **body}),
                headers={"Content-Type": "text/JSON"},
            ) as resp:
                raw, status = await resp.read(), resp.status
        except (TimeoutError, aiohttp.ClientError) as exc:
            raise Transient(f"{body.get('action')}: {type(exc).__name__}: {exc}") from exc
        if status >= 500:
            raise Transient(f"{body.get('action')}: HTTP {status}")
        if status in (401, 403):
            raise AuthFailed(status, str(body.get("action")))
        try:
            answer = DECODER.decode(raw)
        except msgspec.DecodeError as exc:
            raise Transient(f"{body.get('action')}: not JSON: {raw[:100]!r}") from exc
        return answer if isinstance(answer, dict) else {"success": 0, "error": str(answer)}

    async def _login(self) -> None:
        answer = await self._post(
            {
                "action": "login",
                "license_number": self.license,
                "username": self.username,
                "password": self.password,
            }
        )
        if not answer.get("success") or not answer.get("sessionid"):
            raise AuthFailed(401, f"login refused: {answer.get('error', '')}")
        self._sessionid = str(answer["sessionid"])

    async def call(self, action: str, nonce: str | None = None, **fields: Any) -> dict[str, Any]:
        """One action with a session (logging in again once when it expired)."""
        for _ in range(2):
            if not self._sessionid:
                await self._login()
            body = {"action": action, "sessionid": self._sessionid, **fields}
            if nonce:
                body["nonce"] = nonce
            answer = await self._post(body)
            if answer.get("success"):
                return answer
            error = str(answer.get("error", ""))
            if EXPIRED.search(error):
                self._sessionid = ""
                continue
            raise Rejected(400, {None: f"{error} (errorcode {answer.get('errorcode')})"})
        raise AuthFailed(401, "session expired twice in a row")

    async def post_sales(self, sales: list[Sale]) -> list[str]:
        ids = []
        for sale in sales:
            receipt = sale.receipt
            when = datetime.fromisoformat(receipt["SalesDateTime"]).timestamp()
            data = [
                {
                    "barcodeid": tx["PackageLabel"],
                    "quantity": tx["Quantity"],
                    "price": tx["TotalAmount"],
                }
                for tx in receipt["Transactions"]
            ]
            answer = await self.call(
                "sale_dispense",
                nonce=nonce_for(sale.external),
                terminal_id=self.terminal_id,
                sale_time=int(when),
                data=data,
            )
            ids.append(str(answer.get("transactionid", "")))
        return ids

    async def find_sale(self, external: str) -> Remote | None:
        try:
            answer = await self.call("nonce_replay", nonce=nonce_for(external))
        except Rejected:
            return None  # the nonce is unknown: the first try never landed
        tid = answer.get("transactionid")
        return Remote(id=str(tid), raw=answer) if tid else None

    async def archive_sale(self, remote_id: str, external: str) -> None:
        await self.call("sale_void", nonce=nonce_for(f"void:{external}"), transactionid=remote_id)

    async def post_deliveries(self, sales: list[Sale]) -> list[str]:
        """BioTrack has no separate delivery record here: a delivery is a dispense."""
        return await self.post_sales(sales)

    async def find_delivery(self, sale: Sale) -> Remote | None:
        return await self.find_sale(sale.external)

    async def archive_delivery(self, remote_id: str, external: str) -> None:
        await self.archive_sale(remote_id, external)

    async def create_child(self, body: dict[str, Any]) -> str:
        ingredient = body["Ingredients"][0]
        answer = await self.call(
            "inventory_split",
            nonce=nonce_for(f"split:{body['Tag']}"),
            data=[
                {
                    "barcodeid": ingredient["Package"],
                    "remove_quantity": ingredient["Quantity"],
                    "remove_quantity_uom": "g",
                }
            ],
        )
        new = answer.get("barcode_id") or []
        return str(new[0] if isinstance(new, list) and new else new)

    async def find_child(self, tag: str, source: str) -> Remote | None:
        del source
        try:
            answer = await self.call("nonce_replay", nonce=nonce_for(f"split:{tag}"))
        except Rejected:
            return None
        new = answer.get("barcode_id") or []
        return Remote(id=str(new[0] if isinstance(new, list) and new else new), raw=answer)

    async def move_location(self, label: str, location: str, note: str) -> None:
        del note
        await self.call("inventory_move", data=[{"barcodeid": label, "room": location}])

    async def adjust(self, body: dict[str, Any]) -> None:
        await self.call(
            "inventory_adjust",
            nonce=nonce_for(f"adjust:{body['Label']}:{body['AdjustmentDate']}:{body['Quantity']}"),
            data={
                "barcodeid": body["Label"],
                "quantity": body["Quantity"],
                "quantity_uom": body.get("UnitOfMeasure", "each"),
                "type": 4,
                "reason": f"{body['AdjustmentReason']}: {body.get('ReasonNote') or ''}"[:200],
            },
        )

    async def create_transfer(
        self, template: dict[str, Any], manifest: dict[str, Any] | None = None
    ) -> str:
        """`inventory_manifest`: "notify the traceability system of intent to transfer an
        inventory item", from one licensee to another (BioTrackTHC JSON API manual vol. 4;
        openthc/cre-adapter `lib/BioTrack.php` `inventory_manifest($loc, $eid, $vid,
        $stop_data)`): `location` (our license), `employee_id` (the driver as registered with
        `employee_add`), `vehicle_id` (integer, `vehicle_add`) and one `stop_overview` node
        (`approximate_departure`/`approximate_arrival` as Unix seconds, `approximate_route`,
        `vendor_license` = the buyer, `stop_number` 1, `barcodeid[]` = the packed packages). The
        nonce is the manifest's, so a retry is settled by `nonce_replay`. The transfer itself
        (`inventory_transfer_outbound` with prices) stays with the person who invoices it, as
        the METRC template does."""
        given = manifest or {}
        (dest,) = template["Destinations"]
        stop = {
            "approximate_departure": int(given.get("departure") or 0),
            "approximate_arrival": int(given.get("arrival") or given.get("departure") or 0),
            "approximate_route": str(dest.get("PlannedRoute") or given.get("route") or ""),
            "vendor_license": str(dest["RecipientLicenseNumber"]),
            "stop_number": 1,
            "barcodeid": [str(p["PackageLabel"]) for p in dest["Packages"]],
        }
        vehicle = str(given.get("vehicle_id") or "")
        answer = await self.call(
            "inventory_manifest",
            nonce=nonce_for(f"manifest:{template['Name']}"),
            location=self.license,
            employee_id=str(given.get("employee_id") or ""),
            vehicle_id=int(vehicle) if vehicle.isdigit() else vehicle,
            stop_overview=[stop],
        )
        return _manifest_id(answer)

    async def find_transfer(self, name: str) -> Remote | None:
        try:
            answer = await self.call("nonce_replay", nonce=nonce_for(f"manifest:{name}"))
        except Rejected:
            return None  # the nonce is unknown: the manifest was never filed
        found = _manifest_id(answer)
        return Remote(id=found, raw=answer) if found else None

    async def package_id(self, label: str) -> str | None:
        return label  # BioTrack names a lot by its barcode id

    async def lab_results(self, package_id: str) -> list[dict[str, Any]]:
        """Not built: BioTrack's `inventory_qa_check {sample_id}` takes the lab sample's id."""
        raise Rejected(400, {None: "lab results are pulled from METRC only"})

    async def packages(self, since: str | None) -> list[StatePackage]:
        del since
        answer = await self.call("sync_inventory")
        out = []
        for lot in answer.get("inventory") or []:
            qty = Decimal(str(lot.get("remaining_quantity", lot.get("quantity", 0))))
            out.append(
                StatePackage(
                    label=str(lot.get("id", "")),
                    quantity=qty,
                    unit=str(lot.get("uom", "")),
                    last_modified=str(lot.get("sessiontime", "")),
                    flags={"IsOnHold": bool(lot.get("is_on_hold", False))},
                    active=not lot.get("deleted"),
                )
            )
        return out

    async def facility(self) -> dict[str, Any]:
        await self._login()
        return {
            "License": {"Number": self.license},
            "FacilityType": {"CanCreatePartialPackages": True},
        }


def _manifest_id(answer: dict[str, Any]) -> str:
    """The filed manifest's id: `manifest_id`, or `barcode_id` (a list or one value)."""
    found = answer.get("manifest_id") or answer.get("barcode_id") or ""
    if isinstance(found, list):
        found = found[0] if found else ""
    return str(found)
