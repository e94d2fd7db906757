"""`packstation central ...`: run the central sync service and administer it.

packstation central --config FILE                 run the service
packstation central import orders|inventory|badges|labs FILE
packstation central import licenses FILE [--source TEXT] [--date YYYY-MM-DD]
packstation central manifest ORDER --out FILE.pdf [--shipper LICENSE] [--driver NAME] ...
packstation central allow NAME.key [--name N] [--subscriber]
packstation central revoke NAME [--subscriber]
packstation central release STATION                 lift the hold after a forked chain
packstation central tail [--after N] [--topic PREFIX]...    (--since: the old spelling)
packstation central export [--after N] [--quarantine]
packstation central reports list|show ORDER|retry ORDER   (edge/cli/central_reports.py)
packstation central quarantine list | release TAG --by BADGE
packstation central report day --date D [--format csv|pdf|json] | bags   (edge/cli/central_day.py)
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import shutil
import signal
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from edge.cli import central_day, central_reports
from edge.cli.output import add_json, result
from edge.common.errors import BadInput, ExitCode

CONFIG_HELP = "central configuration file (default: embedded defaults)"


def register(sub: Any) -> None:
    """Add `central` (runs the service) and its administration subcommands."""
    parser = sub.add_parser(
        "central",
        help="the central sync service (run, import, allow/revoke keys, tail, export)",
        description="Without a subcommand: run the central sync service.",
    )
    parser.add_argument("--config", type=Path, help=CONFIG_HELP)
    parser.set_defaults(handler=_run)
    cmds = parser.add_subparsers(title="central commands", metavar="COMMAND")

    def add(name: str, help_: str) -> argparse.ArgumentParser:
        p: argparse.ArgumentParser = cmds.add_parser(name, help=help_, description=help_)
        p.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=CONFIG_HELP)
        return p

    imp = add(
        "import",
        "import ORDERS.json, INVENTORY.json, BADGES.json or a lab results file into the store",
    )
    imp.add_argument("kind", choices=["orders", "inventory", "badges", "labs", "licenses"])
    imp.add_argument("file", type=Path, metavar="FILE", help="the file, or - for stdin")
    imp.add_argument("--source", help="licenses: who published the list (default: the JSON's)")
    imp.add_argument("--date", help="licenses: the day the list was taken, YYYY-MM-DD")
    imp.add_argument("--json", action="store_true", help="print the result as JSON")
    imp.set_defaults(handler=_import)

    _register_manifest(add)

    allow = add("allow", "allow a station (or subscriber) public key; live in keys_poll_ms")
    allow.add_argument("key_file", type=Path, metavar="NAME.key")
    allow.add_argument("--name", help="station id / subscriber name (default: the file's NAME)")
    allow.add_argument("--subscriber", action="store_true", help="a downstream subscriber key")
    add_json(allow)
    allow.set_defaults(handler=_allow)

    revoke = add("revoke", "revoke a key; its live connections are cut off too")
    revoke.add_argument("name", metavar="NAME")
    revoke.add_argument("--subscriber", action="store_true", help="a downstream subscriber key")
    add_json(revoke)
    revoke.set_defaults(handler=_revoke)

    release = add("release", "lift the hold on a station whose chain forked (a supervisor's call)")
    release.add_argument("name", metavar="STATION")
    add_json(release)
    release.set_defaults(handler=_release)

    tail = add("tail", "subscribe to accepted events and print them as JSON lines")
    _after(tail, None, "replay from after gseq N first (default: only new events)")
    tail.add_argument(
        "--topic", action="append", default=[], help="topic prefix, e.g. event/order_status/"
    )
    tail.add_argument("--key", type=Path, required=True, help="subscriber NAME.key_secret")
    tail.add_argument("--server-key", type=Path, help="central.key (default: from the config)")
    tail.add_argument("--pub", help="PUB endpoint (default: [downstream] pub_bind)")
    tail.add_argument("--replay", help="replay endpoint (default: [downstream] replay_bind)")
    tail.add_argument("--count", type=int, help="exit after printing N events")
    tail.add_argument("--idle-exit", type=float, help="exit after this many seconds without events")
    add_json(tail, already=True)
    tail.set_defaults(handler=_tail)

    _register_quarantine(add)

    export = add("export", "print every stored event as JSON lines (gseq order)")
    _after(export, 0, "only events after gseq N (default: 0, all)")
    export.add_argument("--quarantine", action="store_true", help="print the quarantine instead")
    add_json(export, already=True)
    export.set_defaults(handler=_export)

    central_reports.register(add)
    central_day.register(add)


def _register_manifest(add: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """`central manifest ORDER --out FILE.pdf` (central/manifest.py)."""
    man = add(
        "manifest",
        "a sealed wholesale order's transport manifest and invoice (PDF); queue its METRC transfer"
        " template for the state-system bridge",
    )
    man.add_argument("order_id", metavar="ORDER")
    man.add_argument("--out", type=Path, required=True, metavar="FILE.pdf")
    man.add_argument("--shipper", help="the shipper's license (default: [state_system] license)")
    for name in ("driver", "driver-license", "vehicle-make", "vehicle-model", "plate"):
        man.add_argument(f"--{name}", default="")
    for name in ("employee-id", "vehicle-id"):  # BioTrack's inventory_manifest
        man.add_argument(f"--{name}", default="", help="BioTrack: the registered driver/vehicle id")
    man.add_argument(
        "--coa", type=Path, metavar="FILE.pdf", help="also the COA pages alone (one per batch)"
    )
    man.add_argument("--no-template", action="store_true", help="the PDF only")
    add_json(man)
    man.set_defaults(handler=_manifest)


def _register_quarantine(add: Callable[[str, str], argparse.ArgumentParser]) -> None:
    """`central quarantine list | release TAG --by BADGE` (central/stock.py)."""
    quarantine = add("quarantine", "packages quarantined at every station: list, release")
    qcmds = quarantine.add_subparsers(title="quarantine commands", metavar="COMMAND", required=True)
    qlist = qcmds.add_parser("list", help="every package quarantined now, as JSON lines")
    qlist.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=CONFIG_HELP)
    add_json(qlist, already=True)
    qlist.set_defaults(handler=_quarantine_list)
    qrel = qcmds.add_parser("release", help="release a package: every station may sell it again")
    qrel.add_argument("--config", type=Path, default=argparse.SUPPRESS, help=CONFIG_HELP)
    qrel.add_argument("tag", metavar="TAG", help="the package's Label (METRC tag)")
    qrel.add_argument(
        "--by", required=True, metavar="BADGE", help="the releasing supervisor's badge"
    )
    add_json(qrel)
    qrel.set_defaults(handler=_quarantine_release)


def _after(parser: argparse.ArgumentParser, default: int | None, help_: str) -> None:
    """`--after N`, the one spelling (as `journal export --after`); `--since` stays a hidden alias."""
    parser.add_argument("--after", dest="since", type=int, default=default, metavar="N", help=help_)
    parser.add_argument(
        "--since", dest="since", type=int, default=argparse.SUPPRESS, help=argparse.SUPPRESS
    )


def _existing_store(url: str) -> Any:
    """Open a store that must already exist (export reads; it never creates an empty store)."""
    from central.store import open_store

    if url.startswith("sqlite://"):
        path = Path(url.removeprefix("sqlite://"))
        if not path.is_file():
            raise BadInput(f"{path}: no event store here ([central] store; has central run?)")
    return open_store(url)


def _config(args: argparse.Namespace) -> Any:
    from central.config import load_central_config

    return load_central_config(getattr(args, "config", None))


def _run(args: argparse.Namespace) -> int:
    from central.service import CentralService

    service = CentralService(_config(args))

    async def main() -> None:
        task = asyncio.create_task(service.run())
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):  # systemd stop: close sockets, then exit 0
            loop.add_signal_handler(sig, task.cancel)
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())
    return int(ExitCode.OK)


def _import(args: argparse.Namespace) -> int:
    from central.intake import import_file
    from central.labs import import_labs
    from central.store import open_store

    cfg = _config(args)
    store = open_store(cfg.central.store)
    try:
        if args.kind == "licenses":
            from central.licenses import import_licenses

            snap = import_licenses(store, args.file, args.source, args.date)
            print(
                f"{args.file}: {len(snap.licenses)} licenses, list of {snap.date} from"
                f" {snap.source}, sha256 {snap.hash}"
            )
            return int(ExitCode.OK)
        if args.kind == "labs":
            changes, qseq = import_labs(store, args.file)
        else:
            age = cfg.intake.license_max_age_days
            changes, qseq = import_file(store, args.kind, args.file, max_age_days=age)
    finally:
        store.close()
    if args.json:
        print(
            json.dumps(
                {"file": str(args.file), "kind": args.kind, "changes": changes, "qseq": qseq}
            )
        )
        return int(ExitCode.OK)
    print(f"{args.file}: {changes} {args.kind} changes committed (feed qseq {qseq})")
    return int(ExitCode.OK)


def _quarantine_list(args: argparse.Namespace) -> int:
    from central import stock
    from central.store import open_store

    store = open_store(_config(args).central.store)
    try:
        for row in stock.quarantine_list(store):
            print(json.dumps(row, ensure_ascii=False))
    finally:
        store.close()
    return int(ExitCode.OK)


def _quarantine_release(args: argparse.Namespace) -> int:
    """Exit 0 released, 3 the package is not quarantined; 2 the badge is no supervisor's."""
    from central import stock
    from central.store import open_store

    store = open_store(_config(args).central.store)
    try:
        if not stock.is_supervisor(store, args.by):
            raise BadInput(f"--by {args.by}: not a supervisor badge on central's badge list")
        released = stock.release(store, args.tag, args.by)
    finally:
        store.close()
    data = {"tag": args.tag, "released": bool(released), "by": args.by}
    if not released:
        if args.json:
            result(args, "", data)
        print(f"packstation: {args.tag}: not quarantined", file=sys.stderr)
        return int(ExitCode.REFUSED)
    result(args, f"{args.tag}: released by {args.by}; every station may sell it again", data)
    return int(ExitCode.OK)


