"""The scanner self-test: a printed test label, scanned back and compared character by character.

The label carries every printable ASCII character (Code 128, in short barcodes a 1D scanner reads)
and a GS1-128 barcode with a FNC1 separator. The installer scans each barcode; differences are
reported with the layout that explains them (a scanner set to German read with a US keymap swaps
y/z, e.g. odoo/odoo PR #214407), and the separator and AIM identifier are checked too.
"""

from __future__ import annotations

import contextlib
import difflib
import io
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from drivers.config import ScannerConfig
from drivers.scanner.events import Scan
from drivers.scanner.keymap import LAYOUTS, LayoutError

GS: Final = "\x1d"
PRINTABLE: Final = "".join(chr(c) for c in range(0x20, 0x7F))  # ' ' through '~', in order
CHUNK: Final = 12  # Code 128 B of 12 characters is 178 modules: fits 58 mm paper at width 2
GS1_TEXT: Final = "01095011010209171719050810ABCD1234" + GS + "2110"


@dataclass(frozen=True)
class Item:
    """One barcode of the test label and what scanning it must give."""

    label: str
    expected: str
    aim_id: str  # the AIM identifier a scanner with AIM ids on sends for it


def items() -> list[Item]:
    """The barcodes of the test label, in print order."""
    out = [
        Item(f"ASCII {i // CHUNK + 1}", PRINTABLE[i : i + CHUNK], "]C0")
        for i in range(0, len(PRINTABLE), CHUNK)
    ]
    out.append(Item("GS1-128", GS1_TEXT, "]C1"))
    return out


def _code128(text: str) -> str:
    # ESC/POS CODE128 data: "{B" selects code set B, "{{" is a literal '{', "{1" is FNC1.
    return "{B" + text.replace("{", "{{").replace(GS, "{1")


def build_label(paper_width_mm: int = 80) -> bytes:
    """The ESC/POS bytes of the test label (python-escpos, built on a Dummy printer)."""
    from escpos.printer import Dummy

    p = Dummy()
    with contextlib.redirect_stdout(io.StringIO()):  # escpos 3.1 prints its renderer choice
        p.set(align="center", bold=True)
        p.text("packstation scanner self-test\n")
        p.set(align="center", bold=False)
        p.text("Scan each barcode, top to bottom.\n\n")
        for item in items():
            p.text(f"{item.label}\n")
            data = "{B{1" + GS1_TEXT.replace(GS, "{1") if item.aim_id == "]C1" else None
            p.barcode(
                data or _code128(item.expected),
                "CODE128",
                height=60,
                width=2 if paper_width_mm >= 58 else 1,
                pos="OFF",
                function_type="B",
            )
            p.text("\n")
        p.cut()
    return bytes(p.output)


@dataclass
class ItemResult:
    """What one barcode gave back."""

    item: Item
    got: str | None = None  # None: not scanned; else as typed, with the AIM identifier if any
    aim_id: str | None = None
    reference: str = ""  # the expected text, with the AIM identifier when the scanner sends one
    diffs: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Read back exactly (AIM identifier included when the scanner sends one)."""
        return self.got == self.reference and not self.diffs


@dataclass
class Report:
    """The self-test result."""

    layout: str
    results: list[ItemResult]
    likely_layout: str | None = None
    advice: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Every barcode read back right."""
        return all(r.ok for r in self.results)

    def lines(self) -> list[str]:
        """The report for a person, one line each."""
        out = []
        for r in self.results:
            if r.got is None:
                out.append(f"{r.item.label}: not scanned")
            elif r.ok:
                out.append(f"{r.item.label}: ok")
            else:
                out.append(f"{r.item.label}: " + "; ".join(r.diffs))
        out += self.advice
        out.append("self-test passed" if self.ok else "self-test FAILED")
        return out


def _show(text: str) -> str:
    return repr(text)[1:-1].replace("\\x1d", "<GS>")


