"""Valid event bodies for tests that need events of a real type (edge/common/events.py):
central quarantines a body that does not fit its type, and every unknown type."""

from __future__ import annotations

from typing import Any

SAMPLES: dict[str, dict[str, Any]] = {
    "scan": {
        "kind": "package",
        "raw": "1A4060300002C9B000012345",
        "aim_id": None,
        "device": "test",
        "phase": "picking",
    },
    "seal": {"code": "SEAL-1", "expected": "SEAL-1", "ok": True},
    "device_state": {"device": "scanner", "ok": True, "detail": ""},
}


def body(type_: str = "scan", station: str = "station-01", **extra: Any) -> dict[str, Any]:
    """A body that central accepts for `type_` (a key of SAMPLES), with `extra` fields added."""
    return {**SAMPLES[type_], "station": station, **extra}
