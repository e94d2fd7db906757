"""What a simulated pack day did, counted from its records: the station's journal and central's store.

Nothing here trusts the simulator's own bookkeeping for the figures an evaluator checks: orders
sealed, halts by reason, labels printed and events are counted from the journal; the central count
from central's store and the feed's arrival from the station's replica, each read through its own
API; the chain is recomputed.
"""

from __future__ import annotations

import sqlite3
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, TextIO

from central.store import open_store
from edge.journal import Journal
from edge.link.replica import Replica


@dataclass
class Summary:
    orders: int = 0
    sealed: int = 0
    shipped: int = 0  # wholesale orders sealed for their transfer (ready_to_ship)
    cancelled: int = 0
    statuses: dict[str, int] = field(default_factory=dict)
    halts: dict[str, int] = field(default_factory=dict)
    overrides: dict[str, int] = field(default_factory=dict)
    labels_printed: int = 0
    staged: int = 0  # order_staged
    released: int = 0  # picked_up + departed
    release_refused: int = 0
    counts: int = 0  # cycle counts closed (count_closed)
    count_discrepancies: int = 0  # missing + unexpected + wrong place, over every count
    slips_requested: int = 0
    printer_jobs: int = 0
    pngs: int = 0
    station_events: int = 0
    central_events: int = 0
    central_matches: bool = False
    drained_seq: int = 0  # the station's last seq when central had everything (day's end)
    stopping_events: list[str] = field(default_factory=list)  # journalled while stopping
    chain_ok: bool = False
    chain_detail: str = ""
    central_restarts: int = 0
    central_offline: int = 0  # times the station journalled central going away
    replica: dict[str, int] = field(default_factory=dict)  # what central's feed gave the station
    sales: int = 0  # package draws central recorded as sold (central/stock.py)
    packages_sold_twice: int = -1  # from central's store; -1 = not counted
    incidents: dict[str, str] = field(default_factory=dict)  # incident -> how it ended
    failures: list[str] = field(default_factory=list)
    # the state system (METRC emulator): receipts, duplicates, quantity_differs... (statesys.py)
    state_system: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    outputs: dict[str, str] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        return not self.failures

    def to_json(self) -> dict[str, Any]:
        return asdict(self) | {"ok": self.ok}


def count_journal(summary: Summary, journal_path: Path) -> list[tuple[int, str]]:
    """Fill the journal-side figures; return (seq, hash hex) of every event for the central check."""
    journal = Journal(journal_path, readonly=True)
    try:
        result = journal.verify()
        summary.chain_ok = result.ok
        summary.chain_detail = (
            f"{result.checked} events verified"
            if result.ok
            else f"broken at seq {result.first_bad_seq}: {result.reason}"
        )
        types: Counter[str] = Counter()
        statuses: Counter[str] = Counter()
        halts: Counter[str] = Counter()
        overrides: Counter[str] = Counter()
        hashes: list[tuple[int, str]] = []
        for ev in journal.iter_events():
            types[ev.type] += 1
            hashes.append((ev.seq, ev.hash.hex()))
            if ev.type == "device_state":
                body = ev.fields()
                if body.get("device") == "central" and body.get("ok") is False:
                    summary.central_offline += 1
            if ev.type == "count_closed":
                body = ev.fields()
                summary.count_discrepancies += sum(
                    len(body.get(k) or []) for k in ("missing", "unexpected", "wrong_place")
                )
            if ev.type in ("order_status", "halt", "override"):
                body = ev.fields()
                if ev.type == "order_status":
                    statuses[str(body.get("status"))] += 1
                elif ev.type == "halt":
                    halts[str(body.get("code"))] += 1
                else:
                    overrides[str(body.get("action"))] += 1
        summary.station_events = len(hashes)
        summary.statuses = dict(statuses)
        summary.sealed = statuses["ready_for_pickup"] + statuses["out_for_delivery"]
        summary.cancelled = statuses["cancelled"]
        summary.shipped = statuses["ready_to_ship"]
        summary.halts = dict(sorted(halts.items()))
        summary.overrides = dict(overrides)
        summary.labels_printed = types["label_printed"]
        summary.slips_requested = types["slip_requested"]
        summary.staged = types["order_staged"]
        summary.released = types["picked_up"] + types["departed"]
        summary.release_refused = types["release_refused"]
        summary.counts = types["count_closed"]
        return hashes
    finally:
        journal.close()


def central_hashes(store: Path, station_id: str) -> list[tuple[int, str]]:
    """(seq, hash hex) of every event central stored for the station."""
    if not store.exists():
        return []
    central = open_store(f"sqlite://{store}")
    try:
        return [(seq, digest.hex()) for seq, digest in central.station_chain(station_id)]
    finally:
        central.close()


