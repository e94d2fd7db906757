"""Exit codes and the exceptions that carry them; installers and systemd script against these."""

from __future__ import annotations

from enum import IntEnum


class ExitCode(IntEnum):
    """Process exit codes of every `packstation` command (documented in README.md)."""

    OK = 0
    INTERNAL = 1  # a bug: the traceback is logged
    USAGE = 2  # bad usage or a bad input file
    REFUSED = 3  # a compliance refusal: over a limit, wrong batch, short weight...
    DEVICE = 4  # a device gave no usable answer
    CHAIN_BROKEN = 5  # a journal's hash chain does not verify (tampering or damage)
    CONFIG = 78  # EX_CONFIG: systemd's RestartPreventExitStatus stops restarting on it


class PackstationError(Exception):
    """An error with a clear message for a person and the exit code it maps to."""

    exit_code: ExitCode = ExitCode.INTERNAL


class BadInput(PackstationError):
    """An input file or argument is unreadable or malformed."""

    exit_code = ExitCode.USAGE


class ComplianceRefusal(PackstationError):
    """The station refuses: the action would break a compliance rule."""

    exit_code = ExitCode.REFUSED


class DeviceError(PackstationError):
    """A scanner, scale or printer gave no usable answer."""

    exit_code = ExitCode.DEVICE


class ConfigError(PackstationError):
    """A configuration file is missing, unparsable or invalid; `problems` holds one line each."""

    exit_code = ExitCode.CONFIG

    def __init__(self, problems: list[str]) -> None:
        super().__init__("\n".join(problems))
        self.problems = problems
