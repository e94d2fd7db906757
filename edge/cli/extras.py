"""The optional dependency groups of the wheel, checked before a command that needs one.

The station's scanner packages (evdev, xkbcommon) compile C code and are the `station` extra, so
central installs without a compiler (pyproject.toml). A station command run where they are
missing says which extra to install instead of failing deep inside with an ImportError.
"""

from __future__ import annotations

import importlib.util

from edge.common.errors import ConfigError

STATION_EXTRA = ("evdev", "xkbcommon")


def require_station_extra(command: str) -> None:
    """ConfigError (exit 78) naming the install command when the station extra is missing."""
    missing = [name for name in STATION_EXTRA if importlib.util.find_spec(name) is None]
    if missing:
        message = (
            f"packstation {command} needs the station's packages ({', '.join(missing)} "
            "missing): install the wheel with its station extra, "
            "`pip install 'packstation-<version>-....whl[station]'` "
            "(scripts/install-pi.sh --role station does)"
        )
        raise ConfigError([message])
