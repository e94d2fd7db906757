"""`packstation simulate`: a whole pack day on embedded defaults, with simulated devices.

Central (SQLite store) and a station daemon run as separate processes and talk over ZeroMQ with
CurveZMQ keys made for the run. The devices are simulated behind the real drivers: a scale emulator
on a pty (the station's serial scale driver reads it), an ESC/POS printer on loopback TCP that
renders every label and slip to PNG, and scans injected into the station's scanner path. A scripted
technician (edge/sim/technician.py) packs the day's orders, makes the day's mistakes and clears them; the
summary (edge/sim/report.py) is counted from the journal and central's store.
"""

from __future__ import annotations

import contextlib
import json
import signal
import sys
import time
import traceback
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TextIO

from central.statesys.emulator import ThreadedEmulator
from drivers.printer.sim import SimPrinter
from drivers.scale.sim import SimScale
from edge.sim import setup as sim_setup
from edge.sim import statesys as sim_state
from edge.sim.around import cycle_count, write_report
from edge.sim.data import SUPERVISOR_BADGE, PlannedOrder
from edge.sim.procs import (
    InjectClient,
    Service,
    SimError,
    cli,
    env_without_notify,
    tcp_open,
    wait_for,
)
from edge.sim.report import (
    Progress,
    Summary,
    central_hashes,
    count_journal,
    render,
    replica_counts,
)
from edge.sim.technician import OrderOutcome, Technician
from edge.station.config import StationConfig, StationPaths, load_station_config

CENTRAL_DOWN_ORDERS = 3  # orders packed while central is down
DRAIN_TIMEOUT_S = 30
FEED_TIMEOUT_S = 20
# The halt code the station must give each scripted mistake.
EXPECTED_HALT = {
    "wrong_batch": "wrong_batch",
    "typo_tag": "near_miss",
    "expired": "expired",
    "over_limit": "over_limit",
    "short_weight": "short_weight",
    "duplicate_scan": "duplicate",
    "resold": "sold",
}


@dataclass(frozen=True)
class SimOptions:
    orders: int = 40
    seed: int = 1
    out: Path = Path("sim-out")
    dashboard: bool = False  # leave central (and its dashboard) running after the day
    json: bool = False  # the summary as JSON (summary.json's content) instead of the table


