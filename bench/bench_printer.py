"""Printer path figures: a label job to the simulated network printer, packstation's transport vs
python-escpos 3.1's Network printer (the peer), plus what each reports for a silent printer.

Run: .venv/bin/python bench/bench_printer.py [--jobs N]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from escpos.printer import Network

from drivers.printer.escpos_decode import decode
from drivers.printer.escpos_encode import encode
from drivers.printer.session import Timeouts, attempt, read_status
from drivers.printer.sim import SimPrinter
from drivers.printer.transport import open_transport, parse_target
from edge.label.layout import layout_label
from tests.support.printer import sample_label


def timed(fn, n: int) -> list[float]:  # type: ignore[no-untyped-def]
    out = []
    for _ in range(n):
        t0 = time.perf_counter()
        fn()
        out.append(time.perf_counter() - t0)
    return out


def report(name: str, samples: list[float]) -> None:
    ms = sorted(s * 1000 for s in samples)
    p95 = ms[min(len(ms) - 1, int(len(ms) * 0.95))]
    print(f"{name:58s} median {statistics.median(ms):7.2f} ms  p95 {p95:7.2f} ms  n={len(ms)}")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=50)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        label = sample_label(Path(tmp))
    data = encode(layout_label(label, 80))
    print(f"label job: {len(data)} bytes ESC/POS, {len(decode(data).lines)} lines")
    report(
        "encode (layout -> ESC/POS via python-escpos)",
        timed(lambda: encode(layout_label(label, 80)), args.jobs),
    )
    report("decode (ESC/POS -> lines + QR)", timed(lambda: decode(data), args.jobs))

    with SimPrinter() as sim:
        target = parse_target(sim.target)
        t = Timeouts(io=5.0, status=0.5, confirm=5.0)

        def ours() -> None:
            r = attempt(target, data, timeouts=t, confirm="status", pid="0001", clear_first=False)
            assert r.printed

        def peer() -> None:
            p = Network("127.0.0.1", sim.port, timeout=5)
            p._raw(data)
            p.close()

        report("packstation attempt(): status, job, status (confirmed)", timed(ours, args.jobs))
        report("python-escpos Network: job only (unconfirmed)", timed(peer, args.jobs))
        sim.wait_for_jobs(2 * args.jobs, timeout=30)

        sim.answer = "silent"
        t0 = time.perf_counter()
        with open_transport(target, 5.0) as conn:
            status = read_status(conn, 0.5)
        ours_s = time.perf_counter() - t0
        print(
            f"silent printer, packstation read_status: {status.state!r} after {ours_s * 1000:.0f} ms"
        )
        p = Network("127.0.0.1", sim.port, timeout=1)
        t0 = time.perf_counter()
        try:
            outcome = f"paper_status() = {p.paper_status()} (2 means 'adequate')"
        except Exception as exc:  # noqa: BLE001 - reporting what the peer does
            outcome = f"raised {type(exc).__name__}: {exc}"
        print(
            f"silent printer, python-escpos 3.1 (timeout=1): {outcome} after "
            f"{(time.perf_counter() - t0) * 1000:.0f} ms"
        )
        p.close()


if __name__ == "__main__":
    main()
