"""CLI conventions: global flags after the subcommand, one spelling (`--after`), `-` for stdin,
exit codes as docs/cli.md's table says, the `packstation:` prefix, --json, shell completion."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pytest

from edge.cli import build_parser, leaf_parsers, run
from edge.common.errors import ExitCode

REPO = Path(__file__).resolve().parents[2]
STATION_TOML = REPO / "config" / "station.toml"


def _stdin(monkeypatch: pytest.MonkeyPatch, data: bytes) -> None:
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(data)))


def test_global_options_accepted_after_every_subcommand() -> None:
    parser = build_parser()
    leaves = leaf_parsers(parser)
    assert len(leaves) > 20
    for leaf in leaves:
        flags = {o for a in leaf._actions for o in a.option_strings}
        assert {"--log-level", "--log-format"} <= flags, leaf.prog
    args = parser.parse_args(["config", "check", "x.toml", "--log-level", "error"])
    assert args.log_level == "error" and args.log_format == "logfmt"
    args = parser.parse_args(["--log-level", "debug", "config", "check", "x.toml"])
    assert args.log_level == "debug"
    args = parser.parse_args(["central", "--log-format", "json"])  # a command with subcommands
    assert args.log_format == "json"


def test_a_command_line_builds_only_its_commands_parser_and_the_same_one() -> None:
    full = build_parser()
    full_help = {leaf.prog: leaf.format_help() for leaf in leaf_parsers(full)}
    for name in sorted(full_help):
        words = name.split()[1:]
        for argv in (words, ["--log-level", "error", *words], [*words, "--log-format", "json"]):
            lazy = {leaf.prog: leaf.format_help() for leaf in leaf_parsers(build_parser(argv))}
            assert lazy[name] == full_help[name], argv  # `restore` too (cmd_backup has it)
    for argv in ([], ["--help"], ["stat"], ["--log-level", "error"]):  # no command, or unknown
        assert {leaf.prog for leaf in leaf_parsers(build_parser(argv))} == set(full_help), argv
    # the daemon's start imports the station's command module, none of the others
    probe = (
        "import sys; from edge.cli import build_parser;"
        " build_parser(['--log-format', 'json', 'station', '--config', 'x.toml']);"
        " print(sorted(m for m in sys.modules if m.startswith('edge.cli.cmd_')))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, cwd=REPO
    ).stdout
    assert out.strip() == "['edge.cli.cmd_station']"


def test_after_is_the_one_spelling_since_a_hidden_alias(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    for argv in (
        ["central", "export"],
        ["central", "tail", "--key", "k"],
        ["journal", "export", "db"],
    ):
        ns = parser.parse_args([*argv, "--after", "7"])
        assert (getattr(ns, "since", None) or getattr(ns, "after", None)) == 7, argv
    assert parser.parse_args(["central", "export", "--since", "5"]).since == 5
    assert parser.parse_args(["central", "export"]).since == 0
    assert parser.parse_args(["central", "tail", "--key", "k"]).since is None
    with pytest.raises(SystemExit):
        parser.parse_args(["central", "export", "--help"])
    shown = capsys.readouterr().out
    assert "--after N" in shown and "--since" not in shown


def test_dash_reads_stdin(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    _stdin(monkeypatch, STATION_TOML.read_bytes())
    assert run(["config", "check", "-", "--kind", "station"]) == ExitCode.OK
    assert "ok (station configuration)" in capsys.readouterr().out
    _stdin(monkeypatch, b"[station]\ntimezone = 3\n")
    assert run(["config", "check", "-", "--json"]) == ExitCode.CONFIG
    doc = json.loads(capsys.readouterr().out)
    assert not doc["ok"] and "timezone" in doc["problems"][0]
    text = (REPO / "docs" / "limits.md").read_text(encoding="utf-8")
    section = text[text.index("\n## CART.json") :]
    start = section.index("```json\n") + len("```json\n")
    _stdin(monkeypatch, section[start : section.index("\n```", start)].encode())
    assert run(["limits", "check", "-"]) == ExitCode.OK  # docs/limits.md's cart, from stdin
    assert json.loads(capsys.readouterr().out)["allowed"] is True


def test_limits_validate_on_a_missing_directory_is_a_config_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["limits", "validate", "--rules-dir", str(tmp_path / "none")]) == ExitCode.CONFIG
    assert capsys.readouterr().err.startswith("packstation: ")
    assert run(["limits", "validate", "--rules-dir", str(tmp_path)]) == ExitCode.CONFIG  # empty
    assert run(["limits", "validate", "--json"]) == ExitCode.OK
    doc = json.loads(capsys.readouterr().out)
    assert doc["ok"] and set(doc["files"].values()) == {"ok"} and len(doc["files"]) >= 10


def test_scan_listen_on_a_device_that_never_appears_exits_4(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code = run(["scan", "listen", "--device", str(tmp_path / "event99"), "--timeout", "0.5"])
    assert code == ExitCode.DEVICE
    assert "packstation: no scanner appeared within 0.5 s" in capsys.readouterr().err


def test_central_export_on_a_missing_store_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    store = tmp_path / "central.sqlite3"
    cfg = tmp_path / "central.toml"
    cfg.write_text(f'[central]\nstore = "sqlite:///{store}"\n')
    assert run(["central", "export", "--config", str(cfg)]) == ExitCode.USAGE
    assert "no event store here" in capsys.readouterr().err
    assert not store.exists()  # nothing created


def test_config_check_catches_what_the_daemon_refuses(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad_zone = tmp_path / "zone.toml"
    bad_zone.write_text('[station]\ntimezone = "Mars/Olympus_Mons"\n')
    assert run(["config", "check", str(bad_zone)]) == ExitCode.CONFIG
    err = capsys.readouterr().err
    assert "packstation: " in err and 'unknown time zone "Mars/Olympus_Mons"' in err
    (tmp_path / "rules").mkdir()
    (tmp_path / "labels").mkdir()
    nowhere = tmp_path / "nowhere.toml"
    nowhere.write_text(
        f'[station]\njurisdiction = "IL"\n[limits]\nrules_dir = "{tmp_path / "rules"}"\n'
        f'[label]\nprofiles_dir = "{tmp_path / "labels"}"\n'
    )
    assert run(["config", "check", str(nowhere), "--json"]) == ExitCode.CONFIG
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert any("no purchase-limit rules" in p for p in problems), problems
    assert any("no label profile" in p for p in problems), problems
    central = tmp_path / "central.toml"
    central.write_text(
        f'[central]\nbind = "tcp://127.0.0.1:1"\n[intake]\ntoken_file = "{tmp_path}/t"\n'
    )
    assert run(["config", "check", str(central)]) == ExitCode.CONFIG
    assert "[intake] token_file: cannot read" in capsys.readouterr().err


def test_json_results(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["keys", "new", "st-9", "--dir", str(tmp_path), "--json"]) == ExitCode.OK
    keys = json.loads(capsys.readouterr().out)
    assert Path(keys["secret_file"]).is_file() and len(keys["public"]) == 40
    from edge.journal import Journal

    journal = Journal(tmp_path / "j.sqlite3")
    journal.append("login", {"agent": "A"})
    journal.close()
    assert run(["journal", "verify", str(tmp_path / "j.sqlite3"), "--json"]) == ExitCode.OK
    assert json.loads(capsys.readouterr().out) | {"db": ""} == {
        "db": "", "ok": True, "checked": 1, "first_bad_seq": None, "reason": "",
    }  # fmt: skip


def test_bash_completion_completes_commands_and_options(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert run(["completion", "bash"]) == ExitCode.OK
    script = tmp_path / "packstation.bash"
    script.write_text(capsys.readouterr().out)

    def complete(*words: str) -> list[str]:
        line = " ".join(words)
        probe = (
            f"source {script}; COMP_WORDS=({line}); COMP_CWORD={len(words) - 1};"
            ' _packstation; printf "%s\\n" "${COMPREPLY[@]}"'
        )
        done = subprocess.run(["bash", "-c", probe], capture_output=True, text=True, check=True)
        return done.stdout.split()

    assert complete("packstation", "stat") == ["station", "status"]
    assert complete("packstation", "central", "ex") == ["export"]
    assert "--after" in complete("packstation", "central", "export", "--")
    assert "--since" not in complete("packstation", "central", "export", "--")
    assert complete("packstation", "--log-level", "debug", "journal", "v") == ["verify"]


def test_every_command_that_prints_a_result_has_json() -> None:
    daemons_and_scripts = {"packstation central", "packstation station", "packstation completion"}
    missing = [
        p.prog
        for p in leaf_parsers(build_parser())
        if p.prog not in daemons_and_scripts
        and "--json" not in {o for a in p._actions for o in a.option_strings}
    ]
    assert missing == []


def test_json_on_text_commands(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run(["limits", "explain", "IL"]) == ExitCode.OK
    prose = capsys.readouterr().out
    assert run(["limits", "explain", "IL", "--json"]) == ExitCode.OK
    doc = json.loads(capsys.readouterr().out)
    assert doc == {"code": "IL", "class": None, "text": prose} and len(prose) > 40
    key_dir, allow_dir = tmp_path / "keys", tmp_path / "stations"
    assert run(["keys", "new", "st-2", "--dir", str(key_dir)]) == ExitCode.OK
    cfg = tmp_path / "central.toml"
    cfg.write_text(f'[central]\nstation_keys_dir = "{allow_dir}"\n')
    capsys.readouterr()
    assert run(["central", "allow", str(key_dir / "st-2.key"), "--config", str(cfg), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["allowed"] == "st-2"
    assert run(["central", "revoke", "st-2", "--config", str(cfg), "--json"]) == 0
    assert json.loads(capsys.readouterr().out) == {"revoked": "st-2"}