class SimRun:
    """One simulated day: the run directory, the simulated devices, the two services."""

    def __init__(self, options: SimOptions, progress_out: TextIO) -> None:
        self.options = options
        self.progress_out = progress_out
        self.run = sim_setup.prepare_dir(options.out)
        self.summary = Summary(orders=options.orders)
        self.outcomes: list[OrderOutcome] = []
        self.printer = SimPrinter(render_dir=self.run.labels)
        self.scale = SimScale("mt-sics", link=self.run.station_dir / "scale-tty")
        logs = self.run.logs
        self.central = Service(
            "central", ["central", "--config", str(self.run.central_toml)], logs / "central.log"
        )
        self.station = Service(
            "station", ["station", "--config", str(self.run.station_toml)], logs / "station.log"
        )
        self.inject = InjectClient(self.run.inject)
        self.central_port = 0
        self.state: ThreadedEmulator | None = None  # the METRC emulator (edge/sim/statesys.py)
        self.vault: list[dict[str, Any]] = []
        self.dashboard_url = ""
        self.interrupted = False

    # -- the day ---------------------------------------------------------------------------
    def day(self) -> Summary:
        started = time.monotonic()
        try:
            plan = self._start()
            self._pack(plan)
            _drain(self.run, self.summary)
            self._manifests(plan)
            still_open = sim_state.settle(self.run.central_store)
            if still_open:
                self.summary.failures.append(still_open)
        except SimError as exc:
            self.summary.failures.append(str(exc))
        except KeyboardInterrupt:  # the services got the SIGINT too and stop cleanly
            self.summary.failures.append("interrupted (Ctrl-C): the day was not finished")
            self.interrupted = True
        except Exception as exc:  # noqa: BLE001 -- the day ends with its summary, not a crash
            trace = self.run.logs / "simulate.log"
            with contextlib.suppress(OSError):
                trace.parent.mkdir(parents=True, exist_ok=True)
                with trace.open("a") as f:
                    traceback.print_exc(file=f)
            self.summary.failures.append(
                f"the simulator failed: {type(exc).__name__}: {exc} (traceback in {trace})"
            )
        finally:
            self._stop()
            _finish(self.run, self.summary, self.outcomes, self.printer)
            if self.interrupted or not (self.options.dashboard and self.central.alive()):
                self.central.stop()
            self._state_count()
            self.printer.stop()
            self.scale.stop()
            self.summary.seconds = time.monotonic() - started
            self.run.summary.write_text(json.dumps(self.summary.to_json(), indent=1) + "\n")
        return self.summary

    def _start(self) -> list[PlannedOrder]:
        """Data, devices, keys and configuration; central, the day's import, then the station."""
        timezone = StationConfig().station.timezone
        day = sim_setup.write_day(self.run, self.options.seed, self.options.orders, timezone)
        self.printer.start()
        self.scale.start()
        ports = sim_setup.allocate_ports(self.printer.port)
        self.central_port = ports.central
        sim_setup.make_keys(self.run)
        self.vault = day.vault.packages
        self.state = sim_state.start(self.vault)
        state_cfg = sim_state.section(self.state.url, self.run.central_dir)
        sim_setup.write_central_config(self.run, ports, state_cfg)
        sim_setup.write_station_config(self.run, ports, self.scale.port)
        self._start_central()
        self.dashboard_url = sim_setup.dashboard_url(self.run, ports)
        self.progress_out.write(f"packstation: central dashboard: {self.dashboard_url}\n")
        self.progress_out.flush()
        refusal = sim_setup.import_day(self.run)
        why = refusal.rsplit("refused: ", 1)[-1]
        self.summary.incidents["wholesale_refused"] = f"order 9001 refused by central: {why}"
        if "expired" not in refusal:
            self.summary.failures.append(f"order 9001 refused for another reason: {refusal}")
        self.station.start()
        self.inject.connect(service=self.station)
        wait_for(
            "the station to be ready for a login",
            lambda: self.inject.state().get("phase") in ("idle", "ready"),
            20,
            0.05,
        )
        # the station knows badges, orders and the vault only from central's feed
        want = {"badge": 3, "order": len(day.plan), "package": len(day.vault.packages)}
        replica = StationPaths.of(load_station_config(self.run.station_toml)).replica
        wait_for(
            f"central's feed to reach the station ({want})",
            lambda: {k: n for k, n in replica_counts(replica).items() if k in want} == want,
            FEED_TIMEOUT_S,
            0.05,
        )
        return day.plan

    def _manifests(self, plan: list[PlannedOrder]) -> None:
        """Each sealed wholesale order's manifest, invoice and COA pages (from the lab results
        central pulled from METRC), and its METRC transfer template (which central's bridge then
        posts to the state system: `settle` waits for it)."""
        for planned in plan:
            order_id = planned.order["order_id"]
            if planned.order["channel"] != "wholesale":
                continue
            out = self.run.manifests / f"MAN-{order_id}.pdf"
            transport = ("--driver", "Sam Driver", "--driver-license", "D1234567")
            vehicle = ("--vehicle-make", "Ford", "--vehicle-model", "Transit", "--plate", "8ABC123")
            cfg = ("--config", str(self.run.central_toml))
            coa = ("--coa", str(self.run.manifests / f"COA-{order_id}.pdf"))
            said = cli(
                "central", "manifest", order_id, "--out", str(out), *coa, *transport, *vehicle, *cfg
            )
            self.summary.incidents["wholesale"] = said.strip()
            if f"{len(planned.picks)} packages" not in said or "with 0 COA" in said:
                self.summary.failures.append(f"order {order_id}: manifest {said.strip()}")

    def _start_central(self) -> None:
        self.central.start()

        def listening() -> bool:
            self.central.check_alive()
            return tcp_open(self.central_port)

        wait_for("central to listen", listening, 20)

    def _pack(self, plan: list[PlannedOrder]) -> None:
        tech = Technician(self.inject, self.printer, self.scale)
        bar = Progress(len(plan), self.progress_out)
        bar.update(0)
        try:  # the shift starts with a spot-check count (edge/sim/around.py)
            self.summary.incidents["cycle_count"] = f"count of {cycle_count(tech, self.vault)}"
        except SimError as exc:
            self.summary.failures.append(str(exc))
        down_until: int | None = None
        for n, planned in enumerate(plan):
            if planned.incident == "central_down":
                self.central.stop(kill=True)  # central crashes mid-day
                down_until = n + CENTRAL_DOWN_ORDERS
                self.summary.incidents["central_down"] = (
                    f"central killed (SIGKILL) before order {planned.order['order_id']}"
                )
            self.station.check_alive()
            try:
                # now and then the technician badges again for the next order in the queue
                outcome = tech.pack(planned, from_queue=n % 3 == 1)
            except SimError as exc:
                outcome = OrderOutcome(planned.order["order_id"], planned.incident, "failed")
                outcome.detail = str(exc)
                self.summary.failures.append(str(exc))
                _recover(self.inject, planned.order["order_id"])
            self.outcomes.append(outcome)
            if down_until is not None and (n + 1 >= down_until or n + 1 == len(plan)):
                self._central_back()
                down_until = None
            bar.update(n + 1, _note(outcome))
        try:  # front of house and the drivers take every staged bag
            tech.around.release_all(tech)
        except SimError as exc:
            self.summary.failures.append(str(exc))

    def _central_back(self) -> None:
        """Restart central; the station's queued events must drain into it."""
        queued = _journal_last(self.run) - len(
            central_hashes(self.run.central_store, sim_setup.STATION_ID)
        )
        restarted = time.monotonic()
        self._start_central()
        self.summary.central_restarts += 1
        self.summary.incidents["central_down"] += (
            f", restarted after {CENTRAL_DOWN_ORDERS} orders; "
            + _drained_note(self.run, queued, restarted)
        )

    def _state_count(self) -> None:
        """The state system's side of the day (summary.json `state_system`)."""
        if self.state is None:
            return
        try:
            if self.run.central_store.exists():
                counted = sim_state.count(self.run.central_store, self.state.emulator, self.vault)
                self.summary.state_system = counted
                _state_invariants(self.summary, counted)
        finally:
            self.state.stop()
            self.run.summary.write_text(json.dumps(self.summary.to_json(), indent=1) + "\n")

    def _stop(self) -> None:
        self.inject.close()
        was_running = self.station.alive()
        station_rc = self.station.stop()
        if was_running and station_rc not in (None, 0):
            self.summary.failures.append(
                f"station exited with {station_rc} at shutdown (see {self.station.log})"
            )


