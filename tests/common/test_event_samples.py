"""The test bodies in tests/support/events.py are exactly the event structs they stand for."""

from __future__ import annotations

import pytest

from edge.common.events import EVENT_TYPES
from tests.support.events import SAMPLES, assert_fits


@pytest.mark.parametrize("type_", sorted(SAMPLES))
def test_every_sample_fits_its_struct(type_: str) -> None:
    assert type_ in EVENT_TYPES
    assert_fits(type_, SAMPLES[type_])
