"""`packstation doctor` checks against a fake device tree, real key files, a real SQLite journal and
a real CURVE ROUTER with a ZAP allow-list on 127.0.0.1."""

from __future__ import annotations

import os
import socket
import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import zmq
from zmq.auth.thread import ThreadAuthenticator

from drivers.printer.sim import SimPrinter
from edge.common.errors import ExitCode
from edge.doctor.checks import CHECKS, check_central, check_journal, check_keys
from edge.doctor.install import check_service
from edge.doctor.probes import Root
from edge.doctor.report import Context, Finding, Status, exit_code, load_context, run_checks
from edge.journal import Journal
from tests.support.doctor import (
    KEYBOARD_KEYS,
    FakeSystem,
    key_bitmap,
    make_keys,
    station_toml,
    with_link_keys,
)
from tests.support.printer import answering_web_server

KEYS = "/etc/packstation/keys"


@dataclass
class Central:
    """A CURVE ROUTER whose ZAP handler allows the public keys in `allowed`."""

    endpoint: str
    public_key_file: Path
    auth: ThreadAuthenticator


@pytest.fixture
def central(tmp_path: Path) -> Iterator[Central]:
    ctx = zmq.Context()
    allowed = tmp_path / "central" / "allowed"
    allowed.mkdir(parents=True)
    server_public, server_secret = make_keys(tmp_path / "central", "central")
    auth = ThreadAuthenticator(ctx)
    auth.start()
    auth.configure_curve(domain="*", location=str(allowed))
    router = ctx.socket(zmq.ROUTER)
    router.curve_server = True
    public, secret = zmq.auth.load_certificate(server_secret)
    router.curve_publickey, router.curve_secretkey = public, secret
    port = router.bind_to_random_port("tcp://127.0.0.1")
    try:
        yield Central(f"tcp://127.0.0.1:{port}", server_public, auth)
    finally:
        router.close(linger=0)
        auth.stop()
        ctx.term()


def allow(central: Central, station_public: Path) -> None:
    """What `packstation central allow station.key` does: the key joins the allow-list dir."""
    target = central.public_key_file.parent / "allowed" / station_public.name
    target.write_bytes(station_public.read_bytes())
    central.auth.configure_curve(domain="*", location=str(target.parent))  # ZAP reload


SHIPPED_RULES = Path(__file__).resolve().parents[2] / "config/udev/70-packstation.rules"


def hardware(tmp_path: Path) -> FakeSystem:
    """A Pi 5 with a Zebra scanner, an FTDI scale cable, an Epson printer and a gpio-led LED,
    named by the udev rules."""
    fake = FakeSystem(tmp_path)
    fake.model("Raspberry Pi 5 Model B Rev 1.0")
    fake.input_device(
        "event3", "Symbol Bar Code Scanner", key_bitmap(KEYBOARD_KEYS), ("05e0", "1200")
    )
    fake.tty("ttyUSB0", ("0403", "6001"), "ftdi_sio")
    fake.usblp("lp0", ("04b8", "0202"), "MFG:EPSON;CMD:ESC/POS;MDL:TM-T20III;")
    fake.gpiochip("gpiochip0", "axi/1f000d0000.gpio", ["raspberrypi,rp1-gpio"])
    for colour in ("red", "green", "blue", "buzzer"):
        fake.led(f"packstation:{colour}")
    fake.dev_link("packstation/scanner", "input/event3")
    fake.dev_link("packstation/scale", "ttyUSB0")
    fake.dev_link("packstation/printer", "usb/lp0")
    fake.write("etc/udev/rules.d/70-packstation.rules", SHIPPED_RULES.read_text())
    fake.installed()
    fake.cmdline("console=tty1 root=PARTUUID=1-02")
    return fake


def context(tmp_path: Path, toml: str, timeout: float = 1.0) -> Context:
    path = tmp_path / "station.toml"
    path.write_text(toml)
    return load_context(path, Root(tmp_path), central_timeout_s=timeout, word_bits=64)


