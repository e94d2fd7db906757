"""A claim (the station asking central to reserve a package) while central goes away: the scan
that asked is judged locally (None), whatever moment the connection breaks at. A claim whose send
was still waiting when the session closed its socket used to raise CancelledError into the scan's
task: the inject client was dropped without a word, and the scanner's loop ended."""

from __future__ import annotations

import asyncio
import time
import uuid
from pathlib import Path

import pytest

from edge.common import protocol as p
from edge.link.client import LinkState
from tests.support.central import LinkRunner, make_setup, running_central, until

pytestmark = pytest.mark.slow  # central as a subprocess


def _claim() -> p.Claim:
    return p.Claim(
        claim_id=uuid.uuid4().hex,
        order_id="1045",
        uid="1A4060300002C9B000000123",
        amount=1,
        at="2026-12-03T10:00:00+00:00",
    )


def test_claims_while_central_dies_are_judged_locally(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, ["station-01"])
    answers: list[object] = []

    async def scenario() -> None:
        runner = LinkRunner(setup, "station-01", tmp_path, claim_timeout_ms=400)
        runner.start()
        try:
            with running_central(setup) as central:
                await until(lambda: runner.link.status().state == LinkState.CONNECTED)
                answers.append(await runner.link.claim(_claim()))  # central answers
                central.kill9()
                # Claims go on through the break, the session's end and the reconnecting.
                deadline = time.monotonic() + 4
                while time.monotonic() < deadline:
                    try:
                        answers.append(await runner.link.claim(_claim()))
                    except asyncio.CancelledError:
                        answers.append("cancelled")
                    await asyncio.sleep(0.005)
                assert not asyncio.current_task().cancelling()  # type: ignore[union-attr]
        finally:
            await runner.stop()

    asyncio.run(scenario())
    assert isinstance(answers[0], p.Claimed)
    assert "cancelled" not in answers
    assert all(a is None for a in answers[1:]), answers
