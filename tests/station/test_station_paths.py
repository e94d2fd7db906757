"""StationPaths: every file of the state directory, from the defaults and from the options."""

from __future__ import annotations

from pathlib import Path

from edge.station.config import StationPaths, load_station_config


def _paths(tmp_path: Path, toml: str) -> StationPaths:
    path = tmp_path / "station.toml"
    path.write_text(toml)
    return StationPaths.of(load_station_config(path))


def test_defaults_are_under_the_state_dir(tmp_path: Path) -> None:
    paths = _paths(tmp_path, '[station]\nid = "station-07"\nstate_dir = "/srv/ps"\n')
    state = Path("/srv/ps")
    assert paths.state_dir == state
    assert paths.journal == state / "journal.sqlite3"
    assert paths.replica == state / "replica.sqlite3"
    assert paths.replica_finished == state / "replica-finished.json"
    assert paths.seed_finished == state / "seed-finished.json"
    assert paths.spool == state / "print-spool.sqlite3"
    assert paths.indicator_log == state / "indicator.log"
    assert paths.keys == state / "keys"
    assert paths.secret_key == state / "keys" / "station-07.key_secret"
    assert paths.server_key == state / "keys" / "central.key"


def test_the_embedded_default_state_dir() -> None:
    paths = StationPaths.of(load_station_config(None))
    assert paths.journal == Path("/var/lib/packstation/journal.sqlite3")
    assert paths.secret_key == Path("/var/lib/packstation/keys/station-01.key_secret")


def test_options_override_the_defaults(tmp_path: Path) -> None:
    paths = _paths(
        tmp_path,
        '[station]\nstate_dir = "/srv/ps"\n'
        '[journal]\npath = "/data/j.sqlite3"\n'
        '[printer]\nspool_path = "/data/spool.db"\n'
        '[link]\nreplica_path = "/data/r.sqlite3"\n'
        'secret_key_file = "/etc/packstation/keys/station.key_secret"\n'
        'server_key_file = "/etc/packstation/keys/central.key"\n',
    )
    assert paths.journal == Path("/data/j.sqlite3")
    assert paths.spool == Path("/data/spool.db")
    assert paths.replica == Path("/data/r.sqlite3")
    assert paths.secret_key == Path("/etc/packstation/keys/station.key_secret")
    assert paths.server_key == Path("/etc/packstation/keys/central.key")
    # the files without an option of their own stay in the state directory
    assert paths.replica_finished == Path("/srv/ps/replica-finished.json")
    assert paths.seed_finished == Path("/srv/ps/seed-finished.json")
    assert paths.indicator_log == Path("/srv/ps/indicator.log")