def station_keys(tmp_path: Path, ctx: Context, central: Central | None) -> Path:
    """Station keys in <root>/etc/packstation/keys, central's public key beside them."""
    keys = tmp_path / KEYS.lstrip("/")
    public, _ = make_keys(keys, "station")
    if central is not None:
        (keys / "central.key").write_bytes(central.public_key_file.read_bytes())
    assert ctx.config is not None
    ctx.config = with_link_keys(ctx.config, f"{KEYS}/station.key_secret", f"{KEYS}/central.key")
    return public


def by_check(findings: list[Finding]) -> dict[str, list[Finding]]:
    grouped: dict[str, list[Finding]] = {}
    for f in findings:
        grouped.setdefault(f.check, []).append(f)
    return grouped


def statuses(findings: list[Finding]) -> dict[str, Status]:
    """The worst status of each check."""
    order = [Status.OK, Status.WARN, Status.FAIL]
    return {
        name: max((f.status for f in group), key=order.index)
        for name, group in by_check(findings).items()
    }


def journal_with_events(tmp_path: Path, count: int) -> Path:
    path = tmp_path / "var/lib/packstation/journal.sqlite3"
    journal = Journal(path)
    for n in range(count):
        journal.append("scan", {"n": n})
    journal.mark_acked(1)
    journal.close()
    return path


# -- the whole run -------------------------------------------------------------------------------
def test_a_healthy_station_passes_every_check(tmp_path: Path, central: Central) -> None:
    hardware(tmp_path)
    ctx = context(tmp_path, station_toml(indicator="sysfs", endpoint=central.endpoint))
    allow(central, station_keys(tmp_path, ctx, central))
    journal_with_events(tmp_path, 3)

    findings = run_checks(ctx, CHECKS)

    assert {f.status for f in findings} == {Status.OK}, [
        f for f in findings if f.status != Status.OK
    ]
    assert set(statuses(findings)) == {
        "config",
        "limit rules",
        "label",
        "service",
        "udev rules",
        "scanner",
        "scale",
        "printer",
        "indicator",
        "keys",
        "journal",
        "free space",
        "central",
    }
    journal = by_check(findings)["journal"][0]
    assert "3 events, chain intact, 2 not yet confirmed" in journal.what
    assert exit_code(findings) is ExitCode.OK


def test_missing_config_exits_78_and_says_where_to_copy_it_from(tmp_path: Path) -> None:
    ctx = load_context(tmp_path / "etc/station.toml", Root(tmp_path), word_bits=64)
    findings = run_checks(ctx, CHECKS)
    config = by_check(findings)["config"][0]
    assert config.status is Status.FAIL and "no such file" in config.what
    assert "copy config/station.toml" in config.fix
    assert exit_code(findings) is ExitCode.CONFIG
    # checks that need the config say nothing rather than guess
    assert set(statuses(findings)) == {"config", "service", "udev rules"}


def test_invalid_config_names_the_option(tmp_path: Path) -> None:
    ctx = context(tmp_path, station_toml().replace("min_free_mb = 1", 'min_free_mb = "lots"'))
    findings = run_checks(ctx, CHECKS)
    config = by_check(findings)["config"][0]
    assert config.status is Status.FAIL
    assert "[journal]" in config.what and "min_free_mb" in config.what
    assert exit_code(findings) is ExitCode.CONFIG


# -- devices -------------------------------------------------------------------------------------
def test_unplugged_devices_fail_with_the_fix(tmp_path: Path) -> None:
    FakeSystem(tmp_path)  # nothing plugged in
    ctx = context(tmp_path, station_toml(printer="usb:04b8:0e28"))
    found = by_check(run_checks(ctx, CHECKS))
    scanner, scale, printer = found["scanner"][0], found["scale"][0], found["printer"][0]
    assert scanner.status is Status.FAIL and "05e0:1200" in scanner.what and "lsusb" in scanner.fix
    assert scale.status is Status.FAIL and "/dev/packstation/scale does not exist" in scale.what
    assert "switch it on" in scale.fix
    assert printer.status is Status.FAIL and "04b8:0e28" in printer.what
    assert found["udev rules"][0].status is Status.WARN


