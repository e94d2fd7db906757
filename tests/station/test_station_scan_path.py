"""One scan's way through the daemon in-process, to the Rust core: text and AIM identifier reach
`OrderCheck.scan` apart, as the scanner driver decoded them (never glued back), the core alone
recognises the scan, and GS1 data is read once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import pytest

import edge.scan.verify
from drivers.scale import WeighOutRules
from edge.scan import OrderCheck
from edge.scan.gs1 import Gs1Reader
from edge.station.config import StationConfig, StationSection
from edge.station.daemon import Station
from edge.station.ports import StationPorts
from edge.station.wiring import CoreVerifier, DriverWeighRule
from edge.station.wiring.seed import SeedCentral
from edge.workflow.ports import Gs1Data
from tests.support.station import (
    INVENTORY,
    CapLimits,
    CountingSink,
    DirPrinter,
    FileIndicator,
    journal_events,
    tag,
    write_seed,
)

GS = "\x1d"
LOT_SERIAL = "0109501101020917" + "17190508" + "10ABCD1234" + GS + "2110"


class SpyCheck:
    """The core's OrderCheck, recording what each scan() / scan_parts() call was given."""

    def __init__(self, real: OrderCheck, calls: list[tuple[Any, ...]]) -> None:
        self.real, self.calls = real, calls

    def scan(self, *args: Any) -> Any:
        self.calls.append(args)
        return self.real.scan(*args)

    def scan_parts(self, *args: Any) -> Any:
        self.calls.append(args)
        return self.real.scan_parts(*args)

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)


@pytest.fixture
def core_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[Any, ...]]:
    calls: list[tuple[Any, ...]] = []
    monkeypatch.setattr(
        edge.scan.verify, "OrderCheck", lambda *a, **k: SpyCheck(OrderCheck(*a, **k), calls)
    )
    return calls


@pytest.fixture
def gs1_reads(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    reads: list[str] = []
    real = Gs1Reader.read

    def read(self: Gs1Reader, text: str, aim_id: str | None = None) -> Gs1Data:
        reads.append(text)
        return real(self, text, aim_id)

    monkeypatch.setattr(Gs1Reader, "read", read)
    return reads


def scan_into_order(tmp: Path, text: str, aim_id: str | None) -> dict[str, Any]:
    """Log in, load order 1042, scan (text, aim_id) as the scanner driver gives it; the verdict."""
    write_seed(tmp / "seed")
    cfg = StationConfig(station=StationSection(state_dir=str(tmp), seed_dir=str(tmp / "seed")))
    central = SeedCentral.from_config(cfg)
    ports = StationPorts(
        verifier=CoreVerifier(cfg, central.inventory),
        limits=CapLimits(INVENTORY),
        weigh_rule=DriverWeighRule(WeighOutRules(cfg.scale.over_tolerance_mg)),
        central=central,
        printer=DirPrinter(tmp),
        indicator=FileIndicator(tmp / "signals.log"),
        sink=CountingSink(),
    )

    async def run() -> None:
        station = Station(cfg, ports)
        await station.start()
        try:
            await station.feed_scan("BADGE-ALICE", "kbd")
            await station.feed_scan("ORD-1042", "kbd")
            await station.feed_scan(text, "kbd", aim_id)
        finally:
            station.stop()
            await station._shutdown()

    asyncio.run(run())
    (scan,) = [e["body"] for e in journal_events(tmp, "scan") if e["body"]["kind"] == "package"]
    assert (scan["raw"], scan["aim_id"]) == (text, aim_id)  # journalled as decoded
    (verdict,) = journal_events(tmp, "verdict")
    body: dict[str, Any] = verdict["body"]
    return body


def test_a_datamatrix_gs1_scan_reaches_the_core_with_its_aim_id_apart(
    tmp_path: Path, core_calls: list[tuple[Any, ...]], gs1_reads: list[str]
) -> None:
    verdict = scan_into_order(tmp_path, LOT_SERIAL, "]d2")
    assert core_calls == [(LOT_SERIAL, "]d2")]
    assert gs1_reads == [LOT_SERIAL]  # read once, after the core said GS1
    assert verdict["verdict"] == "unknown" and verdict["raw"] == LOT_SERIAL
    assert "GTIN 09501101020917, batch ABCD1234, expiry 2019-05-08" in verdict["reason"]


def test_a_gs1_128_scan_is_gs1_by_its_aim_id_alone(
    tmp_path: Path, core_calls: list[tuple[Any, ...]], gs1_reads: list[str]
) -> None:
    # 16 digits: a BioTrack id to the core, unless the scanner said GS1-128 (]C1)
    text = "0109501101530003"
    verdict = scan_into_order(tmp_path, text, "]C1")
    assert core_calls == [(text, "]C1")]
    assert gs1_reads == [text]
    assert verdict["verdict"] == "unknown" and "GTIN 09501101530003" in verdict["reason"]


def test_a_gs1_scan_whose_separator_was_typed_as_029_is_refused_as_ambiguous(
    tmp_path: Path, core_calls: list[tuple[Any, ...]]
) -> None:
    text = LOT_SERIAL.replace(GS, "029")
    verdict = scan_into_order(tmp_path, text, "]d2")
    assert core_calls == [(text, "]d2")]
    assert verdict["verdict"] == "malformed"
    assert "ambiguous GS1 data" in verdict["reason"] and "029" in verdict["reason"]


def test_a_package_tag_is_judged_by_the_core_without_gs1(
    tmp_path: Path, core_calls: list[tuple[Any, ...]], gs1_reads: list[str]
) -> None:
    verdict = scan_into_order(tmp_path, tag(1).lower(), "]Q1")
    assert core_calls == [(tag(1).lower(), "]Q1")]
    assert gs1_reads == []
    assert (verdict["verdict"], verdict["uid"], verdict["line"]) == ("match", tag(1), 1)
