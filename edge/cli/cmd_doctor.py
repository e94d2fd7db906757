"""`packstation doctor [--config FILE]`: list the station's devices and check everything it needs."""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from edge.doctor.probes import Root
from edge.doctor.report import (
    DEFAULT_CONFIG,
    Context,
    Finding,
    Status,
    as_dict,
    exit_code,
    load_context,
)
from edge.doctor.report import run_checks as run


def register(sub: Any) -> None:
    """Add the `doctor` subcommand."""
    parser = sub.add_parser(
        "doctor",
        help="list devices and check config, keys, journal, disk and central",
        description="Lists the input devices that look like scanners, the serial ports, printers, "
        "GPIO chips and LEDs; checks the configuration, the keys, the journal's hash chain and "
        "free space, and whether central answers. Each problem is printed with its fix. "
        "Exit 0 when nothing failed (warnings allowed), 78 when the configuration is missing or "
        "invalid, 4 when any other check failed.",
    )
    parser.add_argument(
        "--config",
        type=Path,
        default=DEFAULT_CONFIG,
        metavar="FILE",
        help=f"station configuration to check (default: {DEFAULT_CONFIG})",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=3.0,
        metavar="SECONDS",
        help="how long to wait for central's handshake (default: 3)",
    )
    parser.add_argument("--json", action="store_true", help="print the report as one JSON object")
    parser.add_argument(
        "--root",
        type=Path,
        default=Path("/"),
        metavar="DIR",
        help="read /sys, /dev, /proc and the configured paths under DIR (default: /)",
    )
    parser.set_defaults(handler=_doctor)


def _doctor(args: argparse.Namespace) -> int:
    from edge.doctor.checks import CHECKS

    ctx = load_context(args.config, Root(args.root), central_timeout_s=args.timeout)
    findings = run(ctx, CHECKS)
    if args.json:
        json.dump(as_dict(ctx, findings), sys.stdout, indent=2)
        print()
    else:
        render(ctx, findings, sys.stdout)
    return int(exit_code(findings))


_MARK = {Status.OK: " ok ", Status.WARN: "WARN", Status.FAIL: "FAIL"}


def render(ctx: Context, findings: list[Finding], out: TextIO) -> None:
    """The report for a person: devices found, then one line per check with its fix."""
    inv = ctx.inventory
    print(
        f"packstation doctor: {inv.board or 'not a Raspberry Pi'}, running as {ctx.user}", file=out
    )
    print(f"config: {ctx.config_path or 'built-in defaults'}", file=out)
    print("\nDevices found", file=out)
    _section(out, "scanners", [_scanner(d) for d in inv.scanners])
    _section(out, "serial ports", [_serial(p) for p in inv.serial])
    _section(out, "printers", [_printer(p) for p in inv.printers])
    _section(out, "GPIO chips", [_gpio(c) for c in inv.gpio])
    _section(out, "LEDs", [_led(x) for x in inv.leds])
    print("\nChecks", file=out)
    for f in findings:
        print(f"  [{_MARK[f.status]}] {f.check}: {f.what}", file=out)
        if f.fix and f.status is not Status.OK:
            print(f"         fix: {f.fix}", file=out)
    failed = sum(f.status is Status.FAIL for f in findings)
    warned = sum(f.status is Status.WARN for f in findings)
    print(f"\n{failed} failed, {warned} warnings, exit code {int(exit_code(findings))}", file=out)


def _section(out: TextIO, title: str, lines: list[str]) -> None:
    print(f"  {title}:", file=out)
    for line in lines or ["(none)"]:
        print(f"    {line}", file=out)


def _ids(usb: tuple[str, str] | None) -> str:
    return f" usb {usb[0]}:{usb[1]}" if usb else ""


def _names(names: list[str], accessible: bool) -> str:
    shown = f" = {', '.join(names)}" if names else ""
    return shown + ("" if accessible else " (no access for this user)")


def _scanner(d: Any) -> str:
    kind = "scanner" if d.likely_scanner else "keyboard?"
    return f"{d.node} {kind}: {d.name!r}{_ids(d.usb)}, {d.why}{_names(d.names, d.accessible)}"


def _serial(p: Any) -> str:
    console = " KERNEL CONSOLE, not for a scale" if p.console else ""
    return f"{p.node} ({p.driver}){_ids(p.usb)}{console}{_names(p.names, p.accessible)}"


def _printer(p: Any) -> str:
    node = p.node or "(libusb only)"
    return f"{node} {p.model}{_ids(p.usb)}{_names(p.names, p.accessible or not p.node)}"


def _gpio(c: Any) -> str:
    lines = f", {c.lines} lines" if c.lines is not None else ""
    header = ", 40-pin header" if c.header else ""
    return (
        f"{c.node} {c.label}{lines}{header}{'' if c.accessible else ' (no access for this user)'}"
    )


def _led(x: Any) -> str:
    access = "" if x.writable else " (read-only for this user)"
    return f"{x.name}: trigger {x.trigger}, max {x.max_brightness}{access}"