def test_a_scale_on_the_kernel_console_fails(tmp_path: Path) -> None:
    fake = hardware(tmp_path)
    fake.tty("ttyAMA0", None, "uart-pl011")
    fake.dev_link("serial0", "ttyAMA0")
    fake.cmdline("console=serial0,115200 console=tty1")
    ctx = context(tmp_path, station_toml(scale_port="/dev/serial0"))
    scale = by_check(run_checks(ctx, CHECKS))["scale"][0]
    assert scale.status is Status.FAIL and "kernel console" in scale.what
    assert "cmdline.txt" in scale.fix


def test_no_scanner_configured_is_a_warning(tmp_path: Path) -> None:
    hardware(tmp_path)
    ctx = context(tmp_path, station_toml(scanner=None))
    scanner = by_check(run_checks(ctx, CHECKS))["scanner"][0]
    assert scanner.status is Status.WARN and "[[scanner]]" in scanner.fix


def test_scanner_by_path(tmp_path: Path) -> None:
    hardware(tmp_path)
    ok = context(tmp_path, station_toml(scanner="/dev/packstation/scanner"))
    assert by_check(run_checks(ok, CHECKS))["scanner"][0].status is Status.OK
    bad = context(tmp_path, station_toml(scanner="/dev/input/by-id/usb-gone-event-kbd"))
    assert by_check(run_checks(bad, CHECKS))["scanner"][0].status is Status.FAIL


def test_network_printer_is_tried_for_real(tmp_path: Path) -> None:
    hardware(tmp_path)
    with SimPrinter() as sim:
        ctx = context(tmp_path, station_toml(printer=sim.target))
        printer = by_check(run_checks(ctx, CHECKS))["printer"][0]
        assert printer.status is Status.OK and "is an ESC/POS printer, status ok" in printer.what
    with socket.create_server(("127.0.0.1", 0)) as listener:  # accepts, never answers
        port = listener.getsockname()[1]
        ctx = context(tmp_path, station_toml(printer=f"tcp://127.0.0.1:{port}"))
        printer = by_check(run_checks(ctx, CHECKS))["printer"][0]
        assert printer.status is Status.WARN and "does not answer ESC/POS status" in printer.what
    ctx = context(tmp_path, station_toml(printer=f"tcp://127.0.0.1:{port}"))  # now closed
    printer = by_check(run_checks(ctx, CHECKS))["printer"][0]
    assert printer.status is Status.FAIL and "9100" in printer.fix


def test_a_web_server_at_the_printers_address_fails(tmp_path: Path) -> None:
    hardware(tmp_path)
    with answering_web_server() as target:
        ctx = context(tmp_path, station_toml(printer=target))
        printer = by_check(run_checks(ctx, CHECKS))["printer"][0]
    assert printer.status is Status.FAIL
    assert "not an ESC/POS printer: it answered 'HTTP/1.1 400 Bad Request'" in printer.what


def test_gpiod_indicator_needs_the_header_chip(tmp_path: Path) -> None:
    hardware(tmp_path)
    ok = by_check(run_checks(context(tmp_path, station_toml(indicator="gpiod")), CHECKS))
    assert ok["indicator"][0].status is Status.OK and "pinctrl-rp1" in ok["indicator"][0].what
    bare = tmp_path / "x86"
    FakeSystem(bare)
    ctx = context(bare, station_toml(indicator="gpiod"))
    indicator = by_check(run_checks(ctx, CHECKS))["indicator"][0]
    assert indicator.status is Status.FAIL and "pinctrl-rp1" in indicator.what


def test_sysfs_indicator_names_each_led_the_signal_table_needs(tmp_path: Path) -> None:
    """The one-LED guide of old: the station would run dark for blue and amber signals."""
    fake = FakeSystem(tmp_path)
    fake.led("packstation:red")
    fake.led("packstation:green")
    fake.led("packstation-led")  # the old guide's name is no LED of the scheme
    indicator = by_check(run_checks(context(tmp_path, station_toml(indicator="sysfs")), CHECKS))
    finding = indicator["indicator"][0]
    assert finding.status is Status.WARN
    assert "blue: no LED 'packstation:blue'" in finding.what
    assert "buzzer: no LED 'packstation:buzzer'" in finding.what
    assert "label=packstation:red" in finding.fix
    bare = tmp_path / "bare"
    FakeSystem(bare)
    none = by_check(run_checks(context(bare, station_toml(indicator="sysfs")), CHECKS))
    assert none["indicator"][0].status is Status.FAIL


