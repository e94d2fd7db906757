"""The central service's configuration (config/central.toml)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from central.notify.config import NotifySection
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
    metrics_listen: str = ""  # HOST:PORT for Prometheus metrics at /metrics; "" = off

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
    # Order status back to the POS (central/webhook.py): "" = no webhook.
    webhook_url: str = ""
    webhook_secret_file: str = "/etc/packstation-central/webhook.secret"
    webhook_timeout_ms: Millis = 5000
    # Wholesale orders (central/wholesale.py): warn when the license list is older than this.
    license_max_age_days: Annotated[int, msgspec.Meta(ge=0, le=3650)] = 7

    def problems(self) -> Iterator[tuple[str, str]]:
        if self.webhook_url and not self.webhook_url.startswith(("http://", "https://")):
            yield "webhook_url", f'expected an http:// or https:// URL, got "{self.webhook_url}"'


StateKind = Literal["none", "metrc", "biotrack"]
Seconds = Annotated[int, msgspec.Meta(ge=1, le=86_400)]


class StateSystemSection(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The seed-to-sale bridge ([state_system], central/statesys/): the keys stay on central."""

    kind: StateKind = "none"
    base_url: str = ""  # https://api-XX.metrc.com, https://sandbox-api-XX.metrc.com, BioTrack host
    license: str = ""  # the facility's license number (METRC ?licenseNumber=)
    vendor_key_file: str = "/etc/packstation-central/state.vendor_key"  # METRC integrator key
    user_key_file: str = "/etc/packstation-central/state.user_key"  # METRC user key / BioTrack pw
    username: str = ""  # BioTrack login user name
    timezone: str = "America/Chicago"  # the facility's time zone (SalesDateTime is local)
    pull_interval_s: Seconds = 300
    # METRC lab results of every package held (central/statesys/labpull.py); 0 = no lab pull
    lab_pull_interval_s: Annotated[int, msgspec.Meta(ge=0, le=86_400)] = 900
    quarantine_location: str = ""  # "" = quarantines are not moved at the state system
    adjustment_reasons: list[str] = msgspec.field(
        default_factory=lambda: ["Entry Error", "Scale Variance", "Drying"]
    )
    repackaging: Literal["auto", "child_package", "deli"] = "auto"
    deliveries: bool = (
        False  # delivery orders as METRC sales deliveries (POST /sales/v2/deliveries)
    )
    timeout_ms: Millis = 15_000
    max_backoff_s: Seconds = 600

    def problems(self) -> Iterator[tuple[str, str]]:
        if self.kind == "none":
            return
        if not self.base_url.startswith(("http://", "https://")):
            yield "base_url", f'expected an http(s):// URL for kind "{self.kind}"'
        if not self.license:
            yield "license", f'the facility\'s license number is required for kind "{self.kind}"'
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            yield "timezone", f'unknown time zone "{self.timezone}"'


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
    state_system: StateSystemSection = msgspec.field(default_factory=StateSystemSection)
    dashboard: DashboardSection = msgspec.field(default_factory=DashboardSection)
    notify: NotifySection = msgspec.field(default_factory=NotifySection)


def load_central_config(path: Path | None) -> CentralConfig:
    """Load config/central.toml (or the embedded defaults); ConfigError names every problem."""
    return config.load(CentralConfig, path)
