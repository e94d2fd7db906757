"""Per-jurisdiction label profiles: config/labels/<CODE>.toml (format in config/labels/README.md).

A profile says, per effective-dated version, which fields the exit label and the weigh-out
container label must carry, the statutory warning text (verbatim, each statement with its
citation), when and against what that text was checked, the type-size rule, the universal symbol
(a monochrome bitmap in config/labels/symbols/) and how the customer is named on the label.

A version whose text is not verified (`verified = false`) is refused unless `[label]
allow_unverified = true`; then every label and container label printed under it carries
`NOT_VERIFIED_BANNER`. Bad files raise ConfigError naming file and key.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Annotated, Literal

import msgspec

from edge.common import config, resources
from edge.common.errors import ConfigError

NOT_VERIFIED_BANNER = "WARNING TEXT NOT VERIFIED"

# The fields a profile may require. Exit label: the bag; container: a weigh-out portion's new
# container (the store's label is then the product label).
ExitField = Literal[
    "dispensary_name",
    "license_number",
    "order_id",
    "customer",
    "date",
    "product_name",
    "uid",
    "batch",
    "net_weight",
    "thc",
    "cbd",
    "agent",
    "warnings",
    "coa_values",  # every name of `coa_values` printed from the package's governing lab result
]
ContainerField = Literal[
    "dispensary_name",
    "license_number",
    "product_name",
    "uid",
    "batch",
    "net_weight",
    "net_weight_us",
    "thc",
    "cbd",
    "harvest_date",
    "packaged_date",
    "lab_name",
    "lab_test_date",
    "lab_batch",
    "symbol",
    "warnings",
]
Where = Literal["exit", "container"]
Privacy = Literal["full_name", "first_name_and_number"]

# Font A on a 203 dpi head: 12 x 24 dot cells, capitals 17 dots high = 17/203 in (2.13 mm). A rule
# asking for a larger minimum cannot be met by normal-size text on these printers.
FONT_A_CAP_HEIGHT_IN = (17, 203)


class Warning_(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """One statutory statement, printed as written."""

    text: Annotated[str, msgspec.Meta(min_length=1)]
    citation: Annotated[str, msgspec.Meta(min_length=1)]
    on: list[Where] = msgspec.field(default_factory=lambda: ["exit", "container"])
    # Printed only when the bag (or the container) holds a package of one of these limit
    # categories (INVENTORY.json `Category`); empty = always.
    categories: list[str] = msgspec.field(default_factory=list)


class TypeRule(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The type-size rule: the smallest letter height allowed, as a fraction of an inch
    ("1/16"), and whether warnings must be bold."""

    min_height_in: str = ""  # "" = no rule found
    warnings_bold: bool = False
    source: str = ""