def test_udev_rules_of_the_old_led_naming_are_a_warning(tmp_path: Path) -> None:
    fake = hardware(tmp_path)
    fake.write(
        "etc/udev/rules.d/70-packstation.rules",
        'ACTION=="add", SUBSYSTEM=="leds", KERNEL=="packstation-*|ACT|PWR", RUN+="/bin/chgrp"\n',
    )
    rules = by_check(run_checks(context(tmp_path, station_toml(indicator="sysfs")), CHECKS))
    assert rules["udev rules"][0].status is Status.WARN
    assert "older version" in rules["udev rules"][0].what
    fake.write("etc/udev/rules.d/70-packstation.rules", SHIPPED_RULES.read_text())
    rules = by_check(run_checks(context(tmp_path, station_toml(indicator="sysfs")), CHECKS))
    assert rules["udev rules"][0].status is Status.OK


def test_gpiod_lines_that_clash_fail(tmp_path: Path) -> None:
    hardware(tmp_path)
    toml = station_toml(indicator="gpiod") + '\n[indicator.gpiod]\nblue = "GPIO17"\n'
    findings = by_check(run_checks(context(tmp_path, toml), CHECKS))["indicator"]
    assert findings[0].status is Status.FAIL
    assert "blue and red both use line GPIO17" in findings[0].what


def test_missing_rules_or_label_profile_fail_where_the_daemon_would_exit_78(tmp_path: Path) -> None:
    """An /etc override without the jurisdiction's files: the daemon exits 78, doctor fails."""
    hardware(tmp_path)
    ok = by_check(run_checks(context(tmp_path, station_toml()), CHECKS))
    assert ok["label"][0].status is Status.OK
    assert ok["limit rules"][0].status is Status.OK
    assert "shipped with packstation" in ok["limit rules"][0].what
    (tmp_path / "etc/packstation/limits").mkdir(parents=True)  # an override without IL.toml
    (tmp_path / "etc/packstation/labels").mkdir(parents=True)
    (tmp_path / "etc/packstation/labels/CA.toml").write_text("jurisdiction = 'CA'\n")
    bad = by_check(run_checks(context(tmp_path, station_toml()), CHECKS))
    assert bad["label"][0].status is Status.FAIL
    assert "no usable IL label profile" in bad["label"][0].what
    assert bad["limit rules"][0].status is Status.FAIL
    assert "installation override" in bad["limit rules"][0].what
    assert exit_code(run_checks(context(tmp_path, station_toml()), CHECKS)) is ExitCode.DEVICE


# -- keys ----------------------------------------------------------------------------------------
def test_missing_default_keys_fail_and_central_is_not_tried(tmp_path: Path) -> None:
    hardware(tmp_path)
    found = by_check(run_checks(context(tmp_path, station_toml()), CHECKS))
    secret = found["keys"][0]
    assert secret.status is Status.FAIL and "keys new" in secret.fix
    assert "/var/lib/packstation/keys/station-07.key_secret" in secret.what  # [link] default path
    assert found["central"][0].status is Status.WARN


def test_a_secret_key_readable_by_others_fails(tmp_path: Path) -> None:
    ctx = context(tmp_path, station_toml())
    station_keys(tmp_path, ctx, None)
    (tmp_path / "etc/packstation/keys/central.key").write_text(
        (tmp_path / "etc/packstation/keys/station.key").read_text()
    )
    os.chmod(tmp_path / "etc/packstation/keys/station.key_secret", 0o644)
    secret, server = list(check_keys(ctx))
    assert secret.status is Status.FAIL and "0644" in secret.what and "chmod 600" in secret.fix
    assert server.status is Status.OK


