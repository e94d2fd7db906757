"""A station daemon's config wired to a real central, and the waits the linked tests share."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from tests.support.central import Setup


def write_json(tmp: Path, name: str, data: object) -> str:
    """`data` as the JSON file `tmp/name` (a feed import's input); returns its path."""
    path = tmp / name
    path.write_text(json.dumps(data))
    return str(path)


def wait_until(cond: Callable[[], object], timeout: float = 20, what: str = "condition") -> None:
    """Poll `cond` every 0.1 s until it is true; TimeoutError naming `what` after `timeout` s."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return
        time.sleep(0.1)
    raise TimeoutError(f"{what} not met in {timeout} s")


def link_to(setup: Setup, station: str, **settings: int) -> list[str]:
    """The [link] lines of `station` enrolled at `setup`'s central: a fast heartbeat and
    reconnect unless `settings` (other [link] integers, e.g. claim_timeout_ms) say otherwise."""
    secret, server = setup.station_keys(station)
    values = {"heartbeat_ms": 300, "reconnect_max_ms": 1000, **settings}
    return [
        f'endpoint = "{setup.endpoint}"',
        f'secret_key_file = "{secret}"',
        f'server_key_file = "{server}"',
        *(f"{key} = {value}" for key, value in values.items()),
    ]


def linked_station_config(
    root: Path,
    printer: str,
    link: Sequence[str],
    *,
    station_id: str | None = None,
    station: Sequence[str] = (),
    extra: Sequence[str] = (),
) -> Path:
    """station.toml in `root` for a daemon printing to `printer` with these [link] lines, the
    recording indicator and no disk floor; `station` lines join [station], `extra` lines (other
    sections) are appended."""
    root.mkdir(parents=True, exist_ok=True)
    lines = [
        "[station]",
        *([f'id = "{station_id}"'] if station_id is not None else []),
        f'state_dir = "{root}"',
        f'inject_socket = "{root / "inject.sock"}"',
        *station,
        "[printer]",
        f'target = "{printer}"',
        "retry_ms = 200",
        "[indicator]",
        'backend = "recording"',
        "[journal]",
        "min_free_mb = 0",
        "min_free_percent = 0",
        "[link]",
        *link,
        *extra,
    ]
    path = root / "station.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def feed_badges() -> list[dict[str, object]]:
    """The station fixture's badges as central's badge feed records (`badge` for `code`)."""
    from tests.support.station import BADGES

    return [{"badge": b["code"], **{k: v for k, v in b.items() if k != "code"}} for b in BADGES]


def import_feeds(setup: Setup, data: Path, feeds: dict[str, object]) -> None:
    """`packstation central import KIND FILE` for each kind -> records, as an operator would."""
    from edge.cli import run

    data.mkdir(parents=True, exist_ok=True)
    for kind, payload in feeds.items():
        path = write_json(data, f"{kind}.json", payload)
        code = run(["central", "import", kind, path, "--config", str(setup.config)])
        if code != 0:
            raise AssertionError(f"central import {kind} exited {code}")
