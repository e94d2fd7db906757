"""The link's section of config/station.toml ([link])."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import msgspec

from edge.common.endpoints import endpoint_problem

LinkMillis = Annotated[int, msgspec.Meta(ge=10, le=3_600_000)]


class LinkSection(msgspec.Struct, kw_only=True, forbid_unknown_fields=True):
    """The link to central ([link]); see edge/link/client.py and docs/central.md."""

    endpoint: str = "tcp://127.0.0.1:5560"
    fallback_endpoints: list[str] = msgspec.field(default_factory=list)
    secret_key_file: str = ""  # "" = <state_dir>/keys/<station id>.key_secret
    server_key_file: str = ""  # "" = <state_dir>/keys/central.key
    replica_path: str = ""  # "" = <state_dir>/replica.sqlite3
    heartbeat_ms: LinkMillis = 2000
    timeout_ms: LinkMillis = 10000
    ack_timeout_ms: LinkMillis = 5000
    reconnect_max_ms: LinkMillis = 30000
    window: Annotated[int, msgspec.Meta(ge=1, le=100_000)] = 1024
    batch: Annotated[int, msgspec.Meta(ge=1, le=512)] = 256
    # How long a package scan waits for central to reserve the package (CLAIM); offline or
    # later, the station's own journal and its last copy of central's inventory decide alone.
    claim_timeout_ms: LinkMillis = 1500
    # How many packages an order names (UID lines) are claimed at central as the order is
    # loaded, before their scans (edge/station/wiring/availability.py); 0 = only at the scan.
    claim_ahead: Annotated[int, msgspec.Meta(ge=0, le=1024)] = 64

    def problems(self) -> Iterator[tuple[str, str]]:
        problem = endpoint_problem(self.endpoint)
        if problem:
            yield "endpoint", problem
        for i, endpoint in enumerate(self.fallback_endpoints):
            problem = endpoint_problem(endpoint)
            if problem:
                yield f"fallback_endpoints[{i}]", problem
