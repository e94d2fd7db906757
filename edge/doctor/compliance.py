"""Doctor's `compliance files` check: the jurisdiction's limit rules load (the label profile,
warnings included, is doctor's `label` check).

The same files the daemon loads before it opens (edge.station.wiring.check_compliance_files):
a station without them exits 78, so doctor must fail where the daemon would, naming the file
and where it was looked for (edge.common.resources: the config option, /etc/packstation, or
the files shipped with packstation).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from edge.common import resources
from edge.common.errors import ConfigError
from edge.doctor.report import Context, Finding, Status
from edge.limits.engine import LimitEngine


def _directory(ctx: Context, kind: str, configured: str) -> tuple[Path, str]:
    """The directory the station would use, under doctor's --root, and why it is that one."""
    etc = ctx.root(str(resources.ETC))
    if configured:
        return ctx.root(configured), "set in the configuration"
    chosen = resources.data_dir(kind, "", etc)
    return chosen, resources.source(kind, "", etc)


def label_directory(ctx: Context, configured: str) -> tuple[Path, str]:
    """Where the station would read its label profiles, under doctor's --root."""
    return _directory(ctx, "labels", configured)


def check_compliance_files(ctx: Context) -> Iterator[Finding]:
    """Limit rules of [station] jurisdiction."""
    if ctx.config is None:
        return
    cfg = ctx.config
    code = cfg.station.jurisdiction
    rules_dir, rules_from = _directory(ctx, "limits", cfg.limits.rules_dir)
    try:
        LimitEngine(rules_dir, cfg.station.timezone).rules(code)
    except ConfigError as exc:
        yield Finding(
            Status.FAIL,
            "limit rules",
            f"the {code} purchase-limit rules cannot be used ({rules_from}): "
            + "; ".join(exc.problems),
            f"put {code}.toml into {rules_dir} (copy the shipped one: `packstation limits "
            "explain` shows what it says), or remove an incomplete /etc/packstation/limits so "
            "the shipped rules apply",
        )
    else:
        yield Finding(
            Status.OK, "limit rules", f"{rules_dir / (code + '.toml')} loads ({rules_from})"
        )
