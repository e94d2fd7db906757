"""Bounded decoding: a size and a nesting-depth limit before any recursive decoder runs.

Python's `json`, `tomllib`, and msgspec's JSON and msgpack decoders all recurse per nesting level and
raise `RecursionError` (not their decode error) on a few thousand levels, so a 4 KB document
nested 2,000 deep would escape every `except DecodeError`. `nesting_depth` measures the depth with a
loop (no recursion) first, and the `loads_*` helpers raise `InputTooComplex` (a `ValueError`)
with a plain message instead.

Limits: documents up to `MAX_DEPTH` (64) levels deep. Our own formats (events, orders, configs)
are at most 6 levels deep.
"""

from __future__ import annotations

import json
from typing import Any, TypeVar

import msgspec

MAX_DEPTH = 64
T = TypeVar("T")


class InputTooComplex(ValueError):
    """A document bigger or more deeply nested than a decoder accepts."""


def json_depth(data: bytes, stop: int | None = None) -> int:
    """How deep `[`/`{` nest in JSON bytes (strings skipped), by a loop (no recursion); with
    `stop`, counting ends as soon as the depth passes it."""
    depth = deepest = 0
    in_string = escaped = False
    for byte in data:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # "
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > deepest:
                deepest = depth
                if stop is not None and deepest > stop:
                    return deepest
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return deepest


def _toml_depth(text: str) -> int:
    """Bracket depth outside strings and comments (table headers count 1 or 2)."""
    depth = deepest = 0
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch == "#":
            end = text.find("\n", i)
            i = n if end < 0 else end
            continue
        if ch in "\"'":
            triple = text.startswith(ch * 3, i)
            quote = ch * 3 if triple else ch
            j = i + len(quote)
            while j < n:
                if ch == '"' and text[j] == "\\":
                    j += 2
                    continue
                if text.startswith(quote, j):
                    break
                if not triple and text[j] == "\n":
                    break
                j += 1
            i = j + len(quote)
            continue
        if ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
        i += 1
    return deepest


def nesting_depth(data: bytes | str, kind: str = "json") -> int:
    """How deeply `data` (JSON or TOML text) nests arrays and objects/tables, without recursing."""
    if kind == "toml":
        return _toml_depth(data if isinstance(data, str) else data.decode("utf-8", "replace"))
    return json_depth(data.encode() if isinstance(data, str) else data)


def check(data: bytes | str, what: str, max_bytes: int, kind: str = "json") -> None:
    """Raise InputTooComplex when `data` is over `max_bytes` or nested deeper than MAX_DEPTH."""
    size = len(data.encode() if isinstance(data, str) else data)
    if size > max_bytes:
        raise InputTooComplex(f"{what}: {size} bytes, more than the {max_bytes} accepted")
    depth = nesting_depth(data, kind)
    if depth > MAX_DEPTH:
        raise InputTooComplex(
            f"{what}: nested {depth} levels deep, more than the {MAX_DEPTH} accepted"
        )


def loads_json(data: bytes | str, what: str, max_bytes: int) -> Any:
    """`json.loads` after the size and depth checks; ValueError (with `what`) on any problem."""
    check(data, what, max_bytes)
    try:
        return json.loads(data)
    except RecursionError as exc:  # unreachable after check(); kept as a last line
        raise InputTooComplex(f"{what}: nested too deeply") from exc


def decode_json(data: bytes | str, type_: type[T], what: str, max_bytes: int) -> T:
    """`msgspec.json.decode(data, type=type_)` after the checks; msgspec errors pass through."""
    check(data, what, max_bytes)
    try:
        return msgspec.json.decode(data, type=type_)
    except RecursionError as exc:
        raise InputTooComplex(f"{what}: nested too deeply") from exc
