"""`packstation central manifest` on central's store: a batch without a current passing lab result
refuses the manifest (exit 2, naming the batch, nothing written or queued); with one, the PDF
carries its COA page and `--coa` writes the COA pages alone."""

from __future__ import annotations

import json
from pathlib import Path

import msgspec
import pytest
from pypdf import PdfReader

from central.labs import ingest_results
from central.statesys.store import ReportStore
from central.store import open_store
from edge.cli import run
from edge.common.labs import LabResult
from tests.support.central import make_setup
from tests.support.statesys import StationEvents, import_inventory, package, tag, wholesale


def test_manifest_cli_refuses_a_batch_without_a_current_result(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    setup = make_setup(tmp_path, ["station-01"])
    store = open_store(setup.store)
    labels = [tag(0x600), tag(0x601)]
    import_inventory(store, [package(label, Batch="B-7") for label in labels])
    wholesale(StationEvents(store), "8201", "C11-0000123-LIC", {labels[0]: 5100, labels[1]: 5200})
    out, coa = tmp_path / "man.pdf", tmp_path / "coa.pdf"
    args = ["central", "manifest", "8201", "--out", str(out), "--coa", str(coa)]
    cfg = ["--config", str(setup.config)]

    assert run([*args, *cfg]) == 2
    err = capsys.readouterr().err
    assert "batch B-7 may not ship" in err and tag(0x600) in err and "no lab result" in err
    assert not out.exists() and not coa.exists() and ReportStore(store).jobs() == []

    expired = LabResult(
        id="coa:Lab:S-7",
        source="coa",
        package=None,
        batch="B-7",
        lab="Lab",
        tested="2026-11-01",
        passed=True,
        expires="2026-12-02",  # the day before the ship date
        document="https://coa.example/S-7.pdf",
    )
    ingest_results(store, [expired])
    assert run([*args, *cfg]) == 2
    assert "expired on 2026-12-02" in capsys.readouterr().err

    ingest_results(store, [msgspec.structs.replace(expired, expires="2027-12-02")])
    assert run([*args, "--json", *cfg]) == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["coa_batches"] == [
        {"batch": "B-7", "document": expired.document, "packages": labels}
    ]
    pages = [p.extract_text() for p in PdfReader(out).pages]
    assert len(pages) == 3 and "batch B-7" in pages[2] and "2027-12-02" in pages[2]
    (alone,) = PdfReader(coa).pages
    assert alone.extract_text().count(labels[1]) == 1
    assert [j.kind for j in ReportStore(store).jobs()] == ["transfer"]
    store.close()