def test_a_public_key_named_as_the_secret_and_a_garbled_key_fail(tmp_path: Path) -> None:
    ctx = context(tmp_path, station_toml())
    station_keys(tmp_path, ctx, None)
    keys = tmp_path / "etc/packstation/keys"
    (keys / "central.key").write_text("not a certificate\n")
    assert ctx.config is not None
    ctx.config = with_link_keys(ctx.config, f"{KEYS}/station.key", f"{KEYS}/central.key")
    secret, server = list(check_keys(ctx))
    assert secret.status is Status.FAIL and "only a public key" in secret.what
    assert server.status is Status.FAIL and "cannot be read" in server.what


def test_missing_key_files_fail(tmp_path: Path) -> None:
    ctx = context(tmp_path, station_toml())
    assert ctx.config is not None
    ctx.config = with_link_keys(ctx.config, f"{KEYS}/station.key_secret", f"{KEYS}/central.key")
    secret, server = list(check_keys(ctx))
    assert secret.status is Status.FAIL and "keys new <station id>" in secret.fix
    assert server.status is Status.FAIL and "central's public key" in server.what


# -- journal and disk ----------------------------------------------------------------------------
def test_missing_journal_is_reported_not_created(tmp_path: Path) -> None:
    ctx = context(tmp_path, station_toml())
    (journal,) = list(check_journal(ctx))
    assert journal.status is Status.WARN and "no journal yet" in journal.what
    assert not (tmp_path / "var/lib/packstation").exists()


def test_a_tampered_journal_fails_naming_the_event(tmp_path: Path) -> None:
    path = journal_with_events(tmp_path, 5)
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER events_append_only_u")
    conn.execute("UPDATE events SET body = ? WHERE seq = 4", (b'{"n":40}',))
    conn.commit()
    conn.close()
    ctx = context(tmp_path, station_toml())
    findings = run_checks(ctx, CHECKS)
    journal = by_check(findings)["journal"][0]
    assert journal.status is Status.FAIL and "breaks at event 4" in journal.what
    assert "do not edit or delete" in journal.fix
    assert exit_code(findings) is ExitCode.DEVICE


def test_a_file_that_is_not_a_journal_fails(tmp_path: Path) -> None:
    path = tmp_path / "var/lib/packstation/journal.sqlite3"
    path.parent.mkdir(parents=True)
    path.write_bytes(b"this is not sqlite" * 100)
    (journal,) = list(check_journal(context(tmp_path, station_toml())))
    assert journal.status is Status.FAIL and "cannot be opened" in journal.what


def test_free_space_below_the_minimum_fails(tmp_path: Path) -> None:
    ctx = context(tmp_path, station_toml(min_free_mb=1 << 40))
    space = by_check(run_checks(ctx, CHECKS))["free space"][0]
    assert space.status is Status.FAIL and "refuses new orders" in space.what


# -- central -------------------------------------------------------------------------------------
def test_central_refuses_a_station_that_is_not_enrolled(tmp_path: Path, central: Central) -> None:
    ctx = context(tmp_path, station_toml(endpoint=central.endpoint))
    station_keys(tmp_path, ctx, central)  # not allowed
    (finding,) = list(check_central(ctx))
    assert finding.status is Status.FAIL and "refused" in finding.what
    assert "central allow" in finding.fix


def test_wrong_server_key_is_told_apart_from_refusal(tmp_path: Path, central: Central) -> None:
    ctx = context(tmp_path, station_toml(endpoint=central.endpoint))
    allow(central, station_keys(tmp_path, ctx, central))
    other_public, _ = make_keys(tmp_path / "other", "impostor")
    (tmp_path / "etc/packstation/keys/central.key").write_bytes(other_public.read_bytes())
    (finding,) = list(check_central(ctx))
    assert finding.status is Status.FAIL and "server_key" in finding.fix


def test_no_central_listening_fails_within_the_timeout(tmp_path: Path) -> None:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        port = probe.getsockname()[1]
    ctx = context(tmp_path, station_toml(endpoint=f"tcp://127.0.0.1:{port}"), timeout=0.5)
    station_keys(tmp_path, ctx, None)
    keys = tmp_path / "etc/packstation/keys"
    (keys / "central.key").write_bytes((keys / "station.key").read_bytes())
    (finding,) = list(check_central(ctx))
    assert finding.status is Status.FAIL and "no answer within 0.5 s" in finding.what
    assert "systemctl status packstation-central" in finding.fix


