"""Guest side of the system test: a technician packing orders on real kernel devices.

Run by the installed product's interpreter (/opt/packstation/venv/bin/python) inside the VM.
Scans are typed on the USB HID keyboard gadget (/dev/hidg0: the guest kernel sees a Symbol
scanner 05e0:1200 and the station reads it through evdev); weights are set on the host's
emulated scale through the control port (/dev/ttyS1), which the station reads through the
emulated FTDI (/dev/packstation/scale); the workflow state is read through the station's inject
socket (`state`, no input). Labels go to the simulated printer on the guest's loopback.

    packday.py pack ORDER_ID [--stop-after N]   pack (or resume) an order; stop after N picks
    packday.py printer                           serve the simulated printer on 127.0.0.1:9100
    packday.py sealed JOURNAL.jsonl ORDER_ID...  every order has a journalled, accepted seal scan
    packday.py prefix BEFORE.jsonl AFTER.jsonl   every event of BEFORE is in AFTER, unchanged
    packday.py same JOURNAL.jsonl CENTRAL.jsonl  central stored exactly the station's journal
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import sys
import time
from pathlib import Path
from typing import Any

INJECT = Path("/var/lib/packstation/inject.sock")
PLAN = Path("/ci/day/plan.json")
ORDERS = Path("/ci/day/orders.json")
AGENT_BADGE = "BADGE-TECH0001"
HIDG = "/dev/hidg0"
# The scale's control port: the guest's second 16550 on amd64, a PCI 16550 on arm64 (ci.ctl=).
CTL = "/dev/" + next(
    (
        w.split("=", 1)[1]
        for w in Path("/proc/cmdline").read_text().split()
        if w.startswith("ci.ctl=")
    ),
    "ttyS1",
)
PRINTER_LOG = Path("/run/ci-printer.jsonl")

# HID usage ids (USB HID Usage Tables 1.3, section 10, Keyboard/Keypad page).
_SHIFT = 0x02
_KEYS: dict[str, tuple[int, int]] = {"\n": (0, 0x28), "-": (0, 0x2D), "_": (_SHIFT, 0x2D)}
_KEYS.update({chr(ord("a") + i): (0, 0x04 + i) for i in range(26)})
_KEYS.update({chr(ord("A") + i): (_SHIFT, 0x04 + i) for i in range(26)})
_KEYS.update({str(d): (0, 0x1E + (d - 1) % 10) for d in range(1, 10)})
_KEYS["0"] = (0, 0x27)


class Failure(Exception):
    pass


def log(msg: str) -> None:
    print(f"[{time.monotonic():9.2f}] {msg}", flush=True)


# Seconds between two HID reports. Scanners send a character per USB poll (1 ms) by default and
# offer slower inter-character delays; under TCG the station's event loop runs about ten times
# slower than on a Pi, and at full speed the kernel's evdev buffer overflows (SYN_DROPPED: the
# station rightly discards the scan), so the test types like a scanner set to a 10 ms delay.
KEY_GAP_S = 0.01


def type_scan(text: str) -> None:
    """Type TEXT + Enter as a keyboard-wedge scanner does: one report per key down, one up."""
    with open(HIDG, "wb", buffering=0) as hid:
        for ch in text + "\n":
            mod, key = _KEYS[ch]
            hid.write(bytes([mod, 0, key, 0, 0, 0, 0, 0]))
            time.sleep(KEY_GAP_S)
            hid.write(bytes(8))
            time.sleep(KEY_GAP_S)


class Station:
    def __init__(self) -> None:
        self.sock: socket.socket | None = None
        self.buf = b""

    def _connect(self) -> socket.socket:
        deadline = time.monotonic() + 120
        while True:
            try:
                sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
                sock.settimeout(30)
                sock.connect(str(INJECT))
                return sock
            except OSError:
                sock.close()
                if time.monotonic() > deadline:
                    raise Failure(f"no inject socket at {INJECT}") from None
                time.sleep(0.5)

    def state(self) -> dict[str, Any]:
        for attempt in range(3):
            try:
                if self.sock is None:
                    self.sock, self.buf = self._connect(), b""
                self.sock.sendall(b"state\n")
                while b"\n" not in self.buf:
                    chunk = self.sock.recv(65536)
                    if not chunk:
                        raise OSError("closed")
                    self.buf += chunk
                line, _, self.buf = self.buf.partition(b"\n")
                reply: dict[str, Any] = json.loads(line)
                return dict(reply["state"])
            except OSError:
                if self.sock is not None:
                    self.sock.close()
                self.sock = None
                if attempt == 2:
                    raise
                time.sleep(1)
        raise AssertionError

    def wait(self, what: str, done: Any, timeout: float = 60) -> dict[str, Any]:
        deadline = time.monotonic() + timeout
        while True:
            state = self.state()
            if done(state):
                return state
            if time.monotonic() > deadline:
                raise Failure(f"timed out waiting for {what}: {json.dumps(state)[:800]}")
            time.sleep(0.1)

    def scan(self, text: str, what: str, done: Any = None, timeout: float = 60) -> dict[str, Any]:
        """Type a scan and wait until the station's state moved (and `done` holds)."""
        before = json.dumps(self.state(), sort_keys=True)
        log(f"scan {text}")
        type_scan(text)
        return self.wait(
            what,
            lambda s: json.dumps(s, sort_keys=True) != before and (done is None or done(s)),
            timeout,
        )


