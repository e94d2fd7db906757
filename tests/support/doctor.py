"""A fake /sys, /dev and /proc in a temporary directory, laid out the way the kernel lays them
out (class links into /sys/devices, `device` links up to the parent, USB ids on the USB device),
so the doctor's probes walk the same paths they walk on a Raspberry Pi.
"""

from __future__ import annotations

import os
from pathlib import Path

import msgspec
import zmq.auth

from edge.station.config import StationConfig

USB = "sys/devices/platform/axi/1000120000.pcie/1f00200000.usb/xhci-hcd.0/usb1"


class FakeSystem:
    """Builder of a fake system tree under `root`."""

    def __init__(self, root: Path) -> None:
        self.root = root
        for d in ("sys/class/input", "sys/class/tty", "sys/class/leds", "dev/input"):
            (root / d).mkdir(parents=True, exist_ok=True)

    # -- helpers ------------------------------------------------------------------------------
    def write(self, rel: str, text: str | bytes) -> Path:
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(text, bytes):
            path.write_bytes(text)
        else:
            path.write_text(text + "\n")
        return path

    def link(self, rel: str, target_rel: str) -> Path:
        """A relative symlink at `rel` pointing at `target_rel` (both relative to the root)."""
        path = self.root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.symlink_to(os.path.relpath(self.root / target_rel, path.parent))
        return path

    def usb_device(self, port: str, vendor: str, product: str) -> str:
        base = f"{USB}/{port}"
        self.write(f"{base}/idVendor", vendor)
        self.write(f"{base}/idProduct", product)
        return base

    # -- devices ------------------------------------------------------------------------------
    def input_device(
        self, event: str, name: str, keys: str, usb: tuple[str, str] | None, port: str = "1-1"
    ) -> None:
        """An evdev node; `keys` is the capabilities/key bitmap text."""
        parent = self.usb_device(port, *usb) if usb else "sys/devices/platform/gpio-keys"
        dev = f"{parent}/{port}:1.0/input/input{event[5:]}"
        self.write(f"{dev}/name", name)
        self.write(f"{dev}/id/bustype", "0003" if usb else "0019")
        self.write(f"{dev}/id/vendor", usb[0] if usb else "0001")
        self.write(f"{dev}/id/product", usb[1] if usb else "0001")
        self.write(f"{dev}/capabilities/key", keys)
        self.link(f"{dev}/{event}/device", dev)
        self.link(f"sys/class/input/{event}", f"{dev}/{event}")
        self.write(f"dev/input/{event}", "")

    def tty(self, name: str, usb: tuple[str, str] | None, driver: str, port: str = "1-2") -> None:
        if usb:
            parent = f"{self.usb_device(port, *usb)}/{port}:1.0/{name}"
        else:
            parent = f"sys/devices/platform/soc/107d001000.serial/{name}"
        self.write(f"sys/bus/usb-serial/drivers/{driver}/uevent", "")
        self.link(f"{parent}/driver", f"sys/bus/usb-serial/drivers/{driver}")
        self.link(f"{parent}/tty/{name}/device", parent)
        self.write(f"{parent}/tty/{name}/dev", "188:0")
        self.link(f"sys/class/tty/{name}", f"{parent}/tty/{name}")
        self.write(f"dev/{name}", "")

    def virtual_tty(self, name: str) -> None:
        self.write(f"sys/devices/virtual/tty/{name}/dev", "4:1")
        self.link(f"sys/class/tty/{name}", f"sys/devices/virtual/tty/{name}")

    def usblp(self, lp: str, usb: tuple[str, str], device_id: str, port: str = "1-3") -> None:
        iface = f"{self.usb_device(port, *usb)}/{port}:1.0"
        self.write(f"{iface}/bInterfaceClass", "07")
        self.write(f"{iface}/ieee1284_id", device_id)
        self.link(f"{iface}/usbmisc/{lp}/device", iface)
        self.link(f"sys/class/usbmisc/{lp}", f"{iface}/usbmisc/{lp}")
        self.link(f"sys/bus/usb/devices/{port}:1.0", iface)
        self.write(f"dev/usb/{lp}", "")

    def usb_printer_without_usblp(self, usb: tuple[str, str], port: str = "1-4") -> None:
        iface = f"{self.usb_device(port, *usb)}/{port}:1.0"
        self.write(f"{iface}/bInterfaceClass", "07")
        self.link(f"sys/bus/usb/devices/{port}:1.0", iface)

    def gpiochip(self, chip: str, controller: str, compatible: list[str]) -> None:
        dt = f"sys/firmware/devicetree/base/{controller}"
        self.write(f"{dt}/compatible", b"".join(c.encode() + b"\0" for c in compatible))
        dev = f"sys/devices/platform/{controller}/{chip}"
        self.link(f"{dev}/of_node", dt)
        self.write(f"{dev}/dev", "254:0")
        self.link(f"sys/bus/gpio/devices/{chip}", dev)
        self.write(f"dev/{chip}", "")

    def led(self, name: str, trigger: str = "[none] timer heartbeat", maximum: int = 1) -> None:
        dev = f"sys/devices/platform/leds/leds/{name}"
        self.write(f"{dev}/brightness", "0")
        self.write(f"{dev}/max_brightness", str(maximum))
        self.write(f"{dev}/trigger", trigger)
        self.link(f"sys/class/leds/{name}", dev)

    def installed(self, *, user: bool = True, in_gpio: bool = True, unit: bool = True) -> None:
        """What the install guide's step 3 leaves behind: the unit, the user, its groups."""
        if unit:
            self.write("etc/systemd/system/packstation-station.service", "[Service]")
        passwd = "root:x:0:0:root:/root:/bin/bash\n"
        if user:
            passwd += "packstation:x:998:998::/var/lib/packstation:/usr/sbin/nologin\n"
        self.write("etc/passwd", passwd)
        members = "pi,packstation" if in_gpio else "pi"
        self.write("etc/group", f"root:x:0:\ngpio:x:997:{members}\npackstation:x:998:\n")

    def model(self, text: str) -> None:
        self.write("proc/device-tree/model", text.encode() + b"\0")

    def cmdline(self, text: str) -> None:
        self.write("proc/cmdline", text)

    def dev_link(self, name: str, target: str) -> None:
        """A udev-style relative symlink: /dev/<name> -> /dev/<target>."""
        self.link(f"dev/{name}", f"dev/{target}")