def _manifest(args: argparse.Namespace) -> int:
    from datetime import UTC, datetime

    from central.manifest import (
        ManifestError,
        Transport,
        build,
        enqueue_transfer,
        render_coa_pdf,
        render_pdf,
    )
    from central.store import open_store

    cfg = _config(args)
    shipper = args.shipper or cfg.state_system.license
    transport = Transport(
        driver_name=args.driver,
        driver_license=args.driver_license,
        vehicle_make=args.vehicle_make,
        vehicle_model=args.vehicle_model,
        vehicle_plate=args.plate,
        employee_id=args.employee_id,
        vehicle_id=args.vehicle_id,
    )
    store = open_store(cfg.central.store)
    try:
        try:
            manifest = build(store, args.order_id, shipper, transport)
        except ManifestError as exc:
            raise BadInput(str(exc)) from exc
        for path, render in ((args.out, render_pdf), (args.coa, render_coa_pdf)):
            try:
                if path is not None:
                    path.write_bytes(render(manifest))
            except OSError as exc:
                raise BadInput(f"{path}: cannot write: {exc}") from exc
        queued = False
        if not args.no_template:
            at = datetime.now(UTC).isoformat()
            queued = enqueue_transfer(store, manifest, at, cfg.state_system.timezone)
    finally:
        store.close()
    what = "BioTrack manifest" if cfg.state_system.kind == "biotrack" else "METRC transfer template"
    template = f"{what} queued" if queued else "no template queued"
    data = {
        "manifest_id": manifest.manifest_id,
        "packages": len(manifest.packages),
        "buyer_license": manifest.buyer_license,
        "pdf": str(args.out),
        "template_queued": queued,
        "coa_pdf": None if args.coa is None else str(args.coa),
        "coa_batches": [
            {"batch": c.batch, "document": c.document, "packages": list(c.packages)}
            for c in manifest.coa_pages
        ],
    }
    text = (
        f"{manifest.manifest_id}: {len(manifest.packages)} packages to {manifest.buyer_license},"
        f" {args.out} (with {len(manifest.coa_pages)} COA page(s)); {template}"
    )
    result(args, text, data)
    return int(ExitCode.OK)