def scale(mg: int) -> None:
    """Put MG on the host's emulated scale (control line protocol: `place MG` -> `ok MG`)."""
    import serial  # pyserial: a dependency of the product's scale driver

    with serial.Serial(CTL, 115200, timeout=20) as port:
        port.reset_input_buffer()
        port.write(f"place {mg}\n".encode())
        answer = port.readline().decode(errors="replace").strip()
    if answer != f"ok {mg}":
        raise Failure(f"scale control: {answer!r}")


def loaded(state: dict[str, Any]) -> str | None:
    order = state.get("order") or {}
    return ((order.get("order") or {}).get("order_id")) if order else None


def pack(order_id: str, stop_after: int | None) -> int:
    plan = {p["order_id"]: p for p in json.loads(PLAN.read_text())}[order_id]
    order = {o["order_id"]: o for o in json.loads(ORDERS.read_text())}[order_id]
    st = Station()
    state = st.state()
    log(f"order {order_id}: station phase {state['phase']}, loaded {loaded(state)}")
    if state["phase"] == "idle":
        state = st.scan(AGENT_BADGE, "login", lambda s: s["phase"] != "idle")
    if loaded(state) != order_id:
        if state["phase"] != "ready":
            raise Failure(f"order {order_id}: station busy with {loaded(state)} ({state['phase']})")
        state = st.scan(f"ORD-{order_id}", "order loaded", lambda s: loaded(s) == order_id)
    scanned = 0
    for line in order["lines"]:
        state = st.state()
        if state["phase"] == "weighing":  # resumed while a weight was awaited
            state = st.wait("weight", lambda s: s["phase"] != "weighing", 90)
            scale(0)
            time.sleep(1.0)
        done = {p["line"] for p in (state.get("order") or {}).get("picks", [])}
        if line["line"] in done:
            continue
        if stop_after is not None and scanned >= stop_after:
            log(f"order {order_id}: stopped after {scanned} picks, phase {state['phase']}")
            return 0
        weigh = bool(line.get("weigh"))
        if weigh:
            scale(int(line["labelled_weight_mg"]) + 10)
        uid = plan["picks"][str(line["line"])]
        st.scan(uid, f"pick line {line['line']}")
        scanned += 1
        if weigh:
            st.wait("weight captured", lambda s: s["phase"] != "weighing", 90)
            scale(0)  # the pan must read empty before the next capture
            time.sleep(1.0)
        state = st.state()
        if state["phase"] == "halted":
            raise Failure(f"order {order_id}: halted: {json.dumps(state['order'].get('halt'))}")
    if stop_after is not None and scanned >= stop_after:
        log(f"order {order_id}: stopped after {scanned} picks, phase {st.state()['phase']}")
        return 0
    state = st.wait(
        "label printed", lambda s: s["phase"] == "seal" and s["order"]["seal_code"], 120
    )
    seal = state["order"]["seal_code"]
    # the printer emulator records a job once it has seen all of it
    deadline = time.monotonic() + 60
    while seal not in (PRINTER_LOG.read_text() if PRINTER_LOG.exists() else ""):
        if time.monotonic() > deadline:
            break
        time.sleep(0.2)
    else:
        st.scan(seal, "sealed", lambda s: s["phase"] == "ready")
        log(f"order {order_id}: sealed ({seal})")
        return 0
    st.scan(seal, "sealed", lambda s: s["phase"] == "ready")  # the rest of the day goes on
    raise Failure(f"order {order_id}: the printer never received the label's QR {seal}")


