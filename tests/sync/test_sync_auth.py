"""Who may talk to central: CURVE + ZAP allow-list, identity from the key, revocation, self-test."""

from __future__ import annotations

import asyncio
import shutil
import time
from pathlib import Path

import pytest
import zmq
import zmq.auth

from central import auth
from central.store import open_store
from edge.cli.cmd_keys import write_pair
from edge.common import protocol as p
from edge.common.errors import ConfigError
from edge.link.client import LinkState, load_link_keys
from tests.support.central import LinkRunner, make_setup, running_central, until


def _stored(setup_store: str, station: str) -> int:
    store = open_store(setup_store)
    try:
        return sum(1 for e in store.events_after(0, 100_000) if e.station_id == station)
    finally:
        store.close()


@pytest.mark.slow
def test_unknown_key_is_refused_and_the_station_says_so(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, ["station-01"])
    write_pair(setup.keys, "station-99")  # a key central never allowed

    async def scenario() -> None:
        runner = LinkRunner(setup, "station-99", tmp_path)
        runner.start()
        runner.append(5)
        await until(lambda: runner.link.status().state is LinkState.AUTH_FAILED, 15)
        assert runner.link.status().auth_failures >= 1
        assert "refused" in runner.link.status().last_error
        assert runner.journal.acked_seq() == 0  # nothing acknowledged, nothing lost
        await runner.stop()

    with running_central(setup) as central:
        asyncio.run(scenario())
        log = central.log.read_text()
    assert "connection refused: unknown key" in log
    assert _stored(setup.store, "station-99") == 0


@pytest.mark.slow
def test_revoked_key_is_cut_off_on_its_live_connection(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, ["station-01"])

    async def scenario() -> None:
        runner = LinkRunner(setup, "station-01", tmp_path)
        runner.start()
        runner.append(20)
        await until(lambda: runner.journal.acked_seq() == 20)
        revoked = time.monotonic()
        shutil.move(tmp_path / "allowed" / "station-01.key", tmp_path / "station-01.revoked")
        await until(lambda: runner.link.status().state is not LinkState.CONNECTED, 15, 0.01)
        print(f"\nrevocation: live connection cut after {time.monotonic() - revoked:.3f} s")
        await until(lambda: runner.link.status().state is LinkState.AUTH_FAILED, 15)
        runner.append(10)  # written after the revocation: must not reach central
        await asyncio.sleep(1.5)
        assert runner.journal.acked_seq() == 20
        # re-allowing the key lets the backlog through: nothing was lost meanwhile
        shutil.move(tmp_path / "station-01.revoked", tmp_path / "allowed" / "station-01.key")
        await until(lambda: runner.journal.acked_seq() == 30, 30)
        await runner.stop()

    with running_central(setup):
        asyncio.run(scenario())
    assert _stored(setup.store, "station-01") == 30


@pytest.mark.slow
def test_station_claiming_another_id_is_refused(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, ["station-01", "station-02"])
    public, secret = zmq.auth.load_certificate(setup.keys / "station-01.key_secret")
    server, _ = zmq.auth.load_certificate(setup.keys / "central.key")

    with running_central(setup):
        ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.curve_publickey, sock.curve_secretkey, sock.curve_serverkey = public, secret, server
        sock.connect(setup.endpoint)
        hello = p.Hello(station_id="station-02", boot_id="x", last_written_seq=0, last_qseq=0)
        sock.send_multipart(p.encode(p.HELLO, hello))
        assert sock.poll(10_000)
        command, body = p.decode(sock.recv_multipart())
        assert command == p.ERROR and isinstance(body, p.Error) and body.code == "identity"
        sock.close()
        ctx.term()
    assert _stored(setup.store, "station-02") == 0


@pytest.mark.slow
def test_link_reports_identity_mismatch_as_auth_failure(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, ["station-01", "station-02"])
    shutil.copy(setup.keys / "station-01.key_secret", setup.keys / "impostor.key_secret")

    async def scenario() -> None:
        runner = LinkRunner(
            setup, "station-02", tmp_path, secret_key_file=str(setup.keys / "impostor.key_secret")
        )
        runner.start()
        runner.append(3)
        await until(lambda: runner.link.status().state is LinkState.AUTH_FAILED, 15)
        assert "identity" in runner.link.status().last_error
        await runner.stop()

    with running_central(setup):
        asyncio.run(scenario())
    assert _stored(setup.store, "station-02") == 0
    assert _stored(setup.store, "station-01") == 0


def _curve_router(
    ctx: zmq.Context[zmq.Socket[bytes]], secret: bytes
) -> tuple[zmq.Socket[bytes], str]:
    router = ctx.socket(zmq.ROUTER)
    router.linger = 0
    router.zap_domain = auth.STATIONS.encode()
    router.curve_server, router.curve_secretkey = True, secret
    router.bind("tcp://127.0.0.1:*")
    return router, router.get_string(zmq.LAST_ENDPOINT)


def test_self_test_fails_without_a_zap_handler(tmp_path: Path) -> None:
    """libzmq lets any CURVE key in when no ZAP handler is bound: the self-test must catch it."""
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    public, secret = zmq.curve_keypair()
    open_router, open_endpoint = _curve_router(ctx, secret)
    with pytest.raises(auth.SelfTestFailed, match="unknown key was let in"):
        auth.self_test(ctx, open_endpoint, public)
    open_router.close()
    zap = auth.ZapHandler(ctx, {auth.STATIONS: auth.KeyRing(tmp_path)})  # empty allow-list
    zap.start()
    try:
        guarded, endpoint = _curve_router(ctx, secret)
        auth.self_test(ctx, endpoint, public)  # refused now: the self-test passes
        assert zap.denied >= 1
        guarded.close()
    finally:
        zap.stop()
        ctx.term()