def run_day(options: SimOptions, progress_out: TextIO = sys.stderr) -> Summary:
    """Run the whole day; the summary (with `failures` naming what did not hold)."""
    env_without_notify()
    return SimRun(options, progress_out).day()


def _recover(inject: InjectClient, order_id: str) -> None:
    """After a scripted step failed: cancel the order so the rest of the day can run."""
    try:
        state = inject.state()
        if state.get("order"):
            inject.send(f"scan {SUPERVISOR_BADGE}")
            inject.send(f"scan ORD-{order_id}")
    except SimError:
        pass


def _journal_last(run: sim_setup.RunDir) -> int:
    from edge.journal import Journal

    journal = Journal(run.journal, readonly=True)
    try:
        return journal.last_seq()
    finally:
        journal.close()


def _drained_note(run: sim_setup.RunDir, queued: int, restarted: float) -> str:
    """Wait (bounded) until central caught up with what the station queued while it was down."""
    target = _journal_last(run)
    try:
        wait_for(
            "the station's queue to drain into central",
            lambda: len(central_hashes(run.central_store, sim_setup.STATION_ID)) >= target,
            DRAIN_TIMEOUT_S,
            0.05,
        )
    except SimError:
        return f"{queued} events queued at the station did NOT drain in {DRAIN_TIMEOUT_S} s"
    took = time.monotonic() - restarted
    return f"{queued} events queued at the station drained {took:.1f} s after the restart"


def _note(outcome: OrderOutcome) -> str:
    text = f"order {outcome.order_id} {outcome.status}"
    if outcome.incident:
        text += f" ({outcome.incident}: {', '.join(outcome.halts) or 'no halt'})"
    return text


def _drain(run: sim_setup.RunDir, summary: Summary) -> None:
    """Wait until central stored every event the station journalled (the queue drained)."""

    def drained() -> bool:
        last = _journal_last(run)
        if last > 0 and len(central_hashes(run.central_store, sim_setup.STATION_ID)) >= last:
            summary.drained_seq = last
            return True
        return False

    try:
        wait_for("central to store every journalled event", drained, DRAIN_TIMEOUT_S, 0.1)
    except SimError as exc:
        summary.failures.append(str(exc))


