"""The daemon's small parts: sd_notify over real sockets, the disk guard, scan routing, port loading."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path

import pytest

from drivers.config import ScanConfig
from edge.disk_guard import DiskGuard
from edge.errors import ConfigError
from edge.ports import OrderLine
from edge.scan_input import ScanClassifier
from edge.sdnotify import Notifier
from edge.station import load_ports
from edge.station_config import StationConfig, StationSection
from edge.weigh_rule import ToleranceWeighRule
from edge.workflow_state import BadgeScanned, PackageScanned, SealScanned, TicketScanned
from tests.station_support import tag


def test_notify_to_a_path_socket(tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(tmp_path / "n.sock"))
        notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "n.sock")})
        assert notifier.ready("phase=idle")
        assert server.recv(100) == b"READY=1\nSTATUS=phase=idle"
        assert notifier.watchdog()
        assert server.recv(100) == b"WATCHDOG=1"
        notifier.close()


def test_notify_to_an_abstract_socket() -> None:
    name = f"packstation-test-{uuid.uuid4()}"
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(b"\0" + name.encode())
        notifier = Notifier({"NOTIFY_SOCKET": "@" + name})
        assert notifier.status("line one\nline two")
        assert server.recv(100) == b"STATUS=line one line two"
        notifier.close()


def test_notify_without_systemd_is_a_quiet_no_op(tmp_path: Path) -> None:
    assert not Notifier({}).ready("x")
    gone = Notifier({"NOTIFY_SOCKET": str(tmp_path / "absent.sock")})
    assert gone.enabled and not gone.ready("x")  # logged once, never raised
    gone.close()


def test_watchdog_interval_is_half_of_watchdog_usec() -> None:
    assert Notifier({"WATCHDOG_USEC": "4000000"}).watchdog_interval_s == 2.0
    assert Notifier({"WATCHDOG_USEC": "4000000", "WATCHDOG_PID": "1"}).watchdog_interval_s is None
    mine = {"WATCHDOG_USEC": "1000000", "WATCHDOG_PID": str(os.getpid())}
    assert Notifier(mine).watchdog_interval_s == 0.5


def test_disk_guard_thresholds_on_the_real_file_system(tmp_path: Path) -> None:
    st = os.statvfs(tmp_path)
    free_mb = st.f_bavail * st.f_frsize // (1024 * 1024)
    assert DiskGuard(tmp_path, min_free_mb=0, min_free_percent=0).check().ok
    low = DiskGuard(tmp_path, min_free_mb=free_mb + 10_000, min_free_percent=0).check(unacked=7)
    assert not low.ok and low.need_mb == free_mb + 10_000
    assert "new orders refused, 7 events not yet acknowledged by central are kept" in low.detail
    assert not DiskGuard(tmp_path / "missing", min_free_mb=0, min_free_percent=0).check().ok


def test_scan_classifier_routes_by_the_scan_patterns() -> None:
    c = ScanClassifier(ScanConfig())
    assert c.classify("BADGE-ALICE", "kbd") == BadgeScanned("BADGE-ALICE", "kbd")
    assert c.classify("ORD-1042") == TicketScanned("1042", "ORD-1042")
    assert c.classify("SEAL-1042-0123456789ABCDEF") == SealScanned("SEAL-1042-0123456789ABCDEF")
    assert c.classify(f" {tag(1)} ") == PackageScanned(tag(1))
    assert c.classify("ORD-x") == PackageScanned("ORD-x")  # the Verifier calls it malformed


def test_load_ports_names_the_problem() -> None:
    with pytest.raises(ConfigError, match="built-in driver wiring"):
        load_ports(StationConfig())
    bad = StationConfig(station=StationSection(ports="tests.nowhere:make"))
    with pytest.raises(ConfigError, match=r"cannot load 'tests\.nowhere:make'"):
        load_ports(bad)


@pytest.mark.parametrize(("net", "ok"), [(3499, False), (3500, True), (3600, True), (3601, False)])
def test_weigh_rule_bounds_are_inclusive(net: int, ok: bool) -> None:
    line = OrderLine(line=3, sku="BULK-OG", weigh=True, labelled_weight_mg=3500)
    result = ToleranceWeighRule(100).judge(line, net)
    assert result.ok is ok and (result.min_mg, result.max_mg) == (3500, 3600)


def test_weigh_rule_refuses_a_line_without_labelled_weight() -> None:
    result = ToleranceWeighRule(100).judge(OrderLine(line=1, weigh=True), 3500)
    assert not result.ok and "no labelled weight" in result.reason


def test_notify_never_blocks_when_the_receiver_stops_reading(tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(tmp_path / "n.sock"))
        notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "n.sock")})
        results = [notifier.status(f"phase={i}") for i in range(2000)]  # nobody reads
        assert results[0] and not results[-1]
        notifier.close()
