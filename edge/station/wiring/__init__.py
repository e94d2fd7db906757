"""The built-in ports of the station daemon: the Rust core, the drivers and central's state.

`build_ports(cfg)` is what `[station] ports = ""` (the default) runs. Each adapter, in its own
module, turns one real part into the port the pure workflow (edge/workflow/ports.py) or the daemon
(edge/station/ports.py) expects:

- Verifier (`verifier_pipeline`, an `edge.scan.pipeline.Pipeline`): the Rust core's `OrderCheck`
  session per order (`verifier.CoreVerifier`, rebuilt from the workflow's accepted picks
  whenever they differ from what the session holds), then the stages: the limit history
  prepared (`limits.LimitsPreparation`), `edge.scan.batchlock.BatchLock` ([verify] batch_lock),
  `edge.scan.lab.LabGate` (the lab results central feeds refuse a package: `lab_result`) and
  `availability.Availability` (sold, held, quarantined, not sellable; reserved at central).
- LimitChecker (`limits.EngineLimits`): `edge.limits.engine.LimitEngine` over the picked packages'
  inventory measures.
- WeighRule (`scale.DriverWeighRule`): the scale driver's weigh-out rule (label, allowance, scale
  division).
- CentralState: the replica of central's feed (`central.ReplicaCentral`), or the files in
  `[station] seed_dir` (`seed.SeedCentral`) for tests and simulation.
- EventSink and a Service: the central link (`central.LinkService`).
- LabelPrinter (`printer.SpoolPrinter`): the durable `PrinterService` spool with exit labels built
  by `edge.label.content`.
- Indicator (`indicator.IndicatorPort`), Scale (`scale.ScalePort`), the scanner reader
  (`scanner.ScannerPort`): the drivers.

May import what `edge.station` may: the drivers and every edge package below the station.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from drivers.indicator import build_indicator
from drivers.scale import WeighOutRules
from edge.common.errors import ConfigError
from edge.link.replica import Replica
from edge.scan.batchlock import BatchLock
from edge.scan.lab import LabGate
from edge.scan.pipeline import Pipeline
from edge.station.config import StationConfig, StationPaths, station_profile
from edge.station.inject import inject_services
from edge.station.ports import Service, StationPorts
from edge.station.wiring.availability import Availability, Claimer
from edge.station.wiring.central import LinkService, ReplicaCentral
from edge.station.wiring.count import CoreCounter
from edge.station.wiring.indicator import IndicatorPort
from edge.station.wiring.limits import EngineLimits, LimitsPreparation
from edge.station.wiring.printer import SpoolPrinter
from edge.station.wiring.privacy import profile_privacy
from edge.station.wiring.scale import DriverWeighRule, ScalePort
from edge.station.wiring.scanner import ScannerPort
from edge.station.wiring.seed import SeedCentral
from edge.station.wiring.verifier import CoreVerifier


def build_central(cfg: StationConfig, replica: Replica) -> SeedCentral | ReplicaCentral:
    """Central's state: the seed files when `[station] seed_dir` is set, else the replica the
    link keeps. Read now, so READY means "loaded" (and a bad file is logged at start)."""
    central: SeedCentral | ReplicaCentral = (
        SeedCentral.from_config(cfg) if cfg.station.seed_dir else ReplicaCentral(cfg, replica)
    )
    central.inventory()
    central.label_fields("")  # the seed's second read (dates, label fields): not at a scan
    central.badge("")
    central.next_order()
    return central


def verifier_pipeline(
    cfg: StationConfig,
    central: SeedCentral | ReplicaCentral,
    limits: EngineLimits,
    claim: Claimer | None = None,
    online: Callable[[], bool] | None = None,
) -> Pipeline:
    """The one place the package-scan verdict is put together: the Rust core's session, then
    each stage in order (edge/scan/pipeline.py)."""
    inventory = central.inventory
    return Pipeline(
        CoreVerifier(cfg, inventory),
        [
            LimitsPreparation(limits),
            BatchLock(inventory, cfg),
            LabGate(inventory, central.lab_results, cfg),
            Availability(cfg, central.package, claim=claim, online=online),
        ],
    )


def check_compliance_files(cfg: StationConfig, limits: EngineLimits) -> None:
    """The jurisdiction's limit rules and label profile must load before the station opens: a
    station that cannot check limits or print a compliant label does not start (exit 78); an
    unverified warning text only with [label] allow_unverified = true."""
    code = cfg.station.jurisdiction
    limits.engine.rules(code)
    station_profile(cfg, datetime.now(UTC))


def build_ports(cfg: StationConfig) -> StationPorts:
    """The built-in wiring ([station] ports = ""): real drivers, the Rust core, central's state.
    ConfigError names what is wrong (a bad printer target, a scanner name used twice, missing
    limit rules or label warnings for the jurisdiction)."""
    try:
        return _build_ports(cfg)
    except ValueError as exc:
        raise ConfigError([str(exc)]) from exc


def _build_ports(cfg: StationConfig) -> StationPorts:
    replica = Replica(StationPaths.of(cfg).replica)
    central = build_central(cfg, replica)
    link = LinkService(cfg, replica)
    limits = EngineLimits(cfg, central.inventory)
    check_compliance_files(cfg, limits)
    inventory = central.inventory
    printer = SpoolPrinter(
        cfg,
        inventory,
        label_fields=central.label_fields,
        badges=central.badge,
        orders=central.order,
        lab_results=central.lab_results,
    )
    indicator = IndicatorPort(
        cfg, build_indicator(cfg.indicator, printer_send=printer.service.beep_nowait)
    )
    scanners = ScannerPort(cfg)
    services: list[Service] = [printer, scanners, link, *inject_services(cfg)]
    if isinstance(central, ReplicaCentral):
        services.append(central)  # rebuilds the inventory index when the replica moved
    scale: ScalePort | None = None
    if cfg.scale.enabled:
        scale = ScalePort(cfg)
        services.append(scale)
    return StationPorts(
        verifier=verifier_pipeline(cfg, central, limits, claim=link.claim, online=link.can_claim),
        counter=CoreCounter(inventory),
        limits=limits,
        weigh_rule=DriverWeighRule(
            WeighOutRules(
                over_tolerance_mg=cfg.scale.over_tolerance_mg,
                max_division_mg=cfg.scale.max_division_mg,
            )
        ),
        central=central,
        printer=printer,
        indicator=indicator,
        sink=link,
        scale=scale,
        services=services,
        scan_decoder=scanners,
        anchor=link.anchor,
        down_at_start=(("central", "connecting"),),
        privacy=profile_privacy(cfg),
    )


__all__ = ["build_central", "build_ports", "check_compliance_files", "verifier_pipeline"]
