"""The data files the product ships, and where an installation overrides them.

The wheel carries `edge/data/`: `config/` (station.toml and central.toml templates, limits/,
labels/, udev/) and `systemd/` (units, sysusers), read here with
`importlib.resources`; in a source checkout `edge/data/config` and `edge/data/systemd` are
symlinks to the checkout's `config/` and `systemd/`, so both read the same files.

Precedence for a data directory (docs/install.md "Where packstation reads its data"):
1. the config option naming it (`[limits] rules_dir`, `[label] profiles_dir`), when set;
2. `/etc/packstation/<kind>/` when that directory exists (an installation's own set: it replaces
   the shipped set as a whole, so copy the whole shipped directory before editing one file);
3. the directory shipped in the package (updated with every wheel).
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

ETC = Path("/etc/packstation")
DATA_PACKAGE = "edge.data"


def shipped(*parts: str) -> Path:
    """A shipped file or directory, e.g. shipped("config", "limits"); resolved to a real path."""
    root = resources.files(DATA_PACKAGE)
    target = root.joinpath(*parts)
    # Installed wheels and checkouts are plain directories, so the traversable is a real path.
    return Path(str(target)).resolve()


def data_dir(kind: str, configured: str = "", etc: Path = ETC) -> Path:
    """The directory of `kind` ("limits", "warnings", "labels") by the precedence above."""
    if configured:
        return Path(configured)
    override = etc / kind
    if override.is_dir():
        return override
    return shipped("config", kind)


def source(kind: str, configured: str = "", etc: Path = ETC) -> str:
    """Which of the three places `data_dir` picked, in words (doctor, `limits list`)."""
    if configured:
        return "set in the configuration"
    if (etc / kind).is_dir():
        return f"installation override in {etc / kind}"
    return "shipped with packstation"