def printer() -> int:
    """The project's printer emulator on 127.0.0.1:9100; each job's QR payloads to a file."""
    from drivers.printer.sim import SimPrinter

    sim = SimPrinter(port=9100)
    sim.start()
    seen = 0
    while True:
        jobs = list(sim.jobs)
        with PRINTER_LOG.open("a") as out:
            for job in jobs[seen:]:
                log(f"printer: job of {len(job.data)} bytes, QR {job.decoded.qr_payloads}")
                out.write(json.dumps({"qr": list(job.decoded.qr_payloads)}) + "\n")
                out.flush()
                os.fsync(out.fileno())
        seen = len(jobs)
        time.sleep(0.1)


def _lines(path: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in Path(path).read_text().splitlines() if line.strip()]


def sealed(journal: str, order_ids: list[str]) -> int:
    done = {
        str(e["body"].get("order_id"))
        for e in _lines(journal)
        if e["type"] == "seal" and e["body"].get("ok") is True
    }
    missing = [o for o in order_ids if o not in done]
    log(f"sealed orders in the journal: {sorted(done)}; missing: {missing}")
    return 1 if missing else 0


def prefix(before: str, after: str) -> int:
    old = {(e["seq"], e["hash"]) for e in _lines(before)}
    new = {(e["seq"], e["hash"]) for e in _lines(after)}
    lost = sorted(old - new)
    log(f"{len(old)} events before, {len(new)} after, lost or changed: {lost[:5]}")
    return 1 if lost or not old else 0


def same(journal: str, central: str) -> int:
    ours = {(e["seq"], e["type"], e["hash"]) for e in _lines(journal)}
    theirs = {
        (e["seq"], e["type"], e["hash"]) for e in _lines(central) if e["station_id"] == "station-01"
    }
    log(
        f"journal {len(ours)} events, central {len(theirs)}; "
        f"only in journal {sorted(ours - theirs)[:3]}, only at central {sorted(theirs - ours)[:3]}"
    )
    return 0 if ours == theirs and ours else 1


def main() -> int:
    parser = argparse.ArgumentParser()
    sub = parser.add_subparsers(dest="cmd", required=True)
    p = sub.add_parser("pack")
    p.add_argument("order_id")
    p.add_argument("--stop-after", type=int)
    sub.add_parser("printer")
    for name in ("sealed", "prefix", "same"):
        p = sub.add_parser(name)
        p.add_argument("files", nargs="+")
    args = parser.parse_args()
    try:
        if args.cmd == "pack":
            return pack(args.order_id, args.stop_after)
        if args.cmd == "sealed":
            return sealed(args.files[0], args.files[1:])
        if args.cmd == "prefix":
            return prefix(*args.files)
        if args.cmd == "same":
            return same(*args.files)
        return printer()
    except Failure as exc:
        log(f"FAILED: {exc}")
        return 1


if __name__ == "__main__":
    sys.exit(main())
