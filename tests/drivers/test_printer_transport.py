"""Transports and one print attempt against real sockets, files and a pty: status, timeouts,
refusal, silence and resets, with the simulated printer on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from drivers.printer.document import Document, Qr, Text
from drivers.printer.escpos_decode import decode
from drivers.printer.escpos_encode import encode
from drivers.printer.session import Timeouts, attempt, read_status
from drivers.printer.sim import SimPrinter
from drivers.printer.status import Readiness
from drivers.printer.transport import (
    Target,
    TcpTransport,
    TransportError,
    open_transport,
    parse_target,
)

JOB = encode(Document((Text("ORDER 1042", bold=True), Qr("SEAL-1042-0123456789ABCDEF")), 58))
FAST = Timeouts(io=2.0, status=0.3, confirm=2.0)


def _try(sim: SimPrinter, *, confirm: str = "status", clear: bool = False, pid: str = "0001"):  # type: ignore[no-untyped-def]
    return attempt(
        parse_target(sim.target),
        JOB,
        timeouts=FAST,
        confirm=confirm,
        pid=pid,
        clear_first=clear,  # type: ignore[arg-type]
    )


def test_ready_printer_prints_and_job_decodes() -> None:
    with SimPrinter() as sim:
        result = _try(sim)
        assert result.printed and result.error == "" and result.warning == ""
        assert result.status_before.readiness is Readiness.READY
        (job,) = sim.wait_for_jobs(1)
        assert job.decoded.lines[0] == "ORDER 1042"
        assert job.decoded.qr_payloads == ["SEAL-1042-0123456789ABCDEF"]
        assert sim.status_queries[:3] == [1, 2, 4]


@pytest.mark.parametrize(
    ("state", "message"),
    [
        ({"paper": "end"}, "out of paper"),
        ({"cover_open": True}, "cover is open"),
        ({"error": True}, "reports an error"),
    ],
)
def test_blocked_printer_gets_no_job(state: dict[str, object], message: str) -> None:
    with SimPrinter() as sim:
        sim.set_state(**state)  # type: ignore[arg-type]
        result = _try(sim)
        assert not result.printed and message in result.error
        time.sleep(0.1)
        assert sim.jobs == [] and sim.dropped == []


def test_silent_printer_is_unknown_prints_anyway_with_warning() -> None:
    with SimPrinter() as sim:
        sim.answer = "silent"
        started = time.monotonic()
        result = _try(sim)
        elapsed = time.monotonic() - started
        assert result.printed
        assert result.status_before.readiness is Readiness.UNKNOWN
        assert "does not answer" in result.warning
        assert elapsed < 2 * FAST.status + 1.0  # one query before, one after, then give up
        sim.wait_for_jobs(1)


def test_garbage_status_bytes_are_not_status() -> None:
    with SimPrinter() as sim:
        sim.answer = "garbage"
        result = _try(sim)
        assert result.status_before.state == "unknown" and result.printed


def test_refused_connection_is_a_clear_error() -> None:
    with SimPrinter() as sim:
        sim.refuse()
        started = time.monotonic()
        result = _try(sim)
        assert not result.printed and "refused" in result.error.lower()
        assert time.monotonic() - started < 1.0
        sim.refuse(False)
        assert _try(sim).printed


def test_reset_mid_job_then_the_retry_prints_exactly_once() -> None:
    with SimPrinter() as sim:
        sim.reset_after = 40
        first = _try(sim)
        assert not first.printed
        assert "reset" in first.error or "closed" in first.error
        second = _try(sim, clear=True)
        assert second.printed
        assert len(sim.wait_for_jobs(1)) == 1
        time.sleep(0.1)
        assert len(sim.jobs) == 1 and len(sim.dropped) == 1


def test_process_id_confirmation() -> None:
    with SimPrinter() as sim:
        assert _try(sim, confirm="process-id", pid="0042").printed


@contextmanager
def raw_listener(handler) -> Iterator[int]:  # type: ignore[no-untyped-def]
    """A loopback listener whose single connection is given to `handler(sock)`."""
    server = socket.create_server(("127.0.0.1", 0))
    port = server.getsockname()[1]

    def serve() -> None:
        conn, _ = server.accept()
        with conn:
            handler(conn)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield port
    finally:
        server.close()
        thread.join(5)


def test_no_process_id_answer_means_not_printed() -> None:
    def status_only(conn: socket.socket) -> None:
        conn.settimeout(3)
        deadline = time.monotonic() + 3
        while time.monotonic() < deadline:
            try:
                data = conn.recv(4096)
            except OSError:
                return
            if not data:
                return
            conn.sendall(b"\x12" * data.count(b"\x10\x04"))

    with raw_listener(status_only) as port:
        result = attempt(
            Target("tcp", host="127.0.0.1", port=port),
            JOB,
            timeouts=Timeouts(2.0, 0.3, 0.5),
            confirm="process-id",
            pid="0007",
            clear_first=False,
        )
    assert not result.printed and "did not confirm" in result.error


def test_write_to_a_printer_that_stops_reading_times_out() -> None:
    release = threading.Event()

    def never_read(conn: socket.socket) -> None:
        release.wait(5)

    with raw_listener(never_read) as port:
        t = TcpTransport(Target("tcp", host="127.0.0.1", port=port), timeout=1.0)
        t._sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 4096)
        started = time.monotonic()
        with pytest.raises(TransportError, match="timed out"):
            t.write(b"\x00" * 32_000_000, timeout=0.5)
        assert time.monotonic() - started < 2.0
        t.close()
        release.set()


def test_file_target_writes_the_job_and_has_no_status(tmp_path: Path) -> None:
    capture = tmp_path / "lp0"
    capture.write_bytes(b"")
    result = attempt(
        parse_target(f"file:{capture}"),
        JOB,
        timeouts=FAST,
        confirm="status",
        pid="0001",
        clear_first=False,
    )
    assert result.printed and "no back channel" in result.warning
    assert decode(capture.read_bytes()).lines[0] == "ORDER 1042"


def test_missing_device_file_is_an_error_not_a_new_file(tmp_path: Path) -> None:
    missing = tmp_path / "nope"
    result = attempt(
        parse_target(f"file:{missing}"),
        JOB,
        timeouts=FAST,
        confirm="status",
        pid="0001",
        clear_first=False,
    )
    assert not result.printed and "No such file" in result.error
    assert not missing.exists()


def test_serial_printer_over_a_pty() -> None:
    master, slave = os.openpty()
    received = bytearray()
    stop = threading.Event()

    def printer() -> None:
        while not stop.is_set():
            try:
                chunk = os.read(master, 4096)
            except OSError:
                return
            received.extend(chunk)
            for _ in range(chunk.count(b"\x10\x04")):
                os.write(master, b"\x12")

    os.set_blocking(master, True)
    thread = threading.Thread(target=printer, daemon=True)
    thread.start()
    try:
        target = parse_target(f"serial:{os.ttyname(slave)}@19200")
        with open_transport(target, 1.0) as t:
            assert read_status(t, 0.5).readiness is Readiness.READY
        result = attempt(
            target, JOB, timeouts=FAST, confirm="status", pid="0001", clear_first=False
        )
        assert result.printed, result.error
        deadline = time.monotonic() + 2
        while b"ORDER 1042" not in received and time.monotonic() < deadline:
            time.sleep(0.01)
        assert "ORDER 1042" in decode(bytes(received)).lines
    finally:
        stop.set()
        os.close(slave)
        os.close(master)
        thread.join(2)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("tcp://127.0.0.1:9100", Target("tcp", host="127.0.0.1", port=9100)),
        ("tcp://[::1]:9100", Target("tcp", host="::1", port=9100)),
        ("usb:04b8:0e15", Target("usb", vid=0x04B8, pid=0x0E15)),
        ("serial:/dev/ttyUSB0", Target("serial", path="/dev/ttyUSB0")),
        ("serial:/dev/ttyUSB0@38400", Target("serial", path="/dev/ttyUSB0", baud=38400)),
        ("file:/dev/usb/lp0", Target("file", path="/dev/usb/lp0")),
    ],
)
def test_parse_target(text: str, expected: Target) -> None:
    assert parse_target(text) == expected


@pytest.mark.parametrize(
    "text", ["tcp://host", "tcp://h:0", "usb:xyz:1", "usb:1", "lp0", "file:", "serial:/x@fast"]
)
def test_parse_target_rejects(text: str) -> None:
    with pytest.raises(ValueError, match="expected tcp://HOST:PORT"):
        parse_target(text)


def test_usb_target_without_device_is_a_transport_error() -> None:
    with pytest.raises(TransportError, match="usb:ffff:fffe"):
        open_transport(parse_target("usb:ffff:fffe"), 0.5)


def test_paper_near_end_prints_and_warns() -> None:
    with SimPrinter() as sim:
        sim.set_state(paper="near_end")
        result = _try(sim)
        assert result.printed and "nearly empty" in result.warning
        assert result.status_after.state == "paper_near_end"
