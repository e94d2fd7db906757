"""Central's read-only web dashboard for store managers (docs/central.md, "Dashboard").

`build_dashboard(cfg, store, online)` gives a `Dashboard` (model + refresh loop + routes) or None
when [dashboard] listen is empty; `Dashboard.add_routes(app)` mounts it on any aiohttp app (the
intake's), `DashboardServer` serves it on its own address. Imports central and edge.common only.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from central.config import CentralConfig
from central.dashboard.model import DashboardModel
from central.dashboard.server import PREFIX, Dashboard, DashboardServer, make_app
from central.store.base import SqlStore
from edge.common.errors import ConfigError


def read_token(path: str, key: str) -> bytes:
    try:
        token = Path(path).read_bytes().strip()
    except OSError as exc:
        raise ConfigError([f"{key}: cannot read {path}: {exc}"]) from exc
    if len(token) < 16:
        raise ConfigError([f"{key}: {path}: token shorter than 16 characters"])
    return token


def viewer_tokens(cfg: CentralConfig) -> list[bytes]:
    """The viewer token ([dashboard] token_file) and the intake token, whichever are set."""
    tokens = []
    if cfg.dashboard.token_file:
        tokens.append(read_token(cfg.dashboard.token_file, "[dashboard] token_file"))
    if cfg.intake.enabled or not tokens:
        tokens.append(read_token(cfg.intake.token_file, "[intake] token_file"))
    return tokens


def build_dashboard(
    cfg: CentralConfig, store: SqlStore, online: Callable[[], set[str]] | None = None
) -> Dashboard | None:
    if not cfg.dashboard.listen:
        return None
    model = DashboardModel(store, online)
    return Dashboard(model, viewer_tokens(cfg), cfg.dashboard.poll_ms)


__all__ = [
    "PREFIX",
    "Dashboard",
    "DashboardModel",
    "DashboardServer",
    "build_dashboard",
    "make_app",
    "viewer_tokens",
]
