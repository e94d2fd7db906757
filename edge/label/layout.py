"""Exit label and discrepancy slip layouts for 58 mm (32 columns) and 80 mm (48 columns) paper.

Layouts produce a `drivers.printer.document.Document`; the same document is encoded to ESC/POS
for the printer and rendered to PNG for the preview, so both always agree.
"""

from __future__ import annotations

import textwrap
from datetime import datetime
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from drivers.printer.document import (
    DOTS,
    Align,
    Block,
    Cut,
    Document,
    Feed,
    PaperWidth,
    Qr,
    Raster,
    Size,
    Text,
    columns_for,
)
from edge.label.content import (
    ContainerLabel,
    ExitLabel,
    HaltSlip,
    LabelItem,
    grams,
    ounces,
    seal_code_for,
)
from edge.label.profile import Symbol


def _wrap(text: str, cols: int, indent: str = "") -> list[str]:
    # Lines break at spaces only (never inside "breast-feeding"), so a statement printed over
    # several lines reads back, lines joined by single spaces, exactly as written.
    return textwrap.wrap(
        text,
        cols,
        initial_indent=indent,
        subsequent_indent=indent,
        break_long_words=True,
        break_on_hyphens=False,
    ) or [""]


def _lines(
    text: str,
    cols: int,
    *,
    indent: str = "",
    bold: bool = False,
    align: Align = "left",
    size: Size = "normal",
) -> list[Block]:
    return [Text(line, bold, align, size) for line in _wrap(text, cols, indent)]


def _pack(fields: list[str], cols: int, indent: str) -> list[str]:
    """Join short fields with three spaces, starting a new line when one would overflow."""
    out: list[str] = []
    current = indent
    for f in fields:
        candidate = f if current == indent else f"   {f}"
        if current != indent and len(current) + len(candidate) > cols:
            out.append(current)
            current, candidate = indent, f
        current += candidate
    if current != indent:
        out.append(current)
    return out


def _rule(cols: int) -> Text:
    return Text("-" * cols)


def _human_time(iso: str, timezone: str = "") -> str:
    """`2026-11-22 14:05 CST` (zone abbreviation when the zone is known, else the offset)."""
    at = datetime.fromisoformat(iso)
    try:
        zone = at.astimezone(ZoneInfo(timezone)).tzname() if timezone else None
    except (ZoneInfoNotFoundError, ValueError):
        zone = None
    return f"{at:%Y-%m-%d %H:%M} {zone or at.strftime('%z')}"


def layout_label(
    label: ExitLabel,
    width_mm: PaperWidth = 80,
    qr_module_dots: int = 6,
    symbol: Symbol | None = None,
) -> Document:
    """The exit label as printed, preceded by a container label per weighed portion (each cut
    off on its own). `symbol` is the profile's universal symbol, needed when a container label
    carries it (ValueError when it is missing or names another symbol)."""
    cols = columns_for(width_mm)
    big = columns_for(width_mm, "double")
    blocks: list[Block] = []
    for container in label.containers:
        blocks += layout_container(container, width_mm, symbol)
        blocks.append(Cut())
    if label.banner:
        blocks += _lines(label.banner, big, bold=True, align="center", size="double")
    blocks += _lines(label.dispensary_name, big, bold=True, align="center", size="double")
    blocks += _lines(f"License {label.license_number}", cols, align="center")
    blocks.append(_rule(cols))
    blocks += _lines(f"ORDER {label.order_id}", big, bold=True, size="double")
    blocks += _lines(f"Channel: {label.channel.upper()}", cols, bold=True)
    blocks += _lines(f"Customer: {label.customer_name}", cols)
    when = _human_time(label.printed_at, label.timezone)
    blocks += _lines(f"Date: {when} ({label.timezone})", cols)
    blocks.append(_rule(cols))
    for item in label.items:
        blocks += _item(item, cols)
    count = sum(i.quantity for i in label.items)
    blocks += _lines(f"Packages: {count}", cols, bold=True)
    blocks.append(_rule(cols))
    blocks += _coa_codes(label.items, width_mm, qr_module_dots)
    blocks += _lines(f"{label.warnings_title} ({label.jurisdiction})", cols, bold=True)
    if label.banner:
        blocks += _lines(label.banner, cols, bold=True)
    for warning in label.warnings:
        blocks += _lines(warning, cols, bold=label.warnings_bold)
    blocks.append(_rule(cols))
    blocks += _lines(f"Station {label.station_id}  Agent {label.agent_id}", cols)
    seal = seal_code_for(label)
    blocks.append(Qr(seal, qr_module_dots))
    blocks += _lines(seal, cols, align="center")
    blocks += _lines("Scan this code to seal the bag", cols, align="center")
    return Document(tuple(blocks), width_mm, title=f"label {label.order_id}")


