"""Scanner decoding speed: our xkb decoder vs the usual python-evdev recipe (a US-only table).

The peer is the decoder most evdev scanner scripts use: a dict from key code to character, Shift
tracked, nothing else (no layouts, Ctrl, Alt codes, SYN_DROPPED or idle gap). It is what our
decoder must not be much slower than. Run: .venv/bin/python bench/bench_scanner.py
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence

from evdev import ecodes

from drivers.config import ScannerConfig
from drivers.scanner.decoder import Decoder
from drivers.scanner.keystrokes import events_for

GS1 = "0109501101020917" + "17190508" + "10ABCD1234" + "\x1d" + "2110"
_US = dict(zip([getattr(ecodes, f"KEY_{c}") for c in "1234567890"], "1234567890", strict=True))
_US |= {getattr(ecodes, f"KEY_{c}"): c.lower() for c in "ABCDEFGHIJKLMNOPQRSTUVWXYZ"}


def naive(events: Sequence[object]) -> int:
    """The peer: table lookup, Shift only, ends on Enter."""
    shift, scans = False, 0
    buf: list[str] = []
    for ev in events:
        if ev.type != ecodes.EV_KEY:  # type: ignore[attr-defined]
            continue
        code, value = ev.code, ev.value  # type: ignore[attr-defined]
        if code in (ecodes.KEY_LEFTSHIFT, ecodes.KEY_RIGHTSHIFT):
            shift = value != 0
        elif value == 1 and code == ecodes.KEY_ENTER:
            scans += 1
            buf.clear()
        elif value == 1 and code in _US:
            ch = _US[code]
            buf.append(ch.upper() if shift else ch)
    return scans


def ours(events: Sequence[object], layout: str) -> int:
    dec = Decoder(ScannerConfig(layout=layout), device="bench", node="bench")  # type: ignore[arg-type]
    return sum(len(dec.feed(ev)) for ev in events)  # type: ignore[arg-type,misc]


def measure(
    name: str, fn: Callable[[], int], n_events: int, n_scans: int, rounds: int = 5
) -> float:
    best = float("inf")
    for _ in range(rounds):
        t0 = time.perf_counter()
        got = fn()
        best = min(best, time.perf_counter() - t0)
        assert got == n_scans, (name, got)
    print(
        f"{name:<34} {n_events / best / 1e6:6.2f} M events/s  {best / n_scans * 1e6:7.1f} us/scan"
    )
    return best


def main() -> None:
    scans = 400
    for layout in ("us", "de"):
        events = [ev for _ in range(scans) for ev in events_for(GS1, layout_name=layout)]
        print(
            f"-- {scans} GS1 scans of {len(GS1)} characters, layout {layout}: {len(events)} events"
        )
        base = measure(
            "peer: python-evdev US table", functools.partial(naive, events), len(events), scans
        )
        t = measure(
            f"packstation Decoder (xkb, {layout})",
            functools.partial(ours, events, layout),
            len(events),
            scans,
        )
        print(f"ratio ours/peer: {t / base:.1f}x  (peer reads GS wrong and knows no layout)")
        # A scanner types ~ 1 character per ms; the budget per scan is the scan's own duration.
        print(f"decoding share of a 1 ms/char scan: {t / scans / (len(GS1) * 1e-3) * 100:.2f} %")


if __name__ == "__main__":
    main()
