"""Notifications from central to a local webhook receiver and an SMTP receiver (aiosmtpd), both
down at first: queued in central's store, central killed -9 and restarted, then delivered once
each. The offline-station and state-system sources against a real SQLite store."""

from __future__ import annotations

import json
import time
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller

from central.notify import NotifySection
from central.notify.tail import NotifyTail
from central.statesys.store import ReportStore
from central.store import open_store
from drivers.printer.sim import SimPrinter
from edge.cli import run
from tests.support.central import CentralProcess, free_port
from tests.support.linked import wait_until as wait
from tests.support.staging import Receiver, central_with_orders, link, station_config
from tests.support.station import Daemon, tag


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[Any] = []

    async def handle_DATA(self, server: object, session: object, envelope: Any) -> str:
        self.messages.append((envelope.rcpt_tos, message_from_bytes(envelope.content)))
        return "250 OK"


def _notify_rows(store_url: str) -> list[dict[str, Any]]:
    store = open_store(store_url)
    try:
        return [w for w in ReportStore(store).webhooks() if w["event"].startswith("notify:")]
    finally:
        store.close()


def _two_halts(d: Daemon) -> None:
    """An expired package (halt, quarantine: notified) and a wrong location (notified halt)."""
    wait(lambda: "central" not in d.state()["devices_down"])
    wait(lambda: d.send("scan BADGE-ALICE")["phase"] == "ready")
    d.send("scan ORD-2001")
    assert d.send(f"scan {tag(5)}")["phase"] == "halted"  # quarantined; its halt kind not listed
    d.send("scan BADGE-BOSS")
    d.send("scan BADGE-BOSS")
    d.send(f"scan {tag(4)}")
    seal: str = d.wait_phase("seal", 15)["order"]["seal_code"]
    d.send(f"scan {seal}")
    assert d.send("scan LOC-SHELF-A1")["phase"] == "halted"  # notified


@pytest.mark.slow
def test_notifications_survive_a_central_restart(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    setup, _ = central_with_orders(tmp_path)
    receiver, smtp_port = Receiver(), free_port()
    with setup.config.open("a") as f:
        f.write(
            "[notify]\n"
            f'webhook_url = "{receiver.url}"\n'
            'smtp_host = "127.0.0.1"\n'
            f"smtp_port = {smtp_port}\n"
            'mail_to = ["inventory-manager@store.example"]\n'
            'halt_kinds = ["wrong_location"]\n'
            "poll_ms = 100\n"
        )
    station = tmp_path / "station"
    station.mkdir()
    central = CentralProcess(setup)
    central.start()
    try:
        with (
            SimPrinter() as printer,
            Daemon(station_config(station, printer.target, link(setup))) as d,
        ):
            _two_halts(d)
            # both targets down: queued, tried, not delivered
            wait(
                lambda: (
                    len(rows := _notify_rows(setup.store)) == 4
                    and all(r["attempts"] >= 1 for r in rows)
                ),
                30,
            )
        central.kill9()
        assert all(r["delivered_at"] is None for r in _notify_rows(setup.store))
        receiver.status = 200
        mailbox = Mailbox()
        smtp = Controller(mailbox, hostname="127.0.0.1", port=smtp_port)
        smtp.start()
        try:
            central.start()
            wait(lambda: all(r["delivered_at"] for r in _notify_rows(setup.store)), 30)
        finally:
            smtp.stop()
    finally:
        central.stop()
        receiver.server.shutdown()
        receiver.server.server_close()
    capsys.readouterr()
    assert run(["central", "report", "notifications", "--config", str(setup.config)]) == 0
    listed = capsys.readouterr().out.splitlines()
    assert len(listed) == 4 and all("  delivered  " in line for line in listed)
    notes = sorted((b["kind"], b.get("code")) for _, b in receiver.got)
    assert notes[0] == ("halt", "wrong_location")
    assert notes[1][0] == "quarantine" and len(notes) == 2
    assert {b["uid"] for _, b in receiver.got if b["kind"] == "quarantine"} == {tag(5)}
    assert len({h["Idempotency-Key"] for h, _ in receiver.got}) == 2
    subjects = sorted(m["Subject"] for _, m in mailbox.messages)
    assert len(subjects) == 2 and "halt wrong_location on order 2001" in subjects[0]
    assert all(to == ["inventory-manager@store.example"] for to, _ in mailbox.messages)


def test_offline_station_and_failed_state_reports_are_queued_once(tmp_path: Path) -> None:
    store = open_store(f"sqlite://{tmp_path / 'central.sqlite3'}")
    try:
        reports = ReportStore(store)
        section = NotifySection(webhook_url="http://127.0.0.1:9/", station_offline_min=10)
        now = time.time()
        contact = {"station-01": now - 11 * 60, "station-02": now - 60}
        tail = NotifyTail(section, reports, contact, started=now, stations=lambda: ["station-03"])
        assert tail.poll_once() == 1  # station-01 only: 02 spoke a minute ago, 03 since start
        assert tail.poll_once() == 1 and len(reports.webhooks()) == 1  # the same outage: once
        (row,) = reports.webhooks()
        body = json.loads(row["body"])
        assert body["kind"] == "station_offline" and body["station"] == "station-01"
        contact["station-01"] = now - 20 * 60  # heard from, then gone again: a new outage
        tail.poll_once()
        assert len(reports.webhooks()) == 2
        reports.alert("auth", "the state system refused the API key (HTTP 401)")
        tail.poll_once()
        kinds = [json.loads(w["body"])["kind"] for w in reports.webhooks()]
        assert kinds.count("state_alert") == 1
        assert reports.due_webhooks() == []  # the POS's sender never sees notifications
    finally:
        store.close()