def symbol_raster(symbol: Symbol) -> Raster:
    width_bytes, data = symbol.raster_bytes()
    return Raster(width_bytes, symbol.height, data, "center")


def layout_container(
    c: ContainerLabel, width_mm: PaperWidth, symbol: Symbol | None = None
) -> list[Block]:
    """A weigh-out container's label: the product label of the portion."""
    cols = columns_for(width_mm)
    blocks: list[Block] = []
    if c.banner:
        blocks += _lines(c.banner, cols, bold=True, align="center")
    blocks += _lines(c.dispensary_name, cols, bold=True, align="center")
    blocks += _lines(f"License {c.license_number}", cols, align="center")
    blocks.append(_rule(cols))
    blocks += _lines(c.product_name, cols, bold=True)
    blocks += _lines(f"UID {c.uid}", cols)
    blocks += _lines(f"Batch {c.batch}   Line {c.line}", cols)
    net = f"Net wt {grams(c.net_weight_mg)}"
    if c.us_units:
        net += f" ({ounces(c.net_weight_mg)})"
    blocks += _lines(net, cols, bold=True)
    potency = []
    if c.thc_mg is not None:
        potency.append(f"THC {c.thc_mg} mg")
    if c.cbd_mg is not None:
        potency.append(f"CBD {c.cbd_mg} mg")
    if potency:
        blocks += [Text(line) for line in _pack(potency, cols, "")]
        blocks += _lines("(in this portion, rounded down)", cols)
    dates = []
    if c.harvest_date:
        dates.append(f"Harvested {c.harvest_date}")
    if c.packaged_date:
        dates.append(f"Packaged {c.packaged_date}")
    blocks += [Text(line) for line in _pack(dates, cols, "")]
    lab = [x for x in (c.lab_name, c.lab_batch and f"test batch {c.lab_batch}") if x]
    if c.lab_test_date:
        lab.append(f"tested {c.lab_test_date}")
    if lab:
        blocks += _lines("Lab: " + ", ".join(lab), cols)
    if c.symbol:
        if symbol is None or symbol.name != c.symbol:
            raise ValueError(f"container label needs the universal symbol {c.symbol!r}")
        blocks.append(symbol_raster(symbol))
    blocks += _lines(c.warnings_title, cols, bold=True)
    for warning in c.warnings:
        blocks += _lines(warning, cols, bold=c.warnings_bold)
    return blocks


def _item(item: LabelItem, cols: int) -> list[Block]:
    blocks = _lines(f"{item.quantity} x {item.product_name}", cols, bold=True)
    blocks += _lines(f"UID {item.uid}", cols, indent="  ")
    blocks += _lines(f"Batch {item.batch}   Line {item.line}", cols, indent="  ")
    fields = []
    if item.net_weight_mg is not None:
        fields.append(f"Net wt {grams(item.net_weight_mg)}" + (" weighed" if item.weighed else ""))
    if item.thc_mg is not None:
        fields.append(f"THC {item.thc_mg} mg")
    if item.cbd_mg is not None:
        fields.append(f"CBD {item.cbd_mg} mg")
    blocks += [Text(line) for line in _pack(fields, cols, "  ")]
    if item.coa_values:
        values = [f"{name} {value}%" for name, value in item.coa_values]
        blocks += _lines("COA: " + ", ".join(values), cols, indent="  ")
    if item.coa_link:
        blocks += link_lines("COA link", item.coa_link, cols, "  ")
    return blocks


