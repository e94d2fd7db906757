"""The doctor's hardware probes against a fake /sys, /dev, /proc tree laid out like a Pi's."""

from __future__ import annotations

import struct
from pathlib import Path

from edge.doctor import probes
from tests.support.doctor import KEYBOARD_KEYS, POWER_BUTTON_KEYS, FakeSystem, key_bitmap


def test_key_bitmap_parses_most_significant_word_first() -> None:
    assert probes.key_bits("10000 0", 64) == {64 + 16}
    assert probes.key_bits("1 0 0", 32) == {64}
    assert probes.key_bits(key_bitmap([28, 2, 11, 116]), 64) == {2, 11, 28, 116}
    assert probes.key_bits("", 64) == set()


def test_input_devices_tell_scanners_from_keyboards_and_skip_buttons(tmp_path: Path) -> None:
    fake = FakeSystem(tmp_path)
    keys = key_bitmap(KEYBOARD_KEYS)
    fake.input_device("event0", "pwr_button", key_bitmap(POWER_BUTTON_KEYS), None)
    fake.input_device("event3", "Symbol Technologies, Inc. Symbol Bar Code", keys, ("05e0", "1200"))
    fake.input_device("event10", "Dell KB216 Wired Keyboard", keys, ("413c", "2113"), port="1-5")
    fake.input_device("event4", "HID 0c2e:0b61", keys, ("0c2e", "0b61"), port="1-6")
    fake.link("dev/input/by-id/usb-Symbol_Bar_Code_Scanner-event-kbd", "dev/input/event3")
    fake.dev_link("packstation/scanner", "input/event3")

    found = probes.input_devices(probes.Root(tmp_path), word_bits=64)

    assert [d.node for d in found] == [
        "/dev/input/event3",
        "/dev/input/event4",
        "/dev/input/event10",
    ]
    symbol, honeywell, dell = found
    assert symbol.likely_scanner and symbol.usb == ("05e0", "1200")
    assert symbol.names == [
        "/dev/packstation/scanner",
        "/dev/input/by-id/usb-Symbol_Bar_Code_Scanner-event-kbd",
    ]
    assert honeywell.likely_scanner and "Honeywell" in honeywell.why  # by vendor id, not by name
    assert not dell.likely_scanner and dell.names == []


def test_serial_ports_skip_virtual_and_empty_8250_slots_and_flag_consoles(tmp_path: Path) -> None:
    fake = FakeSystem(tmp_path)
    fake.tty("ttyUSB0", ("0403", "6001"), "ftdi_sio")
    fake.tty("ttyAMA10", None, "uart-pl011")
    fake.tty("ttyAMA0", None, "uart-pl011")
    fake.tty("ttyS1", None, "serial8250")
    fake.write("sys/class/tty/ttyS1/type", "0")  # PORT_UNKNOWN: no UART behind the slot
    fake.virtual_tty("tty1")
    fake.dev_link("serial/by-id/usb-FTDI_FT232R_USB_UART_A10K-if00-port0", "ttyUSB0")
    fake.dev_link("packstation/scale", "ttyUSB0")
    fake.dev_link("serial0", "ttyAMA0")
    fake.cmdline("coherent_pool=1M console=serial0,115200 console=tty1 root=PARTUUID=1-02")

    ports = {p.node: p for p in probes.serial_ports(probes.Root(tmp_path))}

    assert sorted(ports) == ["/dev/ttyAMA0", "/dev/ttyAMA10", "/dev/ttyUSB0"]
    usb = ports["/dev/ttyUSB0"]
    assert (usb.usb, usb.driver, usb.console) == (("0403", "6001"), "ftdi_sio", False)
    assert usb.names[0] == "/dev/packstation/scale"
    assert ports["/dev/ttyAMA10"].console  # the Pi 5 debug UART
    assert ports["/dev/ttyAMA0"].console  # console=serial0 and serial0 -> ttyAMA0
    assert ports["/dev/ttyAMA0"].names == ["/dev/serial0"]


