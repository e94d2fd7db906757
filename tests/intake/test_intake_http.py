"""The intake's HTTP behaviour against the real aiohttp server and a real SQLite store."""

from __future__ import annotations

import json
import socket
import tempfile
import uuid
from pathlib import Path
from typing import Any

import pytest

from central.intake import api
from edge.common.chain import GENESIS, canonical_json, chain_hash
from edge.common.protocol import Event
from tests.support.intake import TOKEN, Harness, running_intake


def order(oid: str = "1042", **extra: Any) -> dict[str, Any]:
    return {
        "order_id": oid,
        "channel": "pickup",
        "customer": {"id": "C-88", "name": "Ada L.", "class": "adult"},
        "lines": [{"line": 1, "sku": "FLW-BD-35"}],
        **extra,
    }


def package(label: str, **extra: Any) -> dict[str, Any]:
    return {"Label": label, "Item": {"Name": "Blue Dream"}, "Sku": "FLW", "Batch": "B-1", **extra}


@pytest.fixture
def intake(tmp_path: Path) -> Any:
    with running_intake(tmp_path, max_body_mb=1) as harness:
        yield harness


def test_token_is_needed_but_not_for_health_and_openapi(intake: Harness) -> None:
    assert intake.request("POST", "/v1/orders", [order()], token=None).status == 401
    wrong = intake.request("POST", "/v1/orders", [order()], token="wrong-token-wrong")
    assert wrong.status == 401 and wrong.body == {"error": "missing or wrong bearer token"}
    assert intake.request("GET", "/v1/orders/1042", token=None).status == 401
    health = intake.request("GET", "/v1/health", token=None)
    assert (health.status, health.body) == (200, {"status": "ok"})
    full = intake.request("GET", "/v1/health")
    assert full.body == {"status": "ok", "head": 0, "qseq": 0}
    doc = intake.request("GET", "/v1/openapi.json", token=None)
    assert doc.status == 200 and doc.body == api.openapi()


def test_status_codes_404_405_415_413(intake: Harness) -> None:
    missing = intake.request("GET", "/v1/nothing")
    assert missing.status == 404 and missing.body["error"] == "no such resource: /v1/nothing"
    wrong = intake.request("GET", "/v1/inventory")
    assert wrong.status == 405 and wrong.headers["Allow"] == "PUT"
    typed = intake.request(
        "POST", "/v1/orders", b"order_id=1", headers={"Content-Type": "text/plain"}
    )
    assert typed.status == 415 and "application/json" in typed.body["error"]
    big = b"[" + b" " * (1024 * 1024) + b"]"
    assert intake.request("PUT", "/v1/inventory", big).status == 413
    streamed = intake.request("PUT", "/v1/inventory", big, chunked=True)
    assert streamed.status == 413 and streamed.body["error"] == "body larger than 1 MiB"
    assert intake.store.feed_keys("package") == set()


def test_chunked_bodies_query_strings_and_json_suffix_types(intake: Harness) -> None:
    inv = [package(f"1A4{i:021d}") for i in range(300)]
    done = intake.request("PUT", "/v1/inventory?source=pos", inv, chunked=True)
    assert (done.status, done.body["accepted"]) == (200, 300)
    typed = intake.request(
        "POST", "/v1/orders", [order()], headers={"Content-Type": "application/vnd.pos+json"}
    )
    assert typed.status == 200
    assert len(intake.store.feed_keys("package")) == 300 and intake.pushes


def test_percent_escapes_are_decoded(intake: Harness) -> None:
    assert intake.request("POST", "/v1/orders", [order("10_41"), order("10%41")]).status == 200
    gone = intake.request("DELETE", "/v1/orders/10%2541")  # %25 is "%": the order "10%41"
    assert (gone.status, gone.body["accepted"]) == (200, 1)
    assert intake.store.feed_keys("order") == {"10_41"}
    withdrawn = intake.request("GET", "/v1/orders/10%2541").body
    assert (withdrawn["order_id"], withdrawn["status"]) == ("10%41", "withdrawn")
    nothing = intake.request("DELETE", "/v1/orders/10%2041")  # "10 41": never queued
    assert (nothing.status, nothing.body["accepted"]) == (200, 0)
    assert intake.store.feed_keys("order") == {"10_41"}