# capabilities/key bitmaps (64-bit words, most significant first), as a kernel prints them.
def key_bitmap(codes: list[int], words: int = 6, word_bits: int = 64) -> str:
    values = [0] * words
    for code in codes:
        values[code // word_bits] |= 1 << (code % word_bits)
    return " ".join(f"{v:x}" for v in reversed(values))


KEYBOARD_KEYS = [*range(1, 59), 96, 100]  # Esc .. CapsLock, KPEnter, RightAlt
POWER_BUTTON_KEYS = [116]


# -- station configs and keys ---------------------------------------------------------------------
def station_toml(
    *,
    scanner: str | None = "usb:05e0:1200",
    scale_port: str | None = "/dev/packstation/scale",
    printer: str = "file:/dev/packstation/printer",
    indicator: str = "none",
    min_free_mb: int = 1,
    endpoint: str = "tcp://127.0.0.1:5560",
) -> str:
    """A station.toml for the doctor tests; None leaves the section out."""
    lines = ['[station]\nid = "station-07"\nstate_dir = "/var/lib/packstation"\n']
    if scanner is not None:
        lines.append(f'[[scanner]]\ndevice = "{scanner}"\n')
    if scale_port is not None:
        lines.append(f'[scale]\nenabled = true\nport = "{scale_port}"\n')
    lines.append(f'[printer]\ntarget = "{printer}"\n')
    lines.append(f'[indicator]\nbackend = "{indicator}"\n')
    lines.append(f"[journal]\nmin_free_mb = {min_free_mb}\n")
    lines.append(f'[link]\nendpoint = "{endpoint}"\n')
    return "\n".join(lines)


def with_link_keys(cfg: StationConfig, secret_key: str, server_key: str) -> StationConfig:
    link = msgspec.structs.replace(cfg.link, secret_key_file=secret_key, server_key_file=server_key)
    return msgspec.structs.replace(cfg, link=link)


def make_keys(directory: Path, name: str) -> tuple[Path, Path]:
    """`NAME.key` and `NAME.key_secret` (0600), the files `packstation keys new NAME` writes."""
    directory.mkdir(parents=True, exist_ok=True)
    public, secret = zmq.auth.create_certificates(directory, name)
    os.chmod(secret, 0o600)
    return Path(public), Path(secret)
