"""`packstation scale read`: capture one stable weight from a serial scale and print it as JSON.

For installers and technicians checking a scale: it uses the same driver, stability window and
"timeout is no reading, never zero" rule as the station. Exit 0 with one JSON line when a stable
weight is captured; 4 with the reason when none comes; 2 on bad arguments.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any, get_args

import msgspec

from drivers.config import Baud, ScaleConfig
from drivers.scale import Capture, DeviceState, NoReading, NoReadingReason, Scale
from drivers.scale.protocols import PROTOCOLS
from edge.cli.output import add_json
from edge.common.errors import DeviceError, ExitCode


def register(sub: Any) -> None:
    """Add `scale` and its `read` subcommand."""
    parser = sub.add_parser("scale", help="read the serial scale")
    cmds = parser.add_subparsers(title="scale commands", metavar="COMMAND", required=True)
    read = cmds.add_parser(
        "read",
        help="capture one stable weight and print it as JSON",
        description="Open PORT, poll the scale with PROTOCOL and wait up to --timeout seconds "
        "for a weight the scale calls stable and the software window confirms. Prints "
        '{"net_mg": ..., "unit": ..., "stable": true, "raw": ...} and exits 0; exits 4 with the '
        "reason (motion, overload, underload, timeout, error reply, port missing) when none comes.",
    )
    read.add_argument("--port", required=True, help="serial port, e.g. /dev/serial/by-id/...")
    read.add_argument("--protocol", required=True, choices=list(PROTOCOLS))
    read.add_argument(
        "--baud",
        type=int,
        choices=list(get_args(Baud)),
        metavar="B",
        help="baud rate (default: 9600, or [scale] baud from --config)",
    )
    read.add_argument(
        "--timeout", type=_seconds, default=5.0, metavar="S", help="seconds to wait (default 5)"
    )
    read.add_argument(
        "--config",
        type=Path,
        metavar="FILE",
        help="station.toml whose [scale] window, framing and timing settings to use",
    )
    add_json(read, already=True)
    read.set_defaults(handler=_read)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected seconds, got {text!r}") from None
    if not 0 < value <= 3600:
        raise argparse.ArgumentTypeError(f"expected 0 < seconds <= 3600, got {text}")
    return value


def _config(args: argparse.Namespace) -> ScaleConfig:
    base = ScaleConfig()
    if args.config is not None:
        from edge.station.config import load_station_config

        base = load_station_config(args.config).scale
    baud = args.baud if args.baud is not None else base.baud
    return msgspec.structs.replace(base, port=args.port, protocol=args.protocol, baud=baud)


async def _capture(cfg: ScaleConfig, timeout: float) -> Capture | NoReading:
    scale = Scale.from_config(cfg)
    first = await scale.start(timeout=timeout)
    try:
        if first.state is not DeviceState.CONNECTED:
            return NoReading(NoReadingReason.DISCONNECTED, first.detail or first.state.value)
        result = await scale.capture(timeout, require_load=False)
    finally:
        await scale.stop()
    if isinstance(result, NoReading) and scale.noise_count:
        hint = f"; {scale.noise_count} unreadable frames: check the baud rate and framing"
        return NoReading(result.reason, result.detail + hint)
    return result


def capture_json(capture: Capture) -> str:
    """The one JSON line `scale read` prints."""
    mode = {True: "net", False: "gross", None: None}[capture.net]
    return json.dumps(
        {
            "net_mg": capture.net_mg,
            "unit": capture.unit,
            "stable": True,
            "raw": capture.raw.decode("latin-1").strip(),
            "division_mg": capture.division_mg,
            "mode": mode,
        }
    )


def _read(args: argparse.Namespace) -> int:
    result = asyncio.run(_capture(_config(args), args.timeout))
    if isinstance(result, NoReading):
        raise DeviceError(f"no stable weight ({result.reason.value}): {result.detail}")
    print(capture_json(result), file=sys.stdout, flush=True)
    return int(ExitCode.OK)
