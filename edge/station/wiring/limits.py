"""The LimitChecker: `edge.limits.engine.LimitEngine` over the picked packages' inventory records.

One check per completed order, on the scan path: the customer's history (`order.prior`) is
validated and resolved to the store's time zone once per order (`prepare`, which
`LimitsPreparation` calls at the order's first scan), the picks' measures are read from the
inventory records inside the core, and one call returns the verdict. The journalled buckets carry
exact values (`LimitBucket.*_exact`), so a decision can be reproduced from the journal.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence

from edge.common.errors import BadInput, ConfigError
from edge.limits.engine import (
    LimitEngine,
    LimitHistory,
    parse_prior,
    parse_time,
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
        # The prepared history of the order last seen: (order_id, its prior list, history).
        self._history: tuple[str, list[dict[str, object]], LimitHistory] | None = None

    def prepare(self, order: Order) -> LimitHistory:
        """The order's prior purchases, validated and zone-resolved (cached for this order:
        the same prior list, or an equal one, is not converted again). BadInput if invalid."""
        cached = self._history
        same = cached is not None and cached[0] == order.order_id
        if cached is not None and same and (cached[1] is order.prior or cached[1] == order.prior):
            return cached[2]
        prior = parse_prior(list(order.prior), f"order {order.order_id}")
        history = self.engine.history(self.cfg.station.jurisdiction, prior)
        self._history = (order.order_id, order.prior, history)
        return history

    def check(self, order: Order, picks: Sequence[Pick], at: str) -> LimitResult:
        if order.channel == "wholesale":  # a transfer between licensees, not a retail sale
            return LimitResult(allowed=True, reason="wholesale transfer: no purchase limits")
        try:
            history = self.prepare(order)
            raw = self.engine.check_packages(
                self.cfg.station.jurisdiction,
                order.customer.class_,
                parse_time(at, "at"),
                self.inventory(),
                picks if isinstance(picks, list) else list(picks),
                history,
            )
        except (BadInput, ConfigError) as exc:
            return LimitResult(allowed=False, reason=f"limits cannot be checked: {exc}")
        return LimitResult(
            allowed=raw.allowed,
            reason=raw.reason,
            buckets=[
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
                for r in raw.report()
            ],
            jurisdiction=self.cfg.station.jurisdiction,
            rule_version=raw.version,
            customer_class=raw.customer_class,
        )


class LimitsPreparation(Stage):
    """The verifier pipeline's first stage: the limit checker prepares each order's history at
    its first scan, so the check at the order's end does no per-order conversion."""

    def __init__(self, limits: EngineLimits) -> None:
        self.limits = limits

    def before(self, scan: Scan) -> None:
        with contextlib.suppress(BadInput, ConfigError):  # the limit check will report it
            self.limits.prepare(scan.order)
