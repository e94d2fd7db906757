"""Lab results as data: what central ingests, what it feeds the stations, how a station judges one.

Two sources, one normalised record (`LabResult`):

- METRC's `GET /labtests/v2/results?packageId=&licenseNumber=` rows (one row per test: `PackageId,
  LabTestResultId, LabFacilityLicenseNumber, LabFacilityName, TestPerformedDate, OverallPassed,
  RevokedDate, LabTestResultDocumentFileId, ResultReleased, ExpirationDateTime, TestTypeName, ...`;
  Metrc API v2, LabTests "GetResults", https://api-ca.metrc.com/Documentation/#LabTests.get_labtests_v2_results; the
  ThunkMetrc client's LabTests service, https://docs.rs/thunkmetrc-client/0.3.3/src/thunkmetrc_client/services/lab_tests.rs.html).
  METRC's row names the package by its numeric `PackageId` only, so a row given to packstation
  also names the package tag it was fetched for (`PackageLabel`) or the production batch
  (`Batch`, the INVENTORY.json `Batch`), packstation's one addition to the row.
- A certificate of analysis (COA) record typed in from the lab's PDF: `Lab`, `TestBatch` (the
  lab's sample id), `TestedDate`, `Passed`, `ExpirationDate`, `RevokedDate`, `Document` (the COA's
  URL or file id), the cannabinoid and terpene values as printed (decimal text, e.g. "21.4").

Central keys them on the feed per package (`package:<TAG>`) or per batch (`batch:<BATCH>`); a
station takes the package's own results first, else its batch's. The newest test date governs
(a retest replaces the failed test it follows); a package is refused when, among those, a result
failed, was revoked (at any time: a revoked COA proves nothing), or expired before the day that
counts (the later of the order date and the packing day).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date
from decimal import Decimal as Exact
from typing import Annotated, Any, Literal

import msgspec

from edge.common.chain import canonical_json
from edge.common.feed import RecordError, Tag, record_error

BatchName = Annotated[
    str, msgspec.Meta(min_length=1, max_length=100, pattern=r"\S", description="a batch name")
]
LabText = Annotated[str, msgspec.Meta(max_length=512)]
LabDate = Annotated[
    str,
    msgspec.Meta(
        pattern=r"^\d{4}-\d{2}-\d{2}([T ].*)?$",
        description="YYYY-MM-DD (a METRC THH:MM:SS suffix is ignored)",
    ),
]
Decimal = Annotated[
    str, msgspec.Meta(pattern=r"^\d{1,6}(\.\d{1,6})?$", description="a decimal as printed")
]


EXACT = msgspec.json.Decoder(float_hook=Exact)  # METRC's decimals stay exact


class MetrcLabRow(msgspec.Struct, kw_only=True):
    """One row of METRC's `/labtests/v2/results` (fields packstation reads; others kept)."""

    LabTestResultId: int
    OverallPassed: bool
    TestPerformedDate: LabDate
    PackageLabel: Tag | None = None  # packstation: the tag the results were fetched for
    Batch: BatchName | None = None  # packstation: or the production batch they cover
    PackageId: int | None = None
    LabFacilityLicenseNumber: LabText | None = None
    LabFacilityName: LabText | None = None
    RevokedDate: LabDate | None = None
    ExpirationDateTime: LabDate | None = None
    LabTestResultDocumentFileId: int | None = None
    ResultReleased: bool | None = None
    TestTypeName: LabText | None = None
    TestPassed: bool | None = None
    TestResultLevel: Exact | None = None  # the test's measured value (exact, never a float)


