"""The checks `packstation doctor` runs, in report order: configuration, devices
(edge/doctor/devices.py), keys, journal, disk, central. Each looks at one thing and says, for
anything not ok, what to do in words an installer can follow without reading the code.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

from edge.common.credentials import credential_path
from edge.common.errors import ConfigError
from edge.doctor.central import Handshake, try_handshake
from edge.doctor.compliance import check_compliance_files, label_directory
from edge.doctor.devices import check_indicator, check_printer, check_scale, check_scanners
from edge.doctor.install import check_service, check_udev_rules
from edge.doctor.report import CONFIG_FIX, Check, Context, Finding, Status
from edge.label.profile import NOT_VERIFIED_BANNER
from edge.station.config import station_profile


def check_config(ctx: Context) -> Iterator[Finding]:
    """The station config loads and validates."""
    if ctx.config is None:
        problems = "; ".join(ctx.config_problems)
        missing = ctx.config_path is not None and not ctx.config_path.exists()
        fix = (
            f"copy config/station.toml (every option at its default, each explained) to "
            f"{ctx.config_path} and set the station's id, license and devices"
            if missing
            else CONFIG_FIX
        )
        yield Finding(Status.FAIL, "config", f"the configuration cannot be used: {problems}", fix)
    elif ctx.config_path is None:
        yield Finding(
            Status.WARN,
            "config",
            "no --config given: checking the built-in defaults",
            "pass --config /etc/packstation/station.toml (the file the service uses)",
        )
    else:
        yield Finding(Status.OK, "config", f"{ctx.config_path} is valid")


def check_label_profile(ctx: Context) -> Iterator[Finding]:
    """The jurisdiction's label profile loads; its warning text is verified (or printing it
    unverified is allowed and every label says so)."""
    if ctx.config is None:
        return
    cfg = ctx.config
    code = cfg.station.jurisdiction
    directory, _ = label_directory(ctx, cfg.label.profiles_dir)
    try:
        profile = station_profile(cfg, datetime.now(UTC), directory)
    except ConfigError as exc:
        yield Finding(
            Status.FAIL,
            "label",
            f"no usable {code} label profile: {'; '.join(exc.problems)}",
            "have the compliance officer verify config/labels/"
            f"{code}.toml against its source (config/labels/README.md); the station will not "
            "start until then",
        )
        return
    v = profile.version
    if not profile.verified:
        yield Finding(
            Status.WARN,
            "label",
            f"{code} warning text is NOT VERIFIED (checked {v.checked}); [label] "
            f"allow_unverified = true: every label prints {NOT_VERIFIED_BANNER!r}",
            f"have the compliance officer verify {profile.path} and set verified = true",
        )
    else:
        yield Finding(
            Status.OK,
            "label",
            f"{code} label profile of {v.effective} verified (checked {v.checked})",
        )
    if profile.symbol is not None and not v.symbol_verified:
        yield Finding(
            Status.WARN,
            "label",
            f"{code} universal symbol {profile.symbol.name!r} is a stand-in bitmap, not the "
            "regulator's artwork",
            "replace config/labels/symbols/"
            f"{profile.symbol.name}.pbm with the official symbol and set symbol_verified = true",
        )


def check_keys(ctx: Context) -> Iterator[Finding]:
    """The station's CURVE keys exist, are private and parse."""
    if ctx.config is None:
        return
    keys = ctx.keys
    if not keys.secret_key or not keys.server_key:
        yield Finding(
            Status.WARN,
            "keys",
            "no CURVE keys configured in [link], so central cannot know this station",
            "run `packstation keys new station` in /etc/packstation/keys, get central's public "
            "key, and set [link] secret_key_file and server_key_file",
        )
        return
    yield _key_finding(ctx, keys.secret_key, secret=True)
    yield _key_finding(ctx, keys.server_key, secret=False)


def key_path(ctx: Context, configured: str) -> Path:
    """The key file to read: systemd's credential copy inside the service, else the file."""
    handed_over = credential_path(configured)
    return handed_over if handed_over != Path(configured) else ctx.root(configured)


def _key_finding(ctx: Context, configured: str, *, secret: bool) -> Finding:
    import zmq.auth

    role = "the station's secret key" if secret else "central's public key"
    path = key_path(ctx, configured)
    if not path.is_file():
        fix = (
            "create it with `packstation keys new <station id>` and point [link] secret_key_file at it"
            if secret
            else "copy central's public key file (NAME.key) from the central server"
        )
        return Finding(Status.FAIL, "keys", f"{role} {configured} does not exist", fix)
    try:
        _public, secret_key = zmq.auth.load_certificate(path)
    except (OSError, ValueError) as exc:
        return Finding(Status.FAIL, "keys", f"{role} {configured} cannot be read: {exc}", "")
    if secret and secret_key is None:
        return Finding(
            Status.FAIL,
            "keys",
            f"{configured} holds only a public key",
            "[link] secret_key_file must name the NAME.key_secret file, not NAME.key",
        )
    mode = stat.S_IMODE(path.stat().st_mode)
    if secret and mode & 0o077:
        return Finding(
            Status.FAIL,
            "keys",
            f"{role} {configured} is readable by others (mode {mode:04o})",
            f"`chmod 600 {configured}`; then create a new key and enroll it, since others may "
            "have read this one",
        )
    return Finding(Status.OK, "keys", f"{role} {configured} is readable and well-formed")


