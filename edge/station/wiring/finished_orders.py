"""The orders that left the station (sealed or cancelled), remembered across restarts in a small
JSON file so a central stand-in does not hand them out again."""

from __future__ import annotations

import contextlib
import json
import logging
import os
from pathlib import Path

LOG = logging.getLogger(__name__)


def load_finished(path: Path) -> dict[str, str]:
    """order id -> final status; a missing or unreadable file is an empty record."""
    with contextlib.suppress(OSError, ValueError):
        found = json.loads(path.read_text())
        if isinstance(found, dict):
            return {str(k): str(v) for k, v in found.items()}
    return {}


def save_finished(path: Path, finished: dict[str, str]) -> None:
    """Replace the file atomically; a failure is logged, never raised (the station keeps going)."""
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps(finished))
        os.replace(tmp, path)
    except OSError as exc:
        LOG.error("finished orders not saved", extra={"error": str(exc)})
