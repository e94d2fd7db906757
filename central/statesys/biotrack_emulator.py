"""A BioTrackTHC (classic JSON API 4.0) emulator for the tests: the wholesale manifest calls.

One POST endpoint; `action` selects the call; every request carries `API: "4.0"`; a session from
`login {license_number, username, password}` (BioTrackTHC JSON API manual vol. 4,
https://vdocuments.us/biotrackthc-api-bio-tech-medical-software-inc-biotrackthc-json-api-2015-bio-tech.html;
openthc/cre-adapter `lib/BioTrack.php`, https://github.com/openthc/cre-adapter). Answers are
`{"success": 1, ...}` or `{"success": 0, "error": ..., "errorcode": ...}` with HTTP 200.

- `inventory_manifest {location, employee_id, vehicle_id, stop_overview: [{approximate_departure,
  approximate_arrival, approximate_route, vendor_license, stop_number, barcodeid: [...]}]}`: files
  the manifest when `location` is the session's license, the employee and the vehicle are
  registered, every stop names a valid license (else "Please specify a valid license number.",
  errorcode 602, as BioTrack answers since May 2016:
  https://openthc.com/blog/2016/05-biotrackthc-api-license-handling-modified-wo-notice) and every
  barcode is a lot of the facility not already on an open manifest. The manifest's id comes back
  in `barcode_id`.
- `inventory_manifest_lookup {location}`: the receiver's view of the manifests to it ("No inbound
  transfers or pending manifests found.", errorcode 602, when none); `inventory_manifest_void
  {manifest_id}`.
- `nonce`: a write is stored under its nonce; the same nonce on a second write is refused (a
  blind retry never files twice), and `nonce_replay {nonce}` returns the first answer.

Faults (`inject(action, kind)`): `500` (HTTP 500, nothing stored), `timeout` (stored, then the
answer is held past the client's timeout), `expire` (the session expires before the call).

Nothing in production imports this module (an import contract in pyproject.toml).
"""

from __future__ import annotations

import asyncio
import itertools
import threading
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import msgspec
from aiohttp import web

ENCODER = msgspec.json.Encoder(decimal_format="number")
DECODER = msgspec.json.Decoder(float_hook=Decimal)
WRITES = ("inventory_manifest", "inventory_manifest_void")


@dataclass
class Fault:
    action: str
    kind: str  # 500, timeout, expire
    count: int = 1
    hang_s: float = 3.0