# -- the runner ----------------------------------------------------------------------------------
def test_a_check_that_crashes_is_reported_and_the_rest_still_run(tmp_path: Path) -> None:
    def check_boom(ctx: Context) -> list[Finding]:
        raise RuntimeError("kaput")

    ran = threading.Event()

    def check_after(ctx: Context) -> list[Finding]:
        ran.set()
        return [Finding(Status.OK, "after", "ran")]

    ctx = context(tmp_path, station_toml())
    findings = run_checks(ctx, [check_boom, check_after])
    assert findings[0].status is Status.FAIL and "RuntimeError: kaput" in findings[0].what
    assert findings[0].check == "boom" and ran.is_set()
    assert exit_code(findings) is ExitCode.DEVICE


def test_keys_handed_over_by_systemd_are_used(
    tmp_path: Path, central: Central, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Inside the service the keys are in $CREDENTIALS_DIRECTORY, not at the configured path."""
    ctx = context(tmp_path, station_toml(endpoint=central.endpoint))
    creds = tmp_path / "run/credentials/packstation-station.service"
    public, _ = make_keys(creds, "station")
    (creds / "central.key").write_bytes(central.public_key_file.read_bytes())
    allow(central, public)
    assert ctx.config is not None
    ctx.config = with_link_keys(ctx.config, f"{KEYS}/station.key_secret", f"{KEYS}/central.key")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert [f.status for f in check_keys(ctx)] == [Status.OK, Status.OK]
    assert [f.status for f in check_central(ctx)] == [Status.OK]


def test_an_empty_journal_file_is_reported_and_left_alone(tmp_path: Path) -> None:
    path = tmp_path / "var/lib/packstation/journal.sqlite3"
    path.parent.mkdir(parents=True)
    path.touch()
    (journal,) = list(check_journal(context(tmp_path, station_toml())))
    assert journal.status is Status.FAIL and "empty file" in journal.what
    assert path.stat().st_size == 0


def test_a_malformed_usb_scanner_id_is_named(tmp_path: Path) -> None:
    hardware(tmp_path)
    ctx = context(tmp_path, station_toml(scanner="usb:05e0"))
    # The config's own validation names it first; doctor reports it as a config failure.
    config = by_check(run_checks(ctx, CHECKS))["config"][0]
    assert config.status is Status.FAIL
    assert '[scanner #1] device: expected a /dev/input/... path or "usb:VID:PID"' in config.what


# -- installation --------------------------------------------------------------------------------
def test_a_missing_service_user_fails_before_systemd_does(tmp_path: Path) -> None:
    FakeSystem(tmp_path).installed(user=False, unit=False)
    unit, user = list(check_service(context(tmp_path, station_toml())))
    assert unit.status is Status.WARN and "not installed" in unit.what
    assert user.status is Status.FAIL and "217/USER" in user.what
    assert "systemd-sysusers" in user.fix


def test_a_service_user_outside_group_gpio_is_a_warning(tmp_path: Path) -> None:
    FakeSystem(tmp_path).installed(in_gpio=False)
    (finding,) = list(check_service(context(tmp_path, station_toml())))
    assert finding.status is Status.WARN and "usermod -aG gpio packstation" in finding.fix


def test_missing_credential_files_of_the_installed_unit_fail(tmp_path: Path) -> None:
    fake = FakeSystem(tmp_path)
    fake.installed()
    shipped = Path(__file__).resolve().parents[2] / "systemd/packstation-station.service"
    fake.write("etc/systemd/system/packstation-station.service", shipped.read_text())
    ctx = context(tmp_path, station_toml())
    missing = [f for f in check_service(ctx) if f.status is Status.FAIL]
    assert [("243/CREDENTIALS" in f.what) for f in missing] == [True, True]
    assert "/etc/packstation/keys/station.key_secret" in missing[0].what
    make_keys(tmp_path / "etc/packstation/keys", "station")
    make_keys(tmp_path / "etc/packstation/keys", "central")
    assert [f.status for f in check_service(ctx)] == [Status.OK]
