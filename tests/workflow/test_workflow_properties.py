"""Random input sequences: the workflow never crashes, and no order seals past a refusal."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from edge.workflow.ports import LabelJob
from edge.workflow.state import (
    BadgeScanned,
    DeviceStateChanged,
    DiskStateChanged,
    Input,
    NextOrderRequested,
    OrderProgress,
    OrderStatus,
    PackageScanned,
    Phase,
    PrintFailed,
    PrintFinished,
    PrintLabel,
    Record,
    Resumed,
    SealScanned,
    Tick,
    TicketScanned,
    WeightCaptured,
    WorkflowState,
    decode_state,
    encode_state,
)
from tests.support.station import INVENTORY, seal_code_of, tag
from tests.support.workflow import Harness

PACKAGES = [*INVENTORY, "1A406O300002C9B000000001", "GARBAGE", tag(99)]
SEAL = "<seal of the last label>"  # resolved to the real code at run time

inputs = st.one_of(
    st.sampled_from(["BADGE-ALICE", "BADGE-BOSS", "BADGE-OLD", "BADGE-NOBODY"]).map(BadgeScanned),
    st.sampled_from(["1042", "2001", "3001", "4001", "9999"]).map(
        lambda o: TicketScanned(o, f"ORD-{o}")
    ),
    st.sampled_from(PACKAGES).map(PackageScanned),
    st.sampled_from([SEAL, "SEAL-0000000000000000"]).map(SealScanned),
    st.integers(3000, 4000).map(WeightCaptured),
    st.sampled_from(["ok", "paper out"]).map(
        lambda r: PrintFinished(r) if r == "ok" else PrintFailed(r, r)
    ),
    st.sampled_from(["printer", "scale", "central"]).flatmap(
        lambda d: st.booleans().map(lambda ok: DeviceStateChanged(d, ok, "x"))
    ),
    st.booleans().map(lambda ok: DiskStateChanged(ok, "" if ok else "low")),
    st.just(NextOrderRequested()),
    st.just(Tick()),
    st.just(Resumed("b")),
)


GOOD = "<the input the current step waits for>"
TEMPT = "<the input a halted order must refuse>"
# Mostly the expected next input, so that runs reach weighing, label and seal; then temptations
# (what would wrongly move a halted order on) and random inputs.
steps: st.SearchStrategy[Input | str] = st.integers(0, 6).flatmap(
    lambda n: st.just(GOOD) if n > 3 else st.just(TEMPT) if n > 1 else inputs
)


def _good(h: Harness) -> Input:
    """What a careful technician would do next, so that random runs reach the later steps."""
    state, order = h.state, h.state.order
    if state.phase in (Phase.HALTED, Phase.OVERRIDE):
        return BadgeScanned("BADGE-BOSS")
    if state.session is None:
        return BadgeScanned("BADGE-ALICE")
    if order is None:
        return TicketScanned("1042", "ORD-1042")
    if state.phase == Phase.WEIGHING:
        return WeightCaptured(3500)
    if state.phase == Phase.LABEL:
        return PrintFinished("ok")
    if state.phase == Phase.SEAL:
        return SealScanned(SEAL)
    return _next_package(order) or Tick()


def _next_package(order: OrderProgress) -> PackageScanned | None:
    picked = {p.uid for p in order.picks}
    for line in order.order.lines:
        if sum(1 for p in order.picks if p.line == line.line) < line.quantity:
            for uid, pkg in INVENTORY.items():
                fits = line.uid == uid or (
                    line.sku == pkg["Sku"] and line.batch in (None, pkg["Batch"])
                )
                if fits and uid not in picked:
                    return PackageScanned(uid)
    return None


def _tempt(h: Harness) -> Input:
    """A wrong seal or weight, then the input that must NOT move the halted order on."""
    order = h.state.order
    if h.state.phase == Phase.SEAL:
        return SealScanned("SEAL-0000000000000000")
    if h.state.phase == Phase.WEIGHING:
        return WeightCaptured(3000)
    if h.state.phase not in (Phase.HALTED, Phase.OVERRIDE) or order is None:
        return _good(h)
    if order.seal_code is not None:
        return SealScanned(SEAL)
    if order.weighing is not None:
        return WeightCaptured(3500)
    return _next_package(order) or PrintFinished("ok")


def _resolve(h: Harness, event: Input | str) -> Input:
    """Print outcomes and seal scans refer to the label job actually in flight."""
    if isinstance(event, str):
        event = _good(h) if event == GOOD else _tempt(h)
    jobs = [e.job for e in h.effects if isinstance(e, PrintLabel)]
    last: LabelJob | None = jobs[-1] if jobs else None
    if isinstance(event, PrintFinished):
        return PrintFinished(last.job_id if last else "none", seal_code_of(last) if last else None)
    if isinstance(event, PrintFailed):
        return PrintFailed(last.job_id if last else "none", event.reason)
    if isinstance(event, SealScanned) and event.code == SEAL:
        return SealScanned(seal_code_of(last) if last else "SEAL-1")
    return event


@settings(max_examples=400)
@given(
    st.lists(steps, min_size=5, max_size=60),
    st.lists(
        st.integers(0, 9).flatmap(
            lambda n: st.integers(0, 5_000) if n else st.integers(0, 400_000)
        ),
        min_size=60,
        max_size=60,
    ),
)
def test_random_sequences_keep_the_invariants(events: list[Input | str], gaps: list[int]) -> None:
    h = Harness(inactivity_logout_s=300)
    h.central.queue = ["2001", "1042"]
    for step, gap in zip(events, gaps, strict=False):
        state_before = encode_state(h.state)
        event = _resolve(h, step)
        fx = h.do(event, advance_ms=gap)
        _check_state(h.state)
        assert decode_state(encode_state(h.state)) == h.state
        for effect in fx:
            if isinstance(effect, OrderStatus) and effect.status != "cancelled":
                before = decode_state(state_before)
                _check_may_seal(before)
        if any(isinstance(e, Record) for e in fx) is False:
            assert encode_state(h.state) == state_before or isinstance(event, Tick | Resumed)


def _check_may_seal(before: WorkflowState) -> None:
    """A sealed order came from SEAL with no halt, every line complete, a printed label."""
    assert before.phase == Phase.SEAL
    order = before.order
    assert order is not None and order.halt is None and order.seal_code is not None
    for line in order.order.lines:
        assert sum(1 for p in order.picks if p.line == line.line) == line.quantity
        if line.weigh:
            assert all(p.net_mg is not None for p in order.picks if p.line == line.line)


def _check_state(state: WorkflowState) -> None:
    if state.phase in (Phase.IDLE, Phase.READY):
        assert state.order is None
    else:
        assert state.order is not None
    if state.phase == Phase.READY:
        assert state.session is not None
    if state.phase == Phase.HALTED:
        assert state.order is not None and state.order.halt is not None
    if state.phase == Phase.WEIGHING:
        assert state.order is not None and state.order.weighing is not None
    if state.order is not None:
        uids = [p.uid for p in state.order.picks]
        assert len(uids) == len(set(uids)), "a package counted twice"
