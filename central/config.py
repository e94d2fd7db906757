"""The central service's configuration (config/central.toml)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated

import msgspec

from edge.common import config

Millis = Annotated[int, msgspec.Meta(ge=1, le=3_600_000)]


class ServiceSection(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Where central listens and stores ([central])."""

    bind: str = "tcp://0.0.0.0:5560"
    store: str = "sqlite:///var/lib/packstation-central/central.sqlite3"  # or postgresql://...
    secret_key_file: str = "/etc/packstation/keys/central.key_secret"
    station_keys_dir: str = "/etc/packstation-central/stations"
    subscriber_keys_dir: str = "/etc/packstation-central/subscribers"
    keys_poll_ms: Millis = 1000
    window: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 1024
    batch_max_events: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 4000
    feed_poll_ms: Millis = 1000
    feed_keep: Annotated[int, msgspec.Meta(ge=1)] = 100_000
    metrics_listen: str = ""  # HOST:PORT for Prometheus metrics at /metrics; "" = off

    def problems(self) -> Iterator[tuple[str, str]]:
        if not self.store.startswith(("sqlite://", "postgresql://", "postgres://")):
            yield "store", f'expected "sqlite:///PATH" or a "postgresql://" URL, got "{self.store}"'


class DownstreamSection(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Re-publishing accepted events to central systems ([downstream])."""

    pub_bind: str = "tcp://0.0.0.0:5561"
    replay_bind: str = "tcp://0.0.0.0:5562"
    poll_ms: Millis = 250
    pub_hwm: Annotated[int, msgspec.Meta(ge=1, le=10_000_000)] = 100_000


class IntakeSection(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The HTTP intake API for POS integrations ([intake])."""

    enabled: bool = True
    listen: str = "127.0.0.1:5580"
    token_file: str = "/etc/packstation-central/intake.token"
    max_body_mb: Annotated[int, msgspec.Meta(ge=1, le=1024)] = 64


class DashboardSection(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The read-only web dashboard for store managers ([dashboard])."""

    listen: str = ""  # HOST:PORT; empty = off
    token_file: str = ""  # a viewer token; empty = the intake token ([intake] token_file)
    poll_ms: Millis = 500

    def problems(self) -> Iterator[tuple[str, str]]:
        host, sep, port = self.listen.rpartition(":")
        if self.listen and not (sep and host and port.isdigit() and int(port) < 65536):
            yield "listen", f'expected "HOST:PORT" or "" (off), got "{self.listen}"'


class CentralConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Everything in config/central.toml."""

    central: ServiceSection = msgspec.field(default_factory=ServiceSection)
    downstream: DownstreamSection = msgspec.field(default_factory=DownstreamSection)
    intake: IntakeSection = msgspec.field(default_factory=IntakeSection)
    dashboard: DashboardSection = msgspec.field(default_factory=DashboardSection)


def load_central_config(path: Path | None) -> CentralConfig:
    """Load config/central.toml (or the embedded defaults); ConfigError names every problem."""
    return config.load(CentralConfig, path)
