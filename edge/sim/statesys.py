"""The state system of a simulated pack day: a METRC emulator (central/statesys/emulator.py) that
central reports every sealed order to, with a few faults injected, and the summary's count. The
emulator also holds a passing lab result per batch (`lab_rows`), which central's lab pull
(central/statesys/labpull.py) fetches for every package it holds: the wholesale packet's COA
pages come from them.

The count is the emulator's own (receipts it recorded, receipts whose ExternalReceiptNumber it saw
before: duplicates) against central's own records: every package's quantity at the emulator must
equal its imported quantity minus the units the station's sealed orders took, as central's stored
events tell it (not the bridge's tables).
"""

from __future__ import annotations

import json
import time
import zlib
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from fractions import Fraction
from pathlib import Path
from typing import Any

from central.statesys.emulator import MetrcEmulator, ThreadedEmulator
from central.statesys.store import SENT, ReportStore
from central.store import open_store

LICENSE = "SIM-000001"  # the simulated dispensary's license ([station] license_number)
VENDOR_KEY = "sim-vendor-key"
USER_KEY = "sim-user-key"
SETTLE_TIMEOUT_S = 60
SEALED = ("ready_for_pickup", "out_for_delivery")


def _percent(part_mg: Any, whole_mg: Any) -> str:
    """An exact percentage to two places (integers in, never a float)."""
    if not isinstance(part_mg, int) or not isinstance(whole_mg, int) or whole_mg <= 0:
        return "0.00"
    return str((Decimal(part_mg * 100) / Decimal(whole_mg)).quantize(Decimal("0.01")))


def lab_rows(pkg: dict[str, Any], today: date) -> list[dict[str, Any]]:
    """The package's lab test rows as METRC's `/labtests/v2/results` gives them: one result per
    batch (the batch's packages share the source package's test), passed, a year valid."""
    result_id = 100_000 + zlib.crc32(str(pkg.get("Batch", "")).encode()) % 900_000
    base = {
        "LabTestResultId": result_id,
        "LabFacilityLicenseNumber": "LAB-SIM-0001",
        "LabFacilityName": "Simulated Testing Labs",
        "SourcePackageLabel": pkg["Label"],
        "TestPerformedDate": (today - timedelta(days=30)).isoformat(),
        "OverallPassed": True,
        "RevokedDate": None,
        "LabTestResultDocumentFileId": result_id + 1_000_000,
        "ResultReleased": True,
        "ExpirationDateTime": (today + timedelta(days=335)).isoformat() + "T00:00:00",
        "TestPassed": True,
    }
    weight = pkg.get("NetWeightMg")
    return [
        {**base, "TestTypeName": "THC (%)", "TestResultLevel": _percent(pkg.get("ThcMg"), weight)},
        {**base, "TestTypeName": "CBD (%)", "TestResultLevel": _percent(pkg.get("CbdMg"), weight)},
    ]


def start(packages: list[dict[str, Any]]) -> ThreadedEmulator:
    """The emulator with the day's vault and its lab results, and the day's state-system faults
    queued: a 500, a timeout after the receipt was committed, a 429 with Retry-After."""
    emulator = MetrcEmulator(VENDOR_KEY, USER_KEY)
    emulator.facility(LICENSE)
    emulator.load_packages(LICENSE, packages)
    today = datetime.now(UTC).date()
    for pkg in packages:
        emulator.load_lab_results(LICENSE, pkg["Label"], lab_rows(pkg, today))
    emulator.inject("POST", "/sales/v2/receipts", "500")
    emulator.inject("POST", "/sales/v2/receipts", "timeout", hang_s=4.0)
    emulator.inject("GET", "/sales/v2/receipts/external/", "429", retry_after=1)
    threaded = ThreadedEmulator(emulator)
    threaded.start()
    return threaded


