"""The emulators themselves, seen from pyserial: exact bytes, framing, unplug and replug."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import serial

from drivers.scale.sim import SimScale


def exchange(port: serial.Serial, command: bytes, end: bytes) -> bytes:
    port.write(command)
    return port.read_until(end)


def test_8217_at_7e1_answers_w_with_the_exact_frame() -> None:
    sim = SimScale("toledo-8217", unit="kg", decimals=3, weight_mg=1_234_000)
    with sim, serial.Serial(sim.port, 9600, bytesize=7, parity="E", stopbits=1, timeout=2) as port:
        assert exchange(port, b"W", b"\r") == b"\x02 1.234\r"
        sim.set_motion(True)
        assert exchange(port, b"W", b"\r") == b"\x02?a\r"
        sim.set_motion(False)
        port.write(b"T")
        assert exchange(port, b"W", b"\r") == b"\x02?p\r"  # tared: centre of zero
    assert sim.commands == [b"W", b"W", b"T", b"W"]


def test_mt_sics_replies_and_unknown_command() -> None:
    with SimScale("mt-sics", weight_mg=3500) as sim, serial.Serial(sim.port, timeout=2) as port:
        assert exchange(port, b"SI\r\n", b"\n") == b"S S       3.50 g\r\n"
        assert exchange(port, b"XYZ\r\n", b"\n") == b"ES\r\n"
        sim.set_overload(True)
        assert exchange(port, b"S\r\n", b"\n") == b"S +\r\n"


def test_ohaus_and_st_us_frames() -> None:
    with SimScale("ohaus", weight_mg=12_730) as sim, serial.Serial(sim.port, timeout=2) as port:
        sim.set_motion(True)
        assert exchange(port, b"IP\r\n", b"\n") == b"     12.73 g    ? \r\n"
    with SimScale("st-us", weight_mg=3500) as sim, serial.Serial(sim.port, timeout=2) as port:
        assert exchange(port, b"READ\r\n", b"\n") == b"ST,GS,+    3.50g\r\n"


def test_noise_is_glued_to_the_next_frame() -> None:
    with SimScale("mt-sics", weight_mg=10) as sim, serial.Serial(sim.port, timeout=2) as port:
        sim.inject_noise(b"\xff#")
        assert exchange(port, b"SI\r\n", b"\n") == b"\xff#S S       0.01 g\r\n"


def test_unplug_removes_the_link_and_breaks_the_open_port(tmp_path: Path) -> None:
    link = tmp_path / "usb-sim-if00"
    with SimScale("mt-sics", link=link) as sim:
        port = serial.Serial(sim.port, timeout=0.5)
        first_slave = sim.slave_path
        assert os.path.realpath(link) == first_slave
        sim.unplug()
        assert not link.exists() and sim.slave_path == ""
        with pytest.raises(serial.SerialException):
            port.read(1)
        port.close()
        sim.replug()
        assert link.is_symlink() and os.path.realpath(link) == sim.slave_path
        with serial.Serial(sim.port, timeout=2) as again:
            assert exchange(again, b"SI\r\n", b"\n").startswith(b"S S")
    assert not link.exists()


def test_unknown_protocol_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown protocol 'adam'"):
        SimScale("adam")
