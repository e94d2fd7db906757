"""`packstation scan listen|selftest`: check a scanner's setup from the command line.

`listen` prints every decoded scan (and device state) as one JSON line; `selftest` prints a test
label, reads it back from the scanner and reports each character the scanner's layout gets wrong.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import typing
from pathlib import Path
from typing import Any

import msgspec

from drivers.config import ScannerConfig
from edge.cli.output import add_json
from edge.common.errors import BadInput, ConfigError, DeviceError, ExitCode

# The layouts of [[scanner]] layout (drivers.scanner.keymap.LAYOUTS), taken from the config type so
# that `--help` works without xkbcommon (a central installed without the station extra).
LAYOUTS: tuple[str, ...] = typing.get_args(typing.get_type_hints(ScannerConfig)["layout"])

DEFAULT_CONFIG = Path("/etc/packstation/station.toml")


def register(sub: Any) -> None:
    """Add `scan listen` and `scan selftest`."""
    parser = sub.add_parser("scan", help="check handheld scanners: listen, selftest")
    cmds = parser.add_subparsers(title="scan commands", metavar="COMMAND", required=True)
    listen = cmds.add_parser(
        "listen",
        help="print each decoded scan as JSON",
        description="Open the scanner(s), grab them and print one JSON object per line for "
        "each scan (with its classification), discarded partial scan and device state change. "
        "Runs until Ctrl+C, --count scans or --timeout. Exit 0; 4 when --count was not reached "
        "in --timeout or no configured scanner appeared in it; 78 when no scanner is "
        "configured.",
    )
    _common(listen)
    listen.add_argument("--count", type=int, default=0, help="stop after N scans (default: no)")
    listen.add_argument("--timeout", type=float, default=0, help="stop after S seconds")
    add_json(listen, already=True)
    listen.set_defaults(handler=_listen)
    selftest = cmds.add_parser(
        "selftest",
        help="print a test label, scan it back, report layout errors",
        description="Print a test label (every printable ASCII character in Code 128 barcodes "
        "and a GS1-128 barcode with a separator), then read the scans back from the scanner in "
        "label order and report every character, separator or AIM identifier that differs, "
        "with the keyboard layout that explains it. Exit 0 when all read back right; 4 when "
        "not, or on a printer/scanner failure; 2 on a bad --printer target.",
    )
    _common(selftest)
    selftest.add_argument(
        "--printer",
        metavar="TARGET",
        help="tcp://HOST:PORT, file:PATH, serial:PATH or usb:VID:PID (default: [printer] target)",
    )
    selftest.add_argument("--print-only", action="store_true", help="print, do not read back")
    selftest.add_argument("--no-print", action="store_true", help="read back a label at hand")
    selftest.add_argument(
        "--timeout", type=float, default=180, help="seconds to wait for the scans (default 180)"
    )
    add_json(selftest)
    selftest.set_defaults(handler=_selftest)


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument("--device", metavar="PATH", help="/dev/input/... or usb:VID:PID")
    p.add_argument("--layout", choices=LAYOUTS, help="the scanner's keyboard layout")
    p.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help=f"station config (default: {DEFAULT_CONFIG} when it exists, else built-in defaults)",
    )


def _config(args: argparse.Namespace) -> Any:
    from edge.station.config import load_station_config

    path: Path | None = args.config
    if path is None and DEFAULT_CONFIG.exists():
        path = DEFAULT_CONFIG
    return load_station_config(path)


def _scanners(args: argparse.Namespace, cfg: Any) -> list[ScannerConfig]:
    configured: list[ScannerConfig] = [s for s in cfg.scanner if s.device]
    if args.device:
        base = configured[0] if configured else ScannerConfig()
        scanners = [msgspec.structs.replace(base, device=args.device, name=args.device)]
    else:
        scanners = configured
    if not scanners:
        raise ConfigError(["no scanner configured: pass --device or add a [[scanner]] table"])
    if args.layout:
        scanners = [msgspec.structs.replace(s, layout=args.layout) for s in scanners]
    for s in scanners:
        problems = [f"--device: {m}" for _, m in s.problems()]
        if problems:
            raise ConfigError(problems)
    return scanners


def scan_json(event: Any, classifier: Any) -> str:
    """One JSON line for a scanner event; a scan carries its classification as `kind`."""
    from drivers.scanner.events import Scan

    data = msgspec.to_builtins(event)
    if isinstance(event, Scan):
        data["kind"] = msgspec.to_builtins(classifier.classify(event.text, event.aim_id))
    return msgspec.json.encode(data).decode()


def _listen(args: argparse.Namespace) -> int:
    from edge.scan.classify import Classifier

    cfg = _config(args)
    scanners = _scanners(args, cfg)
    classifier = Classifier(cfg.scan)
    reached = asyncio.run(_listen_async(scanners, classifier, args.count, args.timeout))
    return int(ExitCode.OK if reached else ExitCode.DEVICE)


async def _listen_async(
    scanners: list[ScannerConfig], classifier: Any, count: int, timeout: float
) -> bool:
    """False when --count was not reached in --timeout, or no scanner ever connected."""
    from drivers.scanner.device import ScannerService
    from drivers.scanner.events import DeviceState, Scan

    service = ScannerService(scanners)
    events = service.events()
    runner = asyncio.create_task(service.run())
    seen, connected = 0, False
    try:
        async with asyncio.timeout(timeout or None):
            async for event in events:
                print(scan_json(event, classifier), flush=True)
                seen += isinstance(event, Scan)
                connected |= isinstance(event, DeviceState) and event.state == "connected"
                if count and seen >= count:
                    break
    except TimeoutError:
        if not connected:
            names = ", ".join(s.label for s in scanners)
            print(
                f"packstation: no scanner appeared within {timeout:g} s: {names}", file=sys.stderr
            )
            return False
        return not count
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await events.aclose()
    return True


def _selftest(args: argparse.Namespace) -> int:
    from drivers.scanner import selftest

    cfg = _config(args)
    if not args.no_print:
        _print_label(args.printer or cfg.printer.target, cfg.printer)
        print("packstation: test label printed", file=sys.stderr)
    if args.print_only:
        return int(ExitCode.OK)
    scanners = _scanners(args, cfg)[:1]
    scans = asyncio.run(_collect(scanners, len(selftest.items()), args.timeout))
    report = selftest.compare(scans, scanners[0].layout, cfg.scan.gs_substitutes)
    if args.json:
        print(json.dumps({"ok": report.ok, "scans": len(scans), "report": list(report.lines())}))
    else:
        for line in report.lines():
            print(line)
    if not scans:
        raise DeviceError(f"no scan from {scanners[0].label} within {args.timeout:g} s")
    return int(ExitCode.OK if report.ok else ExitCode.DEVICE)


def _print_label(target: str, printer_cfg: Any) -> None:
    from drivers.scanner import selftest

    label = selftest.build_label(printer_cfg.paper_width_mm)
    timeout = printer_cfg.timeout_ms / 1000
    try:
        p = selftest.open_target(target, timeout)
    except ValueError as exc:
        raise BadInput(str(exc)) from exc
    except Exception as exc:  # escpos DeviceNotFoundError, OSError, USB errors
        raise DeviceError(f"cannot open printer {target}: {exc}") from exc
    try:
        p._raw(label)
    except Exception as exc:
        raise DeviceError(f"printing to {target} failed: {exc}") from exc
    finally:
        p.close()


async def _collect(scanners: list[ScannerConfig], wanted: int, timeout: float) -> list[Any]:
    from drivers.scanner import selftest
    from drivers.scanner.device import ScannerService
    from drivers.scanner.events import DeviceState, Scan

    labels = [item.label for item in selftest.items()]
    service = ScannerService(scanners)
    events = service.events()
    runner = asyncio.create_task(service.run())
    scans: list[Scan] = []
    print(f"packstation: scan barcode 1/{wanted} ({labels[0]})", file=sys.stderr)
    try:
        async with asyncio.timeout(timeout):
            async for event in events:
                if isinstance(event, DeviceState):
                    print(f"packstation: scanner {event.state}: {event.detail}", file=sys.stderr)
                elif isinstance(event, Scan):
                    scans.append(event)
                    if len(scans) >= wanted:
                        break
                    print(
                        f"packstation: scan barcode {len(scans) + 1}/{wanted} ({labels[len(scans)]})",
                        file=sys.stderr,
                    )
    except TimeoutError:
        print("packstation: timed out waiting for scans", file=sys.stderr)
    finally:
        runner.cancel()
        await asyncio.gather(runner, return_exceptions=True)
        await events.aclose()
    return scans
