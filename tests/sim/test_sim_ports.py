"""The simulator's ports: below the kernel's range for outgoing connections (a port bind-to-0
hands out can be taken by a connection before the service binds it: a simulated central died on
"address already in use" that way), distinct within the run, and free when handed out."""

from __future__ import annotations

import socket
from pathlib import Path

from edge.sim.procs import free_port


def test_ports_are_below_the_ephemeral_range_distinct_and_free() -> None:
    low = int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])
    ports = [free_port() for _ in range(200)]
    assert len(set(ports)) == len(ports)
    assert all(10_000 <= p < low for p in ports)
    for port in ports[:20]:
        with socket.socket() as s:
            s.bind(("127.0.0.1", port))  # OSError if it was not free
