"""The station's configuration (config/station.toml): one struct per section, embedded defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Literal

import msgspec

from drivers.config import IndicatorConfig, PrinterConfig, ScaleConfig, ScanConfig, ScannerConfig
from edge import config

Jurisdiction = Annotated[
    str, msgspec.Meta(pattern="^[A-Z]{2}$", extra={"expected": "a two-letter state code"})
]


class StationSection(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Who and where this station is ([station])."""

    id: Annotated[str, msgspec.Meta(pattern=r"^[a-z0-9][a-z0-9-]{0,62}$")] = "station-01"
    dispensary_name: str = "Example Dispensary"
    license_number: str = "LIC-000000"
    jurisdiction: Jurisdiction = "IL"
    timezone: str = "America/Chicago"
    state_dir: str = "/var/lib/packstation"
    # Test/simulator input channel: a Unix socket accepting injected scans ("" = off).
    inject_socket: str = ""
    # "module:function" building edge.ports.StationPorts from the config ("" = built-in wiring).
    ports: str = ""
    # Directory of inventory.json / orders.json / badges.json standing in for central ("" = none).
    seed_dir: str = ""


class LimitsSection(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Purchase-limit rules ([limits])."""

    rules_dir: str = ""  # "" = config/limits beside the package, else /etc/packstation/limits


class JournalSection(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The tamper-evident journal ([journal])."""

    path: str = ""  # "" = <state_dir>/journal.sqlite3
    min_free_mb: Annotated[int, msgspec.Meta(ge=0)] = 500
    min_free_percent: Annotated[int, msgspec.Meta(ge=0, le=90)] = 10
    disk_check_s: Annotated[int, msgspec.Meta(ge=1, le=3600)] = 30


class WorkflowSection(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The pack workflow ([workflow])."""

    inactivity_logout_s: Annotated[int, msgspec.Meta(ge=10, le=86_400)] = 300
    print_slips: bool = True
    weigh_timeout_s: Annotated[int, msgspec.Meta(ge=1, le=3600)] = 60


LinkMillis = Annotated[int, msgspec.Meta(ge=10, le=3_600_000)]


class LinkSection(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The link to central ([link]); see edge/link.py and README.md."""

    endpoint: str = "tcp://127.0.0.1:5560"
    fallback_endpoints: list[str] = msgspec.field(default_factory=list)
    secret_key_file: str = ""  # "" = <state_dir>/keys/<station id>.key_secret
    server_key_file: str = ""  # "" = <state_dir>/keys/central.key
    replica_path: str = ""  # "" = <state_dir>/replica.sqlite3
    heartbeat_ms: LinkMillis = 2000
    timeout_ms: LinkMillis = 10000
    ack_timeout_ms: LinkMillis = 5000
    reconnect_max_ms: LinkMillis = 30000
    window: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 1024
    batch: Annotated[int, msgspec.Meta(ge=1, le=512)] = 256


class VerifySection(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """How scans are judged against an order ([verify])."""

    fifo: Literal["warn", "refuse", "off"] = "warn"
    near_miss_distance: Annotated[int, msgspec.Meta(ge=0, le=2)] = 2
    near_miss_candidates: Annotated[int, msgspec.Meta(ge=1, le=20)] = 5
    lab_passed_states: list[str] = msgspec.field(
        default_factory=lambda: ["TestPassed", "RetestPassed"]
    )
    date_basis: Literal["store", "utc"] = "store"


class StationConfig(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Everything in config/station.toml."""

    station: StationSection = msgspec.field(default_factory=StationSection)
    scanner: list[ScannerConfig] = msgspec.field(default_factory=list)
    scan: ScanConfig = msgspec.field(default_factory=ScanConfig)
    scale: ScaleConfig = msgspec.field(default_factory=ScaleConfig)
    printer: PrinterConfig = msgspec.field(default_factory=PrinterConfig)
    indicator: IndicatorConfig = msgspec.field(default_factory=IndicatorConfig)
    limits: LimitsSection = msgspec.field(default_factory=LimitsSection)
    journal: JournalSection = msgspec.field(default_factory=JournalSection)
    link: LinkSection = msgspec.field(default_factory=LinkSection)
    verify: VerifySection = msgspec.field(default_factory=VerifySection)
    workflow: WorkflowSection = msgspec.field(default_factory=WorkflowSection)


def load_station_config(path: Path | None) -> StationConfig:
    """Load config/station.toml (or the embedded defaults); ConfigError names every problem."""
    return config.load(StationConfig, path)
