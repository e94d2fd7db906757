"""Device checks of `packstation doctor`: each configured scanner, scale, printer and indicator
against what the probes found plugged in.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

from edge.doctor.install import RULES_FILE
from edge.doctor.report import CONFIG_FIX, Context, Finding, Status


def check_scanners(ctx: Context) -> Iterator[Finding]:
    """Every configured [[scanner]] is plugged in and readable."""
    if ctx.config is None:
        return
    if not ctx.config.scanner:
        yield Finding(
            Status.WARN,
            "scanner",
            "no [[scanner]] is configured, so scans cannot reach the station",
            "add a [[scanner]] table with device = one of the scanners listed above "
            '(a /dev/input/by-id/... path or "usb:VID:PID")',
        )
    for scanner in ctx.config.scanner:
        yield _scanner_finding(ctx, scanner.device)


def _scanner_finding(ctx: Context, device: str) -> Finding:
    if device.startswith("usb:"):
        ids = tuple(device.lower().split(":")[1:])
        if len(ids) != 2:
            return Finding(
                Status.FAIL,
                "scanner",
                f"{device!r} is not usb:VID:PID",
                'write e.g. "usb:05e0:1200"',
            )
        matches = [d for d in ctx.inventory.scanners if d.usb == ids]
        if matches:
            return _access(ctx, "scanner", matches[0].node, matches[0].accessible, device)
        return Finding(
            Status.FAIL,
            "scanner",
            f"no input device with USB id {ids[0]}:{ids[1]} is plugged in ({device})",
            "plug the scanner in (USB keyboard mode), or correct the id: `lsusb` shows it",
        )
    path = ctx.root(device)
    if not path.exists():
        return Finding(
            Status.FAIL,
            "scanner",
            f"{device} does not exist",
            "plug the scanner in; if it is plugged in, check its id in "
            f"{RULES_FILE} (`lsusb`) and the path in [[scanner]] device",
        )
    return _access(ctx, "scanner", device, os.access(path, os.R_OK), device)


def _access(ctx: Context, check: str, node: str, accessible: bool, configured: str) -> Finding:
    if accessible:
        return Finding(Status.OK, check, f"{configured} is present ({node})")
    return Finding(
        Status.WARN,
        check,
        f"{configured} is present ({node}) but user {ctx.user} may not open it",
        "the service user packstation may still be allowed (udev rules give the device to "
        "group packstation); check with `sudo -u packstation packstation doctor`",
    )


def check_scale(ctx: Context) -> Iterator[Finding]:
    """The configured scale port exists, is a hardware port and is not the kernel console."""
    if ctx.config is None:
        return
    scale = ctx.config.scale
    if not scale.enabled:
        yield Finding(Status.OK, "scale", "no scale in use ([scale] enabled = false)")
        return
    path = ctx.root(scale.port)
    if not path.exists():
        yield Finding(
            Status.FAIL,
            "scale",
            f"{scale.port} does not exist",
            "plug the scale in and switch it on; if it is on, check its USB-serial id in "
            f"{RULES_FILE} (`lsusb`) or set [scale] port to one of the serial ports listed above",
        )
        return
    real = path.resolve()
    port = next((p for p in ctx.inventory.serial if ctx.root(p.node).resolve() == real), None)
    if port is not None and port.console:
        yield Finding(
            Status.FAIL,
            "scale",
            f"{scale.port} is the kernel console ({port.node}): the scale would receive boot "
            "messages and a login prompt",
            "use a USB-serial adapter for the scale, or remove console= for it from "
            "/boot/firmware/cmdline.txt",
        )
        return
    ok = os.access(path, os.R_OK | os.W_OK)
    yield _access(ctx, "scale", port.node if port else ctx.root.display(real), ok, scale.port)


def check_printer(ctx: Context) -> Iterator[Finding]:
    """The label printer is reachable the way [printer] target says."""
    if ctx.config is None:
        return
    target = ctx.config.printer.target
    scheme, _, rest = target.partition(":")
    if scheme == "tcp":
        finding = _tcp_printer(target, rest.removeprefix("//"), ctx.config.printer.timeout_ms)
        if finding.status is Status.OK:
            finding = _printer_identity(target, ctx.config.printer.status_timeout_ms)
        yield finding
    elif scheme == "usb":
        ids = tuple(rest.lower().split(":")[:2])
        found = [p for p in ctx.inventory.printers if p.usb == ids]
        if found:
            yield Finding(Status.OK, "printer", f"{target} is plugged in ({found[0].model})")
        else:
            yield Finding(
                Status.FAIL,
                "printer",
                f"no USB printer with id {':'.join(ids)} is plugged in",
                "plug the printer in and switch it on, or correct [printer] target (`lsusb`)",
            )
    elif scheme in ("file", "serial"):
        path = ctx.root(rest)
        if not path.exists():
            yield Finding(
                Status.FAIL,
                "printer",
                f"{rest} does not exist",
                "plug the printer in and switch it on; check its id in "
                f"{RULES_FILE} (`lsusb`) or set [printer] target to a printer listed above",
            )
        else:
            yield _access(
                ctx, "printer", ctx.root.display(path.resolve()), os.access(path, os.W_OK), rest
            )
    else:
        yield Finding(
            Status.FAIL,
            "printer",
            f"[printer] target {target!r} is not tcp://, usb:, serial: or file:",
            CONFIG_FIX,
        )


def _tcp_printer(target: str, hostport: str, timeout_ms: int) -> Finding:
    host, _, port = hostport.rpartition(":")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=timeout_ms / 1000):
            return Finding(Status.OK, "printer", f"{target} accepts connections")
    except (OSError, ValueError) as exc:
        return Finding(
            Status.FAIL,
            "printer",
            f"{target} does not answer: {exc}",
            "switch the printer on, check its cable and IP address (print its self-test page), "
            "and that port 9100 (raw printing) is enabled",
        )


def _printer_identity(target: str, status_timeout_ms: int) -> Finding:
    """Ask the printer at `target` for its status (DLE EOT): is it an ESC/POS printer at all?"""
    from drivers.printer.session import read_status
    from drivers.printer.transport import TransportError, open_transport, parse_target

    try:
        with open_transport(parse_target(target), 3.0) as conn:
            status = read_status(conn, max(status_timeout_ms, 500) / 1000)
    except (TransportError, OSError, ValueError) as exc:
        return Finding(Status.FAIL, "printer", f"{target}: {exc}", "check [printer] target")
    if status.state == "not_escpos":
        return Finding(
            Status.FAIL,
            "printer",
            f"{target} is not an ESC/POS printer: it answered {status.foreign!r}",
            "set [printer] target to the label printer's address and raw port (usually 9100); "
            "print the printer's self-test page for its IP address",
        )
    if not status.known:
        return Finding(
            Status.WARN,
            "printer",
            f"{target} accepts connections but does not answer ESC/POS status queries",
            'enable real-time status (DLE EOT) on the printer, or set [printer] confirm = "none"',
        )
    problems = " ".join(status.problems())
    return Finding(
        Status.OK if status.readiness.value == "ready" else Status.WARN,
        "printer",
        f"{target} is an ESC/POS printer, status {status.state}"
        + (f": {problems}" if problems else ""),
        problems,
    )


def _channels_in_use(ctx: Context) -> tuple[set[str], bool]:
    """The colour channels the signal table lights, and whether any signal beeps."""
    from drivers.indicator.base import COLOUR_CHANNELS

    assert ctx.config is not None
    signals = ctx.config.indicator.signals
    patterns = [getattr(signals, name) for name in signals.__struct_fields__]
    used = {ch for p in patterns for ch in COLOUR_CHANNELS[p.colour]}
    return used, any(p.beeps for p in patterns)


OVERLAY_FIX = (
    "wire the LED and buzzer as in docs/install.md step 5 (GPIO17 red, GPIO27 green, GPIO22 "
    "blue, GPIO23 buzzer), add `dtoverlay=gpio-led,gpio=17,label=packstation:red` (and :green, "
    ":blue, :buzzer) to /boot/firmware/config.txt and reboot; the udev rules give them to "
    "group packstation"
)


def check_indicator(ctx: Context) -> Iterator[Finding]:
    """The LED/buzzer back-end has something to drive, for every colour the signal table uses."""
    if ctx.config is None:
        return
    backend = ctx.config.indicator.backend
    inv = ctx.inventory
    if backend == "sysfs":
        yield from _check_sysfs(ctx)
    elif backend == "gpiod":
        lines = ctx.config.indicator.gpiod
        named = [(ch, getattr(lines, ch)) for ch in ("red", "green", "blue", "buzzer")]
        taken: dict[str, str] = {}
        for channel, line in named:
            if line and line in taken:
                yield Finding(
                    Status.FAIL,
                    "indicator",
                    f"[indicator.gpiod] {channel} and {taken[line]} both use line {line}",
                    "give each colour and the buzzer its own line (defaults: GPIO17 red, "
                    "GPIO27 green, GPIO22 blue, GPIO23 buzzer)",
                )
            taken.setdefault(line, channel)
        used, _ = _channels_in_use(ctx)
        unfitted = sorted(ch for ch in used if not getattr(lines, ch))
        if unfitted:
            yield Finding(
                Status.WARN,
                "indicator",
                f"the signal table uses {', '.join(unfitted)}, which [indicator.gpiod] leaves "
                "unfitted: those signals show wrong or no colour",
                "set a line for each colour in [indicator.gpiod]",
            )
        header = [c for c in inv.gpio if c.header]
        if not header:
            yield Finding(
                Status.FAIL,
                "indicator",
                "no GPIO chip of the 40-pin header (pinctrl-rp1 on a Pi 5, pinctrl-bcm2711 on a Pi 4)",
                '[indicator] backend = "gpiod" needs a Raspberry Pi; use "sysfs" or "none" here',
            )
        elif not header[0].accessible:
            yield Finding(
                Status.WARN,
                "indicator",
                f"{header[0].node} ({header[0].label}) is not accessible to user {ctx.user}",
                "the service user is in group gpio (systemd/packstation.sysusers); "
                "check with `sudo -u packstation packstation doctor`",
            )
        else:
            yield Finding(Status.OK, "indicator", f"{header[0].node} ({header[0].label}) is usable")
    else:
        yield Finding(Status.OK, "indicator", f'[indicator] backend = "{backend}" needs no device')


def _check_sysfs(ctx: Context) -> Iterator[Finding]:
    """Each LED [indicator.sysfs] names exists and is writable; each colour in use is fitted."""
    assert ctx.config is not None
    leds = ctx.config.indicator.sysfs
    found = {led.name: led for led in ctx.inventory.leds}
    used, beeps = _channels_in_use(ctx)
    wanted: list[str] = [ch for ch in ("red", "green", "blue") if ch in used]
    if beeps:
        wanted.append("buzzer")
    problems: list[str] = []
    good: list[str] = []
    for channel in wanted:
        name = getattr(leds, channel)
        if not name:
            problems.append(f'{channel}: not fitted ([indicator.sysfs] {channel} = "")')
        elif name not in found:
            problems.append(f"{channel}: no LED {name!r} in {leds.root}")
        elif not found[name].writable:
            problems.append(f"{channel}: {name} is not writable for user {ctx.user}")
        else:
            good.append(f"{channel}={name}")
    if not problems:
        yield Finding(Status.OK, "indicator", f"LEDs this user may drive: {', '.join(good)}")
        return
    missing = all("not writable" not in p for p in problems)
    yield Finding(
        Status.FAIL if not good else Status.WARN,
        "indicator",
        "the signal table needs LEDs the station cannot drive: " + "; ".join(problems),
        OVERLAY_FIX
        if missing
        else "the udev rules give LEDs named packstation:* to group packstation: "
        "install them and run `sudo udevadm trigger --subsystem-match=leds`",
    )