def test_zap_answers_malformed_requests_with_400(tmp_path: Path) -> None:
    write_pair(tmp_path, "station-01")
    ring = auth.KeyRing(tmp_path)
    ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
    zap = auth.ZapHandler(ctx, {auth.STATIONS: ring})  # answer() needs no socket
    ctx.term()
    assert zap.answer([b"1.0"])[2] == b"400"
    key = zmq.utils.z85.decode(zmq.auth.load_certificate(tmp_path / "station-01.key")[0])
    ok = zap.answer([b"1.0", b"1", b"stations", b"127.0.0.1", b"", b"CURVE", key])
    # the User-Id is the key itself (its Z85 text), which the ring maps to the name
    assert ok[2:5] == [b"200", b"OK", zmq.utils.z85.encode(key)]
    assert ring.name_of(ok[4]) == "station-01"
    wrong_domain = zap.answer([b"1.0", b"1", b"other", b"127.0.0.1", b"", b"CURVE", key])
    assert wrong_domain[2] == b"400"
    plain = zap.answer([b"1.0", b"1", b"stations", b"127.0.0.1", b"", b"NULL"])
    assert plain[2] == b"400"
    chosen_id = zap.answer([b"1.0", b"1", b"stations", b"127.0.0.1", b"\x00\x80", b"CURVE", key])
    assert chosen_id[2:4] == [b"400", b"routing id not allowed"]


@pytest.mark.slow
def test_wrong_server_key_is_reported_not_silent(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, ["station-01"])
    write_pair(tmp_path / "other", "central")  # some other server's key

    async def scenario() -> None:
        runner = LinkRunner(
            setup, "station-01", tmp_path, server_key_file=str(tmp_path / "other" / "central.key")
        )
        runner.start()
        await until(lambda: runner.link.status().state is LinkState.AUTH_FAILED, 15)
        assert "wrong server key" in runner.link.status().last_error
        await runner.stop()

    with running_central(setup):
        asyncio.run(scenario())


@pytest.mark.slow
def test_plaintext_client_gets_nothing(tmp_path: Path) -> None:
    setup = make_setup(tmp_path, ["station-01"])
    with running_central(setup):
        ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 0
        sock.connect(setup.endpoint)
        hello = p.Hello(station_id="station-01", boot_id="x", last_written_seq=0, last_qseq=0)
        sock.send_multipart(p.encode(p.HELLO, hello))
        assert not sock.poll(1500)  # no session: no WELCOME, no ERROR, nothing
        sock.close()
        ctx.term()


@pytest.mark.slow
def test_routing_id_of_a_closed_connection_cannot_be_taken_over(tmp_path: Path) -> None:
    """Routing-id hijack guard: once a station's connection closes, a peer that reuses its
    routing id (with any valid key) gets nothing addressed to that station."""
    setup = make_setup(tmp_path, ["station-01", "station-02"])

    def dealer(
        ctx: zmq.Context[zmq.Socket[bytes]], name: str, rid: bytes | None
    ) -> zmq.Socket[bytes]:
        public, secret = zmq.auth.load_certificate(setup.keys / f"{name}.key_secret")
        server, _ = zmq.auth.load_certificate(setup.keys / "central.key")
        sock = ctx.socket(zmq.DEALER)
        sock.linger = 0
        if rid is not None:
            sock.routing_id = rid
        sock.curve_publickey, sock.curve_secretkey, sock.curve_serverkey = public, secret, server
        sock.connect(setup.endpoint)
        return sock

    def hello(sock: zmq.Socket[bytes], name: str) -> tuple[bytes, object]:
        msg = p.Hello(station_id=name, boot_id="x", last_written_seq=0, last_qseq=0)
        sock.send_multipart(p.encode(p.HELLO, msg))
        assert sock.poll(10_000)
        return p.decode(sock.recv_multipart())

    with running_central(setup):
        ctx: zmq.Context[zmq.Socket[bytes]] = zmq.Context()
        victim = dealer(ctx, "station-01", b"\x00victim")
        assert hello(victim, "station-01")[0] == p.WELCOME
        victim.close()
        time.sleep(0.5)
        thief = dealer(ctx, "station-02", b"\x00victim")
        command, body = hello(thief, "station-02")
        assert command == p.ERROR and isinstance(body, p.Error) and body.code == "reconnect"
        thief.close()
        ctx.term()


def test_missing_and_broken_key_files_are_named(tmp_path: Path) -> None:
    public, secret, _ = write_pair(tmp_path, "station-01")
    assert public.exists()
    server = tmp_path / "central.key"
    with pytest.raises(ConfigError) as missing:
        load_link_keys(secret, server)
    (message,) = missing.value.problems
    assert f"server_key_file: {server} does not exist" in message
    assert "packstation keys new" in message
    server.write_text("not a certificate\n")
    with pytest.raises(ConfigError) as broken:
        load_link_keys(secret, server)
    assert "cannot load CURVE keys" in broken.value.problems[0]
    assert "does not exist" not in broken.value.problems[0]
