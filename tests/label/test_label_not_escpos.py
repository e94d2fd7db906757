"""An HTTP server at the printer's address is "not an ESC/POS printer", never "out of paper".

Its reply's letters pass the status-byte test ('R' of "Bad Request" is 0x52: paper end), so
before the reply was recognised as text the station held every label for paper it had.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from drivers.printer.status import PrinterStatus, Readiness, foreign_reply
from edge.cli import run
from edge.common.errors import ExitCode
from tests.support.printer import WEB_REPLY as REPLY
from tests.support.printer import answering_web_server


@pytest.fixture
def web_server() -> Iterator[str]:
    with answering_web_server() as target:
        yield target


def test_label_status_tells_a_web_server_from_a_printer_out_of_paper(
    web_server: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["label", "status", "--printer", web_server, "--json"]) == ExitCode.DEVICE
    status = json.loads(capsys.readouterr().out)
    assert status["state"] == "not_escpos"
    assert status["paper_end"] is None
    assert status["not_escpos"].startswith("HTTP/1.1 400")
    assert run(["label", "status", "--printer", web_server]) == ExitCode.DEVICE
    out = capsys.readouterr().out
    assert "not an ESC/POS printer" in out and "paper" not in out


@pytest.mark.parametrize(
    ("reply", "foreign"),
    [
        (REPLY, "HTTP/1.1 400 Bad Request"),
        (b"SSH-2.0-OpenSSH_9.2p1\r\n", "SSH-2.0-OpenSSH_9.2p1"),
        (b"\x12", ""),  # one status byte
        (b"r", ""),  # a status byte that happens to be printable (0x72)
        (b"\x14\x00\x00\x0f\x16", ""),  # an ASB block, then a status byte
    ],
)
def test_foreign_replies(reply: bytes, foreign: str) -> None:
    assert foreign_reply(reply) == foreign


def test_not_escpos_holds_the_job() -> None:
    status = PrinterStatus(foreign="HTTP/1.1 400 Bad Request")
    assert status.readiness is Readiness.BLOCKED and status.state == "not_escpos"
