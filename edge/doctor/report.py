"""`packstation doctor`: what is plugged in, what is wrong, and what to do about it, in plain words.

A run is a device inventory (edge/doctor/probes.py) plus a list of independent checks
(edge/doctor/checks.py). Each check returns findings: a status, what it saw and, for anything not
ok, the fix. One failing check never stops the others.
"""

from __future__ import annotations

import enum
import getpass
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from edge.common.errors import ConfigError, ExitCode
from edge.doctor import probes
from edge.station.config import StationConfig, StationPaths, load_station_config

DEFAULT_CONFIG = Path("/etc/packstation/station.toml")
CONFIG_FIX = (
    "edit the file (every option is explained in config/station.toml), "
    "then run `packstation config check FILE`"
)


class Status(enum.Enum):
    OK = "ok"
    WARN = "warn"
    FAIL = "fail"


@dataclass(frozen=True)
class Finding:
    """One line of the report: `check` is the short name ("scale"), `what` says what was seen."""

    status: Status
    check: str
    what: str
    fix: str = ""


@dataclass(frozen=True)
class LinkKeys:
    """The station's key files the doctor reads ([link] options, else the defaults of
    edge.station.config.StationPaths).

    secret_key: the station's own `NAME.key_secret` (from `packstation keys new NAME`).
    server_key: central's public `NAME.key`.
    """

    secret_key: str = ""
    server_key: str = ""

    @classmethod
    def of(cls, config: StationConfig) -> LinkKeys:
        paths = StationPaths.of(config)
        return cls(secret_key=str(paths.secret_key), server_key=str(paths.server_key))


@dataclass(frozen=True)
class Inventory:
    """Everything the probes found."""

    board: str
    scanners: list[probes.InputDevice]
    serial: list[probes.SerialPort]
    printers: list[probes.Printer]
    gpio: list[probes.GpioChip]
    leds: list[probes.Led]

    @classmethod
    def probe(cls, root: probes.Root, word_bits: int | None = None) -> Inventory:
        return cls(
            board=probes.board_model(root),
            scanners=probes.input_devices(root, word_bits),
            serial=probes.serial_ports(root),
            printers=probes.printers(root),
            gpio=probes.gpio_chips(root),
            leds=probes.leds(root),
        )


def whoami() -> str:
    """The effective user's name (the doctor's view of permissions is this user's)."""
    return "root" if os.geteuid() == 0 else getpass.getuser()


@dataclass
class Context:
    """What every check may look at. `config` is None when the file could not be loaded."""

    root: probes.Root
    config_path: Path | None
    config: StationConfig | None
    config_problems: list[str]
    inventory: Inventory
    central_timeout_s: float = 3.0
    user: str = field(default_factory=whoami)

    @property
    def keys(self) -> LinkKeys:
        return LinkKeys.of(self.config) if self.config else LinkKeys()

    def journal_path(self) -> Path | None:
        """The journal file as a real path under the root ([journal] path, else state_dir)."""
        if self.config is None:
            return None
        return self.root(StationPaths.of(self.config).journal)


Check = Callable[[Context], Iterable[Finding]]


def load_context(
    config_path: Path | None,
    root: probes.Root,
    central_timeout_s: float = 3.0,
    word_bits: int | None = None,
) -> Context:
    """Load the config (remembering its problems instead of raising) and probe the hardware."""
    config: StationConfig | None = None
    problems: list[str] = []
    if config_path is not None and not config_path.exists():
        problems = [f"{config_path}: no such file"]
    else:
        try:
            config = load_station_config(config_path)
        except ConfigError as exc:
            problems = exc.problems
    return Context(
        root=root,
        config_path=config_path,
        config=config,
        config_problems=problems,
        inventory=Inventory.probe(root, word_bits),
        central_timeout_s=central_timeout_s,
    )


def run_checks(ctx: Context, checks: Iterable[Check]) -> list[Finding]:
    """Every check's findings; a check that raises is reported, never allowed to stop the rest."""
    findings: list[Finding] = []
    for check in checks:
        name = check.__name__.removeprefix("check_").replace("_", " ")
        try:
            findings.extend(check(ctx))
        except Exception as exc:  # noqa: BLE001 -- the report must finish whatever a check meets
            findings.append(
                Finding(
                    Status.FAIL,
                    name,
                    f"the check itself failed: {type(exc).__name__}: {exc}",
                    "report this as a bug, with the output of `packstation doctor`",
                )
            )
    return findings


def exit_code(findings: list[Finding]) -> ExitCode:
    """78 when the config is unusable, 4 when anything else failed, 0 when only ok/warn."""
    failed = [f for f in findings if f.status is Status.FAIL]
    if any(f.check == "config" for f in failed):
        return ExitCode.CONFIG
    return ExitCode.DEVICE if failed else ExitCode.OK


def as_dict(ctx: Context, findings: list[Finding]) -> dict[str, Any]:
    """The report as plain data, for `--json`."""
    from dataclasses import asdict

    inv = ctx.inventory
    return {
        "board": inv.board,
        "config": str(ctx.config_path) if ctx.config_path else None,
        "devices": {
            "scanners": [asdict(d) for d in inv.scanners],
            "serial_ports": [asdict(d) for d in inv.serial],
            "printers": [asdict(d) for d in inv.printers],
            "gpio_chips": [asdict(d) for d in inv.gpio],
            "leds": [asdict(d) for d in inv.leds],
        },
        "checks": [
            {"status": f.status.value, "check": f.check, "what": f.what, "fix": f.fix}
            for f in findings
        ],
        "exit_code": int(exit_code(findings)),
    }