@pytest.mark.parametrize(
    ("body", "path", "words"),
    [
        ([order(channel="teleport")], "$[0].channel", "Invalid enum value 'teleport'"),
        (
            [order(customer={"id": "C", "class": "martian"})],
            "$[0].customer.class",
            "Invalid enum value 'martian'",
        ),
        ([order(lines=[{"line": 1}])], "$[0].lines[0]", 'a line needs "uid" or "sku"'),
        ([order("9" * 200)], "$[0].order_id", "length <= 128"),
        ([order(), order("7", lines="x")], "$[1].lines", "Expected `array`, got `str`"),
        (
            [order(lines=[{"line": 1, "sku": "A"}, {"line": 1, "sku": "B"}])],
            "$[0].lines[1].line",
            "line number 1 is used twice",
        ),
        (
            order(prior=[{"at": "2026-11-22T09:00:00", "category": "flower"}]),
            "$.prior[0].at",
            "no UTC offset",
        ),
    ],
)
def test_orders_a_station_could_not_pack_get_400_with_the_field(
    intake: Harness, body: Any, path: str, words: str
) -> None:
    got = intake.request("POST", "/v1/orders", body)
    assert got.status == 400 and got.body["path"] == path, got.body
    assert words in got.body["error"] and got.body["error"].startswith(path + ": ")
    assert intake.store.feed_keys("order") == set()  # nothing half-taken


def test_inventory_and_badges_are_checked_as_the_station_reads_them(intake: Harness) -> None:
    half = intake.request(
        "PUT", "/v1/inventory", [package("1A4A"), package("1A4B", NetWeightMg=3500.5)]
    )
    assert half.status == 400 and half.body["path"] == "$[1].NetWeightMg"
    page = intake.request(
        "PUT", "/v1/inventory", {"Data": [package("1A4A", ExpirationDate="2027-02-30")]}
    )
    assert page.status == 400 and page.body["path"] == "$.Data[0].ExpirationDate"
    twice = intake.request("PUT", "/v1/inventory", [package("1a4a"), package("1A4A")])
    assert twice.status == 400 and "listed twice" in twice.body["error"]
    badge = intake.request(
        "PUT", "/v1/badges", [{"badge": "B-1", "name": "Ann", "expires_at": "soon"}]
    )
    assert badge.status == 400 and badge.body["path"] == "$[0].expires_at"
    assert intake.request("PUT", "/v1/badges", [{"badge": "B-1", "name": "Ann"}]).status == 200
    assert intake.store.feed_keys("package") == set()


def test_idempotency_key_replays_the_first_answer(intake: Harness) -> None:
    key = {"Idempotency-Key": str(uuid.uuid4())}
    first = intake.request("POST", "/v1/orders", [order("1")], headers=key)
    again = intake.request("POST", "/v1/orders", [order("1")], headers=key)
    assert first.status == again.status == 200 and first.body == again.body
    assert again.headers.get("Idempotent-Replayed") == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert intake.store.feed_floor()[1] == first.body["qseq"]  # the retry changed nothing
    other = intake.request("POST", "/v1/orders", [order("2")], headers=key)
    assert other.status == 422 and intake.store.feed_keys("order") == {"1"}
    bad = {"Idempotency-Key": "k-bad"}
    refused = intake.request("POST", "/v1/orders", [order("")], headers=bad)
    assert intake.request("POST", "/v1/orders", [order("")], headers=bad).body == refused.body


def test_expect_100_continue_after_the_checks(intake: Harness) -> None:
    body = json.dumps([order("55")]).encode()
    head = (
        f"POST /v1/orders HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(body)}\r\nExpect: 100-continue\r\nConnection: close\r\n"
    )
    with socket.create_connection((intake.host, intake.port), timeout=10) as sock:
        sock.sendall((head + f"Authorization: Bearer {TOKEN}\r\n\r\n").encode())
        assert sock.recv(100).startswith(b"HTTP/1.1 100 Continue\r\n\r\n")
        sock.sendall(body)
        answer = b""
        while chunk := sock.recv(65536):
            answer += chunk
    assert answer.startswith(b"HTTP/1.1 200 ")
    with socket.create_connection((intake.host, intake.port), timeout=10) as sock:
        sock.sendall((head + "Authorization: Bearer nope\r\n\r\n").encode())
        refused = sock.recv(65536)  # the final answer at once: the body is never asked for
    assert refused.startswith(b"HTTP/1.1 401 ") and b"100 Continue" not in refused
    assert intake.store.feed_keys("order") == {"55"}


def test_header_flood_is_cut_off_before_the_token_check(intake: Harness) -> None:
    sent = 0
    answer = b""
    with socket.create_connection((intake.host, intake.port), timeout=10) as sock:
        sock.sendall(b"POST /v1/orders HTTP/1.1\r\nHost: x\r\n")
        line = b"X-Pad: " + b"a" * 4000 + b"\r\n"
        try:
            while sent < 40 * 1024 * 1024:
                sock.sendall(line)
                sent += len(line)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            while chunk := sock.recv(65536):
                answer += chunk
        except ConnectionResetError:
            pass
    # what was sent includes the kernel's socket buffers (a few MB on loopback)
    assert sent < 16 * 1024 * 1024, f"{sent} bytes of headers sent before the server stopped"
    assert answer == b"" or answer.startswith((b"HTTP/1.0 400 ", b"HTTP/1.1 400 ")), answer


