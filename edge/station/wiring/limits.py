"""The LimitChecker: `edge.limits.engine.LimitEngine` over the picked packages' inventory records.

One check per completed order, on the scan path: the customer's history (`order.prior`) is
validated and resolved to the store's time zone once per order (`prepare`, which
`LimitsPreparation` calls at the order's first scan), the picks' measures are read from the
inventory records inside the core as the picks are accepted (`remember`, at every scan), and
one call returns the verdict. The journalled buckets carry
exact values (`LimitBucket.*_exact`), so a decision can be reproduced from the journal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

from edge.common.errors import BadInput, ConfigError
from edge.limits.engine import (
    LimitEngine,
    LimitInputError,
    LimitOrder,
    parse_prior,
    resolve_rules_dir,
)
from edge.scan import Inventory
from edge.scan.pipeline import Scan, Stage
from edge.station.config import StationConfig
from edge.workflow.ports import LimitBucket, LimitResult, Order, Pick


class EngineLimits:
    """edge.workflow.ports.LimitChecker over edge.limits.engine.LimitEngine and the inventory's
    records."""

    def __init__(self, cfg: StationConfig, inventory: Callable[[], Inventory]) -> None:
        self.cfg = cfg
        self.inventory = inventory
        self.engine = LimitEngine(
            resolve_rules_dir(cfg.limits.rules_dir), timezone=cfg.station.timezone
        )
        self._code = cfg.station.jurisdiction
        # The order last prepared: (order_id, customer class, its prior list, prepared check).
        self._order: tuple[str, str, list[dict[str, object]], LimitOrder] | None = None

    def prepare(self, order: Order) -> LimitOrder:
        """The order's check prepared: its prior purchases validated and zone-resolved, with
        the rules and the customer's class (cached for this order: the same prior list, or an
        equal one, is not converted again). BadInput if invalid."""
        cached = self._order
        if (
            cached is not None
            and cached[0] == order.order_id
            and cached[1] == order.customer.class_
            and (cached[2] is order.prior or cached[2] == order.prior)
        ):
            return cached[3]
        prior = parse_prior(list(order.prior), f"order {order.order_id}")
        prepared = self.engine.order(self._code, order.customer.class_, prior)
        self._order = (order.order_id, order.customer.class_, order.prior, prepared)
        return prepared

    def remember(self, order: Order, picks: Sequence[Pick], at: str | None = None) -> None:
        """Read the cart lines of the order's picks so far ahead of its check (at each scan, at
        `at`), so the check at the order's end reads only its last pick; at the first scan the
        core also sums the history per bucket for the rules in force at `at`. A pick that
        cannot be read, or a bad time, is left for the check to report."""
        if order.channel == "wholesale":  # not checked (see `check`)
            return
        with contextlib.suppress(BadInput, ConfigError, LimitInputError):
            self.prepare(order).remember(self.inventory(), picks, at)

    def check(self, order: Order, picks: Sequence[Pick], at: str) -> LimitResult:
        if order.channel == "wholesale":  # a transfer between licensees, not a retail sale
            return LimitResult(allowed=True, reason="wholesale transfer: no purchase limits")
        cached = self._order  # prepare()'s cache, looked up inline: this is the hot path
        if (
            cached is not None
            and cached[2] is order.prior
            and cached[0] == order.order_id
            and cached[1] == order.customer.class_
        ):
            prepared = cached[3]
        else:
            try:
                prepared = self.prepare(order)
            except (BadInput, ConfigError) as exc:
                return LimitResult(allowed=False, reason=f"limits cannot be checked: {exc}")
        try:
            allowed, reason, version, customer_class, raw = prepared.verdict(
                at, self.inventory(), picks if type(picks) is list else list(picks)
            )
        except LimitInputError as exc:
            problem = self.engine.input_problem(self._code, at, exc)
            return LimitResult(allowed=False, reason=f"limits cannot be checked: {problem}")
        except (BadInput, ConfigError) as exc:
            return LimitResult(allowed=False, reason=f"limits cannot be checked: {exc}")
        return _EngineResult(
            allowed=allowed,
            reason=reason,
            buckets=raw,  # type: ignore[arg-type]  # converted when first read
            jurisdiction=self._code,
            rule_version=version,
            customer_class=customer_class,
        )


# The `buckets` field's storage (a member descriptor of the frozen struct).
_BUCKETS = LimitResult.__dict__["buckets"]


class _EngineResult(LimitResult, frozen=True, kw_only=True):
    """The engine's verdict as the workflow's LimitResult, its buckets converted from the core's
    result when first read (the journal's `limits` record and a slip read them; the check
    itself does not pay for them). Until then the field holds the core's result, so nothing
    that reads the struct's fields directly (an encoder) can take it for "no buckets"."""

    @property  # type: ignore[misc]  # a read-only view of the same field
    def buckets(self) -> list[LimitBucket]:
        held = _BUCKETS.__get__(self)
        if type(held) is list:
            return held
        converted = [
            LimitBucket(
                name=r[0],
                unit=r[1],
                used=r[2],
                limit=r[3],
                used_exact=r[4],
                limit_exact=r[5],
                prior_exact=r[6],
                cart_exact=r[7],
            )
            for r in held.report()
        ]
        _BUCKETS.__set__(self, converted)
        return converted


class LimitsPreparation(Stage):
    """The verifier pipeline's first stage: the limit checker prepares each order's history at
    its first scan and reads the picks accepted so far at every scan, so the check at the
    order's end does no per-order conversion and reads one pick."""

    def __init__(self, limits: EngineLimits) -> None:
        self.limits = limits

    def before(self, scan: Scan) -> None:
        self.limits.remember(
            scan.order, scan.accepted, scan.at
        )  # errors are left to the limit check