def _key_dir(args: argparse.Namespace) -> Path:
    c = _config(args).central
    return Path(c.subscriber_keys_dir if args.subscriber else c.station_keys_dir)


def _allow(args: argparse.Namespace) -> int:
    import zmq.auth

    from central.auth import NAME_RE

    src: Path = args.key_file
    name = args.name or src.name.removesuffix("_secret").removesuffix(".key")
    if not NAME_RE.match(name):
        raise BadInput(f"invalid name {name!r}: lower-case letters, digits, '.', '_', '-'")
    try:
        public, _ = zmq.auth.load_certificate(src)
    except (OSError, ValueError) as exc:
        raise BadInput(f"{src}: not a CURVE certificate: {exc}") from exc
    directory = _key_dir(args)
    directory.mkdir(parents=True, exist_ok=True)
    tmp = directory / f".{name}.key.tmp"
    tmp.write_text(  # only the public half is copied, whatever file was given
        f'# allowed by packstation central allow\nmetadata\ncurve\n    public-key = "{public.decode()}"\n'
    )
    tmp.replace(directory / f"{name}.key")
    result(
        args,
        f"allowed {name} ({public.decode()}) in {directory}",
        {"allowed": name, "public": public.decode(), "dir": str(directory)},
    )
    return int(ExitCode.OK)


