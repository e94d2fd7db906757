"""Configuration loading: the shipped files pass, and each error class has its exact message."""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import msgspec
import pytest

from central.config import CentralConfig
from edge.cli import run
from edge.common import config
from edge.common.errors import ConfigError, ExitCode
from edge.station.config import StationConfig

REPO = Path(__file__).resolve().parents[2]


def problems_of(tmp_path: Path, text: str, cls: type[Any] = StationConfig) -> list[str]:
    path = tmp_path / "station.toml"
    path.write_text(text)
    with pytest.raises(ConfigError) as err:
        config.load(cls, path)
    return [p.removeprefix(f"{path}: ") for p in err.value.problems]


def test_shipped_configs_are_valid() -> None:
    config.load(StationConfig, REPO / "config/station.toml")
    config.load(CentralConfig, REPO / "config/central.toml")


def _keys(struct_cls: type[Any]) -> set[str]:
    return {f.encode_name for f in msgspec.structs.fields(struct_cls)}


@pytest.mark.parametrize(
    ("cls", "file"), [(StationConfig, "station.toml"), (CentralConfig, "central.toml")]
)
def test_shipped_config_lists_every_option(cls: type[Any], file: str) -> None:
    data = tomllib.loads((REPO / "config" / file).read_text())
    text = (REPO / "config" / file).read_text()
    for section in msgspec.structs.fields(cls):
        inner = section.type
        if getattr(inner, "__origin__", None) is list:  # [[array]] sections are shown commented
            inner = inner.__args__[0]
            for key in _keys(inner):
                assert f"# {key} = " in text, f"[[{section.name}]] {key} not documented"
            continue
        assert section.encode_name in data, f"[{section.encode_name}] missing from {file}"
        assert set(data[section.encode_name]) == _keys(inner), section.encode_name


def test_embedded_defaults_equal_shipped_file() -> None:
    shipped = config.load(StationConfig, REPO / "config/station.toml")
    assert shipped == config.load(StationConfig, None)


def test_wrong_value_names_file_section_key_expected_and_found(tmp_path: Path) -> None:
    assert problems_of(tmp_path, '[scale]\nbaud = "fast"\n') == [
        '[scale] baud: expected one of 1200..115200, got "fast"'
    ]


def test_out_of_range_integer(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "[journal]\nmin_free_mb = -1\n") == [
        "[journal] min_free_mb: expected an integer >= 0, got -1"
    ]


def test_wrong_choice(tmp_path: Path) -> None:
    assert problems_of(tmp_path, '[scale]\nprotocol = "adam"\n') == [
        '[scale] protocol: expected one of "mt-sics", "toledo-8217", "ohaus", "st-us", got "adam"'
    ]


def test_bool_is_not_an_integer(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "[scale]\nenabled = 1\n") == [
        "[scale] enabled: expected true or false, got 1"
    ]


def test_custom_expected_wording(tmp_path: Path) -> None:
    assert problems_of(tmp_path, '[station]\njurisdiction = "Illinois"\n') == [
        '[station] jurisdiction: expected a two-letter state code, got "Illinois"'
    ]


def test_unknown_key_is_an_error_with_a_suggestion(tmp_path: Path) -> None:
    (line,) = problems_of(tmp_path, "[scale]\nbuad = 9600\n")
    assert line.startswith('[scale] buad: unknown key (did you mean "baud"?); known keys: baud,')


def test_unknown_section(tmp_path: Path) -> None:
    (line,) = problems_of(tmp_path, "[scael]\nbaud = 9600\n")
    assert line.startswith('scael: unknown key (did you mean "scale"?)')


def test_section_that_is_not_a_table(tmp_path: Path) -> None:
    assert problems_of(tmp_path, "scale = 5\n") == ["[scale]: expected a table, got 5"]


def test_array_of_tables_entry_is_numbered(tmp_path: Path) -> None:
    text = '[[scanner]]\ndevice = "usb:1:2"\n[[scanner]]\nlayout = "ru"\n'
    assert problems_of(tmp_path, text) == [
        '[scanner #2] layout: expected one of "us", "gb", "de", "fr", "be", got "ru"'
    ]


def test_every_problem_is_reported_not_just_the_first(tmp_path: Path) -> None:
    text = '[scale]\nbaud = "fast"\nprotocol = 3\n[printer]\npaper_width_mm = 70\n'
    assert len(problems_of(tmp_path, text)) == 3


def test_invalid_toml_names_the_file_and_line(tmp_path: Path) -> None:
    (line,) = problems_of(tmp_path, "[scale\n")
    assert line.startswith("invalid TOML:") and "line 1" in line


def test_unreadable_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        config.load(StationConfig, tmp_path / "nope.toml")
    assert err.value.problems[0].startswith(f"{tmp_path / 'nope.toml'}: cannot read:")


def test_config_check_cli_exit_codes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["config", "check", str(REPO / "config/station.toml")]) == ExitCode.OK
    bad = tmp_path / "bad.toml"
    bad.write_text('[scale]\nbaud = "fast"\n')
    assert run(["config", "check", str(bad)]) == ExitCode.CONFIG
    assert (
        capsys.readouterr().err
        == f'packstation: {bad}: [scale] baud: expected one of 1200..115200, got "fast"\n'
    )


def test_console_script_and_module_entry_point() -> None:
    out = subprocess.run(
        [sys.executable, "-m", "edge", "--help"], capture_output=True, text=True, check=True
    )
    assert "config" in out.stdout and "exit codes" in out.stdout
    usage = subprocess.run(
        [sys.executable, "-m", "edge", "nonsense"], check=False, capture_output=True
    )
    assert usage.returncode == ExitCode.USAGE