def link_lines(title: str, url: str, cols: int, indent: str) -> list[Block]:
    """`title:` then the URL cut into whole lines of the paper's width (a URL has no spaces to
    wrap at): its lines joined without spaces are the URL, character for character."""
    width = cols - len(indent)
    out: list[Block] = [Text(f"{indent}{title}:")]
    out += [Text(indent + url[i : i + width]) for i in range(0, len(url), width)]
    return out


def _coa_codes(items: tuple[LabelItem, ...], width_mm: PaperWidth, module_dots: int) -> list[Block]:
    """One QR code per distinct COA link (packages of one batch share theirs), each under the
    tags it covers, before the warnings: the seal code stays the label's last QR code."""
    cols = columns_for(width_mm)
    links: dict[str, list[str]] = {}
    for item in items:
        if item.coa_link:
            links.setdefault(item.coa_link, [])
            if item.uid not in links[item.coa_link]:
                links[item.coa_link].append(item.uid)
    blocks: list[Block] = []
    for link, uids in links.items():
        blocks += _lines("Certificate of analysis (COA) of", cols, bold=True)
        blocks += _lines(", ".join(f"...{u[-6:]}" for u in uids), cols, indent="  ")
        blocks.append(Qr(link, fitting_module_dots(link, width_mm, module_dots)))
    if blocks:
        blocks.append(_rule(cols))
    return blocks


def fitting_module_dots(payload: str, width_mm: PaperWidth, wanted: int) -> int:
    """The largest module size <= `wanted` at which the payload's QR code (error correction M,
    as drivers/printer encodes it, with its 4-module quiet zone) fits the paper's dots."""
    import qrcode  # the QR's size only; imported here, as in drivers/printer/render_png.py
    from qrcode.constants import ERROR_CORRECT_M

    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=0)
    code.add_data(payload)
    code.make(fit=True)
    modules = 17 + 4 * int(code.version) + 8
    return max(1, min(wanted, DOTS[width_mm] // modules))


def layout_slip(slip: HaltSlip, width_mm: PaperWidth = 80) -> Document:
    """The discrepancy slip: what happened, what to do, who clears it."""
    cols = columns_for(width_mm)
    big = columns_for(width_mm, "double")
    blocks: list[Block] = []
    blocks += _lines("STOP - ORDER HALTED", big, bold=True, align="center", size="double")
    where = f"Order {slip.order_id}"
    if slip.order_line is not None:
        where += f"  line {slip.order_line}"
    blocks += _lines(where, cols, bold=True)
    blocks += _lines(f"Reason: {slip.code}", cols)
    if slip.product:
        blocks += _lines(f"Product: {slip.product}", cols)
    if slip.location:
        blocks += _lines(f"Location: {slip.location}", cols)
    blocks.append(_rule(cols))
    blocks += _lines("What happened:", cols, bold=True)
    blocks += _lines(slip.what_happened, cols)
    blocks.append(Feed(1))
    blocks += _lines("What to do:", cols, bold=True)
    for n, step in enumerate(slip.what_to_do, 1):
        blocks += [
            Text(line)
            for line in textwrap.wrap(step, cols, initial_indent=f"{n}. ", subsequent_indent="   ")
        ]
    blocks.append(Feed(1))
    blocks += _lines("Who clears it:", cols, bold=True)
    blocks += _lines(slip.clears, cols)
    blocks.append(_rule(cols))
    if slip.scanned:
        blocks += _lines(f"Scanned: {slip.scanned}", cols)
    footer = [
        slip.at and _human_time(slip.at, slip.timezone),
        slip.station_id and f"Station {slip.station_id}",
        slip.agent_id and f"Agent {slip.agent_id}",
    ]
    footer = [f for f in footer if f]
    if footer:
        blocks += _lines("  ".join(footer), cols)
    return Document(tuple(blocks), width_mm, title=f"slip {slip.order_id} {slip.code}")
