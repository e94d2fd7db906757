"""packstation station side: the pack-station daemon, its CLI and the compiled core (edge._core).

Nothing but sub-packages lives here (docs/overview.md has the layers); this module imports only
the core, for the one version number.
"""

from __future__ import annotations

__all__ = ["__version__"]

try:  # the compiled core carries the one version number (from core_rs/Cargo.toml)
    from edge._core import __version__
except ImportError:  # pragma: no cover - only in a checkout that was never built
    __version__ = "0+unbuilt"