class Version(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    effective: date
    verified: bool
    checked: date  # when the text was last compared with its source
    checked_against: list[str] = msgspec.field(default_factory=list)
    note: str = ""
    title: str = "WARNINGS"
    privacy: Privacy = "full_name"
    privacy_source: str = ""
    symbol: str = ""  # file stem in config/labels/symbols/ ("" = no symbol)
    symbol_on: list[Where] = msgspec.field(default_factory=list)
    symbol_source: str = ""
    symbol_verified: bool = False  # true only when the bitmap is the regulator's own artwork
    weigh_out: bool = True  # false: the store may not package or label (e.g. CA 4 CCR 15412)
    weigh_out_source: str = ""
    exit_fields: list[ExitField]
    container_fields: list[ContainerField]
    fields_source: str = ""
    # The certificate of analysis on the exit label (edge/label/coa.py): the cannabinoid values
    # printed per package from its governing lab result, as the lab printed them (e.g. ["THC",
    # "CBD"]; required when exit_fields names "coa_values"), and whether the COA's link prints as
    # text and as a QR code (then required: a package without a linked COA is refused).
    coa_values: list[Annotated[str, msgspec.Meta(min_length=1)]] = msgspec.field(
        default_factory=list
    )
    coa_link: bool = False
    coa_source: str = ""
    type: TypeRule = msgspec.field(default_factory=TypeRule)
    warning: Annotated[list[Warning_], msgspec.Meta(min_length=1)]


class ProfileFile(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    jurisdiction: Annotated[str, msgspec.Meta(pattern="^[A-Z]{2}$")]
    name: str
    version: Annotated[list[Version], msgspec.Meta(min_length=1)]


class LabelSection(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """[label] of station.toml."""

    # "" = config/labels beside the package, else /etc/packstation/labels
    profiles_dir: str = ""
    # Print under a profile whose warning text is not verified (every label then says so).
    allow_unverified: bool = False


@dataclass(frozen=True)
class Symbol:
    """A monochrome bitmap: rows of `width` dots, True = black."""

    name: str
    width: int
    height: int
    rows: tuple[tuple[bool, ...], ...]

    def raster_bytes(self) -> tuple[int, bytes]:
        """(width in bytes, GS v 0 data): MSB = leftmost dot, rows padded to whole bytes."""
        width_bytes = (self.width + 7) // 8
        out = bytearray()
        for row in self.rows:
            for b in range(width_bytes):
                byte = 0
                for bit in range(8):
                    x = b * 8 + bit
                    if x < self.width and row[x]:
                        byte |= 0x80 >> bit
                out.append(byte)
        return width_bytes, bytes(out)


@dataclass(frozen=True)
class Profile:
    """The version of a jurisdiction's profile in force on a day, ready to print."""

    jurisdiction: str
    name: str
    version: Version
    symbol: Symbol | None
    path: Path

    @property
    def verified(self) -> bool:
        return self.version.verified

    def warnings_for(self, where: Where, categories: set[str]) -> list[Warning_]:
        return [
            w
            for w in self.version.warning
            if where in w.on and (not w.categories or categories & set(w.categories))
        ]

    def symbol_on(self, where: Where) -> bool:
        return self.symbol is not None and where in self.version.symbol_on


def profiles_dir(configured: str, etc: Path = resources.ETC) -> Path:
    """[label] profiles_dir, else /etc/packstation/labels when present, else the shipped profiles
    (edge.common.resources: the same precedence as the limit rules)."""
    return resources.data_dir("labels", configured, etc)


def parse_height_in(text: str) -> tuple[int, int]:
    """`"1/16"` -> (1, 16); ValueError for anything else."""
    num, sep, den = text.partition("/")
    if not sep or not num.strip().isdigit() or not den.strip().isdigit() or int(den) == 0:
        raise ValueError(f"expected a fraction of an inch such as 1/16, got {text!r}")
    return int(num), int(den)


def load_symbol(directory: Path, name: str) -> Symbol:
    """config/labels/symbols/<name>.pbm (plain PBM, P1); ConfigError when missing or invalid."""
    path = directory / "symbols" / f"{name}.pbm"
    try:
        text = path.read_text(encoding="ascii")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read the universal symbol: {exc}"]) from exc
    tokens = [t for line in text.splitlines() for t in line.split("#", 1)[0].split()]
    if len(tokens) < 3 or tokens[0] != "P1":
        raise ConfigError([f"{path}: not a plain PBM (P1) bitmap"])
    try:
        width, height = int(tokens[1]), int(tokens[2])
    except ValueError as exc:
        raise ConfigError([f"{path}: bad PBM size"]) from exc
    bits = "".join(tokens[3:])
    if len(bits) != width * height or set(bits) - {"0", "1"}:
        raise ConfigError([f"{path}: expected {width}x{height} bits of 0/1, got {len(bits)}"])
    rows = tuple(tuple(c == "1" for c in bits[y * width : (y + 1) * width]) for y in range(height))
    return Symbol(name, width, height, rows)


def load_file(jurisdiction: str, directory: Path) -> ProfileFile:
    path = directory / f"{jurisdiction}.toml"
    if not path.exists():
        raise ConfigError([f"{path}: missing: no label profile for jurisdiction {jurisdiction}"])
    loaded = config.load(ProfileFile, path)
    problems = _problems(loaded, path)
    if problems:
        raise ConfigError(problems)
    return loaded


def _problems(loaded: ProfileFile, path: Path) -> list[str]:
    out: list[str] = []
    if loaded.jurisdiction != path.stem:
        out.append(f"{path}: jurisdiction: expected {path.stem!r}, got {loaded.jurisdiction!r}")
    days = [v.effective for v in loaded.version]
    if days != sorted(days) or len(set(days)) != len(days):
        out.append(f"{path}: [[version]] effective dates must increase")
    for v in loaded.version:
        where = f"{path}: version {v.effective.isoformat()}"
        if v.symbol_on and not v.symbol:
            out.append(f"{where}: symbol_on is set but no symbol is named")
        if "symbol" in v.container_fields and not v.symbol:
            out.append(f"{where}: container_fields requires a symbol but none is named")
        if "coa_values" in v.exit_fields and not v.coa_values:
            out.append(f"{where}: exit_fields requires coa_values but none are named")
        if v.type.min_height_in:
            try:
                num, den = parse_height_in(v.type.min_height_in)
            except ValueError as exc:
                out.append(f"{where}: type.min_height_in: {exc}")
                continue
            cap_num, cap_den = FONT_A_CAP_HEIGHT_IN
            if num * cap_den > cap_num * den:
                out.append(
                    f"{where}: type.min_height_in {v.type.min_height_in} in is taller than "
                    f"the printer's normal letters (17/203 in)"
                )
    return out


def load_profile(
    jurisdiction: str, directory: Path, day: date, *, allow_unverified: bool = False
) -> Profile:
    """The profile version in force on `day`; ConfigError when there is none, when its file is
    invalid, or when its text is not verified and `allow_unverified` is false."""
    loaded = load_file(jurisdiction, directory)
    path = directory / f"{jurisdiction}.toml"
    current = [v for v in loaded.version if v.effective <= day]
    if not current:
        first = loaded.version[0].effective.isoformat()
        raise ConfigError([f"{path}: no label profile version in force on {day} (first {first})"])
    version = current[-1]
    if not version.verified and not allow_unverified:
        raise ConfigError(
            [
                (
                    f"{path}: the {jurisdiction} warning text (version {version.effective}) is not "
                    f"verified against its source (checked {version.checked}): have a compliance "
                    f"officer verify it, or set [label] allow_unverified = true to print it marked "
                    f"{NOT_VERIFIED_BANNER!r}"
                )
            ]
        )
    symbol = load_symbol(directory, version.symbol) if version.symbol else None
    return Profile(jurisdiction, loaded.name, version, symbol, path)
