"""The scale protocols, by the names used in config and on the command line.

One module per protocol, each a pure bytes -> events parser with a declarative `ProtocolSpec`;
imports nothing outside `drivers.scale`.
"""

from __future__ import annotations

from drivers.scale.protocols import mt_sics, ohaus, st_us, toledo_8217
from drivers.scale.protocols.base import ImplicitUnit, Parser, ProtocolSpec, SerialDefaults

PROTOCOLS: dict[str, ProtocolSpec] = {
    spec.name: spec for spec in (mt_sics.SPEC, toledo_8217.SPEC, ohaus.SPEC, st_us.SPEC)
}

__all__ = ["PROTOCOLS", "ImplicitUnit", "Parser", "ProtocolSpec", "SerialDefaults"]
