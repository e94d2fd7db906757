"""config/udev/70-packstation.rules: syntax (udev(7) grammar, checked by our own parser, which also
accepts every rules file the distribution ships), names, ids and groups, and which devices each rule
matches when evaluated against the properties udev would see."""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass
from pathlib import Path

import pytest

from drivers.config import PrinterConfig, ScaleConfig

REPO = Path(__file__).resolve().parents[2]
RULES = REPO / "config/udev/70-packstation.rules"
SYSUSERS = REPO / "systemd/packstation.sysusers"

# udev(7): keys that only match, keys that only assign, keys that do both.
MATCH_ONLY = {"ACTION", "DEVPATH", "KERNEL", "KERNELS", "SUBSYSTEM", "SUBSYSTEMS", "DRIVER"}
MATCH_ONLY |= {"DRIVERS", "ATTRS", "TAGS", "CONST", "TEST", "PROGRAM", "RESULT"}
ASSIGN_ONLY = {"OWNER", "GROUP", "MODE", "SECLABEL", "RUN", "LABEL", "GOTO", "IMPORT", "OPTIONS"}
BOTH = {"NAME", "SYMLINK", "ATTR", "SYSCTL", "ENV", "TAG"}
NEEDS_ATTR = {"ATTR", "ATTRS", "SYSCTL", "ENV", "CONST", "IMPORT", "SECLABEL"}
MAY_HAVE_ATTR = NEEDS_ATTR | {"TEST", "RUN"}
TOKEN = re.compile(
    r"\s*(?P<key>[A-Z_]+)(?:\{(?P<attr>[^}]*)\})?\s*(?P<op>==|!=|\+=|-=|:=|=)\s*"
    r'(?P<prefix>e)?"(?P<value>(?:[^"\\]|\\.)*)"\s*(?P<sep>,|$)'
)


@dataclass(frozen=True)
class Token:
    key: str
    attr: str | None
    op: str
    value: str

    @property
    def name(self) -> str:
        return f"{self.key}{{{self.attr}}}" if self.attr is not None else self.key


def logical_lines(text: str) -> list[tuple[int, str]]:
    """(first line number, rule text) with comments dropped and backslash continuations joined."""
    lines: list[tuple[int, str]] = []
    pending, start = "", 0
    for number, raw in enumerate(text.splitlines(), 1):
        stripped = raw.strip()
        if not pending and (not stripped or stripped.startswith("#")):
            continue
        start = start or number
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append((start, pending + stripped))
        pending, start = "", 0
    assert not pending, "file ends inside a continued line"
    return lines


def parse_rule(line: str) -> list[Token]:
    """The tokens of one rule; ValueError names what is wrong."""
    tokens, pos = [], 0
    while pos < len(line):
        match = TOKEN.match(line, pos)
        if match is None:
            raise ValueError(f"cannot parse at column {pos + 1}: {line[pos : pos + 30]!r}")
        key, attr, op = match["key"], match["attr"], match["op"]
        _check_key(key, attr, op)
        tokens.append(Token(key, attr, op, match["value"]))
        pos = match.end()
    return tokens


def _check_key(key: str, attr: str | None, op: str) -> None:
    if key not in MATCH_ONLY | ASSIGN_ONLY | BOTH:
        raise ValueError(f"unknown key {key}")
    if attr is None and key in NEEDS_ATTR:
        raise ValueError(f"{key} needs {{attribute}}")
    if attr is not None and key not in MAY_HAVE_ATTR:
        raise ValueError(f"{key} takes no {{attribute}}")
    matching = op in ("==", "!=")
    if matching and key in ASSIGN_ONLY:
        raise ValueError(f"{key} cannot be matched with {op}")
    # udev runs PROGRAM="..." as a match (Debian's own 73-special-net-names.rules writes it so)
    if not matching and key in MATCH_ONLY and (key, op) != ("PROGRAM", "="):
        raise ValueError(f"{key} cannot be assigned with {op}")


def parse_file(path: Path) -> list[list[Token]]:
    return [parse_rule(line) for _, line in logical_lines(path.read_text())]


def matches(rule: list[Token], device: dict[str, str]) -> bool:
    """udev's match step, flattened: every ==/!= token against the device's properties
    (`ATTRS{x}`/`DRIVERS` stand for the value found on the device or a parent)."""
    for token in rule:
        if token.op not in ("==", "!="):
            continue
        value = device.get(token.name, "")
        hit = any(fnmatch.fnmatchcase(value, p) for p in token.value.split("|"))
        if hit != (token.op == "=="):
            return False
    return True


def assigned(rule: list[Token], key: str) -> list[str]:
    return [t.value for t in rule if t.key == key and t.op not in ("==", "!=")]


# -- syntax --------------------------------------------------------------------------------------
def test_every_rule_parses() -> None:
    rules = parse_file(RULES)
    assert len(rules) >= 6


def test_the_parser_accepts_the_distributions_own_rules() -> None:
    system = sorted(Path("/usr/lib/udev/rules.d").glob("*.rules"))
    if not system:
        pytest.skip("no udev rules installed on this machine")
    for path in system:
        for number, line in logical_lines(path.read_text()):
            try:
                parse_rule(line)
            except ValueError as exc:
                pytest.fail(f"{path}:{number}: {exc}")


@pytest.mark.parametrize(
    ("line", "problem"),
    [
        ('SUBSYSTEM=="tty", SYMLINK+=packstation/scale', "cannot parse"),
        ('SUBSYSTEM=="tty" SYMLINK+="packstation/scale"', "cannot parse"),  # no comma
        ('SUBSYTEM=="tty", SYMLINK+="x"', "unknown key SUBSYTEM"),
        ('KERNEL="ttyUSB0"', "KERNEL cannot be assigned"),
        ('GROUP=="packstation"', "GROUP cannot be matched"),
        ('ATTRS=="0403"', "ATTRS needs {attribute}"),
        ('SUBSYSTEM{x}=="tty"', "SUBSYSTEM takes no"),
    ],
)
def test_the_parser_rejects_broken_rules(line: str, problem: str) -> None:
    with pytest.raises(ValueError, match=problem):
        parse_rule(line)


