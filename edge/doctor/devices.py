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
        yield _tcp_printer(target, rest.removeprefix("//"), ctx.config.printer.timeout_ms)
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


def check_indicator(ctx: Context) -> Iterator[Finding]:
    """The LED/buzzer back-end has something to drive."""
    if ctx.config is None:
        return
    backend = ctx.config.indicator.backend
    inv = ctx.inventory
    if backend == "sysfs":
        writable = [led.name for led in inv.leds if led.writable]
        if writable:
            yield Finding(
                Status.OK, "indicator", f"LEDs this user may drive: {', '.join(writable)}"
            )
        else:
            yield Finding(
                Status.FAIL if not inv.leds else Status.WARN,
                "indicator",
                "no LED that this user may switch" if inv.leds else "no LEDs in /sys/class/leds",
                "add `dtoverlay=gpio-led,gpio=17,label=packstation-led` to "
                "/boot/firmware/config.txt and reboot; the udev rules give it to group packstation",
            )
    elif backend == "gpiod":
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
