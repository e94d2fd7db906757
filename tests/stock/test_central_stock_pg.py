"""The same sold-once rules on a PostgreSQL store (tests/stock/test_central_stock.py cases)."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from central.store import SqlStore, open_store
from tests.stock import test_central_stock as cases
from tests.support.central import PgCluster

pytestmark = pytest.mark.slow  # PostgreSQL as a subprocess

_names = itertools.count()
CASES = [
    cases.test_a_sealed_order_takes_its_units_off_the_served_quantity,
    cases.test_a_cancelled_order_releases_its_holds,
    cases.test_of_two_claims_on_the_last_unit_exactly_one_wins,
    cases.test_claims_queued_together_are_decided_in_turn_and_one_that_fails_fails_alone,
    cases.test_an_accepted_scan_confirming_its_claims_hold_changes_nothing_in_the_feed,
    cases.test_a_stale_import_does_not_resurrect_sold_units,
    cases.test_a_weighed_bulk_package_is_drawn_down_by_what_was_weighed,
    cases.test_quarantine_is_served_to_every_station_and_released_by_a_supervisor,
    cases.test_a_reimport_marked_released_releases_the_quarantine,
    cases.test_sales_two_offline_stations_made_of_one_unit_are_counted,
    cases.test_an_event_central_cannot_fold_is_still_stored,
]


@pytest.fixture
def pg_store(pg: PgCluster) -> Iterator[SqlStore]:
    store = open_store(pg.create_db(f"stock_{next(_names)}"))
    yield store
    store.close()


@pytest.mark.parametrize("case", CASES, ids=[c.__name__[5:] for c in CASES])
def test_on_postgresql(case: Callable[[Any], None], pg_store: SqlStore) -> None:
    case(pg_store)
