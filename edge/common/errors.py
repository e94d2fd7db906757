"""Exit codes and the exceptions that carry them; installers and systemd script against these."""

from __future__ import annotations

from enum import IntEnum
from typing import Self


class ExitCode(IntEnum):
    """Process exit codes of every `packstation` command, each with the line `--help` prints."""

    description: str

    def __new__(cls, value: int, description: str) -> Self:
        member = int.__new__(cls, value)
        member._value_ = value
        member.description = description
        return member

    OK = 0, "ok"
    INTERNAL = 1, "internal error (a bug; the traceback is logged)"
    USAGE = 2, "bad usage or a bad input file (also: a journal that cannot be opened)"
    REFUSED = 3, "compliance refusal (over a limit, wrong batch, short weight...)"
    DEVICE = 4, "a device gave no usable answer"
    CHAIN_BROKEN = 5, "a journal's hash chain is broken (journal verify, station start-up)"
    # EX_CONFIG from sysexits.h: the systemd units' RestartPreventExitStatus stops restarting on it.
    CONFIG = 78, "configuration error (systemd does not restart on it)"


def exit_codes_help() -> str:
    """The `exit codes:` block of `packstation --help`, one line per ExitCode member."""
    lines = [f"  {int(code):<4}{code.description}" for code in ExitCode]
    return "exit codes:\n" + "\n".join(lines) + "\n"


class PackstationError(Exception):
    """An error with a clear message for a person and the exit code it maps to."""

    exit_code: ExitCode = ExitCode.INTERNAL


class BadInput(PackstationError):
    """An input file or argument is unreadable or malformed."""

    exit_code = ExitCode.USAGE


class DeviceError(PackstationError):
    """A scanner, scale or printer gave no usable answer."""

    exit_code = ExitCode.DEVICE


class ConfigError(PackstationError):
    """A configuration file is missing, unparsable or invalid; `problems` holds one line each."""

    exit_code = ExitCode.CONFIG

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
