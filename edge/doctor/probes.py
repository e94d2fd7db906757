"""Hardware inventory for `packstation doctor`: what sysfs and /dev say is plugged in.

Every probe reads real system paths through a `Root`, so tests (and a doctor run against a copied
tree) can point it at a directory built to look like /sys, /dev and /proc. Nothing here opens a
device for I/O except the read-only GPIO chip-info ioctl.
"""

from __future__ import annotations

import fcntl
import os
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

# evdev key codes (linux/input-event-codes.h): a device that can type digits and Enter can be a
# keyboard-wedge scanner; one that has only a few keys (power button, lid) cannot.
KEY_ENTER = 28
DIGIT_KEYS = range(2, 12)  # KEY_1 .. KEY_0
# USB vendor ids of handheld-scanner makers (usb.ids): Zebra/Symbol, Honeywell/Hand Held
# Products/Metrologic, Datalogic, Newland, Zebex, Code Corp, Cino/Fujian, Opticon.
SCANNER_VENDORS = {
    "05e0": "Zebra (Symbol)",
    "0c2e": "Honeywell (Metrologic)",
    "0536": "Honeywell (Hand Held Products)",
    "05f9": "Datalogic",
    "080c": "Datalogic",
    "1eab": "Newland",
    "2dd6": "Cino",
    "065a": "Opticon",
}
SCANNER_NAME = re.compile(
    r"barcode|scanner|scan|reader|imager|honeywell|symbol|zebra", re.IGNORECASE
)
# Console UARTs are not for scales: ttyAMA10 is the Pi 5 debug console (Odoo excludes it too,
# shared/hardware.md); others are found from console= on the kernel command line.
CONSOLE_UARTS = {"ttyAMA10"}
# Device-tree compatible strings of the 40-pin header's GPIO controller, per board.
HEADER_GPIO = {
    "raspberrypi,rp1-gpio": "pinctrl-rp1",
    "brcm,bcm2711-gpio": "pinctrl-bcm2711",
    "brcm,bcm2835-gpio": "pinctrl-bcm2835",
}
HEADER_LABELS = set(HEADER_GPIO.values())
# linux/gpio.h: struct gpiochip_info { char name[32]; char label[32]; __u32 lines; }
_CHIPINFO = struct.Struct("32s32sI")
GPIO_GET_CHIPINFO_IOCTL = (2 << 30) | (_CHIPINFO.size << 16) | (0xB4 << 8) | 0x01


@dataclass(frozen=True)
class Root:
    """A filesystem root: "/" on the station, a prepared directory in tests."""

    prefix: Path = Path("/")

    def __call__(self, path: str | Path) -> Path:
        """The real location of an absolute system path under this root."""
        return self.prefix / str(path).lstrip("/")

    def display(self, real: Path) -> str:
        """The system path a person should see for a real location under this root."""
        try:
            return "/" + str(real.relative_to(self.prefix)).lstrip("./")
        except ValueError:
            return str(real)


def read_text(path: Path) -> str | None:
    """A sysfs attribute, stripped; None when it is absent or unreadable."""
    try:
        return path.read_text(encoding="utf-8", errors="replace").strip().strip("\x00")
    except OSError:
        return None


def usb_ids(device: Path) -> tuple[str, str] | None:
    """(vendor, product) of the USB device at or above a sysfs device directory."""
    try:
        current = device.resolve()
    except OSError:
        return None
    for candidate in (current, *current.parents):
        vendor, product = read_text(candidate / "idVendor"), read_text(candidate / "idProduct")
        if vendor and product:
            return vendor.lower(), product.lower()
        if candidate.name in ("devices", "sys") or candidate == candidate.parent:
            break
    return None


def links_to(root: Root, directory: str, target: Path) -> list[str]:
    """Symlinks in a /dev directory (by-id, packstation) that point at `target`."""
    found: list[str] = []
    base = root(directory)
    if not base.is_dir():
        return found
    wanted = target.resolve()
    for link in sorted(base.iterdir()):
        try:
            if link.is_symlink() and link.resolve() == wanted:
                found.append(root.display(link))
        except OSError:
            continue
    return found


def stable_names(root: Root, node: Path, *dirs: str) -> list[str]:
    """The stable names (udev symlinks) a device node has, /dev/packstation first."""
    names: list[str] = []
    for directory in ("/dev/packstation", *dirs):
        names += links_to(root, directory, node)
    return names


# -- input devices -------------------------------------------------------------------------------
@dataclass(frozen=True)
class InputDevice:
    """An evdev node that can type digits and Enter: a keyboard or a keyboard-wedge scanner."""

    node: str  # /dev/input/eventN
    name: str
    usb: tuple[str, str] | None
    likely_scanner: bool
    why: str
    names: list[str] = field(default_factory=list)
    accessible: bool = False


def key_bits(text: str, word_bits: int) -> set[int]:
    """Key codes set in a sysfs `capabilities/key` bitmap (hex words, most significant first)."""
    codes: set[int] = set()
    for index, word in enumerate(reversed(text.split())):
        value = int(word, 16)
        codes.update(index * word_bits + bit for bit in range(word_bits) if value >> bit & 1)
    return codes