def section(url: str, key_dir: Path) -> dict[str, Any]:
    """central.toml's [state_system] for the run (key files written next to it)."""
    vendor, user = key_dir / "state.vendor_key", key_dir / "state.user_key"
    vendor.write_text(VENDOR_KEY + "\n")
    user.write_text(USER_KEY + "\n")
    return {
        "kind": "metrc",
        "base_url": url,
        "license": LICENSE,
        "vendor_key_file": str(vendor.resolve()),
        "user_key_file": str(user.resolve()),
        "quarantine_location": "Quarantine",
        "timeout_ms": 1500,  # the injected timeout holds its answer 4 s
        "max_backoff_s": 2,
        "pull_interval_s": 5,
        "lab_pull_interval_s": 5,
    }


def settle(store_path: Path) -> str | None:
    """Wait until central has nothing pending or sent; None, or what is still open."""
    deadline = time.monotonic() + SETTLE_TIMEOUT_S
    open_: list[str] = []
    while time.monotonic() < deadline:
        store = open_store(f"sqlite://{store_path}")
        try:
            reports = ReportStore(store)
            jobs = [j for j in reports.jobs() if j.state in ("pending", SENT)]
            open_ = [f"{j.kind} {j.external} {j.state} {j.reason}" for j in jobs]
            if not open_ and reports.meta("events_gseq", "0") == str(store.head()):
                return None
        finally:
            store.close()
        time.sleep(0.2)
    return f"{len(open_)} state-system reports still open after {SETTLE_TIMEOUT_S} s: {open_[:3]}"


def _sold(store_path: Path) -> tuple[dict[str, int], int]:
    """Units each package left the vault in sealed orders (net of cancels), from central's events;
    and the number of sealed orders."""
    store = open_store(f"sqlite://{store_path}")
    picks: dict[tuple[str, str], list[str]] = {}
    sealed: dict[tuple[str, str], list[str]] = {}
    try:
        position = 0
        while batch := store.events_after(position, 5000):
            position = batch[-1].gseq
            for ev in batch:
                body = json.loads(ev.body)
                key = (ev.station_id, str(body.get("order_id")))
                if ev.type == "order_loaded":
                    picks.setdefault(key, [])
                elif ev.type == "verdict" and body.get("outcome", "").startswith("accepted"):
                    picks.setdefault(key, []).append(body["uid"])
                elif ev.type == "order_status" and body.get("status") in SEALED:
                    sealed.setdefault(key, list(picks.get(key, [])))
                elif ev.type == "order_status" and body.get("status") == "cancelled":
                    sealed.pop(key, None)
    finally:
        store.close()
    sold: dict[str, int] = {}
    for uids in sealed.values():
        for uid in uids:
            sold[uid] = sold.get(uid, 0) + 1
    return sold, len(sealed)


def count(
    store_path: Path, emulator: MetrcEmulator, packages: list[dict[str, Any]]
) -> dict[str, Any]:
    """summary.json's `state_system`."""
    stats = emulator.stats(LICENSE)
    sold, sealed = _sold(store_path)
    at_state = emulator.quantities(LICENSE)
    differs = sorted(
        p["Label"]
        for p in packages
        if at_state.get(p["Label"]) != Fraction(str(p.get("Quantity", 1))) - sold.get(p["Label"], 0)
    )
    store = open_store(f"sqlite://{store_path}")
    try:
        states = ReportStore(store).counts()
        with store._lock:
            try:
                (labs,) = store._x("SELECT count(*) FROM feed_state WHERE kind = 'lab'").fetchone()
            finally:
                store._end_read()
    finally:
        store.close()
    return {
        "kind": "metrc (emulator)",
        "receipts": stats["active_receipts"],
        "archived": stats["archived"],
        "duplicates": stats["duplicates"],
        "sealed_orders": sealed,
        "quantity_differs": len(differs),
        "quantity_differs_labels": differs[:20],
        "reports": states,
        "lab_results": int(labs),  # packages whose METRC results central pulled and fed
        "calls": stats["calls"],
    }
