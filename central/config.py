"""The central service's configuration (config/central.toml)."""

from __future__ import annotations

from pathlib import Path

import msgspec

from edge import config


class ServiceSection(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Where central listens and stores ([central])."""

    bind: str = "tcp://0.0.0.0:5560"
    store: str = "sqlite:///var/lib/packstation-central/central.sqlite3"  # or postgresql://...


class CentralConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Everything in config/central.toml."""

    central: ServiceSection = msgspec.field(default_factory=ServiceSection)


def load_central_config(path: Path | None) -> CentralConfig:
    """Load config/central.toml (or the embedded defaults); ConfigError names every problem."""
    return config.load(CentralConfig, path)
