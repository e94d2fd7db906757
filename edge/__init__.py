"""packstation station side: the pack-station daemon, its CLI and the compiled core (edge._core)."""

from __future__ import annotations

__all__ = ["__version__"]

try:  # the compiled core carries the one version number (from core_rs/Cargo.toml)
    from edge._core import __version__
except ImportError:  # pragma: no cover - only in a checkout that was never built
    __version__ = "0+unbuilt"
