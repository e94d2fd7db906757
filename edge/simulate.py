"""`packstation simulate`: a whole pack day on embedded defaults, with simulated devices.

Central (SQLite store) and a station daemon run as separate processes and talk over ZeroMQ with
CurveZMQ keys made for the run. The devices are simulated behind the real drivers: a scale emulator
on a pty (the station's serial scale driver reads it), an ESC/POS printer on loopback TCP that
renders every label and slip to PNG, and scans injected into the station's scanner path. A scripted
technician (edge/sim_day.py) packs the day's orders, makes the day's mistakes and clears them; the
summary (edge/sim_report.py) is counted from the journal and central's store.
"""

from __future__ import annotations

import importlib.util
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from drivers.sim_printer import SimPrinter
from drivers.sim_scale import SimScale
from edge import sim_setup
from edge.sim_day import OrderOutcome, Technician
from edge.sim_procs import InjectClient, Service, SimError, cli, env_without_notify, tcp_open, wait_for
from edge.sim_report import Progress, Summary, central_hashes, count_journal, render
from edge.station_config import StationConfig

CENTRAL_DOWN_ORDERS = 3  # orders packed while central is down
DRAIN_TIMEOUT_S = 30


@dataclass(frozen=True)
class SimOptions:
    orders: int = 40
    seed: int = 1
    out: Path = Path("sim-out")


def run_day(options: SimOptions, progress_out: TextIO = sys.stderr) -> Summary:
    """Run the whole day; the summary (with `failures` naming what did not hold)."""
    started = time.monotonic()
    env_without_notify()
    run = sim_setup.prepare_dir(options.out)
    summary = Summary(orders=options.orders)
    timezone = StationConfig().station.timezone
    day = sim_setup.write_day(run, options.seed, options.orders, timezone)
    printer = SimPrinter(render_dir=run.labels)
    printer.start()
    scale = SimScale("mt-sics", link=run.station_dir / "scale-tty").start()
    ports = sim_setup.allocate_ports(printer.port)
    central = Service(
        "central", ["central", "--config", str(run.central_toml)], run.logs / "central.log"
    )
    station = Service(
        "station", ["station", "--config", str(run.station_toml)], run.logs / "station.log"
    )
    inject = InjectClient(run.inject)
    outcomes: list[OrderOutcome] = []
    has_central = importlib.util.find_spec("edge.cli.cmd_central") is not None
    try:
        if has_central:
            sim_setup.make_keys(run)
            sim_setup.write_central_config(run, ports)
        else:
            summary.failures.append("this build has no central service: ran the station alone")
        sim_setup.write_station_config(run, ports, scale.port)
        if has_central:
            central.start()
            wait_for("central to listen", lambda: _central_up(central, ports.central), 20)
            sim_setup.import_day(run)
        station.start()
        inject.connect(service=station)
        _wait_for_queue(inject, day.plan[0].order["order_id"])
        tech = Technician(inject, printer, scale)
        bar = Progress(options.orders, progress_out)
        bar.update(0)
        down_until: int | None = None
        for n, planned in enumerate(day.plan):
            if planned.incident == "central_down" and has_central:
                central.stop(kill=True)  # central crashes mid-day
                down_until = n + CENTRAL_DOWN_ORDERS
                summary.incidents["central_down"] = (
                    f"central killed before order {planned.order['order_id']}"
                )
            station.check_alive()
            try:
                outcome = tech.pack(planned)
            except SimError as exc:
                outcome = OrderOutcome(planned.order["order_id"], planned.incident, "failed")
                outcome.detail = str(exc)
                summary.failures.append(str(exc))
                _recover(inject, planned.order["order_id"])
            outcomes.append(outcome)
            if down_until is not None and n + 1 >= down_until:
                central.start()
                summary.central_restarts += 1
                wait_for("central to come back", lambda: _central_up(central, ports.central), 20)
                summary.incidents["central_down"] += (
                    f", restarted after {CENTRAL_DOWN_ORDERS} orders; the station's queue drained"
                )
                down_until = None
            bar.update(n + 1, _note(outcome))
        if down_until is not None:
            central.start()
            summary.central_restarts += 1
        if has_central:
            _drain(run, summary)
    except SimError as exc:
        summary.failures.append(str(exc))
    finally:
        inject.close()
        was_running = station.alive()
        station_rc = station.stop()
        if was_running and station_rc not in (None, 0):
            summary.failures.append(f"station exited with {station_rc} at shutdown (see {station.log})")
        _finish(run, summary, outcomes, printer, central)
        central.stop()
        printer.stop()
        scale.stop()
        summary.seconds = time.monotonic() - started
        run.summary.write_text(json.dumps(summary.to_json(), indent=1) + "\n")
    return summary


