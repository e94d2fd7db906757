"""Central's event store: the rules in `base`, SQLite in `sqlite` (default), PostgreSQL in `postgres`.

May import: `edge.common` and the standard library; psycopg only inside `postgres` (loaded on demand,
so a SQLite central never needs it).
"""

from __future__ import annotations

from pathlib import Path

from central.store.base import BatchResult, Rejected, Snapshot, SqlStore, now

__all__ = ["BatchResult", "Rejected", "Snapshot", "SqlStore", "now", "open_store"]


def open_store(url: str) -> SqlStore:
    """`sqlite:///PATH` or `postgresql://...` -> a store with its schema in place."""
    if url.startswith("sqlite://"):
        from central.store.sqlite import SqliteStore

        return SqliteStore(Path(url.removeprefix("sqlite://")))
    from central.store.postgres import PgStore

    return PgStore(url)
