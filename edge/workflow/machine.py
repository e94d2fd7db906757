"""The pack workflow: a pure state machine `(state, input, now) -> (state, effects)`.

Badge login -> order loaded -> every line picked and verified (weighed where the line says so) ->
purchase limits -> exit label -> label QR scanned to seal -> order status by channel -> ready again.
Any refusal halts the order (halt signal, discrepancy slip, package quarantined) until a supervisor
clears or cancels it. No I/O here: the decision ports are called synchronously, everything else is
returned as effects for the daemon to perform after the step's journal transaction commits.

One class, halts and the supervisor override included, so the whole machine reads in one place.
"""

from __future__ import annotations

from collections.abc import Callable

from edge.workflow.config import WorkflowSection
from edge.workflow.counting import Counter, Counting, CountSection
from edge.workflow.ports import (
    Badge,
    CentralState,
    HaltInfo,
    LabelJob,
    LimitChecker,
    Order,
    Pick,
    Signal,
    SlipJob,
    Verifier,
    WeighRule,
)
from edge.workflow.privacy import private_order
from edge.workflow.run import (
    ORDER_PHASES,
    PROMPTS,
    QUARANTINE_EXEMPT,
    STATUS_BY_CHANNEL,
    Run,
    all_lines_complete,
    badge_problem,
    busy_reason,
    sane_verdict,
)
from edge.workflow.staging import Staging, StagingSection
from edge.workflow.state import (
    SCAN_INPUTS,
    BadgeScanned,
    DeviceStateChanged,
    DiskStateChanged,
    Halt,
    Input,
    NextOrderRequested,
    OrderProgress,
    OrderStatus,
    PackageScanned,
    Phase,
    PrintFailed,
    PrintFinished,
    PrintLabel,
    PrintSlip,
    RequestWeight,
    Resumed,
    SealScanned,
    Session,
    Step,
    Tick,
    TicketScanned,
    WeightCaptured,
    WorkflowState,
)


