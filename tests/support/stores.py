"""Central store fixtures for every test module (registered in tests/conftest.py): `pg`, a real
PostgreSQL cluster per module, and `store`, each test run on a SQLite file and (slow lane) on a
fresh PostgreSQL database. A module that needs another `store` or `pg` defines its own, which
pytest prefers."""

from __future__ import annotations

import itertools
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from central.store import SqlStore, open_store
from tests.support.central import PgCluster, pg_cluster_fixture

_names = itertools.count()


@pytest.fixture(scope="module")
def pg() -> Iterator[PgCluster]:
    with tempfile.TemporaryDirectory(prefix="pg-") as root:
        yield from pg_cluster_fixture(Path(root))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.slow)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    if request.param == "sqlite":
        s = open_store(f"sqlite://{tmp_path / 'c.sqlite3'}")
    else:
        cluster: PgCluster = request.getfixturevalue("pg")
        s = open_store(cluster.create_db(f"store_{next(_names)}"))
    yield s
    s.close()
