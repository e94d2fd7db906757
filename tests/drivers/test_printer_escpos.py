"""ESC/POS encoding and decoding: what the layout says is what the bytes say, in any split."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drivers.printer.document import Cut, Document, Feed, Qr, Raster, Text
from drivers.printer.escpos_decode import (
    BufferClear,
    Decoder,
    Line,
    ProcessIdRequest,
    QrCode,
    StatusQuery,
    decode,
)
from drivers.printer.escpos_encode import _own_encode as own_encode
from drivers.printer.escpos_encode import encode, encode_with_escpos, process_id_request
from drivers.printer.session import CLEAR_BUFFERS
from drivers.printer.status import PrinterStatus, Readiness, first_status_byte, is_status_byte

REPO = Path(__file__).resolve().parents[2]
DOC = Document(
    (
        Text("Green Leaf", bold=True, align="center", size="double"),
        Text("Ærø café €5 naïve"),
        Feed(2),
        Qr("SEAL-1042-0123456789ABCDEF", 5),
        Text("right", align="right", size="wide"),
    ),
    80,
)


def test_round_trip_keeps_text_style_and_qr() -> None:
    job = decode(encode(DOC))
    assert job.blocks[0] == Line("Green Leaf", True, "center", "double")
    assert job.blocks[1] == Line("Ærø café €5 naïve")  # code pages switched mid-line
    assert job.lines[2:4] == ["", ""]
    assert QrCode("SEAL-1042-0123456789ABCDEF", 5) in job.blocks
    assert Line("right", False, "right", "wide") in job.blocks
    assert job.cuts == 1 and job.resets == 1 and job.unknown == []


def test_python_escpos_bytes_are_what_we_decode() -> None:
    data = encode(DOC)
    assert data.startswith(b"\x1b@")  # ESC @ resets the printer first
    assert b"\x1d(k" in data  # native QR through GS ( k
    assert data.endswith(b"\x1bd\x06\x1dV\x00")  # python-escpos 3.1 cut: ESC d 6 + GS V 0


@pytest.mark.parametrize("step", [1, 2, 3, 7, 64])
def test_decoding_in_any_split_gives_the_same_job(step: int) -> None:
    data = encode(DOC)
    decoder = Decoder()
    for i in range(0, len(data), step):
        decoder.feed(data[i : i + step])
    assert decoder.finish().blocks == decode(data).blocks


def test_raster_qr_mode_sends_an_image() -> None:
    job = decode(encode(DOC, qr_mode="raster"))
    assert job.qr_payloads == []
    (raster,) = job.rasters
    assert raster.width_bytes > 0 and raster.height > 0
    assert len(raster.data) == raster.width_bytes * raster.height
    assert any(raster.data)


def test_realtime_requests_are_reported_in_order() -> None:
    decoder = Decoder()
    found = decoder.feed(b"\x10\x04\x01" + process_id_request("0042") + CLEAR_BUFFERS + b"\x10")
    assert found == [StatusQuery(1), ProcessIdRequest("0042"), BufferClear()]
    assert decoder.feed(b"\x04\x04") == [StatusQuery(4)]  # DLE EOT split over two reads


def test_truncated_and_unknown_commands_are_reported_not_fatal() -> None:
    job = decode(b"ok\n\x1b\x7f\x1d(k\x10\x00")
    assert job.lines == ["ok"]
    assert job.unknown[0] == "ESC 7f"
    assert job.unknown[-1].startswith("truncated command")


def test_beeps_and_bel() -> None:
    assert decode(b"\x1bB\x03\x02\x07").beeps == [(3, 2), (1, 1)]


@pytest.mark.parametrize(
    ("value", "valid"),
    [
        (0x12, True),
        (0x16, True),
        (0x7E, True),
        (0x00, False),
        (0xFF, False),
        (0x13, False),
        (0x02, False),
        (0x92, False),
    ],
)
def test_status_byte_pattern_0xx1xx10(value: int, valid: bool) -> None:
    assert is_status_byte(value) is valid


def test_first_status_byte_skips_noise() -> None:
    assert first_status_byte(b"\x00\xff\x01") is None
    assert first_status_byte(b"\x00\x12") == 0x12


def test_status_meanings() -> None:
    ok = PrinterStatus(0x12, 0x12, None, 0x12)
    assert ok.readiness is Readiness.READY and ok.state == "ok" and ok.problems() == []
    near = PrinterStatus(0x12, 0x12, None, 0x1E)
    assert near.readiness is Readiness.READY and near.state == "paper_near_end"
    cover = PrinterStatus(0x1A, 0x16, None, 0x12)
    assert cover.readiness is Readiness.BLOCKED and cover.state == "cover_open"
    assert "cover is open" in cover.problems()[0]
    out = PrinterStatus(0x1A, 0x32, None, 0x72)
    assert out.state == "paper_end" and "out of paper" in out.problems()[0]
    silent = PrinterStatus()
    assert silent.readiness is Readiness.UNKNOWN and silent.state == "unknown"
    assert silent.online is None and silent.paper_end is None  # unknown, never "ok"


@given(st.binary(max_size=400), st.integers(min_value=1, max_value=50))
@settings(max_examples=300)
def test_any_bytes_decode_without_raising(data: bytes, step: int) -> None:
    decoder = Decoder()
    for i in range(0, len(data), step):
        decoder.feed(data[i : i + step])
    job = decoder.finish()
    assert isinstance(job.lines, list)


def test_characters_no_western_code_page_has_are_folded_not_garbling_the_line() -> None:
    doc = Document((Text("李雷 😀 Zoë Ñandú Łódź"), Text("after")), 80)
    job = decode(encode(doc))
    assert job.lines[:2] == ["?? ? Zoë Ñandú Łódź", "after"]


_texts = st.text(
    st.characters(codec="utf-8", exclude_categories=("Cs",)) | st.sampled_from("Ææøß€ıšΩЖ李😀\n"),
    max_size=40,
)
_blocks = st.one_of(
    st.builds(
        Text,
        _texts,
        st.booleans(),
        st.sampled_from(["left", "center", "right"]),
        st.sampled_from(["normal", "double", "wide", "tall"]),
    ),
    st.builds(Qr, st.text(max_size=60), st.integers(1, 16)),
    st.builds(Feed, st.integers(0, 4)),
    st.builds(Cut),
    st.integers(1, 4).flatmap(
        lambda w: st.integers(1, 5).flatmap(
            lambda h: st.builds(
                Raster,
                st.just(w),
                st.just(h),
                st.binary(min_size=w * h, max_size=w * h),
                st.sampled_from(["left", "center", "right"]),
            )
        )
    ),
)


@given(st.lists(_blocks, max_size=8), st.booleans())
@settings(max_examples=300, deadline=None)
def test_our_encoder_sends_the_bytes_python_escpos_sends(blocks: list[Any], cut: bool) -> None:
    doc = Document(tuple(blocks), 80, cut=cut)
    assert own_encode(doc) == encode(doc) == encode_with_escpos(doc)


@pytest.mark.slow
def test_a_label_is_encoded_without_importing_python_escpos_or_pil() -> None:
    code = (
        "import sys\n"
        "from drivers.printer.document import Document, Qr, Raster, Text\n"
        "from drivers.printer.escpos_encode import encode\n"
        "doc = Document((Text('Zoë Łódź €5', bold=True), Qr('SEAL-1'), Raster(1, 1, b'\\x80')))\n"
        "assert encode(doc).startswith(b'\\x1b@')\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('escpos', 'PIL', 'qrcode')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert out.stdout.strip() == "[]"