def _finish(
    run: sim_setup.RunDir, summary: Summary, outcomes: list[OrderOutcome], printer: SimPrinter
) -> None:
    """Count everything from the records and check the day's invariants."""
    _records(run, summary)
    _sold_once(run, summary)
    summary.replica = replica_counts(StationPaths.of(load_station_config(run.station_toml)).replica)
    summary.printer_jobs = len(printer.jobs)
    summary.pngs = len(list(run.labels.glob("*.png")))
    _invariants(summary, outcomes, len(json.loads(run.inventory.read_text())))
    summary.outputs = {
        "run directory": str(run.root),
        "labels (PNG)": str(run.labels),
        "journal": str(run.journal),
        "journal export": str(run.journal_export),
        "central store": str(run.central_store),
        "central export": str(run.central_export),
        "summary": str(run.summary),
        "wholesale manifests (PDF)": str(run.manifests),
        "logs": str(run.logs),
    }
    if run.central_store.exists():  # the day's reconciliation (edge/sim/around.py)
        try:
            summary.outputs.update(write_report(run.central_toml, run.root))
        except SimError as exc:
            summary.failures.append(str(exc))


def _stopping_events(run: sim_setup.RunDir, summary: Summary) -> None:
    """Events journalled after central had everything: the station stopping. Only the central
    link going down with the daemon is expected there (it reaches central at the next start)."""
    from edge.journal import Journal

    journal = Journal(run.journal, readonly=True)
    try:
        late = journal.events(summary.drained_seq)
    finally:
        journal.close()
    for ev in late:
        body = ev.fields()
        summary.stopping_events.append(f"{ev.type} {body.get('device', '')}".strip())
        if not (ev.type == "device_state" and body.get("device") == "central"):
            summary.failures.append(f"event {ev.seq} ({ev.type}) journalled after the day ended")


def _records(run: sim_setup.RunDir, summary: Summary) -> None:
    """The journal and central's store: counted, compared, exported."""
    if run.journal.exists():
        station_hashes = count_journal(summary, run.journal)
        stored = central_hashes(run.central_store, sim_setup.STATION_ID)
        summary.central_events = len(stored)
        if summary.drained_seq:
            _stopping_events(run, summary)
            station_hashes = station_hashes[: summary.drained_seq]
        summary.central_matches = stored == station_hashes
        if not summary.chain_ok:
            summary.failures.append(f"journal chain: {summary.chain_detail}")
        if not summary.central_matches:
            summary.failures.append(
                f"central stored {len(stored)} events, the station journalled {len(station_hashes)}"
                + (" (hashes differ)" if len(stored) == len(station_hashes) else "")
            )
        try:
            with run.journal_export.open("w") as fh:
                fh.write(cli("journal", "export", str(run.journal)))
        except SimError as exc:
            summary.failures.append(str(exc))
    else:
        summary.failures.append("the station never opened its journal")
    if run.central_toml.exists() and run.central_store.exists():
        try:
            with run.central_export.open("w") as fh:
                fh.write(cli("central", "export", "--config", str(run.central_toml)))
        except SimError as exc:
            summary.failures.append(str(exc))


def _state_invariants(summary: Summary, counted: dict[str, Any]) -> None:
    """Every sealed order is one receipt at the state system, none twice, quantities agree."""
    if counted["receipts"] != summary.sealed:
        summary.failures.append(
            f"{counted['receipts']} sales receipts at the state system for {summary.sealed} sealed orders"
        )
    if counted["duplicates"]:
        summary.failures.append(f"{counted['duplicates']} duplicate receipts at the state system")
    if counted["quantity_differs"]:
        summary.failures.append(
            f"{counted['quantity_differs']} packages whose state quantity differs from central's:"
            f" {counted['quantity_differs_labels'][:5]}"
        )


def _sold_once(run: sim_setup.RunDir, summary: Summary) -> None:
    """Packages sold twice, counted from central's store (central/stock.py), not the script."""
    if not run.central_store.exists():
        return
    from central import stock
    from central.store import open_store

    store = open_store(f"sqlite://{run.central_store}")
    try:
        counted = stock.sold_twice(store)
    finally:
        store.close()
    summary.packages_sold_twice = counted["packages_sold_twice"]
    summary.sales = counted["sales"]
    if summary.packages_sold_twice:
        summary.failures.append(f"{summary.packages_sold_twice} packages sold twice (central)")