class CoaRecord(msgspec.Struct, kw_only=True):
    """A certificate of analysis typed in from the lab's document."""

    Lab: Annotated[str, msgspec.Meta(min_length=1, max_length=512, pattern=r"\S")]
    TestBatch: Annotated[str, msgspec.Meta(min_length=1, max_length=100, pattern=r"\S")]
    TestedDate: LabDate
    Passed: bool
    PackageLabel: Tag | None = None
    Batch: BatchName | None = None
    LabLicenseNumber: LabText | None = None
    ExpirationDate: LabDate | None = None
    RevokedDate: LabDate | None = None
    Document: LabText | None = None  # the COA's URL or file id
    Cannabinoids: dict[LabText, Decimal] = msgspec.field(default_factory=dict)  # percent
    Terpenes: dict[LabText, Decimal] = msgspec.field(default_factory=dict)  # percent


class LabResult(msgspec.Struct, kw_only=True, frozen=True):
    """One lab result as central feeds it to the stations (normalised from either source)."""

    id: str  # "metrc:<LabTestResultId>" or "coa:<Lab>:<TestBatch>"
    source: Literal["metrc", "coa"]
    package: str | None  # the package tag it covers, or
    batch: str | None  # the batch it covers
    lab: str
    tested: str  # YYYY-MM-DD
    passed: bool
    revoked: str | None = None  # YYYY-MM-DD
    expires: str | None = None  # YYYY-MM-DD
    document: str | None = None  # METRC document file id, or the COA's URL / file id
    test: str = ""  # METRC TestTypeName
    values: dict[str, str] = msgspec.field(default_factory=dict)  # "THC": "21.4" (percent)
    lab_license: str | None = None  # the lab's license number (LabFacilityLicenseNumber)
    sample: str | None = None  # the lab's test batch: COA TestBatch, METRC LabTestResultId

    @property
    def key(self) -> str:
        """The feed key this result is filed under."""
        return feed_key(self.package, self.batch)


class LabSet(msgspec.Struct, kw_only=True):
    """The body of one `lab` feed item: every result known for a package or a batch."""

    results: list[LabResult]


def feed_key(package: str | None, batch: str | None) -> str:
    return f"package:{package.upper()}" if package is not None else f"batch:{batch}"


def _day(text: str | None) -> str | None:
    return None if text is None else text[:10]


def _check_date(value: str | None, path: str) -> None:
    if value is None:
        return
    try:
        date.fromisoformat(value[:10])
    except ValueError:
        raise RecordError(path, f"not a calendar date: {value!r}") from None


def _target(row: MetrcLabRow | CoaRecord, path: str) -> None:
    if (row.PackageLabel is None) == (row.Batch is None):
        raise RecordError(path, 'give either "PackageLabel" or "Batch" (the one it covers)')


def from_metrc(row: MetrcLabRow, path: str = "$") -> LabResult:
    _target(row, path)
    for name in ("TestPerformedDate", "RevokedDate", "ExpirationDateTime"):
        _check_date(getattr(row, name), f"{path}.{name}")
    doc = row.LabTestResultDocumentFileId
    values = {}
    if row.TestTypeName and row.TestResultLevel is not None:  # "test:<TestTypeName>": as METRC
        values[f"test:{row.TestTypeName}"] = format(row.TestResultLevel, "f")  # names the test
    return LabResult(
        id=f"metrc:{row.LabTestResultId}",
        source="metrc",
        package=row.PackageLabel.upper() if row.PackageLabel else None,
        batch=row.Batch,
        lab=row.LabFacilityName or row.LabFacilityLicenseNumber or "",
        tested=row.TestPerformedDate[:10],
        passed=row.OverallPassed,
        revoked=_day(row.RevokedDate),
        expires=_day(row.ExpirationDateTime),
        document=None if doc is None else str(doc),
        test=row.TestTypeName or "",
        values=values,
        lab_license=row.LabFacilityLicenseNumber,
        sample=str(row.LabTestResultId),
    )