def replica_counts(path: Path) -> dict[str, int]:
    """Items per kind (order, package, badge) in the station's replica of central's feed."""
    if not path.exists():
        return {}
    try:
        replica = Replica(path, readonly=True)
        try:
            return replica.counts()
        finally:
            replica.close()
    except sqlite3.Error:  # the station has only just created the file, not its tables
        return {}


def render(summary: Summary, out: TextIO = sys.stdout) -> None:
    """The summary table an evaluator reads."""
    rows: list[tuple[str, str]] = [
        ("orders", str(summary.orders)),
        ("  sealed", str(summary.sealed)),
        ("  shipped wholesale", str(summary.shipped)),
        ("  cancelled", str(summary.cancelled)),
        ("halts", str(sum(summary.halts.values()))),
    ]
    rows += [(f"  {code}", str(n)) for code, n in summary.halts.items()]
    rows += [
        (
            "supervisor overrides",
            ", ".join(f"{k} {v}" for k, v in summary.overrides.items()) or "0",
        ),
        ("packages sold (central)", str(summary.sales)),
        (
            "packages sold twice",
            str(summary.packages_sold_twice) if summary.packages_sold_twice >= 0 else "not counted",
        ),
        ("  re-scans of a sealed package caught", str(summary.halts.get("sold", 0))),
        ("labels printed", str(summary.labels_printed)),
        ("discrepancy slips", str(summary.slips_requested)),
        ("bags staged", str(summary.staged)),
        ("bags released (picked up, departed)", str(summary.released)),
        ("releases refused", str(summary.release_refused)),
        ("cycle counts (discrepancies)", f"{summary.counts} ({summary.count_discrepancies})"),
        ("printer jobs rendered (PNG)", f"{summary.printer_jobs} ({summary.pngs})"),
        ("events journalled at the station", _station_events(summary)),
        ("events stored at central", str(summary.central_events)),
        ("  equal, same hashes", "yes" if summary.central_matches else "NO"),
        ("journal chain", _chain(summary)),
        ("central killed and restarted", f"{summary.central_restarts}x"),
        ("central offline events (journal)", str(summary.central_offline)),
        (
            "central feed at the station",
            ", ".join(f"{n} {kind}s" for kind, n in sorted(summary.replica.items())) or "nothing",
        ),
    ]
    state = summary.state_system
    if state:
        rows += [
            ("sales receipts at the state system", str(state.get("receipts"))),
            ("  duplicates", str(state.get("duplicates"))),
            (
                "packages whose state quantity differs from central's",
                str(state.get("quantity_differs")),
            ),
        ]
    rows += [
        ("wall time", f"{summary.seconds:.1f} s"),
    ]
    width = max(len(k) for k, _ in rows)
    print("Simulated pack day", file=out)
    print("-" * (width + 24), file=out)
    for key, value in rows:
        print(f"{key.ljust(width)}  {value}", file=out)
    if summary.incidents:
        print("\nIncidents", file=out)
        for incident, how in summary.incidents.items():
            print(f"  {incident.ljust(15)} {how}", file=out)
    print("\nOutputs", file=out)
    for name, path in summary.outputs.items():
        print(f"  {name.ljust(15)} {path}", file=out)
    if summary.failures:
        print("\nFAILED:", file=out)
        for failure in summary.failures:
            print(f"  - {failure}", file=out)
    else:
        print("\nAll invariants hold.", file=out)


def _station_events(summary: Summary) -> str:
    if not summary.stopping_events:
        return str(summary.station_events)
    late = ", ".join(summary.stopping_events)
    return (
        f"{summary.drained_seq} during the day"
        f" (+{len(summary.stopping_events)} while stopping: {late}; sent at its next start)"
    )


def _chain(summary: Summary) -> str:
    if not summary.chain_detail:
        return "not checked (no journal)"
    return ("ok, " if summary.chain_ok else "BROKEN, ") + summary.chain_detail


class Progress:
    """A plain-text progress bar on stderr: redrawn in place on a terminal, a line now and then
    otherwise (logs, CI)."""

    def __init__(self, total: int, out: TextIO = sys.stderr, width: int = 30) -> None:
        self.total = max(total, 1)
        self.out = out
        self.width = width
        self.tty = out.isatty()
        self._last_line = -1

    def update(self, done: int, note: str = "") -> None:
        filled = self.width * done // self.total
        bar = "#" * filled + "." * (self.width - filled)
        text = f"[{bar}] {done}/{self.total} orders" + (f"  {note}" if note else "")
        if self.tty:
            self.out.write("\r" + text.ljust(self.width + 60)[: self.width + 60])
            if done >= self.total:
                self.out.write("\n")
        elif done >= self.total or done == 0 or done - self._last_line >= max(1, self.total // 8):
            self.out.write(text + "\n")
            self._last_line = done
        self.out.flush()
