"""The pack workflow's halts and supervisor override: refusals stop the order until a supervisor
clears it (back to the step it stopped at) or cancels it."""

from __future__ import annotations

from edge.workflow.config import WorkflowSection
from edge.workflow.ports import (
    Badge,
    HaltInfo,
    Pick,
    Signal,
    SlipJob,
)
from edge.workflow.run import QUARANTINE_EXEMPT, Run
from edge.workflow.state import (
    Halt,
    OrderStatus,
    Phase,
    PrintSlip,
)


class HaltSteps:
    """Mixed into Workflow; the hooks below are Workflow's own steps."""

    settings: WorkflowSection

    def _remind(self, run: Run) -> None:
        raise NotImplementedError

    def _request_weight(self, run: Run, pick: Pick) -> None:
        raise NotImplementedError

    def _print_label(self, run: Run) -> None:
        raise NotImplementedError

    def _refuse(self, run: Run, raw: str, reason: str) -> None:
        raise NotImplementedError

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
