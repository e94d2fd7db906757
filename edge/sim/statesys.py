"""The state system of a simulated pack day: a METRC emulator (central/statesys/emulator.py) that
central reports every sealed order to, with a few faults injected, and the summary's count.

The count is the emulator's own (receipts it recorded, receipts whose ExternalReceiptNumber it saw
before: duplicates) against central's own records: every package's quantity at the emulator must
equal its imported quantity minus the units the station's sealed orders took, as central's stored
events tell it (not the bridge's tables).
"""

from __future__ import annotations

import json
import time
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


def start(packages: list[dict[str, Any]]) -> ThreadedEmulator:
    """The emulator with the day's vault, and the day's state-system faults queued: a 500, a
    timeout after the receipt was committed, a 429 with Retry-After."""
    emulator = MetrcEmulator(VENDOR_KEY, USER_KEY)
    emulator.facility(LICENSE)
    emulator.load_packages(LICENSE, packages)
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
        "calls": stats["calls"],
    }
