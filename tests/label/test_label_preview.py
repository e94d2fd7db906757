"""The PNG preview: rendered from the same bytes the printer gets, paper-sized, QR readable."""

from __future__ import annotations

from pathlib import Path

import pytest
from PIL import Image, ImageChops

from drivers.printer.render_png import MARGIN, qr_matrix
from drivers.printer.sim import SimPrinter
from edge.cli import run
from edge.common.errors import ExitCode
from edge.label.content import seal_code_for
from edge.label.layout import layout_label
from edge.label.preview import render_document
from tests.support.printer import sample_label, write_inputs, write_station_toml

AT = "2026-11-22T20:05:00Z"


def preview(tmp: Path, out: Path, *extra: str) -> int:
    order_path, inv_path = write_inputs(tmp)
    cfg = write_station_toml(tmp)
    return run(
        [
            "label",
            "preview",
            str(order_path),
            "--inventory",
            str(inv_path),
            "--config",
            str(cfg),
            "--agent",
            "A-17",
            "--at",
            AT,
            "--out",
            str(out),
            *extra,
        ]
    )


@pytest.mark.parametrize(("width", "dots"), [("80", 576), ("58", 384)])
def test_preview_png_is_paper_sized_and_says_everything(
    tmp_path: Path, width: str, dots: int
) -> None:
    out = tmp_path / "label.png"
    assert preview(tmp_path, out, "--width", width) == ExitCode.OK
    with Image.open(out) as img:
        assert img.format == "PNG"
        assert img.width == dots + 2 * MARGIN
        assert img.height > 1000
        text = img.text["packstation:text"]  # type: ignore[attr-defined]
        assert "ORDER 1042" in text and "Customer: Ada #C-88" in text
        assert img.text["packstation:qr"] == seal_code_for(sample_label(tmp_path))  # type: ignore[attr-defined]
        ink = img.convert("L").point(lambda v: 255 if v < 128 else 0).getbbox()
        assert ink is not None and ink[2] - ink[0] > dots // 2  # printed across the paper


def test_preview_qr_modules_match_the_seal_code(tmp_path: Path) -> None:
    label = sample_label(tmp_path)
    rendered = render_document(layout_label(label, 80, qr_module_dots=6))
    ((payload, (left, top, right, _bottom)),) = rendered.qr_boxes
    assert payload == seal_code_for(label)
    matrix = qr_matrix(payload)
    quiet = 4 * 6
    assert right - left == len(matrix) * 6 + 2 * quiet
    img = rendered.image.convert("L")
    for r, row in enumerate(matrix):
        for c, dark in enumerate(row):
            x, y = left + quiet + c * 6 + 3, top + quiet + r * 6 + 3  # module centres
            assert (img.getpixel((x, y)) == 0) is dark, (r, c)


def test_preview_equals_what_the_simulated_printer_printed(tmp_path: Path) -> None:
    out = tmp_path / "preview.png"
    assert preview(tmp_path, out) == ExitCode.OK
    order_path, inv_path = write_inputs(tmp_path)
    with SimPrinter(render_dir=tmp_path / "printed") as sim:
        code = run(
            [
                "label",
                "print",
                str(order_path),
                "--inventory",
                str(inv_path),
                "--config",
                str(write_station_toml(tmp_path)),
                "--agent",
                "A-17",
                "--at",
                AT,
                "--printer",
                sim.target,
            ]
        )
        assert code == ExitCode.OK
        (job,) = sim.wait_for_jobs(1)
    assert job.png is not None and job.png.exists()
    with Image.open(out) as a, Image.open(job.png) as b:
        assert a.size == b.size
        assert ImageChops.difference(a.convert("1"), b.convert("1")).getbbox() is None


def test_unwritable_output_is_bad_input(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert preview(tmp_path, tmp_path / "missing-dir" / "x.png") == ExitCode.USAGE
    assert "cannot write" in capsys.readouterr().err


def test_missing_inventory_file(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    order_path, _ = write_inputs(tmp_path)
    code = run(
        [
            "label",
            "preview",
            str(order_path),
            "--inventory",
            str(tmp_path / "nope.json"),
            "--out",
            str(tmp_path / "x.png"),
        ]
    )
    assert code == ExitCode.USAGE
    assert "cannot read INVENTORY.json" in capsys.readouterr().err