def _invariants(summary: Summary, outcomes: list[OrderOutcome], packages: int) -> None:
    twice = [o.order_id for o in outcomes if o.status == "sealed" and o.labels != 1]
    if twice:
        summary.failures.append(f"orders whose exit label did not print exactly once: {twice}")
    if summary.central_restarts and not summary.central_offline:
        summary.failures.append("central went down but the station never journalled it")
    if summary.replica.get("package") != packages or summary.replica.get("badge") != 3:
        summary.failures.append(
            f"central's feed did not reach the station: replica holds {summary.replica},"
            f" central has {packages} packages and 3 badges"
        )
    for o in outcomes:
        if o.incident and o.incident != "central_down":
            how = f"order {o.order_id}: halt {', '.join(o.halts) or 'NONE'} -> {o.status}"
            if o.incident == "paper_out":  # a device fault, not a halt: the order waits
                how = f"order {o.order_id}: {o.detail}; label printed {o.labels}x -> {o.status}"
            expected = EXPECTED_HALT.get(o.incident)
            if expected is not None and expected not in o.halts:
                summary.failures.append(
                    f"order {o.order_id} ({o.incident}): expected a {expected} halt, got {o.halts}"
                )
            summary.incidents[o.incident] = how
    expected_cancelled = sum(1 for o in outcomes if o.incident == "over_limit")
    if len(outcomes) == summary.orders:
        if summary.sealed + summary.shipped + summary.cancelled != summary.orders:
            summary.failures.append(
                f"{summary.orders} orders, but the journal shows {summary.sealed} sealed,"
                f" {summary.shipped} shipped wholesale and {summary.cancelled} cancelled"
            )
        if summary.cancelled != expected_cancelled:
            summary.failures.append(
                f"{summary.cancelled} orders cancelled, {expected_cancelled} scripted"
            )
    else:
        summary.failures.append(f"only {len(outcomes)} of {summary.orders} orders were packed")
    bags = summary.sealed + summary.shipped  # retail bags and wholesale boxes are all staged
    if len(outcomes) == summary.orders and (summary.staged, summary.released) != (bags, bags):
        summary.failures.append(
            f"{bags} bags sealed, {summary.staged} staged, {summary.released} released"
        )
    if (summary.release_refused, summary.counts, summary.count_discrepancies) != (1, 1, 1):
        summary.failures.append(
            f"{summary.release_refused} release refusals, {summary.counts} counts with"
            f" {summary.count_discrepancies} discrepancies; scripted 1, 1 and 1"
        )
    if summary.pngs < summary.labels_printed:
        summary.failures.append(f"{summary.pngs} PNGs for {summary.labels_printed} labels")


def main(options: SimOptions, out: TextIO = sys.stdout, progress_out: TextIO = sys.stderr) -> int:
    env_without_notify()
    previous = signal.signal(signal.SIGTERM, _interrupt)  # SIGTERM stops the day like Ctrl-C
    sim: SimRun | None = None
    try:
        sim = SimRun(options, progress_out)
        summary = sim.day()
        if options.json:
            out.write(json.dumps(summary.to_json(), indent=1) + "\n")
        else:
            render(summary, out)
        rc = 0 if summary.ok else 1
        if options.dashboard and sim.central.alive():
            _keep_dashboard(sim, out)
    except BaseException:  # interrupted while finishing: no service outlives the command
        if sim is not None:
            sim.station.stop()
            sim.central.stop()
        raise
    finally:
        signal.signal(signal.SIGTERM, previous)
    return rc


def _interrupt(signum: int, frame: object) -> None:
    raise KeyboardInterrupt


def _keep_dashboard(sim: SimRun, out: TextIO) -> None:
    """`simulate --dashboard`: central stays up after the day until Ctrl-C or SIGTERM."""
    out.write(f"packstation: dashboard running at {sim.dashboard_url} (Ctrl-C stops it)\n")
    out.flush()
    try:
        while sim.central.alive():
            time.sleep(0.5)
        out.write("packstation: central stopped; see logs/central.log\n")
    except KeyboardInterrupt:
        pass
    finally:
        sim.central.stop()