def _central_up(central: Service, port: int) -> bool:
    central.check_alive()
    return tcp_open(port)


def _wait_for_queue(inject: InjectClient, first_order: str) -> None:
    """The station must have central's state (badges, queue) before the technician badges in."""
    del first_order
    wait_for(
        "the station to be ready for a login",
        lambda: inject.state().get("phase") in ("idle", "ready"),
        20,
        0.05,
    )


def _recover(inject: InjectClient, order_id: str) -> None:
    """After a scripted step failed: cancel the order so the rest of the day can run."""
    from edge.simdata import SUPERVISOR_BADGE

    try:
        state = inject.state()
        if state.get("order"):
            inject.send(f"scan {SUPERVISOR_BADGE}")
            inject.send(f"scan ORD-{order_id}")
    except SimError:
        pass


def _note(outcome: OrderOutcome) -> str:
    text = f"order {outcome.order_id} {outcome.status}"
    if outcome.incident:
        text += f" ({outcome.incident}: {', '.join(outcome.halts) or 'no halt'})"
    return text


def _drain(run: sim_setup.RunDir, summary: Summary) -> None:
    """Wait until central stored every event the station journalled (the queue drained)."""
    from edge.journal import Journal

    def drained() -> bool:
        journal = Journal(run.journal, readonly=True)
        try:
            last = journal.last_seq()
        finally:
            journal.close()
        return last > 0 and len(central_hashes(run.central_store, sim_setup.STATION_ID)) >= last

    try:
        wait_for("central to store every journalled event", drained, DRAIN_TIMEOUT_S, 0.1)
    except SimError as exc:
        summary.failures.append(str(exc))


def _finish(
    run: sim_setup.RunDir,
    summary: Summary,
    outcomes: list[OrderOutcome],
    printer: SimPrinter,
    central: Service,
) -> None:
    """Count everything from the records and check the day's invariants."""
    if run.journal.exists():
        station_hashes = count_journal(summary, run.journal)
        stored = central_hashes(run.central_store, sim_setup.STATION_ID)
        summary.central_events = len(stored)
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
    summary.printer_jobs = len(printer.jobs)
    summary.pngs = len(list(run.labels.glob("*.png")))
    for o in outcomes:
        if o.incident and o.incident != "central_down":
            how = f"order {o.order_id}: {', '.join(o.halts) or 'no halt'} -> {o.status}"
            if o.incident == "paper_out":
                how += f", label printed {o.labels}x"
            summary.incidents[o.incident] = how
    expected_cancelled = sum(1 for o in outcomes if o.incident == "over_limit")
    if len(outcomes) == summary.orders:
        if summary.sealed + summary.cancelled != summary.orders:
            summary.failures.append(
                f"{summary.orders} orders, but the journal shows {summary.sealed} sealed and"
                f" {summary.cancelled} cancelled"
            )
        if summary.cancelled != expected_cancelled:
            summary.failures.append(
                f"{summary.cancelled} orders cancelled, {expected_cancelled} scripted"
            )
    else:
        summary.failures.append(f"only {len(outcomes)} of {summary.orders} orders were packed")
    if summary.pngs < summary.labels_printed:
        summary.failures.append(f"{summary.pngs} PNGs for {summary.labels_printed} labels")
    summary.outputs = {
        "run directory": str(run.root),
        "labels (PNG)": str(run.labels),
        "journal": str(run.journal),
        "journal export": str(run.journal_export),
        "central store": str(run.central_store),
        "central export": str(run.central_export),
        "summary": str(run.summary),
        "logs": str(run.logs),
    }
    del central


def main(options: SimOptions, out: TextIO = sys.stdout, progress_out: TextIO = sys.stderr) -> int:
    summary = run_day(options, progress_out)
    render(summary, out)
    return 0 if summary.ok else 1
