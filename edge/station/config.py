"""The station's configuration (config/station.toml): one struct per section, embedded defaults."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec

from drivers.config import IndicatorConfig, PrinterConfig, ScaleConfig, ScannerConfig
from edge.common import config
from edge.label.content import StationInfo
from edge.link.config import LinkSection
from edge.scan.config import ScanConfig, VerifySection
from edge.workflow.config import WorkflowSection

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
    # "module:function" building edge.workflow.ports.StationPorts from the config ("" = built-in wiring).
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


def station_info(section: StationSection) -> StationInfo:
    """The label facts of [station] in station.toml."""
    return StationInfo(
        dispensary_name=section.dispensary_name,
        license_number=section.license_number,
        jurisdiction=section.jurisdiction,
        timezone=section.timezone,
        station_id=section.id,
    )
