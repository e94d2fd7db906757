"""Typed views of what an exit label is made from: ORDER.json (the workflow's `Order`),
INVENTORY.json (docs/formats.md) and the per-jurisdiction warning texts
(config/warnings/<CODE>.toml).

Only the fields the label prints are read; everything else in the files is ignored, so a full
METRC export or a POS order drops in. Bad files raise BadInput/ConfigError naming file and field.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import msgspec

from edge.common import bounded, config
from edge.common.errors import BadInput, ConfigError
from edge.workflow.ports import NonNegative, Order

MAX_INPUT_BYTES = 512 * 1024 * 1024  # a whole store's METRC inventory export fits


class InventoryItemInfo(msgspec.Struct, kw_only=True):
    Name: Annotated[str, msgspec.Meta(min_length=1)]


class Package(msgspec.Struct, kw_only=True):
    """One INVENTORY.json package: the fields a label prints."""

    Label: Annotated[str, msgspec.Meta(min_length=1)]
    Item: InventoryItemInfo
    Batch: str
    Sku: str = ""
    NetWeightMg: NonNegative | None = None
    ThcMg: NonNegative | None = None
    CbdMg: NonNegative | None = None


class _Paged(msgspec.Struct):
    Data: list[Package]


class JurisdictionWarnings(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """config/warnings/<CODE>.toml: the warning text a jurisdiction requires on exit labels."""

    jurisdiction: Annotated[str, msgspec.Meta(pattern="^[A-Z]{2}$")]
    title: str = "WARNINGS"
    verified: bool = False  # false = wording not yet checked against the cited source
    sources: list[str] = msgspec.field(default_factory=list)
    lines: Annotated[list[Annotated[str, msgspec.Meta(min_length=1)]], msgspec.Meta(min_length=1)]


def _read_json(path: Path, what: str) -> bytes:
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise BadInput(f"{path}: cannot read {what}: {exc.strerror or exc}") from exc
    try:
        bounded.check(raw, f"{path}: {what}", MAX_INPUT_BYTES)
    except bounded.InputTooComplex as exc:
        raise BadInput(str(exc)) from exc
    return raw


def load_order(path: Path) -> Order:
    """Parse ORDER.json; BadInput names the file and the offending field."""
    try:
        return msgspec.json.decode(_read_json(path, "ORDER.json"), type=Order)
    except msgspec.DecodeError as exc:  # ValidationError is a DecodeError
        raise BadInput(f"{path}: not a valid ORDER.json: {exc}") from exc


def load_inventory(path: Path) -> dict[str, Package]:
    """Parse INVENTORY.json (a list, or METRC's paged {"Data": [...]}) into UID -> package."""
    raw = _read_json(path, "INVENTORY.json")
    try:
        first = raw.lstrip()[:1]
        packages = (
            msgspec.json.decode(raw, type=_Paged).Data
            if first == b"{"
            else msgspec.json.decode(raw, type=list[Package])
        )
    except msgspec.DecodeError as exc:
        raise BadInput(f"{path}: not a valid INVENTORY.json: {exc}") from exc
    return {p.Label: p for p in packages}


PACKAGE_ROOT = Path(__file__).resolve().parents[2]


def warnings_dir(configured: str, package_root: Path = PACKAGE_ROOT) -> Path:
    """Where the warning files are: [printer] warnings_dir, a source checkout's config/warnings,
    or /etc/packstation/warnings."""
    if configured:
        return Path(configured)
    beside = package_root / "config" / "warnings"
    return beside if beside.is_dir() else Path("/etc/packstation/warnings")


def load_warnings(jurisdiction: str, directory: Path) -> JurisdictionWarnings:
    """The warnings for `jurisdiction`; ConfigError if its file is missing or invalid (a label
    without its required warnings must not print)."""
    path = directory / f"{jurisdiction}.toml"
    if not path.exists():
        raise ConfigError(
            [f"{path}: missing: no exit-label warning text for jurisdiction {jurisdiction}"]
        )
    loaded = config.load(JurisdictionWarnings, path)
    if loaded.jurisdiction != jurisdiction:
        raise ConfigError(
            [f"{path}: jurisdiction: expected {jurisdiction!r}, got {loaded.jurisdiction!r}"]
        )
    return loaded