def _event(seq: int, prev: bytes, type_: str, body: dict[str, Any]) -> Event:
    event_id, at, raw = str(uuid.uuid4()), f"2026-11-22T12:00:0{seq}+00:00", canonical_json(body)
    digest = chain_hash(prev, seq, event_id, type_, at, raw)
    return Event(
        seq=seq, event_id=event_id, at=at, type=type_, body=raw, prev_hash=prev, hash=digest
    )


def test_order_status_follows_the_event_stream(intake: Harness) -> None:
    assert intake.request("GET", "/v1/orders/77").status == 404
    assert intake.request("POST", "/v1/orders", [order("77", station="station-01")]).status == 200
    queued = intake.request("GET", "/v1/orders/77").body
    assert (queued["status"], queued["station"], queued["queued"]) == ("queued", "station-01", True)
    assert queued["receipt"] is None  # no state-system bridge in this test
    base = {"station": "station-01", "order_id": "77"}
    loaded = _event(
        1,
        GENESIS,
        "order_loaded",
        {
            **base,
            "source": "queue",
            "channel": "pickup",
            "customer_id": "C",
            "lines": 1,
            "order": {},
        },
    )
    sealed = _event(
        2, loaded.hash, "order_status", {**base, "status": "ready_for_pickup", "channel": "pickup"}
    )
    intake.store.commit_batch([("station-01", loaded)], [])
    packing = intake.request("GET", "/v1/orders/77").body
    assert (packing["status"], packing["event"], packing["gseq"]) == ("packing", "order_loaded", 1)
    intake.store.commit_batch([("station-01", sealed)], [])
    done = intake.request("GET", "/v1/orders/77").body
    assert (done["status"], done["station"], done["at"]) == (
        "ready_for_pickup",
        "station-01",
        sealed.at,
    )


@pytest.mark.slow
@pytest.mark.parametrize(
    ("store", "worker_commits"), [("sqlite", True), ("sqlite", False), ("postgresql", True)]
)
def test_a_large_body_is_handled_off_the_loop(
    tmp_path: Path, store: str, worker_commits: bool, request: pytest.FixtureRequest
) -> None:
    inv = [package(f"1A4{i:021d}", Location="v" * 400) for i in range(3000)]  # ~1.6 MB
    assert len(json.dumps(inv)) > 1024 * 1024  # over PROCESS_THRESHOLD: the spool file path
    url = None
    if store == "postgresql":
        url = request.getfixturevalue("pg").create_db(f"intake_{worker_commits}")
    with running_intake(tmp_path, worker_commits=worker_commits, store_url=url) as intake:
        bad = intake.request("PUT", "/v1/inventory", [*inv[:-1], {**inv[-1], "ThcMg": -1}])
        assert bad.status == 400 and bad.body["path"] == "$[2999].ThcMg"
        done = intake.request("PUT", "/v1/inventory", inv, chunked=True)
        assert (done.status, done.body["accepted"]) == (200, 3000)
        assert len(intake.store.feed_keys("package")) == 3000
        fewer = intake.request("PUT", "/v1/inventory", inv[:2000])
        assert fewer.body["accepted"] == 3000  # 2000 unchanged upserts + 1000 removals
        assert len(intake.store.feed_keys("package")) == 2000
    assert not list(Path(tempfile.gettempdir()).glob("packstation-intake-*"))


def test_deeply_nested_json_is_a_400_not_a_crash(intake: Harness) -> None:
    deep = b'[{"order_id": "1", "x": ' + b"[" * 50_000 + b"]" * 50_000 + b"}]"
    got = intake.request("POST", "/v1/orders", deep)
    assert got.status == 400 and "nested too deeply" in got.body["error"]
    assert intake.request("GET", "/v1/health").status == 200  # still serving


def test_a_body_that_never_finishes_gets_408(intake: Harness) -> None:
    intake.server.body_timeout_s = 0.5
    head = (
        "PUT /v1/badges HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: 100\r\nAuthorization: Bearer {TOKEN}\r\n\r\n[{{"
    )
    with socket.create_connection((intake.host, intake.port), timeout=10) as sock:
        sock.sendall(head.encode())  # 2 of the 100 bytes, then nothing
        answer = sock.recv(65536)
    assert answer.startswith(b"HTTP/1.1 408 ") and b"body not complete within 0.5 s" in answer
