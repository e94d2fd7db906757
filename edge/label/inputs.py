"""Typed views of what an exit label is made from: ORDER.json (the workflow's `Order`),
and INVENTORY.json (docs/formats.md); the per-jurisdiction label profiles are in
edge.label.profile.

Only the fields the label prints are read; everything else in the files is ignored, so a full
METRC export or a POS order drops in. Bad files raise BadInput naming file and field.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Annotated

import msgspec

from edge.common import bounded
from edge.common.errors import BadInput
from edge.workflow.ports import NonNegative, Order

_DECIMAL = re.compile(r"^\d{1,15}(\.\d{1,9})?$")
MAX_INPUT_BYTES = 512 * 1024 * 1024  # a whole store's METRC inventory export fits


class InventoryItemInfo(msgspec.Struct, kw_only=True):
    Name: Annotated[str, msgspec.Meta(min_length=1)]


class Package(msgspec.Struct, kw_only=True):
    """One INVENTORY.json package: the fields a label prints."""

    Label: Annotated[str, msgspec.Meta(min_length=1)]
    Item: InventoryItemInfo
    Batch: str
    Sku: str = ""
    Location: str | None = None
    Category: str | None = None
    NetWeightMg: NonNegative | None = None
    ThcMg: NonNegative | None = None
    CbdMg: NonNegative | None = None
    # packstation's own fields for the weigh-out container label (docs/formats.md)
    HarvestDate: str | None = None
    PackagedDate: str | None = None
    LabName: str | None = None
    LabTestDate: str | None = None
    LabBatch: str | None = None
    # METRC's quantity in its unit of measure, for the wholesale box label: kept as the JSON text
    # (`quantity_text`), never read as a float
    Quantity: msgspec.Raw = msgspec.field(default_factory=msgspec.Raw)
    UnitOfMeasureName: str | None = None

    def quantity_text(self) -> str | None:
        """`Quantity` exactly as the file wrote it ("28.350"), or None when absent or null."""
        raw = bytes(self.Quantity).decode("utf-8", "replace").strip()
        if not raw or raw == "null":
            return None
        if raw.startswith('"'):
            raw = msgspec.json.decode(raw.encode(), type=str).strip()
        return raw if _DECIMAL.match(raw) else None


class _Paged(msgspec.Struct):
    Data: list[Package]


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
    return parse_inventory(_read_json(path, "INVENTORY.json"), str(path))


def parse_inventory(raw: bytes, where: str = "INVENTORY.json") -> dict[str, Package]:
    """INVENTORY.json bytes -> UID -> package; BadInput names `where` and the field."""
    try:
        first = raw.lstrip()[:1]
        packages = (
            msgspec.json.decode(raw, type=_Paged).Data
            if first == b"{"
            else msgspec.json.decode(raw, type=list[Package])
        )
    except msgspec.DecodeError as exc:
        raise BadInput(f"{where}: not a valid INVENTORY.json: {exc}") from exc
    return {p.Label: p for p in packages}