def _revoke(args: argparse.Namespace) -> int:
    directory = _key_dir(args)
    target = directory / f"{args.name}.key"
    if not target.exists():
        raise BadInput(f"no key named {args.name!r} in {directory}")
    revoked = directory / "revoked"
    revoked.mkdir(exist_ok=True)
    shutil.move(target, revoked / f"{args.name}.key")  # kept for the audit trail
    result(
        args,
        f"revoked {args.name}; its connections are refused from the next key poll",
        {"revoked": args.name},
    )
    return int(ExitCode.OK)


def _release(args: argparse.Namespace) -> int:
    from central.store import open_store

    store = open_store(_config(args).central.store)
    try:
        held = store.holds()
        if args.name not in held:
            raise BadInput(f"station {args.name!r} is not held")
        store.release(args.name)
    finally:
        store.close()
    result(
        args,
        f"released {args.name} (held: {held[args.name]}); it is served again from the next key poll",
        {"released": args.name, "held": held[args.name]},
    )
    return int(ExitCode.OK)


def _event_json(ev: Any) -> str:
    try:
        body: Any = json.loads(ev.body)
    except ValueError:
        body = ev.body.decode(errors="replace")
    return json.dumps(
        {
            "gseq": ev.gseq,
            "station_id": ev.station_id,
            "seq": ev.seq,
            "event_id": ev.event_id,
            "at": ev.at,
            "type": ev.type,
            "body": body,
            "hash": ev.hash.hex(),
        },
        ensure_ascii=False,
    )


def _tail(args: argparse.Namespace) -> int:
    import zmq.auth

    from central.auth import local_endpoint
    from central.downstream import Subscriber

    cfg = _config(args)
    public, secret = zmq.auth.load_certificate(args.key)
    if not secret:
        raise BadInput(f"{args.key}: holds no secret key (use NAME.key_secret)")
    server, _ = zmq.auth.load_certificate(args.server_key or Path(cfg.central.secret_key_file))
    sub = Subscriber(
        args.pub or local_endpoint(cfg.downstream.pub_bind),
        args.replay or local_endpoint(cfg.downstream.replay_bind),
        (public, secret, server),
        args.topic,
    )
    printed = 0
    try:
        since = args.since
        if since is None:
            since = sub.replay(2**62).head  # from now on
        idle = None if args.idle_exit is None else int(args.idle_exit * 1000)
        for ev in sub.events(since, idle):
            print(_event_json(ev), flush=True)
            printed += 1
            if args.count is not None and printed >= args.count:
                break
    except (TimeoutError, ConnectionRefusedError) as exc:
        print(f"packstation: {exc}", file=sys.stderr)
        return int(ExitCode.DEVICE)
    finally:
        sub.close()
    return int(ExitCode.OK)


def _export(args: argparse.Namespace) -> int:
    store = _existing_store(_config(args).central.store)
    try:
        if args.quarantine:
            for row in store.quarantined():
                row["raw"] = bytes(row["raw"]).hex()
                print(json.dumps(row, ensure_ascii=False))
            return int(ExitCode.OK)
        position = args.since
        while batch := store.events_after(position, 5000):
            for ev in batch:
                print(_event_json(ev))
            position = batch[-1].gseq
    finally:
        store.close()
    return int(ExitCode.OK)