def kernel_word_bits() -> int:
    """Bits of the kernel's `long` (a 32-bit Raspberry Pi OS runs a 64-bit kernel on a Pi 4/5)."""
    return 64 if os.uname().machine.endswith("64") else 32


def input_devices(root: Root, word_bits: int | None = None) -> list[InputDevice]:
    """Every evdev node that could be a scanner, with the reason it looks like one (or not)."""
    bits = word_bits or kernel_word_bits()
    found = []
    for event in sorted(root("/sys/class/input").glob("event*"), key=_natural):
        device = event / "device"
        keys = key_bits(read_text(device / "capabilities" / "key") or "", bits)
        if KEY_ENTER not in keys or not keys.issuperset(DIGIT_KEYS):
            continue
        name = read_text(device / "name") or "?"
        usb = _input_usb_ids(device)
        likely, why = _scanner_guess(name, usb)
        node = root("/dev/input") / event.name
        found.append(
            InputDevice(
                node=root.display(node),
                name=name,
                usb=usb,
                likely_scanner=likely,
                why=why,
                names=stable_names(root, node, "/dev/input/by-id"),
                accessible=os.access(node, os.R_OK),
            )
        )
    return found


def _input_usb_ids(device: Path) -> tuple[str, str] | None:
    if read_text(device / "id" / "bustype") == "0003":  # BUS_USB
        vendor, product = read_text(device / "id" / "vendor"), read_text(device / "id" / "product")
        if vendor and product:
            return vendor.lower(), product.lower()
    return usb_ids(device)


def _scanner_guess(name: str, usb: tuple[str, str] | None) -> tuple[bool, str]:
    if SCANNER_NAME.search(name):
        return True, "its name says scanner"
    if usb and usb[0] in SCANNER_VENDORS:
        return True, f"made by {SCANNER_VENDORS[usb[0]]}, a scanner maker"
    return False, "a keyboard, or a scanner that calls itself one"


# -- serial ports --------------------------------------------------------------------------------
@dataclass(frozen=True)
class SerialPort:
    """A tty backed by hardware (USB-serial, CDC-ACM, a UART)."""

    node: str
    driver: str
    usb: tuple[str, str] | None
    console: bool
    names: list[str] = field(default_factory=list)
    accessible: bool = False


def serial_ports(root: Root) -> list[SerialPort]:
    """Hardware serial ports; 8250 placeholders with no UART behind them are skipped."""
    found, consoles = [], kernel_consoles(root)
    for tty in sorted(root("/sys/class/tty").iterdir() if _isdir(root, "/sys/class/tty") else []):
        device = tty / "device"
        if not device.exists():
            continue  # virtual consoles and ptys have no device
        if tty.name.startswith("ttyS") and read_text(tty / "type") == "0":
            continue  # PORT_UNKNOWN: an 8250 slot with no hardware
        driver_link = device / "driver"
        driver = driver_link.resolve().name if driver_link.exists() else "?"
        node = root("/dev") / tty.name
        names = stable_names(root, node, "/dev/serial/by-id")
        names += [n for n in links_to(root, "/dev", node) if Path(n).name.startswith("serial")]
        found.append(
            SerialPort(
                node=root.display(node),
                driver=driver,
                usb=usb_ids(device),
                console=_is_console(tty.name, names, consoles),
                names=names,
                accessible=os.access(node, os.R_OK | os.W_OK),
            )
        )
    return found


def kernel_consoles(root: Root) -> set[str]:
    """Devices named by console= on the kernel command line (cmdline.txt): "serial0", "tty1"."""
    cmdline = read_text(root("/proc/cmdline")) or ""
    return {m.split(",")[0] for m in re.findall(r"(?:^|\s)console=(\S+)", cmdline)}


def _is_console(tty: str, names: list[str], consoles: set[str]) -> bool:
    aliases = {Path(n).name for n in names}
    return tty in CONSOLE_UARTS or tty in consoles or bool(aliases & consoles)


# -- printers ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Printer:
    """A USB printer: a usblp node, or a printer-class interface with no kernel driver."""

    node: str  # /dev/usb/lpN, or "" when only libusb can reach it
    usb: tuple[str, str] | None
    model: str  # from the IEEE 1284 device id: "EPSON TM-T88V (ESC/POS)"
    names: list[str] = field(default_factory=list)
    accessible: bool = False


def parse_1284_id(text: str) -> dict[str, str]:
    """IEEE 1284 device id `MFG:EPSON;CMD:ESC/POS;MDL:TM-T88V;` as a dict (long keys folded)."""
    aliases = {"MANUFACTURER": "MFG", "MODEL": "MDL", "COMMAND SET": "CMD"}
    fields: dict[str, str] = {}
    for item in text.split(";"):
        key, sep, value = item.partition(":")
        if sep:
            fields[aliases.get(key.strip().upper(), key.strip().upper())] = value.strip()
    return fields


