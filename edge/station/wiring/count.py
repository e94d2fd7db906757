"""The Counter port (edge/workflow/counting.py) over the Rust core's `Inventory.reconcile`."""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable

from edge.scan import Inventory
from edge.workflow.counting import CountResult, ScopeKind, SkuCount


class CoreCounter:
    """Counts against the current inventory index (`inventory()` is called per count)."""

    def __init__(self, inventory: Callable[[], Inventory]) -> None:
        self.inventory = inventory

    def scope(self, text: str) -> ScopeKind | None:
        inv = self.inventory()
        packages = [inv.lookup(tag) for tag in inv.labels()]
        if any(p is not None and p.location == text for p in packages):
            return "location"
        if any(p is not None and p.sku == text for p in packages):
            return "sku"
        return None

    def reconcile(self, scope: str, kind: ScopeKind, counted: list[str]) -> CountResult:
        inv = self.inventory()
        packages = [p for p in (inv.lookup(t) for t in inv.labels()) if p is not None]
        if kind == "location":
            r = inv.reconcile([(t, scope) for t in counted], [scope])
            in_scope = [p for p in packages if p.location == scope]
            missing = list(r.missing)
        else:  # a SKU is counted wherever its packages are: each where the inventory says
            pairs = []
            for tag in counted:
                pkg = inv.lookup(tag)
                pairs.append((tag, (pkg.location or "") if pkg else scope))
            r = inv.reconcile(pairs, None)
            in_scope = [p for p in packages if p.sku == scope]
            wanted = {p.label.upper() for p in in_scope}
            missing = [t for t in r.missing if t in wanted]
        expected = Tally(p.sku for p in in_scope)
        seen: Tally[str] = Tally()
        for tag in dict.fromkeys(t.upper() for t in counted):
            pkg = inv.lookup(tag)
            if pkg is not None:
                seen[pkg.sku] += 1
        skus = sorted(set(expected) | set(seen))
        return CountResult(
            matched=list(r.matched),
            missing=missing,
            unexpected=[(t, loc) for t, loc in r.unexpected],
            wrong_place=[(t, c, w) for t, c, w in r.wrong_place],
            duplicates=list(r.duplicates),
            per_sku=[SkuCount(sku=s, counted=seen[s], expected=expected[s]) for s in skus],
        )