def from_coa(row: CoaRecord, path: str = "$") -> LabResult:
    _target(row, path)
    for name in ("TestedDate", "RevokedDate", "ExpirationDate"):
        _check_date(getattr(row, name), f"{path}.{name}")
    values = {**row.Cannabinoids, **{f"terpene:{k}": v for k, v in row.Terpenes.items()}}
    return LabResult(
        id=f"coa:{row.Lab}:{row.TestBatch}",
        source="coa",
        package=row.PackageLabel.upper() if row.PackageLabel else None,
        batch=row.Batch,
        lab=row.Lab,
        tested=row.TestedDate[:10],
        passed=row.Passed,
        revoked=_day(row.RevokedDate),
        expires=_day(row.ExpirationDate),
        document=row.Document,
        values=values,
        lab_license=row.LabLicenseNumber,
        sample=row.TestBatch,
    )


def parse_results(raw: bytes) -> list[LabResult]:
    """A lab results file: a JSON array (or METRC's `{"Data": [...]}`) of METRC rows (they have
    `LabTestResultId`) and COA records (they have `TestBatch`). RecordError names the field."""
    try:
        doc = EXACT.decode(raw)
    except msgspec.DecodeError as exc:
        raise record_error(exc) from None
    if isinstance(doc, dict) and isinstance(doc.get("Data"), list):
        doc = doc["Data"]
    if not isinstance(doc, list):
        raise RecordError("$", "expected an array of lab results")
    out: list[LabResult] = []
    for i, row in enumerate(doc):
        path = f"$[{i}]"
        if not isinstance(row, dict):
            raise RecordError(path, "expected an object")
        try:
            if "LabTestResultId" in row:
                out.append(from_metrc(msgspec.convert(row, MetrcLabRow), path))
            elif "TestBatch" in row:
                out.append(from_coa(msgspec.convert(row, CoaRecord), path))
            else:
                raise RecordError(
                    path, 'neither a METRC row ("LabTestResultId") nor a COA record ("TestBatch")'
                )
        except msgspec.ValidationError as exc:
            found = record_error(exc)
            raise RecordError(path + found.path.removeprefix("$"), found.message) from None
    return out


def merge(old: Sequence[LabResult], new: Iterable[LabResult]) -> list[LabResult]:
    """`old` with `new` results replacing those of the same id, ordered by test date then id."""
    by_id = {r.id: r for r in old}
    by_id.update((r.id, r) for r in new)
    return sorted(by_id.values(), key=lambda r: (r.tested, r.id))


def refusal(results: Sequence[LabResult], day: str) -> str | None:
    """Why a package with these results may not be sold on `day` (YYYY-MM-DD), or None.

    No results: None (the inventory's `LabTestingState` still applies, in the core). The newest
    test date governs; among its results the first failed, revoked or expired one is the reason.
    """
    if not results:
        return None
    newest = max(r.tested for r in results)
    for r in sorted((r for r in results if r.tested == newest), key=lambda r: r.id):
        what = _describe(r)
        if r.revoked is not None:
            return f"{what} was revoked on {r.revoked}: the package may not be sold."
        if not r.passed:
            return f"{what} failed: the package may not be sold."
        if r.expires is not None and r.expires < day:
            return f"{what} expired on {r.expires}: the package needs a current test."
    return None


def _describe(r: LabResult) -> str:
    doc = f" (document {r.document})" if r.document else ""
    test = f" {r.test}" if r.test else ""
    lab = f" by {r.lab}" if r.lab else ""
    return f"The lab result{test}{doc}{lab} of {r.tested}"


def decode_set(body: bytes | None) -> list[LabResult]:
    if body is None:
        return []
    return msgspec.json.decode(body, type=LabSet).results


def encode_set(results: Sequence[LabResult]) -> bytes:
    body: dict[str, Any] = msgspec.to_builtins(LabSet(results=list(results)))
    return canonical_json(body)


def lookup(get: Callable[[str], bytes | None], label: str, batch: str | None) -> list[LabResult]:
    """The results that govern a package: its own (`package:<TAG>`), else its batch's, read by
    `get` (feed key -> LabSet JSON or None). msgspec.DecodeError when a body is unreadable."""
    own = decode_set(get(feed_key(label, None)))
    if own or batch is None:
        return own
    return decode_set(get(feed_key(None, batch)))