def char_diffs(expected: str, got: str) -> list[str]:
    """Each difference, as 'position N: expected 'y', got 'z''."""
    out = []
    matcher = difflib.SequenceMatcher(None, expected, got, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            continue
        if op == "replace" and i2 - i1 == j2 - j1:
            out += [
                f"position {i1 + k + 1}: expected '{_show(expected[i1 + k])}', "
                f"got '{_show(got[j1 + k])}'"
                for k in range(i2 - i1)
            ]
        elif op == "delete":
            out.append(f"position {i1 + 1}: '{_show(expected[i1:i2])}' missing")
        elif op == "insert":
            out.append(f"position {i1 + 1}: unexpected '{_show(got[j1:j2])}'")
        else:
            out.append(
                f"position {i1 + 1}: expected '{_show(expected[i1:i2])}', got '{_show(got[j1:j2])}'"
            )
    return out


def _predicted(text: str, scanner_layout: str, host_layout: str) -> str | None:
    """What we decode when a scanner set to `scanner_layout` types `text` and we read `host_layout`."""
    from drivers.scanner.keystrokes import decode_events, events_for

    try:
        events = events_for(text, layout_name=scanner_layout, suffix="enter")
    except LayoutError:
        return None
    decoded = decode_events(events, ScannerConfig(layout=host_layout))  # type: ignore[arg-type]
    scans = [e for e in decoded if isinstance(e, Scan)]
    return (scans[0].aim_id or "") + scans[0].text if len(scans) == 1 else None


def misread_chars(scanner_layout: str, host_layout: str) -> list[tuple[str, str]]:
    """Each printable ASCII character that a `scanner_layout` scanner read as `host_layout`
    turns into something else, with what it turns into."""
    out = []
    for ch in PRINTABLE:
        got = _predicted(ch, scanner_layout, host_layout)
        if got != ch:
            out.append((ch, got or ""))
    return out


def guess_layout(pairs: Sequence[tuple[Item, str]], host_layout: str) -> str | None:
    """The scanner layout that explains every (item, typed) pair when read as `host_layout`
    (with or without the item's AIM identifier, which goes through the same layout)."""
    for candidate in LAYOUTS:
        if candidate == host_layout:
            continue
        if all(
            got
            in (
                _predicted(item.expected, candidate, host_layout),
                _predicted(item.aim_id + item.expected, candidate, host_layout),
            )
            for item, got in pairs
        ):
            return candidate
    return None


def compare(scans: Sequence[Scan], layout: str, gs_substitutes: Sequence[str] = ()) -> Report:
    """Diff the scans, taken in label order (top to bottom), against the label's barcodes.

    Order, not similarity, pairs them: a wrong layout can make a barcode look more like another
    one. A scan repeating the previous one (a double read) is skipped.
    """
    results = [ItemResult(item) for item in items()]
    previous: str | None = None
    pending = iter(results)
    for scan in scans:
        # The AIM prefix is typed through the same layout, so a wrong layout garbles it too:
        # compare what was typed with the expected text, with and without the prefix.
        typed = (scan.aim_id or "") + scan.text
        if GS1_TEXT.split(GS)[0] in typed:  # in GS1 data the configured substitutes mean GS
            typed = typed.translate({ord(c): GS for c in gs_substitutes})
        if typed == previous:
            continue
        previous = typed
        r = next(pending, None)
        if r is None:
            break
        r.reference = max(
            (r.item.expected, r.item.aim_id + r.item.expected),
            key=lambda ref: difflib.SequenceMatcher(None, ref, typed).ratio(),
        )
        r.got, r.aim_id = typed, scan.aim_id
        r.diffs = char_diffs(r.reference, typed)
    report = Report(layout=layout, results=results)
    _advise(report)
    return report


def _advise(report: Report) -> None:
    ascii_pairs = [
        (r.item, r.got) for r in report.results if r.got is not None and r.item.aim_id != "]C1"
    ]
    if any(not r.ok for r in report.results if r.got is not None and r.item.aim_id != "]C1"):
        guess = guess_layout(ascii_pairs, report.layout)
        report.likely_layout = guess
        if guess:
            report.advice.append(
                f'the scanner types in the {guess!r} keyboard layout: set layout = "{guess}" '
                "in its [[scanner]] table, or set the scanner to the US layout"
            )
            report.advice.append(
                f"with layout {report.layout!r} these characters read wrong: "
                + ", ".join(
                    f"'{_show(ch)}' reads as '{_show(got)}'" if got else f"'{_show(ch)}' is lost"
                    for ch, got in misread_chars(guess, report.layout)
                )
            )
        else:
            report.advice.append(
                "characters differ and no known layout explains it: check the scanner's "
                "keyboard country and code page settings"
            )
    gs1 = next(r for r in report.results if r.item.aim_id == "]C1")
    if gs1.got is not None:
        _advise_gs1(report, gs1)
    if any(r.got == r.item.expected for r in report.results):
        report.advice.append(
            "the scanner sends no AIM symbology identifier: enable it (the station then knows "
            "a GS1 barcode from a plain one)"
        )


def _advise_gs1(report: Report, r: ItemResult) -> None:
    got = r.got or ""
    if GS in got:
        return
    head = GS1_TEXT.split(GS)[0]
    rest = got[got.find(head) + len(head) :] if head in got else ""
    if rest.startswith("029"):
        msg = "the GS1 separator arrived as the digits 029 (Alt+0029 without Alt)"
    elif rest[:1] in ("]", "+", "$"):
        msg = f"the GS1 separator arrived as '{rest[0]}' (Ctrl+] without Ctrl)"
    elif rest.startswith("21"):
        msg = "the GS1 separator was not sent at all"
    else:
        msg = "the GS1 separator is missing"
    r.diffs.append(msg)
    report.advice.append(
        f"{msg}: set the scanner to transmit GS (FNC1) as Ctrl+] or Alt+0029, or set a "
        "substitute character and list it in [scan] gs_substitutes"
    )


def open_target(target: str, timeout_s: float) -> Any:
    """A python-escpos printer for tcp://HOST:PORT, file:PATH, serial:PATH or usb:VID:PID, opened,
    always with a timeout (python-escpos 3.1 defaults: Network 60 s, Usb none)."""
    from escpos import printer

    kind, _, rest = target.partition(":")
    p: Any
    if kind == "tcp" and rest.startswith("//"):
        host, _, port = rest[2:].rpartition(":")
        if not host or not port.isdigit():
            raise ValueError(f"expected tcp://HOST:PORT, got {target!r}")
        p = _network_class()(host.strip("[]"), int(port), timeout=timeout_s)
    elif kind == "file" and rest:
        p = printer.File(rest)
    elif kind == "serial" and rest:
        p = printer.Serial(devfile=rest, timeout=timeout_s)
    elif kind == "usb" and len(rest.split(":")) == 2:
        vid, pid = (int(x, 16) for x in rest.split(":"))
        p = printer.Usb(vid, pid, timeout=max(1, int(timeout_s * 1000)))
    else:
        raise ValueError(
            f"unknown printer target {target!r}: expected tcp://HOST:PORT, file:PATH, "
            "serial:PATH or usb:VID:PID"
        )
    p.open()
    return p


def _network_class() -> Any:
    from escpos.exceptions import DeviceNotFoundError
    from escpos.printer import Network

    class _Network(Network):  # type: ignore[misc]
        """escpos 3.1's Network.open leaks its socket when the connection is refused."""

        def open(self, raise_not_found: bool = True) -> None:
            try:
                self.device = socket.create_connection((self.host, self.port), self.timeout)
            except OSError as exc:
                self._device = False
                msg = f"could not connect to {self.host}:{self.port}: {exc}"
                raise DeviceNotFoundError(msg) from exc

    return _Network