def check_journal(ctx: Context) -> Iterator[Finding]:
    """The journal opens, passes its integrity check and its hash chain verifies."""
    path = ctx.journal_path()
    if path is None:
        return
    shown = ctx.root.display(path)
    if not path.exists():
        yield Finding(
            Status.WARN,
            "journal",
            f"no journal yet at {shown}",
            "nothing to do on a new station: the service creates it when it first starts",
        )
        return
    if path.stat().st_size == 0:
        yield Finding(
            Status.FAIL,
            "journal",
            f"{shown} is an empty file, not a journal",
            "stop the service and move the empty file away; the service creates a new journal, "
            "and central still holds every event it confirmed",
        )
        return
    if not os.access(path, os.R_OK | os.W_OK):
        yield Finding(
            Status.WARN,
            "journal",
            f"user {ctx.user} may not open {shown}, so its chain was not checked",
            "run `sudo packstation doctor --config ...` to check it",
        )
        return
    yield _verify_journal(path, shown)


def _verify_journal(path: Path, shown: str) -> Finding:
    from edge.journal import Journal, JournalError

    try:
        journal = Journal(path)
    except JournalError as exc:
        return Finding(
            Status.FAIL,
            "journal",
            f"the journal cannot be opened: {exc}",
            "stop the service, keep a copy of the file for the compliance officer, and restore "
            "the journal from central (never delete it)",
        )
    try:
        result = journal.verify()
        backlog = journal.last_seq() - journal.acked_seq()
    finally:
        journal.close()
    if not result.ok:
        return Finding(
            Status.FAIL,
            "journal",
            f"the hash chain of {shown} breaks at event {result.first_bad_seq}: {result.reason}",
            "the journal was altered or damaged: do not edit or delete it; tell the compliance "
            "officer, who compares it with central's copy",
        )
    return Finding(
        Status.OK,
        "journal",
        f"{shown}: {result.checked} events, chain intact, {backlog} not yet confirmed by central",
    )


def check_free_space(ctx: Context) -> Iterator[Finding]:
    """The journal's filesystem has room above [journal] min_free_mb."""
    path = ctx.journal_path()
    if path is None or ctx.config is None:
        return
    existing = next((p for p in (path, *path.parents) if p.exists()), path.anchor)
    free_mb = shutil.disk_usage(existing).free // (1024 * 1024)
    minimum = ctx.config.journal.min_free_mb
    where = ctx.root.display(Path(existing))
    if free_mb < minimum:
        yield Finding(
            Status.FAIL,
            "free space",
            f"only {free_mb} MiB free at {where}; below {minimum} MiB the station refuses new orders",
            "free space (old logs: `journalctl --vacuum-size=100M`) or use a larger card",
        )
    elif free_mb < 2 * minimum:
        yield Finding(
            Status.WARN,
            "free space",
            f"{free_mb} MiB free at {where}, close to the {minimum} MiB limit",
            "free space soon (old logs: `journalctl --vacuum-size=100M`) or use a larger card",
        )
    else:
        yield Finding(Status.OK, "free space", f"{free_mb} MiB free at {where}")


def check_central(ctx: Context) -> Iterator[Finding]:
    """Central accepts a CURVE handshake with this station's keys."""
    if ctx.config is None:
        return
    keys, endpoint = ctx.keys, ctx.config.link.endpoint
    if not keys.secret_key or not keys.server_key:
        yield Finding(Status.WARN, "central", "not tried: no CURVE keys configured in [link]", "")
        return
    import zmq.auth

    try:
        public, secret = zmq.auth.load_certificate(key_path(ctx, keys.secret_key))
        server, _ = zmq.auth.load_certificate(key_path(ctx, keys.server_key))
    except (OSError, ValueError):
        yield Finding(Status.WARN, "central", "not tried: the keys cannot be read (see keys)", "")
        return
    if secret is None:
        yield Finding(Status.WARN, "central", "not tried: no station secret key (see keys)", "")
        return
    result = try_handshake(endpoint, public, secret, server, ctx.central_timeout_s)
    yield _central_finding(endpoint, result.outcome, result.detail, ctx.central_timeout_s)


_CENTRAL_FIX = {
    Handshake.REFUSED: (
        "central refused this station's key",
        (
            "enroll the station: copy its public key (station.key) to central and run "
            "`packstation central allow station.key` there"
        ),
    ),
    Handshake.BAD_SERVER_KEY: (
        "the encrypted handshake failed",
        (
            "[link] server_key is probably not central's public key: copy it again from central "
            "(or [link] endpoint points at something else than central)"
        ),
    ),
    Handshake.PROTOCOL: (
        "something answers there, but not a packstation central",
        "check [link] endpoint (host and port of central)",
    ),
    Handshake.DROPPED: (
        "central closed the connection during the handshake",
        "check [link] server_key and central's log (`journalctl -u packstation-central`)",
    ),
    Handshake.NO_ANSWER: (
        "no answer",
        (
            "is central running (`systemctl status packstation-central` on the server)? Is the "
            "address in [link] endpoint right, and is the port open in the firewall?"
        ),
    ),
}


def _central_finding(endpoint: str, outcome: Handshake, detail: str, timeout: float) -> Finding:
    if outcome is Handshake.ACCEPTED:
        return Finding(Status.OK, "central", f"{endpoint} accepted this station's key")
    what, fix = _CENTRAL_FIX[outcome]
    suffix = f" within {timeout:g} s" if outcome is Handshake.NO_ANSWER else ""
    return Finding(Status.FAIL, "central", f"{endpoint}: {what}{suffix} ({detail})", fix)


CHECKS: list[Check] = [
    check_config,
    check_label_profile,
    check_compliance_files,
    check_service,
    check_udev_rules,
    check_scanners,
    check_scale,
    check_printer,
    check_indicator,
    check_keys,
    check_journal,
    check_free_space,
    check_central,
]