def _model(device_id: str | None) -> str:
    fields = parse_1284_id(device_id or "")
    model = " ".join(v for v in (fields.get("MFG"), fields.get("MDL")) if v) or "unknown model"
    return f"{model} ({fields['CMD']})" if "CMD" in fields else model


def printers(root: Root) -> list[Printer]:
    """usblp printers (/dev/usb/lp*) and USB printer interfaces without usblp bound."""
    found: list[Printer] = []
    seen: set[Path] = set()
    for lp in sorted(root("/sys/class/usbmisc").glob("lp*"), key=_natural):
        interface = (lp / "device").resolve()
        seen.add(interface)
        node = root("/dev/usb") / lp.name
        found.append(
            Printer(
                node=root.display(node),
                usb=usb_ids(interface),
                model=_model(read_text(interface / "ieee1284_id")),
                names=stable_names(root, node),
                accessible=os.access(node, os.W_OK),
            )
        )
    for interface in sorted(root("/sys/bus/usb/devices").glob("*:*")):
        if read_text(interface / "bInterfaceClass") == "07" and interface.resolve() not in seen:
            found.append(Printer(node="", usb=usb_ids(interface), model="no usblp node"))
    return found


# -- GPIO chips and LEDs -------------------------------------------------------------------------
@dataclass(frozen=True)
class GpioChip:
    """A GPIO controller's character device; `header` marks the 40-pin header's chip."""

    node: str
    label: str
    lines: int | None
    header: bool
    accessible: bool = False


def parse_chipinfo(raw: bytes) -> tuple[str, str, int]:
    """(name, label, lines) from a GPIO_GET_CHIPINFO_IOCTL reply."""
    name, label, lines = _CHIPINFO.unpack(raw)
    return _cstr(name), _cstr(label), lines


def _cstr(raw: bytes) -> str:
    return raw.split(b"\0", 1)[0].decode("ascii", "replace")


def _chipinfo(node: Path) -> tuple[str, int] | None:
    """The kernel's own label and line count, when the node is a real, readable chip."""
    try:
        fd = os.open(node, os.O_RDONLY | os.O_CLOEXEC | os.O_NONBLOCK)
    except OSError:
        return None
    try:
        raw = fcntl.ioctl(fd, GPIO_GET_CHIPINFO_IOCTL, bytes(_CHIPINFO.size))
        _name, label, lines = parse_chipinfo(raw)
        return label, lines
    except OSError:
        return None
    finally:
        os.close(fd)


def gpio_chips(root: Root) -> list[GpioChip]:
    """GPIO chips from /sys/bus/gpio/devices, labelled by ioctl or by device-tree compatible."""
    found = []
    for chip in sorted(root("/sys/bus/gpio/devices").glob("gpiochip*"), key=_natural):
        node = root("/dev") / chip.name
        info = _chipinfo(node)
        compatible = _compatible(chip)
        label = info[0] if info else HEADER_GPIO.get(compatible[0] if compatible else "", "")
        label = label or (compatible[0] if compatible else "?")
        found.append(
            GpioChip(
                node=root.display(node),
                label=label,
                lines=info[1] if info else None,
                header=label in HEADER_LABELS or any(c in HEADER_GPIO for c in compatible),
                accessible=os.access(node, os.R_OK | os.W_OK),
            )
        )
    return found


def _compatible(chip: Path) -> list[str]:
    """Device-tree compatible strings of the chip's controller (NUL-separated in sysfs)."""
    for of_node in (chip / "of_node", chip / "device" / "of_node"):
        try:
            raw = (of_node / "compatible").read_bytes()
        except OSError:
            continue
        return [c.decode("ascii", "replace") for c in raw.split(b"\0") if c]
    return []


@dataclass(frozen=True)
class Led:
    """A sysfs LED (board ACT/PWR, or a gpio-led overlay's LED or buzzer)."""

    name: str
    trigger: str
    max_brightness: int | None
    writable: bool


def leds(root: Root) -> list[Led]:
    """Every LED class device with its active trigger and whether this user may drive it."""
    found = []
    for led in sorted(root("/sys/class/leds").glob("*")):
        triggers = read_text(led / "trigger") or ""
        active = re.search(r"\[([^\]]+)\]", triggers)
        maximum = read_text(led / "max_brightness")
        found.append(
            Led(
                name=led.name,
                trigger=active.group(1) if active else "?",
                max_brightness=int(maximum) if maximum and maximum.isdigit() else None,
                writable=os.access(led / "brightness", os.W_OK),
            )
        )
    return found


def board_model(root: Root) -> str:
    """The device-tree model ("Raspberry Pi 5 Model B Rev 1.0"), or "" off a Pi."""
    for path in ("/proc/device-tree/model", "/sys/firmware/devicetree/base/model"):
        model = read_text(root(path))
        if model:
            return model
    return ""


def _isdir(root: Root, path: str) -> bool:
    return root(path).is_dir()


def _natural(path: Path) -> tuple[str, int]:
    """event2 before event10."""
    match = re.match(r"(.*?)(\d+)$", path.name)
    return (match.group(1), int(match.group(2))) if match else (path.name, -1)
