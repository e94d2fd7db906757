"""Where a key file really is when systemd hands it over with LoadCredential=.

The config names the file where the installer keeps it (`/etc/packstation/keys/station.key_secret`,
root-only). Under systemd the unit copies it into `$CREDENTIALS_DIRECTORY` under a credential name;
the units name each credential after the file's basename, so the service reads
`$CREDENTIALS_DIRECTORY/<basename>` when it exists and the configured path otherwise (a run from a
shell, the tests).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path


def credential_path(configured: str | Path, env: Mapping[str, str] | None = None) -> Path:
    """The file to read for a configured key path: systemd's credential copy, if there is one."""
    path = Path(configured)
    directory = (os.environ if env is None else env).get("CREDENTIALS_DIRECTORY", "")
    if directory:
        candidate = Path(directory) / path.name
        if candidate.is_file():
            return candidate
    return path