@dataclass
class BioTrackEmulator:
    license: str
    username: str = "biotrack-user"
    password: str = "biotrack-password"
    employees: set[str] = field(default_factory=set)
    vehicles: set[int] = field(default_factory=set)
    licenses: set[str] = field(default_factory=set)  # the state's valid license numbers
    lots: set[str] = field(default_factory=set)  # the facility's inventory barcode ids
    manifests: dict[str, dict[str, Any]] = field(default_factory=dict)
    faults: list[Fault] = field(default_factory=list)
    calls: dict[str, int] = field(default_factory=dict)
    url: str = ""

    def __post_init__(self) -> None:
        self._nonces: dict[str, dict[str, Any]] = {}
        self._sessions: set[str] = set()
        self._ids = itertools.count(1)
        self._lock = threading.Lock()
        self._runner: web.AppRunner | None = None
        self.licenses.add(self.license)

    def inject(self, action: str, kind: str, count: int = 1, hang_s: float = 3.0) -> None:
        with self._lock:
            self.faults.append(Fault(action, kind, count, hang_s))

    def _fault(self, action: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if fault.action == action:
                    fault.count -= 1
                    if fault.count <= 0:
                        self.faults.remove(fault)
                    return fault
        return None

    async def start(self, host: str = "127.0.0.1") -> str:
        app = web.Application()
        app.router.add_post("/serverjson.asp", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, 0)
        await site.start()
        server = site._server
        assert server is not None
        port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self.url = f"http://{host}:{port}/serverjson.asp"
        return self.url

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    @staticmethod
    def _answer(body: dict[str, Any], status: int = 200) -> web.Response:
        return web.Response(status=status, body=ENCODER.encode(body), content_type="text/plain")

    @staticmethod
    def _error(text: str, code: int) -> dict[str, Any]:
        return {"success": 0, "error": text, "errorcode": code}

    async def _handle(self, request: web.Request) -> web.Response:
        try:
            body = DECODER.decode(await request.read())
        except msgspec.DecodeError:
            return self._answer(self._error("Invalid JSON.", 1))
        if not isinstance(body, dict) or body.get("API") != "4.0":
            return self._answer(self._error("Unsupported API version.", 2))
        action = str(body.get("action", ""))
        self.calls[action] = self.calls.get(action, 0) + 1
        fault = self._fault(action)
        if fault is not None and fault.kind == "500":
            return web.Response(status=500, text="Internal Server Error")
        if fault is not None and fault.kind == "expire":
            self._sessions.clear()
        with self._lock:
            answer = self._act(action, body)
        if fault is not None and fault.kind == "timeout":
            await asyncio.sleep(fault.hang_s)  # stored: the client gives up before this
        return self._answer(answer)

    def _act(self, action: str, body: dict[str, Any]) -> dict[str, Any]:
        if action == "login":
            if (body.get("license_number"), body.get("username"), body.get("password")) != (
                self.license,
                self.username,
                self.password,
            ):
                return self._error("Invalid login.", 11)
            session = f"s-{next(self._ids)}"
            self._sessions.add(session)
            return {"success": 1, "sessionid": session}
        if body.get("sessionid") not in self._sessions:
            return self._error("Your session has expired. Please log in again.", 3)
        if action == "nonce_replay":
            found = self._nonces.get(str(body.get("nonce", "")))
            return found if found is not None else self._error("nonce not found", 62)
        nonce = str(body.get("nonce") or "")
        if action in WRITES and nonce in self._nonces:
            return self._error("This nonce has already been used.", 63)
        if action == "inventory_manifest":
            answer = self._manifest(body)
        elif action == "inventory_manifest_lookup":
            answer = self._lookup(str(body.get("location", "")))
        elif action == "inventory_manifest_void":
            answer = self._void(str(body.get("manifest_id", "")))
        else:
            answer = self._error(f"Unknown action {action}.", 4)
        if action in WRITES and nonce and answer.get("success"):
            self._nonces[nonce] = answer
        return answer

    def _manifest(self, body: dict[str, Any]) -> dict[str, Any]:
        if body.get("location") != self.license:
            return self._error("Please specify a valid location.", 602)
        if str(body.get("employee_id", "")) not in self.employees:
            return self._error("Invalid employee_id.", 604)
        if body.get("vehicle_id") not in self.vehicles:
            return self._error("Invalid vehicle_id.", 605)
        stops = body.get("stop_overview")
        if not isinstance(stops, list) or not stops:
            return self._error("stop_overview must list at least one stop.", 606)
        busy = {b for m in self.manifests.values() if not m["void"] for b in m["barcodes"]}
        for stop in stops:
            problem = self._stop_problem(stop, busy)
            if problem is not None:
                return problem
        manifest_id = f"{next(self._ids):016d}"
        self.manifests[manifest_id] = {
            "manifest_id": manifest_id,
            "location": self.license,
            "employee_id": str(body["employee_id"]),
            "vehicle_id": body["vehicle_id"],
            "stops": stops,
            "barcodes": [b for s in stops for b in s["barcodeid"]],
            "void": False,
        }
        return {"success": 1, "barcode_id": manifest_id}

    def _stop_problem(self, stop: Any, busy: set[str]) -> dict[str, Any] | None:
        if not isinstance(stop, dict):
            return self._error("Invalid stop.", 606)
        number = stop.get("stop_number")
        if isinstance(number, bool) or not isinstance(number, int) or number < 1:
            return self._error("stop_number must be an integer of at least 1.", 606)
        if stop.get("vendor_license") not in self.licenses:
            return self._error("Please specify a valid license number.", 602)
        for key in ("approximate_departure", "approximate_arrival"):
            if isinstance(stop.get(key), bool) or not isinstance(stop.get(key), int):
                return self._error(f"{key} must be a Unix timestamp.", 606)
        barcodes = stop.get("barcodeid")
        if not isinstance(barcodes, list) or not barcodes:
            return self._error("barcodeid must list at least one item.", 606)
        for barcode in barcodes:
            if barcode not in self.lots:
                return self._error(f"Inventory item {barcode} not found.", 607)
            if barcode in busy:
                return self._error(f"Inventory item {barcode} is already manifested.", 608)
        return None

    def _lookup(self, location: str) -> dict[str, Any]:
        if location not in self.licenses:
            return self._error("Please specify a valid license number.", 602)
        found = [
            {
                "manifest_id": m["manifest_id"],
                "location": m["location"],
                "stop_number": s["stop_number"],
                "barcodeid": list(s["barcodeid"]),
            }
            for m in self.manifests.values()
            if not m["void"]
            for s in m["stops"]
            if s["vendor_license"] == location
        ]
        if not found:
            return self._error("No inbound transfers or pending manifests found.", 602)
        return {"success": 1, "data": found}

    def _void(self, manifest_id: str) -> dict[str, Any]:
        m = self.manifests.get(manifest_id)
        if m is None:
            return self._error(f"Manifest {manifest_id} not found.", 609)
        m["void"] = True
        return {"success": 1}

    def open_manifests(self) -> list[dict[str, Any]]:
        with self._lock:
            return [m for m in self.manifests.values() if not m["void"]]
