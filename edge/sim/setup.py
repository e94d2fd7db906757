"""The run directory of a simulated pack day: keys, configuration files and the day's data.

Layout under `--out DIR` (docs/simulation.md):

    keys/            CurveZMQ certificates made for this run (central, station-01)
    central/         central.toml, its allow-list and its SQLite store
    station/         station.toml, the journal, the replica, the inject socket
    data/            inventory.json (METRC shape), orders.json, badges.json, plan.json
    labels/          a PNG of every label and slip the simulated printer printed
    logs/            central.log, station.log
    central-export.jsonl, journal-export.jsonl, summary.json
"""

from __future__ import annotations

import json
import random
import secrets
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from central.config import load_central_config
from edge.common.errors import BadInput
from edge.sim import around
from edge.sim import data as simdata
from edge.sim.procs import SimError, cli, free_port
from edge.station.config import load_station_config

MARKER = ".packstation-simulate"  # a directory holding it may be replaced by the next run
STATION_ID = "station-01"
SIM_LICENSE_SOURCE = "simulated state license list"


class RunDir:
    """The paths of one run (see the module docstring)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.keys = root / "keys"
        self.central_dir = root / "central"
        self.station_dir = root / "station"
        self.data = root / "data"
        self.labels = root / "labels"
        self.logs = root / "logs"
        self.central_toml = self.central_dir / "central.toml"
        self.station_toml = self.station_dir / "station.toml"
        self.central_store = self.central_dir / "central.sqlite3"
        self.viewer_token = self.central_dir / "viewer.token"
        self.journal = self.station_dir / "journal.sqlite3"
        self.inject = self.station_dir / "inject.sock"
        self.inventory = self.data / "inventory.json"
        self.orders = self.data / "orders.json"
        self.badges = self.data / "badges.json"
        self.plan = self.data / "plan.json"
        self.licenses = self.data / "licenses.csv"  # the state's license list (wholesale)
        self.refused_order = self.data / "order-expired-license.json"
        self.manifests = root / "manifests"
        self.central_export = root / "central-export.jsonl"
        self.journal_export = root / "journal-export.jsonl"
        self.summary = root / "summary.json"


def prepare_dir(root: Path) -> RunDir:
    """An empty run directory: a new one, an empty one, or the output of an earlier simulate run
    (replaced). Anything else is refused, so a typo never wipes a directory of other files."""
    if root.exists():
        if not root.is_dir():
            raise BadInput(f"{root}: exists and is not a directory")
        if any(root.iterdir()):
            if not (root / MARKER).exists():
                raise BadInput(
                    f"{root}: not empty and not the output of an earlier `packstation simulate`;"
                    " choose another --out"
                )
            shutil.rmtree(root)
    run = RunDir(root)
    for sub in ("keys", "central", "station", "data", "labels", "logs", "manifests"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    (root / MARKER).write_text("output of packstation simulate; replaced by the next run\n")
    return run


@dataclass(frozen=True)
class Ports:
    central: int
    pub: int
    replay: int
    printer: int
    dashboard: int = 0


def _toml_value(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))  # a TOML basic string


def toml_text(sections: dict[str, dict[str, Any]], header: str) -> str:
    out = [f"# {line}" for line in header.splitlines()]
    for name, keys in sections.items():
        out += ["", f"[{name}]"] + [f"{k} = {_toml_value(v)}" for k, v in keys.items()]
    return "\n".join(out) + "\n"


HEADER = (
    "Written by `packstation simulate` for this run only: the embedded defaults\n"
    "(config/{name}) plus the run's loopback ports, keys and paths."
)


def make_keys(run: RunDir) -> None:
    """Fresh CurveZMQ certificates for central and the station; the station is allow-listed."""
    cli("keys", "new", "central", "--dir", str(run.keys))
    cli("keys", "new", STATION_ID, "--dir", str(run.keys))
    shutil.copy(run.keys / "central.key", run.station_dir / "central.key")


def write_central_config(
    run: RunDir, ports: Ports, state_system: dict[str, Any] | None = None
) -> None:
    sections: dict[str, dict[str, Any]] = {
        "central": {
            "bind": f"tcp://127.0.0.1:{ports.central}",
            "store": f"sqlite:///{run.central_store.resolve()}",
            "secret_key_file": str((run.keys / "central.key_secret").resolve()),
            "station_keys_dir": str((run.central_dir / "stations").resolve()),
            "subscriber_keys_dir": str((run.central_dir / "subscribers").resolve()),
            "feed_poll_ms": 200,
        },
        "downstream": {
            "pub_bind": f"tcp://127.0.0.1:{ports.pub}",
            "replay_bind": f"tcp://127.0.0.1:{ports.replay}",
        },
        "intake": {"enabled": False},
        "dashboard": {
            "listen": f"127.0.0.1:{ports.dashboard}",
            "token_file": str(run.viewer_token.resolve()),
            "poll_ms": 250,
        },
    }
    if state_system:
        sections["state_system"] = state_system
    run.viewer_token.write_text(secrets.token_urlsafe(24) + "\n")
    run.viewer_token.chmod(0o600)
    (run.central_dir / "stations").mkdir(exist_ok=True)
    (run.central_dir / "subscribers").mkdir(exist_ok=True)
    run.central_toml.write_text(toml_text(sections, HEADER.format(name="central.toml")))
    load_central_config(run.central_toml)  # exactly what `packstation config check` applies
    cli("central", "allow", str(run.keys / f"{STATION_ID}.key"), "--config", str(run.central_toml))


def write_station_config(run: RunDir, ports: Ports, scale_port: str) -> None:
    state = run.station_dir.resolve()
    sections: dict[str, dict[str, Any]] = {
        "station": {
            "id": STATION_ID,
            "dispensary_name": "Simulated Dispensary",
            "license_number": "SIM-000001",
            "state_dir": str(state),
            "inject_socket": str(run.inject.resolve()),
        },
        "scale": {"enabled": True, "port": scale_port, "protocol": "mt-sics"},
        "printer": {
            "target": f"tcp://127.0.0.1:{ports.printer}",
            "retry_ms": 300,  # the day should not wait 5 s for a reloaded printer
        },
        "indicator": {"backend": "recording"},
        "staging": around.STAGING,
        "journal": {"path": str(run.journal.resolve()), "min_free_mb": 10, "min_free_percent": 0},
        "link": {
            "endpoint": f"tcp://127.0.0.1:{ports.central}",
            "secret_key_file": str((run.keys / f"{STATION_ID}.key_secret").resolve()),
            "server_key_file": str((run.station_dir / "central.key").resolve()),
            # a compressed day: notice central's crash and its return within a second or two
            "reconnect_max_ms": 500,
            "heartbeat_ms": 250,
            "timeout_ms": 1500,
            "ack_timeout_ms": 1000,
        },
    }
    run.station_toml.write_text(toml_text(sections, HEADER.format(name="station.toml")))
    load_station_config(run.station_toml)


@dataclass(frozen=True)
class DayData:
    plan: list[simdata.PlannedOrder]
    vault: simdata.Vault
    now: datetime


def write_day(run: RunDir, seed: int, n_orders: int, timezone: str) -> DayData:
    """Generate the vault and the day's orders for `seed` and write the JSON files."""
    rng = random.Random(seed)
    now = datetime.now(ZoneInfo(timezone)).replace(microsecond=0)
    # each order takes at most one package of a product: two batches cover the whole day
    vault = simdata.generate_vault(rng, now.date(), per_batch=max(12, n_orders // 2 + 2))
    plan = simdata.generate_day(rng, vault, now, n_orders)
    orders = [{**p.order, "station": STATION_ID} for p in plan]
    run.inventory.write_text(json.dumps(vault.packages, indent=1) + "\n")
    run.orders.write_text(json.dumps(orders, indent=1) + "\n")
    run.badges.write_text(json.dumps(simdata.badges(now), indent=1) + "\n")
    run.licenses.write_text(simdata.licenses_csv(now.date()))
    refused = {**simdata.refused_wholesale(now.date()), "station": STATION_ID}
    run.refused_order.write_text(json.dumps(refused, indent=1) + "\n")
    run.plan.write_text(
        json.dumps(
            [
                {"order_id": p.order["order_id"], "incident": p.incident, "picks": p.picks}
                for p in plan
            ],
            indent=1,
        )
        + "\n"
    )
    return DayData(plan, vault, now)


def import_day(run: RunDir) -> str:
    """Hand the day to central the way a POS integration would (`central import`), after the
    state's license list; then the wholesale order whose buyer's license expired, which central
    must refuse: returns its refusal."""
    today = datetime.now(UTC).date().isoformat()
    cfg = ("--config", str(run.central_toml))
    cli(
        "central",
        "import",
        "licenses",
        str(run.licenses),
        "--source",
        SIM_LICENSE_SOURCE,
        "--date",
        today,
        *cfg,
    )
    for kind, path in (
        ("inventory", run.inventory),
        ("badges", run.badges),
        ("orders", run.orders),
    ):
        cli("central", "import", kind, str(path), "--config", str(run.central_toml))
    try:
        cli("central", "import", "orders", str(run.refused_order), *cfg)
    except SimError as exc:
        return str(exc)
    raise SimError(f"central released {run.refused_order.name}: its buyer's license expired")


def allocate_ports(printer_port: int) -> Ports:
    return Ports(free_port(), free_port(), free_port(), printer_port, free_port())


def dashboard_url(run: RunDir, ports: Ports) -> str:
    """The link that opens the simulated central's dashboard (the token sets a cookie)."""
    token = run.viewer_token.read_text().strip()
    return f"http://127.0.0.1:{ports.dashboard}/dashboard/?token={token}"
