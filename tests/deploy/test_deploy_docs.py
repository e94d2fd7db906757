"""The install guide (docs/install.md) names files and options that exist."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from edge.cli import build_parser

REPO = Path(__file__).resolve().parents[2]
DOCS = [REPO / "docs/install.md"]


def deploy_section() -> str:
    """The install guide's reference section (up to the next top-level section)."""
    text = (REPO / "docs/install.md").read_text()
    start = text.index("\n## Reference: what gets installed")
    end = text.find("\n## ", start + 1)
    return text[start : end if end != -1 else len(text)]


@pytest.mark.parametrize("doc", DOCS, ids=lambda d: d.name)
def test_every_repository_file_the_docs_name_exists(doc: Path) -> None:
    named = set(
        re.findall(
            r"\b((?:systemd|config/udev)/[\w.-]+\.(?:service|sysusers|rules))", doc.read_text()
        )
    )
    assert named, "the doc names no shipped file"
    assert sorted(p for p in named if not (REPO / p).is_file()) == []


def test_the_doctor_options_in_the_guide_exist() -> None:
    text = deploy_section()
    documented = set(re.findall(r"^\| `(--[a-z-]+)", text, re.MULTILINE))
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    sub = commands.choices["doctor"]
    globals_ = {"-h", "--help", "--log-level", "--log-format"}  # docs/cli.md "Global options"
    actual = {opt for action in sub._actions for opt in action.option_strings} - globals_
    assert documented == actual


def test_the_guide_installs_every_shipped_deployment_file() -> None:
    guide = (REPO / "docs/install.md").read_text()
    shipped = [p.relative_to(REPO).as_posix() for p in (REPO / "systemd").iterdir()]
    shipped += [p.relative_to(REPO).as_posix() for p in (REPO / "config/udev").iterdir()]
    assert [p for p in shipped if p not in guide] == []


def test_the_guide_wires_the_leds_the_config_names_on_distinct_pins() -> None:
    """One LED scheme: the overlay labels and pins of step 5 are the [indicator] defaults."""
    from drivers.config import GpiodLines, SysfsLeds

    guide = (REPO / "docs/install.md").read_text()
    overlays = dict(re.findall(r"^dtoverlay=gpio-led,gpio=(\d+),label=(\S+)$", guide, re.MULTILINE))
    sysfs, gpiod = SysfsLeds(), GpiodLines()
    channels = ("red", "green", "blue", "buzzer")
    assert sorted(overlays.values()) == sorted(getattr(sysfs, ch) for ch in channels)
    for channel in channels:
        pin = next(p for p, label in overlays.items() if label == getattr(sysfs, channel))
        assert getattr(gpiod, channel) == f"GPIO{pin}"  # both back-ends drive the same wiring
    assert len(set(overlays)) == 4
