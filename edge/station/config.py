"""The station's configuration (config/station.toml): one struct per section, embedded defaults."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Annotated

import msgspec

from drivers.config import IndicatorConfig, PrinterConfig, ScaleConfig, ScannerConfig
from edge.common import config
from edge.label.content import StationInfo, local_time
from edge.label.profile import LabelSection, Profile, load_profile, profiles_dir
from edge.link.config import LinkSection
from edge.scan.config import ScanConfig, VerifySection
from edge.workflow.config import WorkflowSection
from edge.workflow.counting import CountSection
from edge.workflow.staging import StagingSection

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
    # Test/simulator input channel: a Unix socket accepting injected scans ("" = off); a service
    # the port factory adds (edge.station.inject.inject_services).
    inject_socket: str = ""
    # "module:function" building edge.station.ports.StationPorts from the config ("" = built-in wiring).
    ports: str = ""
    # Directory of inventory.json / orders.json / badges.json standing in for central ("" = none).
    seed_dir: str = ""
    # HOST:PORT serving Prometheus metrics at /metrics ("" = off).
    metrics_listen: str = ""


class LimitsSection(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """Purchase-limit rules ([limits])."""

    rules_dir: str = ""  # "" = /etc/packstation/limits if present, else the shipped rules


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
    label: LabelSection = msgspec.field(default_factory=LabelSection)
    indicator: IndicatorConfig = msgspec.field(default_factory=IndicatorConfig)
    limits: LimitsSection = msgspec.field(default_factory=LimitsSection)
    journal: JournalSection = msgspec.field(default_factory=JournalSection)
    link: LinkSection = msgspec.field(default_factory=LinkSection)
    verify: VerifySection = msgspec.field(default_factory=VerifySection)
    workflow: WorkflowSection = msgspec.field(default_factory=WorkflowSection)
    staging: StagingSection = msgspec.field(default_factory=StagingSection)
    count: CountSection = msgspec.field(default_factory=CountSection)


@dataclass(frozen=True, kw_only=True)
class StationPaths:
    """Every file the station keeps, each under [station] state_dir unless an option names it.

    The one place for these names: the daemon, the wiring, the doctor and the simulator read the
    paths from here, and the layers below (link, drivers) get them passed in."""

    state_dir: Path
    journal: Path  # [journal] path, else <state_dir>/journal.sqlite3
    replica: Path  # [link] replica_path, else <state_dir>/replica.sqlite3
    replica_finished: Path  # <state_dir>/replica-finished.json: orders that left the station
    seed_finished: Path  # <state_dir>/seed-finished.json: the same with [station] seed_dir
    spool: Path  # [printer] spool_path, else <state_dir>/print-spool.sqlite3
    indicator_log: Path  # <state_dir>/indicator.log with the recording indicator back-end
    keys: Path  # <state_dir>/keys: where the key files are when [link] names none
    secret_key: Path  # [link] secret_key_file, else <keys>/<station id>.key_secret
    server_key: Path  # [link] server_key_file, else <keys>/central.key
    status_socket: Path  # <state_dir>/status.sock: `packstation status` reads the daemon there

    @classmethod
    def of(cls, cfg: StationConfig) -> StationPaths:
        state = Path(cfg.station.state_dir)
        keys = state / "keys"
        return cls(
            state_dir=state,
            journal=Path(cfg.journal.path or state / "journal.sqlite3"),
            replica=Path(cfg.link.replica_path or state / "replica.sqlite3"),
            replica_finished=state / "replica-finished.json",
            seed_finished=state / "seed-finished.json",
            spool=Path(cfg.printer.spool_path or state / "print-spool.sqlite3"),
            indicator_log=state / "indicator.log",
            keys=keys,
            secret_key=Path(cfg.link.secret_key_file or keys / f"{cfg.station.id}.key_secret"),
            server_key=Path(cfg.link.server_key_file or keys / "central.key"),
            status_socket=state / "status.sock",
        )


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


def station_profile(cfg: StationConfig, at: datetime, directory: Path | None = None) -> Profile:
    """The label profile of the station's jurisdiction in force at `at` (the store's day);
    ConfigError when missing, invalid, or unverified without [label] allow_unverified.
    `directory` overrides where the profiles are read (doctor's --root)."""
    day = local_time(at, cfg.station.timezone).date()
    return load_profile(
        cfg.station.jurisdiction,
        directory or profiles_dir(cfg.label.profiles_dir),
        day,
        allow_unverified=cfg.label.allow_unverified,
    )
