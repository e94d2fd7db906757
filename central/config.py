"""The central service's configuration (config/central.toml)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import msgspec

from edge.common import config
from edge.common.endpoints import endpoint_problem

Millis = Annotated[int, msgspec.Meta(ge=1, le=3_600_000)]


class ServiceSection(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Where central listens and stores ([central])."""

    bind: str = "tcp://127.0.0.1:5560"
    store: str = "sqlite:///var/lib/packstation-central/central.sqlite3"  # or postgresql://...
    secret_key_file: str = "/etc/packstation/keys/central.key_secret"
    station_keys_dir: str = "/etc/packstation-central/stations"
    subscriber_keys_dir: str = "/etc/packstation-central/subscribers"
    keys_poll_ms: Millis = 250
    handshake_ms: Annotated[int, msgspec.Meta(ge=100, le=60_000)] = 5000
    max_unauthenticated: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 64
    window: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 1024
    batch_max_events: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 4000
    feed_poll_ms: Millis = 1000
    feed_keep: Annotated[int, msgspec.Meta(ge=1)] = 100_000
    quarantine_max_mb: Annotated[int, msgspec.Meta(ge=1, le=1_000_000)] = 64

    def problems(self) -> Iterator[tuple[str, str]]:
        if not self.store.startswith(("sqlite://", "postgresql://", "postgres://")):
            yield "store", f'expected "sqlite:///PATH" or a "postgresql://" URL, got "{self.store}"'
        problem = endpoint_problem(self.bind, bind=True)
        if problem:
            yield "bind", problem


class DownstreamSection(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Re-publishing accepted events to central systems ([downstream])."""

    pub_bind: str = "tcp://127.0.0.1:5561"
    replay_bind: str = "tcp://127.0.0.1:5562"
    poll_ms: Millis = 250
    pub_hwm: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)] = 100_000

    def problems(self) -> Iterator[tuple[str, str]]:
        for key in ("pub_bind", "replay_bind"):
            problem = endpoint_problem(getattr(self, key), bind=True)
            if problem:
                yield key, problem


class IntakeSection(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The HTTP intake API for POS integrations ([intake])."""

    enabled: bool = True
    listen: str = "127.0.0.1:5580"
    token_file: str = "/etc/packstation-central/intake.token"
    max_body_mb: Annotated[int, msgspec.Meta(ge=1, le=1024)] = 64


class CentralConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Everything in config/central.toml."""

    central: ServiceSection = msgspec.field(default_factory=ServiceSection)
    downstream: DownstreamSection = msgspec.field(default_factory=DownstreamSection)
    intake: IntakeSection = msgspec.field(default_factory=IntakeSection)


def load_central_config(path: Path | None) -> CentralConfig:
    """Load config/central.toml (or the embedded defaults); ConfigError names every problem."""
    return config.load(CentralConfig, path)