# -- names, ids, groups --------------------------------------------------------------------------
def _rule_naming(name: str) -> list[Token]:
    found = [r for r in parse_file(RULES) if f"packstation/{name}" in assigned(r, "SYMLINK")]
    assert len(found) == 1, f"expected one rule naming /dev/packstation/{name}"
    return found[0]


@pytest.mark.parametrize("name", ["scanner", "scale", "printer"])
def test_stable_names_by_vendor_and_product_for_group_packstation(name: str) -> None:
    rule = _rule_naming(name)
    ids = {t.name: t.value for t in rule if t.op == "=="}
    assert re.fullmatch(r"[0-9a-f]{4}", ids["ATTRS{idVendor}"])
    assert re.fullmatch(r"[0-9a-f]{4}", ids["ATTRS{idProduct}"])
    assert assigned(rule, "GROUP") == ["packstation"]
    assert ("ACTION", "!=", "remove") in [(t.key, t.op, t.value) for t in rule]


def test_the_group_is_the_service_users_and_gpio_membership_is_declared() -> None:
    entries = [line.split() for line in SYSUSERS.read_text().splitlines() if line[:1] in "umg"]
    assert entries[0][:3] == ["u", "packstation", "-"]
    assert ["m", "packstation", "gpio"] in entries
    gpio = [r for r in parse_file(RULES) if "packstation/gpiochip" in assigned(r, "SYMLINK")]
    assert assigned(gpio[0], "GROUP") == ["gpio"]


def test_names_match_the_config_defaults() -> None:
    assert ScaleConfig().port == "/dev/packstation/scale"
    assert PrinterConfig().target == "file:/dev/packstation/printer"


def test_the_libusb_printer_rule_uses_the_same_ids_as_the_usblp_rule() -> None:
    usblp = {t.name: t.value for t in _rule_naming("printer") if t.op == "=="}
    raw = [
        r
        for r in parse_file(RULES)
        if ("ENV{DEVTYPE}", "usb_device") in [(t.name, t.value) for t in r]
    ]
    assert len(raw) == 1
    ids = {t.name: t.value for t in raw[0] if t.op == "=="}
    assert (ids["ATTR{idVendor}"], ids["ATTR{idProduct}"]) == (
        usblp["ATTRS{idVendor}"],
        usblp["ATTRS{idProduct}"],
    )
    assert assigned(raw[0], "GROUP") == ["packstation"]


# -- what the rules match ------------------------------------------------------------------------
SCANNER_KBD = {
    "ACTION": "add",
    "SUBSYSTEM": "input",
    "KERNEL": "event3",
    "ENV{ID_INPUT_KEYBOARD}": "1",
    "ATTRS{idVendor}": "05e0",
    "ATTRS{idProduct}": "1200",
}
FTDI_SCALE = {
    "ACTION": "add",
    "SUBSYSTEM": "tty",
    "KERNEL": "ttyUSB0",
    "ATTRS{idVendor}": "0403",
    "ATTRS{idProduct}": "6001",
}
USBLP = {
    "ACTION": "add",
    "SUBSYSTEM": "usbmisc",
    "KERNEL": "lp0",
    "ATTRS{idVendor}": "04b8",
    "ATTRS{idProduct}": "0202",
}
PI5_GPIO = {"ACTION": "add", "SUBSYSTEM": "gpio", "KERNEL": "gpiochip0", "DRIVERS": "pinctrl-rp1"}
PI4_GPIO = {**PI5_GPIO, "KERNEL": "gpiochip0", "DRIVERS": "pinctrl-bcm2835"}


def _names_for(device: dict[str, str]) -> list[str]:
    return [s for r in parse_file(RULES) if matches(r, device) for s in assigned(r, "SYMLINK")]


@pytest.mark.parametrize(
    ("device", "names"),
    [
        (SCANNER_KBD, ["packstation/scanner"]),
        ({**SCANNER_KBD, "ENV{ID_INPUT_KEYBOARD}": ""}, []),  # the scanner's mouse/consumer node
        ({**SCANNER_KBD, "ATTRS{idVendor}": "413c"}, []),  # a Dell keyboard
        ({**SCANNER_KBD, "ACTION": "remove"}, []),
        (FTDI_SCALE, ["packstation/scale"]),
        ({**FTDI_SCALE, "KERNEL": "ttyAMA0"}, []),
        (USBLP, ["packstation/printer"]),
        (PI5_GPIO, ["packstation/gpiochip"]),
        (PI4_GPIO, ["packstation/gpiochip"]),
        ({**PI5_GPIO, "DRIVERS": "brcmstb-gpio"}, []),  # the Pi 5 SoC's own chips
    ],
)
def test_each_device_gets_exactly_its_name(device: dict[str, str], names: list[str]) -> None:
    assert _names_for(device) == names


def test_leds_get_group_write_access() -> None:
    led = {"ACTION": "add", "SUBSYSTEM": "leds", "KERNEL": "packstation-buzzer"}
    rules = [r for r in parse_file(RULES) if matches(r, led)]
    assert len(rules) == 1
    run = " ".join(assigned(rules[0], "RUN"))
    assert "chgrp packstation /sys%p/brightness" in run and "chmod g+w" in run
    assert not [r for r in parse_file(RULES) if matches(r, {**led, "KERNEL": "mmc0::"})]