class Workflow:
    """The state machine; the decision ports and settings are injected once."""

    def __init__(
        self,
        *,
        verifier: Verifier,
        limits: LimitChecker,
        weigh_rule: WeighRule,
        central: CentralState,
        settings: WorkflowSection,
        fifo: str = "warn",
        staging: StagingSection | None = None,
        count: CountSection | None = None,
        counter: Counter | None = None,
        privacy: Callable[[str], str] | None = None,
    ) -> None:
        self.verifier = verifier
        self.limits = limits
        self.weigh_rule = weigh_rule
        self.central = central
        self.settings = settings
        self.fifo = fifo  # [verify] fifo: "warn" accepts an out-of-FIFO pick, "refuse" halts
        self.staging = Staging(staging)  # [staging]: off when no location pattern is set
        self.counting = Counting(count, counter)  # cycle counts: off without a counter port
        # The label profile's privacy rule in force at a time (edge.workflow.privacy); None keeps
        # the customer as given.
        self.privacy = privacy

    def step(self, state: WorkflowState, event: Input, now_ms: int) -> Step:
        """React to one input. Pure as long as the decision ports are."""
        run = Run(state, now_ms)
        if isinstance(event, SCAN_INPUTS):
            self._on_scan(run, event)
        elif isinstance(event, NextOrderRequested):
            self._on_next_order(run)
        elif isinstance(event, WeightCaptured):
            self._on_weight(run, event)
        elif isinstance(event, PrintFinished):
            self._on_print_finished(run, event)
        elif isinstance(event, PrintFailed):
            self._on_print_failed(run, event)
        elif isinstance(event, DeviceStateChanged):
            self._on_device(run, event)
        elif isinstance(event, DiskStateChanged):
            self._on_disk(run, event)
        elif isinstance(event, Tick):
            self._on_tick(run)
        elif isinstance(event, Resumed):
            self._on_resumed(run, event)
        return Step(run.s, run.fx)

    # -- scans ---------------------------------------------------------------------------------

    def _on_scan(
        self, run: Run, event: BadgeScanned | TicketScanned | PackageScanned | SealScanned
    ) -> None:
        raw = event.raw if isinstance(event, TicketScanned | PackageScanned) else event.code
        location = self.staging.kind_of(raw) if isinstance(event, PackageScanned) else None
        count_scope = (
            self.counting.ticket(raw)
            if isinstance(event, PackageScanned) and not location
            else None
        )
        kind = (
            "location"
            if location
            else {
                BadgeScanned: "badge",
                TicketScanned: "ticket",
                PackageScanned: "package",
                SealScanned: "seal",
            }[type(event)]
        )
        aim_id = event.aim_id if isinstance(event, PackageScanned) else None
        run.record(
            "scan", kind=kind, raw=raw, aim_id=aim_id, device=event.device, phase=str(run.s.phase)
        )
        if run.s.session is not None:
            run.s.session.last_activity_ms = run.now_ms
        if isinstance(event, BadgeScanned):
            self._on_badge(run, event.code)
        elif run.s.session is None:
            self._refuse(run, raw, "nobody is logged in: scan your badge first")
        elif isinstance(event, TicketScanned):
            self._on_ticket(run, event.order_id)
        elif location is not None:
            self.staging.on_location(self, run, raw, location)
        elif count_scope is not None:
            self.counting.on_ticket(self, run, raw, count_scope)
        elif isinstance(event, PackageScanned) and run.s.phase == Phase.COUNT:
            self.counting.on_package(run, event.raw)
        elif isinstance(event, PackageScanned):
            self._on_package(run, event.raw, event.aim_id)
        else:
            self._on_seal(run, event.code)

    def _refuse(self, run: Run, raw: str, reason: str) -> None:
        """A scan that means nothing at this step: say why, change nothing."""
        run.record("scan_refused", raw=raw, phase=str(run.s.phase), reason=reason)
        run.signal(Signal.HALT, reason)

    def _on_badge(self, run: Run, code: str) -> None:
        badge = self.central.badge(code)
        why_not = badge_problem(badge, run.at)
        if badge is None or why_not:
            run.record("login_refused", badge=code, reason=why_not)
            run.signal(Signal.HALT, why_not)
            return
        phase = run.s.phase
        if self.staging.awaiting_driver(run):
            self.staging.on_driver(run, badge)
            return
        counting = phase in (Phase.READY, Phase.COUNT, Phase.COUNT_REVIEW)
        if run.s.count is not None and counting and run.s.session is not None:
            self.counting.on_badge(run, badge)
            return
        if phase in (Phase.HALTED, Phase.OVERRIDE):
            self._supervisor_badge(run, badge)
        elif phase in ORDER_PHASES and badge.supervisor and run.s.session is not None:
            self._enter_override(run, badge)
        elif run.s.session is None:
            self._login(run, badge)
        elif badge.code == run.s.session.agent:
            if phase == Phase.READY:
                self._on_next_order(run)
            else:
                self._remind(run)
        elif phase == Phase.READY:
            self._logout(run, "another badge logged in")
            self._login(run, badge)
        else:
            self._refuse(
                run, code, f"order {run.order.order.order_id} is being packed by another agent"
            )

    def _login(self, run: Run, badge: Badge) -> None:
        run.s.session = Session(
            agent=badge.code,
            name=badge.name,
            supervisor=badge.supervisor,
            last_activity_ms=run.now_ms,
        )
        resumes = run.s.order.order.order_id if run.s.order is not None else None
        run.record(
            "login",
            agent=badge.code,
            name=badge.name,
            supervisor=badge.supervisor,
            resumes_order=resumes,
        )
        if run.s.phase == Phase.IDLE:
            run.s.phase = Phase.READY
        self._remind(run)

    def _logout(self, run: Run, reason: str) -> None:
        assert run.s.session is not None
        run.record("logout", agent=run.s.session.agent, reason=reason)
        run.s.session = None
        if run.s.phase == Phase.READY:
            run.s.phase = Phase.IDLE

    def _remind(self, run: Run) -> None:
        """Signal what the current step waits for (after a login, a resume, a repeated scan)."""
        phase = run.s.phase
        if phase in (Phase.HALTED, Phase.OVERRIDE):
            halt = run.order.halt
            run.signal(Signal.HALT, halt.info.reason if halt else "supervisor override")
        elif phase == Phase.WEIGHING:
            run.signal(Signal.WEIGHING, "place the package on the scale")
        elif phase == Phase.LABEL and run.order.label_failed:
            run.signal(Signal.DEVICE_ERROR, f"label not printed: {run.order.label_failed}")
        else:
            run.signal(Signal.READY, PROMPTS[phase])

    # -- orders --------------------------------------------------------------------------------

    def _on_ticket(self, run: Run, order_id: str) -> None:
        phase = run.s.phase
        if phase == Phase.READY:
            self._load(run, self.central.order(order_id), order_id, "ticket")
        elif phase == Phase.OVERRIDE and run.order.order.order_id == order_id:
            self._cancel(run)
        elif phase not in (Phase.HALTED, Phase.OVERRIDE) and run.order.order.order_id == order_id:
            if phase == Phase.LABEL and run.order.label_failed:
                self._print_label(run)
            else:
                self._remind(run)
        else:
            self._refuse(run, f"ORD-{order_id}", busy_reason(run))

    def _on_next_order(self, run: Run) -> None:
        if run.s.phase != Phase.READY:
            self._refuse(run, "", busy_reason(run))
            return
        order = self.central.next_order()
        self._load(run, order, order.order_id if order else "", "queue")

    def _load(self, run: Run, order: Order | None, order_id: str, source: str) -> None:
        if run.s.disk_block:
            run.record("order_refused", order_id=order_id, reason=run.s.disk_block)
            run.signal(Signal.DEVICE_ERROR, run.s.disk_block)
            return
        if order is None:
            reason = (
                f"order {order_id} is not known to this station"
                if order_id
                else "no order is assigned to this station"
            )
            run.record("order_refused", order_id=order_id or None, reason=reason)
            run.signal(Signal.HALT, reason)
            return
        if self.privacy is not None:
            order = private_order(order, self.privacy(run.at))
        run.s.order = OrderProgress(order=order, source=source)
        run.s.phase = Phase.PICKING
        run.record(
            "order_loaded",
            order_id=order.order_id,
            source=source,
            channel=order.channel,
            customer_id=order.customer.id,
            lines=len(order.lines),
            order=order,
        )
        run.signal(Signal.READY, f"order {order.order_id}: scan its packages")

    # -- picking -------------------------------------------------------------------------------

    def _on_package(self, run: Run, raw: str, aim_id: str | None) -> None:
        phase = run.s.phase
        if phase == Phase.PICKING:
            self._verify(run, raw, aim_id)
        elif phase == Phase.WEIGHING:
            pending = run.order.weighing
            assert pending is not None
            if raw in (pending.raw, pending.uid):
                self._request_weight(run, pending)  # re-scan = weigh again
            elif self.settings.child_tag_scan:
                self._child_tag(run, pending, raw)
            else:
                self._refuse(run, raw, f"weigh line {pending.line} ({pending.uid}) first")
        elif phase in (Phase.LABEL, Phase.SEAL):
            self._refuse(run, raw, "the order is packed: scan the label's QR code to seal it")
        else:
            self._refuse(run, raw, busy_reason(run))

    def _verify(self, run: Run, raw: str, aim_id: str | None) -> None:
        order = run.order
        verdict = sane_verdict(
            order, self.verifier.check(order.order, list(order.picks), raw, run.at, aim_id)
        )
        accepted = verdict.verdict == "match" or (verdict.verdict == "fifo" and self.fifo == "warn")
        outcome = "halt"
        if accepted:
            outcome = "accepted" if verdict.verdict == "match" else "accepted_with_warning"
        run.record(
            "verdict",
            raw=raw,
            verdict=verdict.verdict,
            line=verdict.line,
            uid=verdict.uid,
            reason=verdict.reason,
            candidates=verdict.candidates,
            outcome=outcome,
            unit=verdict.unit,
        )
        if not accepted:
            info = HaltInfo(
                code=verdict.verdict,
                reason=verdict.reason,
                raw=raw,
                uid=verdict.uid,
                line=verdict.line,
                candidates=verdict.candidates,
            )
            self._halt(run, info, Phase.PICKING)
            return
        assert verdict.line is not None
        pick = Pick(line=verdict.line, uid=verdict.uid or raw, raw=raw)
        spec = order.order.line_of(verdict.line)
        if spec is not None and spec.weigh:
            order.weighing = pick
            run.s.phase = Phase.WEIGHING
            self._request_weight(run, pick)
            return
        order.picks.append(pick)
        run.signal(Signal.SCAN_OK, verdict.reason if outcome != "accepted" else "")
        self._after_pick(run)

    def _child_tag(self, run: Run, pending: Pick, raw: str) -> None:
        """The tag of the new container the weigh-out goes into ([workflow] child_tag_scan):
        journalled for central, which creates the child package (central/statesys/)."""
        child = raw.strip().upper()
        run.record("child_tag", line=pending.line, uid=pending.uid, child_tag=child)
        run.signal(Signal.SCAN_OK, f"line {pending.line}: container tag {child}")

    def _request_weight(self, run: Run, pick: Pick) -> None:
        run.record("weigh_requested", line=pick.line, uid=pick.uid)
        run.fx.append(RequestWeight(run.order.order.order_id, pick.line, pick.uid))
        run.signal(Signal.WEIGHING, f"weigh line {pick.line}")

    def _on_weight(self, run: Run, event: WeightCaptured) -> None:
        if run.s.phase != Phase.WEIGHING:
            return  # a reading nobody asked for (the scale streams): not a workflow event
        order = run.order
        pending = order.weighing
        if pending is not None and event.for_uid not in (None, pending.uid):
            return  # a late answer to an earlier request
        net_mg = event.net_mg
        spec = order.order.line_of(pending.line) if pending else None
        assert pending is not None and spec is not None
        result = self.weigh_rule.judge(spec, net_mg, event.division_mg)
        run.record(
            "weight",
            line=pending.line,
            uid=pending.uid,
            net_mg=net_mg,
            labelled_mg=spec.labelled_weight_mg,
            min_mg=result.min_mg,
            max_mg=result.max_mg,
            ok=result.ok,
            reason=result.reason,
        )
        if not result.ok:
            code = result.code or ("short_weight" if net_mg < result.min_mg else "over_weight")
            info = HaltInfo(code=code, reason=result.reason, uid=pending.uid, line=pending.line)
            self._halt(run, info, Phase.WEIGHING)
            return
        portion = None if spec.gross else net_mg  # a gross weight is the manifest's, not a portion
        gross = net_mg if spec.gross else None
        order.picks.append(
            Pick(
                line=pending.line, uid=pending.uid, raw=pending.raw, net_mg=portion, gross_mg=gross
            )
        )
        order.weighing = None
        run.s.phase = Phase.PICKING
        run.signal(Signal.WEIGHT_CAPTURED, f"{net_mg} mg")
        self._after_pick(run)

    def _after_pick(self, run: Run) -> None:
        order = run.order
        if not all_lines_complete(order):
            return
        result = self.limits.check(order.order, list(order.picks), run.at)
        run.record(
            "limits",
            allowed=result.allowed,
            reason=result.reason,
            buckets=list(result.buckets),  # Run.record converts them, exact values included
            **result.rule_fields(),
        )
        if not result.allowed:
            self._halt(run, HaltInfo(code="over_limit", reason=result.reason), Phase.PICKING)
            return
        self._print_label(run)

    # -- label and seal ------------------------------------------------------------------------

    def _print_label(self, run: Run) -> None:
        order = run.order
        order.label_attempt += 1
        job_id = f"{order.order.order_id}-label-{order.label_attempt}"
        order.label_job, order.label_failed, order.seal_code = job_id, "", None
        run.s.phase = Phase.LABEL
        run.record("label_requested", job_id=job_id, attempt=order.label_attempt)
        if not order.label_at:
            order.label_at = run.at
            order.label_agent = run.s.session.agent if run.s.session else ""
        job = LabelJob(
            job_id=job_id,
            order=order.order,
            picks=list(order.picks),
            agent=order.label_agent,
            at=order.label_at,
        )
        run.fx.append(PrintLabel(job))

    def _on_print_finished(self, run: Run, event: PrintFinished) -> None:
        order = run.s.order
        is_label = order is not None and event.job_id == order.label_job
        if not is_label or order is None or run.s.phase != Phase.LABEL:
            run.record(
                "print_finished", job_id=event.job_id, kind="slip" if not is_label else "label"
            )
            return
        if not event.seal_code:
            self._on_print_failed(run, PrintFailed(event.job_id, "the label carries no seal code"))
            return
        order.seal_code = event.seal_code
        run.s.phase = Phase.SEAL
        run.record("label_printed", job_id=event.job_id, seal_code=event.seal_code)
        run.signal(Signal.READY, PROMPTS[Phase.SEAL])

    def _on_print_failed(self, run: Run, event: PrintFailed) -> None:
        order = run.s.order
        is_label = order is not None and event.job_id == order.label_job
        run.record(
            "print_failed",
            job_id=event.job_id,
            kind="label" if is_label else "slip",
            reason=event.reason,
        )
        if is_label and order is not None and run.s.phase == Phase.LABEL:
            order.label_failed = event.reason
        run.signal(Signal.DEVICE_ERROR, f"printer: {event.reason}")

    def _on_seal(self, run: Run, code: str) -> None:
        if run.s.phase == Phase.READY and self.staging.enabled:
            self.staging.on_seal(run, code)  # a staged bag's release
            return
        if run.s.phase != Phase.SEAL:
            self._refuse(run, code, "no label is waiting to be sealed")
            return
        order = run.order
        ok = code == order.seal_code
        run.record("seal", code=code, expected=order.seal_code, ok=ok)
        if not ok:
            reason = f"label QR {code} is not the label printed for order {order.order.order_id}"
            self._halt(run, HaltInfo(code="seal_mismatch", reason=reason, raw=code), Phase.SEAL)
            return
        if self.staging.enabled:
            self.staging.after_seal(run)
            return
        self._finish(run, STATUS_BY_CHANNEL[order.order.channel])
        run.signal(Signal.SEALED, "order sealed")

    # -- devices, disk, time -------------------------------------------------------------------

    def _on_device(self, run: Run, event: DeviceStateChanged) -> None:
        down = run.s.devices_down
        if (event.device not in down) == event.ok:
            if not event.ok and event.detail:
                down[event.device] = event.detail  # still down, the reason is the latest one
            return  # no change: nothing to journal
        run.record("device_state", device=event.device, ok=event.ok, detail=event.detail)
        if not event.ok:
            down[event.device] = event.detail
            offline = event.device == "central"
            run.signal(Signal.CENTRAL_OFFLINE if offline else Signal.DEVICE_ERROR, event.detail)
            return
        down.pop(event.device, None)
        phase, order = run.s.phase, run.s.order
        if event.device == "printer" and phase == Phase.LABEL and order and order.label_failed:
            self._print_label(run)
        elif event.device == "scale" and phase == Phase.WEIGHING and order and order.weighing:
            self._request_weight(run, order.weighing)
        elif run.s.session is not None:
            self._remind(run)

    def _on_disk(self, run: Run, event: DiskStateChanged) -> None:
        block = "" if event.ok else event.detail or "disk space low"
        if block == run.s.disk_block:
            return
        run.s.disk_block = block
        run.record("disk_guard", ok=event.ok, detail=event.detail)
        if not event.ok:
            run.signal(Signal.DEVICE_ERROR, block)

    def _on_tick(self, run: Run) -> None:
        session = run.s.session
        if session is None:
            return
        idle_ms = run.now_ms - session.last_activity_ms
        if idle_ms >= self.settings.inactivity_logout_s * 1000:
            self._logout(run, "inactivity")

    def _on_resumed(self, run: Run, event: Resumed) -> None:
        order = run.s.order
        run.record(
            "station_resumed",
            boot=event.boot,
            phase=str(run.s.phase),
            agent=run.s.session.agent if run.s.session else None,
        )
        if run.s.phase == Phase.LABEL and order is not None and not order.label_failed:
            self._print_label(run)  # the outcome of the job in flight was lost with the process
        elif run.s.phase == Phase.WEIGHING and order is not None and order.weighing is not None:
            self._request_weight(run, order.weighing)
        elif run.s.session is not None or run.s.phase != Phase.IDLE:
            self._remind(run)

    # -- halts and supervisor override ---------------------------------------------------------

    def _halt(self, run: Run, info: HaltInfo, resume: Phase) -> None:
        order = run.order
        order.halts += 1
        order.halt = Halt(info=info, resume_phase=resume, at=run.at)
        run.s.phase = Phase.HALTED
        run.record(
            "halt",
            code=info.code,
            reason=info.reason,
            raw=info.raw,
            uid=info.uid,
            line=info.line,
            candidates=info.candidates,
            step=str(resume),
        )
        if info.uid and info.code not in QUARANTINE_EXEMPT:
            order.quarantined.append(info.uid)
            run.record("quarantine", uid=info.uid, reason=info.reason, code=info.code)
        if self.settings.print_slips:
            job_id = f"{order.order.order_id}-slip-{order.halts}"
            agent = run.s.session.agent if run.s.session else ""
            run.record("slip_requested", job_id=job_id, code=info.code)
            run.fx.append(
                PrintSlip(
                    SlipJob(
                        job_id=job_id,
                        order_id=order.order.order_id,
                        agent=agent,
                        halt=info,
                        at=run.at,
                    )
                )
            )
        run.signal(Signal.HALT, info.reason)

    def _enter_override(self, run: Run, badge: Badge) -> None:
        order = run.order
        order.override_by, order.override_from = badge.code, run.s.phase
        run.s.phase = Phase.OVERRIDE
        run.record("supervisor_present", supervisor=badge.code, name=badge.name)
        run.signal(
            Signal.HALT, "supervisor: badge again to resume, scan the order ticket to cancel"
        )

    def _supervisor_badge(self, run: Run, badge: Badge) -> None:
        order = run.order
        if not badge.supervisor:
            self._refuse(run, badge.code, "the order is halted: a supervisor must badge in")
        elif run.s.phase == Phase.HALTED or order.override_by != badge.code:
            self._enter_override(run, badge)
        elif order.halt is not None and order.halt.info.code == "over_limit":
            reason = "over the purchase limit: only cancelling is possible (scan the order ticket)"
            run.record("override_refused", supervisor=badge.code, reason=reason)
            run.signal(Signal.HALT, reason)
        else:
            self._clear(run, badge)

    def _clear(self, run: Run, badge: Badge) -> None:
        order = run.order
        halt = order.halt
        back = halt.resume_phase if halt else (order.override_from or Phase.PICKING)
        if back in (Phase.HALTED, Phase.OVERRIDE):
            back = Phase.PICKING
        run.record(
            "override",
            action="clear" if halt else "resume",
            supervisor=badge.code,
            halt_code=halt.info.code if halt else None,
        )
        order.halt, order.override_by, order.override_from = None, None, None
        run.s.phase = back
        if back == Phase.WEIGHING and order.weighing is not None:
            self._request_weight(run, order.weighing)
        elif back == Phase.LABEL and order.label_failed:
            self._print_label(run)
        else:
            self._remind(run)

    def _cancel(self, run: Run) -> None:
        order = run.order
        run.record(
            "override",
            action="cancel",
            supervisor=order.override_by,
            halt_code=order.halt.info.code if order.halt else None,
        )
        self._finish(run, "cancelled")
        run.signal(Signal.READY, "order cancelled")

    def _finish(self, run: Run, status: str) -> None:
        order_id = run.order.order.order_id
        run.record("order_status", status=status, channel=run.order.order.channel)
        run.fx.append(OrderStatus(order_id, status))
        run.s.order = None
        run.s.phase = Phase.READY if run.s.session is not None else Phase.IDLE
