"""The daemon's small parts: sd_notify over real sockets, the disk guard, scan routing, port loading."""

from __future__ import annotations

import os
import socket
import uuid
from pathlib import Path
from typing import Any

import msgspec
import pytest

from drivers.config import PrinterConfig
from drivers.scale import WeighOutRules
from edge.common.errors import ConfigError
from edge.common.sdnotify import Notifier
from edge.limits import engine as limits_engine
from edge.scan.classify import ScanRouter
from edge.scan.config import ScanConfig
from edge.station.config import StationConfig, StationSection
from edge.station.daemon import load_ports, route_scan
from edge.station.disk_guard import DiskGuard
from edge.station.wiring import build_ports
from edge.station.wiring.limits import EngineLimits
from edge.station.wiring.scale import DriverWeighRule
from edge.workflow.ports import OrderLine
from edge.workflow.state import BadgeScanned, PackageScanned, SealScanned, TicketScanned
from tests.support.station import tag


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


def test_scans_are_routed_by_the_scan_patterns() -> None:
    r = ScanRouter(ScanConfig())
    assert route_scan(r, "BADGE-ALICE", "kbd", None) == BadgeScanned("BADGE-ALICE", "kbd")
    assert route_scan(r, "ORD-1042", "", None) == TicketScanned("1042", "ORD-1042")
    seal = "SEAL-1042-0123456789ABCDEF"
    assert route_scan(r, seal, "", None) == SealScanned(seal)
    assert route_scan(r, tag(1), "", None) == PackageScanned(tag(1))
    assert route_scan(r, "ORD-x", "", None) == PackageScanned("ORD-x")  # the core: malformed
    # a GS1 scan reaches the Rust core as the driver decoded it: text and AIM id apart
    gs1 = "0109506000134352" + "\x1d" + "10AB"
    assert route_scan(r, gs1, "kbd", "]d2") == PackageScanned(gs1, "kbd", "]d2")
    assert route_scan(r, "0109506000134352", "", "]C1") == PackageScanned(
        "0109506000134352", "", "]C1"
    )


def test_load_ports_defaults_to_the_built_in_wiring(tmp_path: Path) -> None:
    cfg = StationConfig(station=StationSection(state_dir=str(tmp_path)))
    ports = load_ports(cfg)
    assert isinstance(ports.weigh_rule, DriverWeighRule)
    assert ports.scan_decoder is not None
    assert ports.central.next_order() is None and ports.central.badge("BADGE-ALICE") is None
    assert build_ports(cfg).scale is None  # [scale] enabled = false
    bad = StationConfig(station=StationSection(ports="tests.nowhere:make"))
    with pytest.raises(ConfigError, match=r"cannot load 'tests\.nowhere:make'"):
        load_ports(bad)


def test_the_limit_rules_load_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: list[str] = []
    real = limits_engine.load_rules

    def counting(*args: Any, **kwargs: Any) -> Any:
        loaded.append(str(args[0]))
        return real(*args, **kwargs)

    monkeypatch.setattr(limits_engine, "load_rules", counting)
    ports = build_ports(StationConfig(station=StationSection(state_dir=str(tmp_path))))
    assert len(loaded) == 1  # checked before the station opens, and that engine is the one used
    assert isinstance(ports.limits, EngineLimits)
    ports.limits.engine.rules("IL")
    assert len(loaded) == 1


RULE = DriverWeighRule(WeighOutRules(over_tolerance_mg=100, max_division_mg=10))


@pytest.mark.parametrize(
    ("net", "code"), [(3499, "short_weight"), (3500, ""), (3600, ""), (3601, "over_weight")]
)
def test_weigh_rule_is_the_scale_drivers_and_its_bounds_are_inclusive(net: int, code: str) -> None:
    line = OrderLine(line=3, sku="BULK-OG", weigh=True, labelled_weight_mg=3500)
    result = RULE.judge(line, net, 10)
    assert result.ok is (code == "") and result.code == code
    assert (result.min_mg, result.max_mg) == (3500, 3600)


def test_weigh_rule_refuses_a_coarse_scale_and_a_line_without_labelled_weight() -> None:
    line = OrderLine(line=3, sku="BULK-OG", weigh=True, labelled_weight_mg=3500)
    coarse = RULE.judge(line, 3500, 100)  # a 0.1 g scale may not weigh out
    assert not coarse.ok and coarse.code == "coarse_scale" and "steps of" in coarse.reason
    result = RULE.judge(OrderLine(line=1, weigh=True), 3500)
    assert not result.ok and "no labelled weight" in result.reason


def test_notify_never_blocks_when_the_receiver_stops_reading(tmp_path: Path) -> None:
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as server:
        server.bind(str(tmp_path / "n.sock"))
        notifier = Notifier({"NOTIFY_SOCKET": str(tmp_path / "n.sock")})
        results = [notifier.status(f"phase={i}") for i in range(2000)]  # nobody reads
        assert results[0] and not results[-1]
        notifier.close()


def test_built_in_wiring_refuses_to_start_without_what_compliance_needs(tmp_path: Path) -> None:
    base = StationSection(state_dir=str(tmp_path))
    no_rules = StationConfig(station=msgspec.structs.replace(base, jurisdiction="ZZ"))
    with pytest.raises(ConfigError, match="ZZ"):
        load_ports(no_rules)
    bad_target = StationConfig(station=base, printer=PrinterConfig(target="lp0"))
    with pytest.raises(ConfigError, match="printer target 'lp0'"):
        load_ports(bad_target)