def test_printers_from_usblp_with_1284_id_and_libusb_only_interfaces(tmp_path: Path) -> None:
    fake = FakeSystem(tmp_path)
    fake.usblp(
        "lp0", ("04b8", "0202"), "MFG:EPSON;CMD:ESC/POS;MDL:TM-T88V;CLS:PRINTER;DES:TM-T88V;"
    )
    fake.usb_printer_without_usblp(("0fe6", "811e"))
    fake.dev_link("packstation/printer", "usb/lp0")

    found = probes.printers(probes.Root(tmp_path))

    assert len(found) == 2
    lp0, raw = found
    assert (lp0.node, lp0.usb, lp0.model) == (
        "/dev/usb/lp0",
        ("04b8", "0202"),
        "EPSON TM-T88V (ESC/POS)",
    )
    assert lp0.names == ["/dev/packstation/printer"]
    assert (raw.node, raw.usb) == ("", ("0fe6", "811e"))


def test_1284_id_long_keys_are_folded() -> None:
    fields = probes.parse_1284_id("MANUFACTURER:Star;COMMAND SET:STAR;MODEL:TSP143;")
    assert fields == {"MFG": "Star", "CMD": "STAR", "MDL": "TSP143"}


def test_gpio_chips_find_the_header_by_compatible_not_number(tmp_path: Path) -> None:
    fake = FakeSystem(tmp_path)
    # A Pi 5 on a 6.12 kernel: the SoC's own chips come first, RP1's header chip is not gpiochip0.
    fake.gpiochip("gpiochip0", "soc/107d508500.gpio", ["brcm,brcmstb-gpio"])
    fake.gpiochip("gpiochip10", "axi/1f000d0000.gpio", ["raspberrypi,rp1-gpio"])
    fake.gpiochip("gpiochip2", "soc/107d517c00.gpio", ["brcm,brcmstb-gpio"])

    chips = probes.gpio_chips(probes.Root(tmp_path))

    assert [c.node for c in chips] == ["/dev/gpiochip0", "/dev/gpiochip2", "/dev/gpiochip10"]
    assert [c.header for c in chips] == [False, False, True]
    assert chips[2].label == "pinctrl-rp1"
    assert chips[0].label == "brcm,brcmstb-gpio"


def test_chipinfo_ioctl_reply_is_decoded() -> None:
    raw = struct.pack("32s32sI", b"gpiochip0", b"pinctrl-bcm2711", 58)
    assert probes.parse_chipinfo(raw) == ("gpiochip0", "pinctrl-bcm2711", 58)
    # _IOR(0xB4, 0x01, struct gpiochip_info) from linux/gpio.h
    assert probes.GPIO_GET_CHIPINFO_IOCTL == 0x8044B401


def test_leds_and_board_model(tmp_path: Path) -> None:
    fake = FakeSystem(tmp_path)
    fake.led("ACT", "none [mmc0] timer heartbeat")
    fake.led("packstation:buzzer", "[none] timer oneshot", maximum=255)
    fake.model("Raspberry Pi 5 Model B Rev 1.0")
    root = probes.Root(tmp_path)

    found = {led.name: led for led in probes.leds(root)}

    assert found["ACT"].trigger == "mmc0"
    assert (found["packstation:buzzer"].trigger, found["packstation:buzzer"].max_brightness) == (
        "none",
        255,
    )
    assert probes.board_model(root) == "Raspberry Pi 5 Model B Rev 1.0"


def test_an_empty_tree_finds_nothing_and_raises_nothing(tmp_path: Path) -> None:
    root = probes.Root(tmp_path / "missing")
    assert probes.input_devices(root, 64) == []
    assert probes.serial_ports(root) == []
    assert probes.printers(root) == []
    assert probes.gpio_chips(root) == []
    assert probes.leds(root) == []
    assert probes.board_model(root) == ""
