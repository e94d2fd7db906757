"""The LimitChecker: `edge.limits.engine.LimitEngine` over the picked packages' inventory measures."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime
from fractions import Fraction

from edge.common.errors import BadInput, ConfigError
from edge.limits.engine import (
    Cart,
    CartLine,
    LimitEngine,
    line_from_package,
    parse_prior,
    resolve_rules_dir,
)
from edge.scan import Inventory
from edge.station.config import StationConfig
from edge.workflow.ports import LimitBucket, LimitResult, Order, Pick


def _whole(value: Fraction) -> int:
    return value.numerator // value.denominator


class EngineLimits:
    """edge.workflow.ports.LimitChecker over edge.limits.engine.LimitEngine and the inventory's measures."""

    def __init__(self, cfg: StationConfig, inventory: Callable[[], Inventory]) -> None:
        self.cfg = cfg
        self.inventory = inventory
        self.engine = LimitEngine(
            resolve_rules_dir(cfg.limits.rules_dir), timezone=cfg.station.timezone
        )

    def check(self, order: Order, picks: Sequence[Pick], at: str) -> LimitResult:
        if order.channel == "wholesale":  # a transfer between licensees, not a retail sale
            return LimitResult(allowed=True, reason="wholesale transfer: no purchase limits")
        try:
            cart = Cart(
                jurisdiction=self.cfg.station.jurisdiction,
                customer_class=order.customer.class_,
                at=datetime.fromisoformat(at),
                lines=tuple(self._line(p) for p in picks),
                prior=parse_prior(list(order.prior), f"order {order.order_id}"),
            )
            verdict = self.engine.check(cart)
        except (BadInput, ConfigError) as exc:
            return LimitResult(allowed=False, reason=f"limits cannot be checked: {exc}")
        buckets = [
            LimitBucket(
                name=b.name,
                used=_whole(b.prior_used + b.cart_used),
                limit=_whole(b.cap),
                unit=b.unit,
            )
            for b in verdict.buckets
        ]
        reason = verdict.reason or ("within the limits" if verdict.allowed else "over the limit")
        return LimitResult(allowed=verdict.allowed, reason=reason, buckets=buckets)

    def _line(self, pick: Pick) -> CartLine:
        pkg = self.inventory().lookup(pick.uid)
        if pkg is None:
            raise BadInput(f"package {pick.uid} is not in the inventory")
        return line_from_package(pkg, net_weight_mg=pick.net_mg)
