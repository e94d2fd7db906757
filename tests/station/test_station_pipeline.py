"""The verifier pipeline: every stage gets every call, the core forgets what a stage refused, the
availability book folds the rows the daemon commits instead of reading its journal per scan, and
availability claims the packages an order names as the daemon loads it."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import msgspec

from drivers.scale import WeighOutRules
from edge.common import protocol as p
from edge.common.chain import canonical_json
from edge.journal import Journal, JournalEvent
from edge.link.config import LinkSection
from edge.scan.pipeline import CommittedEvent, Pipeline, Scan, Stage
from edge.station.config import StationConfig, StationSection
from edge.station.daemon import Station
from edge.station.ports import StationPorts
from edge.station.wiring import CoreVerifier, DriverWeighRule
from edge.station.wiring.availability import Availability, JournalBook
from edge.station.wiring.seed import SeedCentral
from edge.workflow.ports import Order, Pick, ScanVerdict
from edge.workflow.state import OrderProgress, PackageScanned, Phase, WorkflowState
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

AT = "2026-11-22T15:00:00+00:00"
MATCH = ScanVerdict(verdict="match", reason="ok", line=1, uid=tag(1), accepted=True)


def order() -> Order:
    body = {
        "order_id": "O-1",
        "channel": "pickup",
        "customer": {"id": "C-1", "name": "Ann", "class": "adult"},
        "lines": [{"line": 1, "uid": tag(1), "quantity": 1}],
    }
    return msgspec.convert(body, Order)


class Core:
    def __init__(self, verdict: ScanVerdict) -> None:
        self.verdict = verdict
        self.checked: list[str] = []
        self.forgot = 0

    def check(
        self, order: Order, accepted: Sequence[Pick], raw: str, at: str, aim_id: str | None = None
    ) -> ScanVerdict:
        self.checked.append(raw)
        return self.verdict

    def forget(self) -> None:
        self.forgot += 1


class Recording(Stage):
    """A stage that overrides every hook and records each call."""

    def __init__(self, name: str, calls: list[str], refuse: bool = False) -> None:
        self.name, self.calls, self.refuse = name, calls, refuse
        self.reserves = True

    def before(self, scan: Scan) -> None:
        self.calls.append(f"{self.name}.before {scan.raw}")

    def judge(self, scan: Scan, verdict: ScanVerdict) -> ScanVerdict:
        self.calls.append(f"{self.name}.judge {verdict.verdict}")
        if self.refuse:
            return ScanVerdict(verdict="held", reason="held", uid=verdict.uid, line=verdict.line)
        return verdict

    async def reserve(self, scan: Scan, given: ScanVerdict, verdict: ScanVerdict) -> ScanVerdict:
        self.calls.append(f"{self.name}.reserve {given.verdict}->{verdict.verdict}")
        return verdict

    def committed(self, events: Sequence[CommittedEvent]) -> None:
        self.calls.append(f"{self.name}.committed {[e.seq for e in events]}")

    def opened(self, order: Order) -> None:
        self.calls.append(f"{self.name}.opened {order.order_id}")


class Quiet(Stage):
    """A stage that overrides nothing: the pipeline still works through it."""


def picking() -> WorkflowState:
    progress = OrderProgress(order=order(), source="ticket")
    return msgspec.structs.replace(WorkflowState(), phase=Phase.PICKING, order=progress)


def test_every_stage_gets_every_call_in_order() -> None:
    calls: list[str] = []
    core = Core(MATCH)
    pipeline = Pipeline(core, [Recording("a", calls), Quiet(), Recording("b", calls)])
    assert pipeline.check(order(), [], tag(1), AT) == MATCH
    assert calls == [
        f"a.before {tag(1)}",
        f"b.before {tag(1)}",
        "a.judge match",
        "b.judge match",
    ]
    calls.clear()
    event = _event(7, "verdict", {"order_id": "O-1"})
    pipeline.committed([event])
    pipeline.opened(order())
    assert calls == ["a.committed [7]", "b.committed [7]", "a.opened O-1", "b.opened O-1"]
    assert core.forgot == 0


def test_a_prepared_verdict_is_the_steps_verdict_and_the_core_judges_once() -> None:
    calls: list[str] = []
    core = Core(MATCH)
    pipeline = Pipeline(core, [Recording("a", calls), Recording("b", calls, refuse=True)])
    asyncio.run(pipeline.prepare(picking(), PackageScanned(tag(1), "inject")))
    assert calls == [
        "a.judge match",
        "b.judge match",
        "a.reserve match->held",
        "b.reserve match->held",
    ]
    assert core.forgot == 1  # the core counted it; a stage refused it
    calls.clear()
    verdict = pipeline.check(order(), [], tag(1), AT)
    assert verdict.verdict == "held" and core.checked == [tag(1)]
    assert calls == [f"a.before {tag(1)}", f"b.before {tag(1)}"]  # no second judgment
    # another scan is judged afresh
    pipeline.check(order(), [], tag(2), AT)
    assert core.checked == [tag(1), tag(2)] and core.forgot == 2


def test_the_core_forgets_only_what_it_accepted_and_a_stage_refused() -> None:
    refused = ScanVerdict(verdict="unknown", reason="?")
    for first, refuse, forgot in ((MATCH, False, 0), (MATCH, True, 1), (refused, True, 0)):
        core = Core(first)
        Pipeline(core, [Recording("a", [], refuse=refuse)]).check(order(), [], "x", AT)
        assert core.forgot == forgot, (first.verdict, refuse)


def _event(seq: int, type_: str, body: dict[str, Any], at: str = AT) -> JournalEvent:
    return JournalEvent(
        seq=seq,
        event_id="00000000-0000-4000-8000-000000000000",
        at=at,
        type=type_,
        body=canonical_json(body),
        prev_hash=bytes(32),
        hash=bytes(32),
    )


def test_the_book_folds_committed_rows_and_reads_the_journal_only_on_a_gap(
    tmp_path: Path,
) -> None:
    path = tmp_path / "journal.sqlite3"
    journal = Journal(path)
    accepted = {"order_id": "O-1", "outcome": "accepted", "uid": tag(1), "unit": None}
    journal.append("verdict", accepted)
    journal.append("order_status", {"order_id": "O-1", "status": "sealed"})
    book = JournalBook("station-01", path)
    # before its first use the book reads nothing (start-up does not wait): that use reads all
    book.committed([_event(2, "order_status", {"order_id": "O-1", "status": "sealed"})])
    assert book.book.last_seq == 0 and book.book.sold == {}
    assert [t.order_id for t in book.current().sold[tag(1)]] == ["O-1"]  # read once
    assert book.book.last_seq == 2
    # a row the daemon committed is folded as it is handed over, not read back from the file
    # (this one is not in the file at all)
    book.committed([_event(3, "verdict", {**accepted, "order_id": "O-2", "uid": tag(2)})])
    assert book.current().holds(tag(2))[0].order_id == "O-2" and book.book.last_seq == 3
    assert book.current().holds(tag(3)) == []
    # rows that do not follow the last one folded: the file is read from there
    for n in (3, 4):
        journal.append("verdict", {**accepted, "order_id": f"O-{n}", "uid": tag(n)})
    book.committed([_event(5, "verdict", {**accepted, "order_id": "O-9", "uid": tag(9)})])
    assert book.current().holds(tag(4))[0].order_id == "O-4" and book.book.last_seq == 4
    assert book.current().holds(tag(9)) == []
    book.close()
    journal.close()


def test_the_station_hands_its_commits_to_the_pipeline_a_sale_refuses_the_next_order_offline(
    tmp_path: Path,
) -> None:
    """No central: the package sealed into order 2001 is `sold` to order 3001 at once, from the
    rows the daemon handed the availability book as it committed them."""
    write_seed(tmp_path / "seed")
    cfg = StationConfig(
        station=StationSection(state_dir=str(tmp_path), seed_dir=str(tmp_path / "seed"))
    )
    central = SeedCentral.from_config(cfg)
    calls: list[str] = []
    ports = StationPorts(
        verifier=Pipeline(
            CoreVerifier(cfg, central.inventory),
            [Recording("spy", calls), Availability(cfg, central.package)],
        ),
        limits=CapLimits(INVENTORY),
        weigh_rule=DriverWeighRule(WeighOutRules(cfg.scale.over_tolerance_mg)),
        central=central,
        printer=DirPrinter(tmp_path),
        indicator=FileIndicator(tmp_path / "signals.log"),
        sink=CountingSink(),
    )

    async def run() -> list[str]:
        station = Station(cfg, ports)
        await station.start()
        try:
            await station.feed_scan("BADGE-ALICE", "kbd")
            await station.feed_scan("ORD-2001", "kbd")
            first = await station.feed_scan(tag(4), "kbd")
            for _ in range(500):
                if station.state.phase == Phase.SEAL:
                    break
                await asyncio.sleep(0.01)
            assert station.state.order is not None and station.state.order.seal_code
            await station.feed_scan(station.state.order.seal_code, "kbd")
            await station.feed_scan("ORD-3001", "kbd")
            again = await station.feed_scan(tag(4), "kbd")
            return [str(first.phase), str(again.phase)]
        finally:
            station.stop()
            await station._shutdown()

    phases = asyncio.run(run())
    verdicts = [e["body"] for e in journal_events(tmp_path, "verdict")]
    assert [v["verdict"] for v in verdicts] == ["match", "sold"], verdicts
    assert "sealed into order 2001" in verdicts[1]["reason"] and phases[1] == "halted"
    # every committed row reached the stages, in seq order, once
    folded = [
        int(n)
        for c in calls
        if c.startswith("spy.committed")
        for n in c.split(" ", 1)[1].strip("[]").split(", ")
    ]
    assert folded == [e["seq"] for e in journal_events(tmp_path)]
    # each order loaded reached the stages once, as its order_loaded row was committed
    assert [c for c in calls if ".opened" in c] == ["spy.opened 2001", "spy.opened 3001"]


def test_an_order_loaded_sends_the_claims_its_named_lines_scans_would_and_they_answer_them(
    tmp_path: Path,
) -> None:
    each, bulk, other, absent = tag(1), tag(2), tag(3), tag(4)
    stock = {
        each: {"Label": each, "Quantity": 3, "UnitOfMeasureName": "Each"},
        bulk: {"Label": bulk, "Quantity": 5, "UnitOfMeasureName": "Grams"},
        other: {"Label": other, "Quantity": 1, "UnitOfMeasureName": "Each"},
    }
    lines: list[dict[str, Any]] = [
        {"line": 1, "sku": "SKU-1"},  # the package is known only at its scan
        {"line": 2, "uid": absent},  # not in stock: its scan is refused anyway
        {"line": 3, "uid": each},
        {"line": 4, "uid": bulk, "weigh": True, "labelled_weight_mg": 3500},
        {"line": 5, "uid": other},  # past [link] claim_ahead = 2
    ]
    named = msgspec.convert(
        {
            "order_id": "O-7",
            "channel": "pickup",
            "customer": {"id": "C-1", "name": "Ann", "class": "adult"},
            "lines": lines,
        },
        Order,
    )
    sent: list[tuple[str, int, int | None]] = []

    async def claim(request: p.Claim) -> p.Claimed:
        sent.append((request.uid, request.amount, request.unit))
        await asyncio.sleep(0.01)  # the scan comes before the answer: it waits for that claim
        return p.Claimed(claim_id=request.claim_id, ok=request.uid != bulk)

    cfg = StationConfig(station=StationSection(state_dir=str(tmp_path)))
    cfg = msgspec.structs.replace(cfg, link=LinkSection(claim_ahead=2))
    stage = Availability(cfg, stock.get, claim=claim)

    def accepted(uid: str, line: int, unit: int | None = None) -> ScanVerdict:
        return ScanVerdict(
            verdict="match", reason="ok", line=line, uid=uid, unit=unit, accepted=True
        )

    async def run() -> list[bool]:
        stage.opened(named)
        scan = Scan(named, (), each, AT)
        out = [(await stage.reserve(scan, accepted(each, 3), accepted(each, 3))).accepted]
        assert sent == [(each, 1, None), (bulk, 3500, None)]  # nothing asked twice for `each`
        scan = Scan(named, (), bulk, AT)
        # central refused `bulk` ahead: its scan asks again (and is refused again here)
        out.append((await stage.reserve(scan, accepted(bulk, 4), accepted(bulk, 4))).accepted)
        # a Retail ID unit's claim names the unit: asked at its scan, never answered ahead
        scan = Scan(named, (), each, AT)
        out.append((await stage.reserve(scan, accepted(each, 3, 2), accepted(each, 3, 2))).accepted)
        return out

    assert asyncio.run(run()) == [True, False, True]
    assert sent == [(each, 1, None), (bulk, 3500, None), (bulk, 3500, None), (each, 1, 2)]


def test_offline_an_order_loaded_sends_no_claims_ahead(tmp_path: Path) -> None:
    sent: list[str] = []

    async def claim(request: p.Claim) -> p.Claimed | None:
        sent.append(request.uid)
        return None

    cfg = StationConfig(station=StationSection(state_dir=str(tmp_path)))
    stage = Availability(cfg, {tag(1): {"Label": tag(1)}}.get, claim=claim, online=lambda: False)

    async def run() -> bool:
        stage.opened(order())
        await asyncio.sleep(0)
        assert sent == []  # no lookups, no claims: nothing would reach central
        scan = Scan(order(), (), tag(1), AT)
        return (await stage.reserve(scan, MATCH, MATCH)).accepted

    assert asyncio.run(run()) and sent == [tag(1)]  # the scan still asks (and judges alone)
