"""Installation checks of `packstation doctor`: the udev rules, the service unit and its user.

An installer who skipped a step sees it here, before systemd reports 217/USER or the daemon finds
no /dev/packstation names.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from edge.doctor.report import Context, Finding, Status

RULES_FILE = "/etc/udev/rules.d/70-packstation.rules"
UNIT = "packstation-station.service"
UNIT_DIRS = ("/etc/systemd/system", "/usr/lib/systemd/system", "/lib/systemd/system")
USER = "packstation"


def check_udev_rules(ctx: Context) -> Iterator[Finding]:
    """The stable-name rules are installed, and grant the LEDs of this version's naming scheme."""
    path = ctx.root(RULES_FILE)
    if path.is_file():
        try:
            text = path.read_text(errors="replace")
        except OSError as exc:
            yield Finding(Status.WARN, "udev rules", f"{RULES_FILE}: cannot read it: {exc}", "")
            return
        uses_leds = ctx.config is not None and ctx.config.indicator.backend == "sysfs"
        if uses_leds and 'KERNEL=="packstation:*' not in text:
            yield Finding(
                Status.WARN,
                "udev rules",
                f"{RULES_FILE} is from an older version: it gives no access to the LEDs named "
                "packstation:red, :green, :blue, :buzzer, so the service user cannot drive them",
                "run `sudo packstation init station`: it keeps your edited rules and prints the "
                "difference to this version's; copy the LED lines, then "
                "`sudo udevadm control --reload && sudo udevadm trigger --subsystem-match=leds`",
            )
        else:
            yield Finding(Status.OK, "udev rules", f"{RULES_FILE} is installed")
    else:
        yield Finding(
            Status.WARN,
            "udev rules",
            f"{RULES_FILE} is missing, so devices have no /dev/packstation/ names",
            "install config/udev/70-packstation.rules there with your devices' ids, then "
            "`sudo udevadm control --reload && sudo udevadm trigger`",
        )


def check_service(ctx: Context) -> Iterator[Finding]:
    """The unit is installed, its credentials exist, its user exists and is in group gpio."""
    unit = next(
        (ctx.root(f"{d}/{UNIT}") for d in UNIT_DIRS if ctx.root(f"{d}/{UNIT}").is_file()), None
    )
    if unit is None:
        yield Finding(
            Status.WARN,
            "service",
            f"{UNIT} is not installed",
            f"`sudo install -m 0644 systemd/{UNIT} /etc/systemd/system/ && "
            "sudo systemctl daemon-reload`",
        )
    else:
        yield from _credentials(ctx, unit)
    users = _names(ctx, "/etc/passwd")
    if USER not in users:
        yield Finding(
            Status.FAIL,
            "service",
            f"there is no user {USER}, so the service cannot start (status 217/USER)",
            "`sudo install -m 0644 systemd/packstation.sysusers "
            "/usr/lib/sysusers.d/packstation.conf && sudo systemd-sysusers`",
        )
        return
    gpio = _names(ctx, "/etc/group").get("gpio")
    if gpio is not None and USER not in gpio:
        yield Finding(
            Status.WARN,
            "service",
            f"user {USER} is not in group gpio, so it cannot drive GPIO lines",
            f"`sudo usermod -aG gpio {USER}` (or re-run `sudo systemd-sysusers`)",
        )
        return
    yield Finding(
        Status.OK, "service", f"user {USER} exists" + ("" if gpio is None else ", in group gpio")
    )


def _credentials(ctx: Context, unit: Path) -> Iterator[Finding]:
    """systemd refuses to start a unit whose LoadCredential= source is missing."""
    for line in unit.read_text(encoding="utf-8", errors="replace").splitlines():
        key, _, value = line.strip().partition("=")
        source = value.partition(":")[2]
        if key == "LoadCredential" and source.startswith("/") and not ctx.root(source).exists():
            yield Finding(
                Status.FAIL,
                "service",
                f"{source} is missing, so the service will not start (status 243/CREDENTIALS)",
                "create and enroll the station's keys (docs/install.md, step 7)",
            )


def _names(ctx: Context, file: str) -> dict[str, list[str]]:
    """name -> the 4th field's members (group file) from a passwd/group-format file."""
    try:
        text = ctx.root(file).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return {}
    entries: dict[str, list[str]] = {}
    for line in text.splitlines():
        fields = line.split(":")
        if len(fields) >= 4 and fields[0]:
            entries[fields[0]] = [m for m in fields[3].split(",") if m]
    return entries
