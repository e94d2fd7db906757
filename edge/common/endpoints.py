"""ZeroMQ endpoint strings in configuration: checked when the file is loaded (`config check`).

A malformed endpoint makes libzmq's connect/bind raise EINVAL only when the link or central
starts using it; checking it with the rest of the file turns it into a configuration error (exit
78) that names the key. Accepted: `tcp://HOST:PORT` (HOST a name, an IPv4 address or a bracketed
IPv6 address; PORT 1..65535) and `ipc://PATH` (zmq_tcp(7), zmq_ipc(7)); a bind may also use `*`
for all interfaces.
"""

from __future__ import annotations

import ipaddress
import re

_HOST_RE = re.compile(
    r"^(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*$"
)


def endpoint_problem(value: str, *, bind: bool = False) -> str | None:
    """Why `value` is not a usable endpoint, or None."""
    expected = 'expected "tcp://HOST:PORT" (e.g. "tcp://192.0.2.10:5560") or "ipc://PATH"'
    if value.startswith("ipc://"):
        return None if len(value) > len("ipc://") else f"{expected}, got {value!r}"
    if not value.startswith("tcp://"):
        return f"{expected}, got {value!r}"
    host, sep, port = value[len("tcp://") :].rpartition(":")
    if bind and sep and port in ("*", "0"):  # a port the system chooses (tests, tools)
        port = "1"
    if not sep or not port.isdigit() or not 1 <= int(port) <= 65535:
        return f"{expected}: the port must be 1..65535, got {value!r}"
    if bind and host == "*":
        return None
    if host.startswith("[") and host.endswith("]"):
        try:
            ipaddress.IPv6Address(host[1:-1])
        except ValueError:
            return f"{expected}: {host} is not an IPv6 address"
        return None
    if not _HOST_RE.match(host):
        return f"{expected}: {host!r} is not a host name or address"
    return None
