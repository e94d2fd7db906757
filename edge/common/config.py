"""TOML -> typed msgspec structs, with every problem named by file, section, key and value.

Structs declare types and constraints with msgspec (`Annotated[int, msgspec.Meta(ge=1)]`); this
module walks them so that unknown keys are errors and each message reads
`config/station.toml: [scale] baud: expected one of 1200..115200, got "fast"`.
A field may override the wording with `msgspec.Meta(extra={"expected": "..."})`, and a struct may
add cross-field checks with a `problems()` method yielding `(key, message)` pairs.
"""

from __future__ import annotations

import difflib
import json
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Any, TypeVar, get_args

import msgspec
from msgspec import inspect as mi

from edge.common import bounded
from edge.common.errors import ConfigError

S = TypeVar("S", bound=msgspec.Struct)
MAX_CONFIG_BYTES = 1024 * 1024  # a configuration file is a few KB; a bigger one is a mistake


def describe(t: mi.Type) -> str:
    """Plain words for what a value of type `t` must be."""
    if isinstance(t, mi.Metadata):
        if t.extra and "expected" in t.extra:
            return str(t.extra["expected"])
        return describe(t.type)
    if isinstance(t, mi.BoolType):
        return "true or false"
    if isinstance(t, mi.IntType):
        return _describe_int(t)
    if isinstance(t, mi.StrType):
        if t.pattern:
            return f"a string matching /{t.pattern}/"
        return "a non-empty string" if t.min_length else "a string"
    if isinstance(t, mi.LiteralType):  # declaration order, when the annotation is known
        annotation = _ANNOTATIONS.get(id(t))
        return _describe_choices(list(get_args(annotation) if annotation else t.values))
    if isinstance(t, mi.ListType):
        return f"a list of {describe(t.item_type)}"
    if isinstance(t, mi.DictType):
        return f"a table of {describe(t.value_type)}"
    if isinstance(t, mi.StructType):
        return "a table"
    if isinstance(t, mi.UnionType):
        return " or ".join(describe(u) for u in t.types if not isinstance(u, mi.NoneType))
    return "a valid value"


def _describe_int(t: mi.IntType) -> str:
    lo = t.ge if t.ge is not None else (t.gt + 1 if t.gt is not None else None)
    hi = t.le if t.le is not None else (t.lt - 1 if t.lt is not None else None)
    if lo is not None and hi is not None:
        return f"an integer in {lo}..{hi}"
    if lo is not None:
        return f"an integer >= {lo}"
    if hi is not None:
        return f"an integer <= {hi}"
    return "an integer"


def _describe_choices(values: list[Any]) -> str:
    if len(values) > 4 and all(isinstance(v, int) for v in values):
        return f"one of {min(values)}..{max(values)}"
    return "one of " + ", ".join(render(v) for v in values)


def render(value: Any) -> str:
    """A found value as it would be written in TOML (strings quoted)."""
    if isinstance(value, dict):
        return "a table"
    return json.dumps(value, default=str)


def _where(path: tuple[str | int, ...]) -> str:
    section = ".".join(f"#{p + 1}" if isinstance(p, int) else p for p in path)
    return f"[{section}]".replace(".#", " #") if section else ""


def _prefix(path: tuple[str | int, ...], key: str | None) -> str:
    where = _where(path)
    if key is None:
        return where
    return f"{where} {key}" if where else key


def _unknown(path: tuple[str | int, ...], key: str, allowed: list[str]) -> str:
    near = difflib.get_close_matches(key, allowed, n=1)
    hint = f' (did you mean "{near[0]}"?)' if near else ""
    known = ", ".join(allowed) if allowed else "none"
    return f"{_prefix(path, key)}: unknown key{hint}; known keys: {known}"


def _strip_meta(t: mi.Type) -> mi.Type:
    return t.type if isinstance(t, mi.Metadata) else t


def _check_struct(info: mi.StructType, data: Any, path: tuple[str | int, ...]) -> Iterator[str]:
    if not isinstance(data, dict):
        yield f"{_where(path) or 'file'}: expected a table, got {render(data)}"
        return
    fields = {f.encode_name: f for f in info.fields}
    for key in data:
        if key not in fields:
            yield _unknown(path, key, sorted(fields))
    for name, field in fields.items():
        if name not in data:
            if field.required:
                yield f"{_prefix(path, name)}: missing (expected {describe(field.type)})"
            continue
        yield from _check_value(field.type, data[name], path, name)


def _check_value(t: mi.Type, value: Any, path: tuple[str | int, ...], key: str) -> Iterator[str]:
    inner = _strip_meta(t)
    if isinstance(inner, mi.StructType):
        yield from _check_struct(inner, value, (*path, key))
        return
    if isinstance(inner, mi.ListType) and isinstance(_strip_meta(inner.item_type), mi.StructType):
        if not isinstance(value, list):
            yield f"{_prefix(path, key)}: expected a list of tables, got {render(value)}"
            return
        item = _strip_meta(inner.item_type)
        assert isinstance(item, mi.StructType)
        for i, entry in enumerate(value):
            yield from _check_struct(item, entry, (*path, key, i))
        return
    try:
        msgspec.convert(value, _python_type(t), strict=True)
    except msgspec.ValidationError:
        yield f"{_prefix(path, key)}: expected {describe(t)}, got {render(value)}"


def _python_type(t: mi.Type) -> Any:
    """The annotation a field was declared with, for msgspec.convert on a single value."""
    return _ANNOTATIONS[id(t)]


# id(inspect type node) -> annotation; the nodes stay alive in _INFO_CACHE, so ids are stable.
_ANNOTATIONS: dict[int, Any] = {}
_INFO_CACHE: dict[type[Any], mi.StructType] = {}


def _record_annotations(info: mi.StructType) -> None:
    for f_info, f_hint in zip(info.fields, msgspec.structs.fields(info.cls), strict=True):
        _ANNOTATIONS[id(f_info.type)] = f_hint.type
        inner = _strip_meta(f_info.type)
        if isinstance(inner, mi.ListType):
            inner = _strip_meta(inner.item_type)
        if isinstance(inner, mi.StructType):
            _record_annotations(inner)


def _cross_checks(obj: Any, path: tuple[str | int, ...]) -> Iterator[str]:
    """Run each struct's own `problems()` (cross-field rules), depth first."""
    if isinstance(obj, msgspec.Struct):
        cls = type(obj)  # the class attributes: `structs.fields` re-reads the type hints
        for name, encoded in zip(cls.__struct_fields__, cls.__struct_encode_fields__, strict=True):
            yield from _cross_checks(getattr(obj, name), (*path, encoded))
        check = getattr(obj, "problems", None)
        if callable(check):
            for key, message in check():
                yield f"{_prefix(path, key)}: {message}"
    elif isinstance(obj, list):
        for i, item in enumerate(obj):
            yield from _cross_checks(item, (*path[:-1], path[-1], i) if path else (i,))


def validate(cls: type[S], data: dict[str, Any]) -> tuple[S | None, list[str]]:
    """Check `data` against `cls`; return the struct (when valid) and the problems found."""
    info = _INFO_CACHE.get(cls)
    if info is None:
        found = mi.type_info(cls)
        assert isinstance(found, mi.StructType)
        _record_annotations(found)
        info = _INFO_CACHE[cls] = found
    problems = list(_check_struct(info, data, ()))
    if problems:
        return None, problems
    try:
        obj = msgspec.convert(data, cls, strict=True)
    except msgspec.ValidationError as exc:  # a constraint the walker did not model
        return None, [f"invalid: {exc}"]
    cross = list(_cross_checks(obj, ()))
    return (None, cross) if cross else (obj, [])


def read_toml(path: Path) -> dict[str, Any]:
    """Parse a TOML file; unreadable or malformed files raise ConfigError naming the file."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError([f"{path}: cannot read: {exc}"]) from exc
    try:
        bounded.check(text, str(path), MAX_CONFIG_BYTES, kind="toml")
        return tomllib.loads(text)
    except bounded.InputTooComplex as exc:
        raise ConfigError([str(exc)]) from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError([f"{path}: invalid TOML: {exc}"]) from exc
    except RecursionError as exc:  # nesting the depth check did not see
        raise ConfigError([f"{path}: invalid TOML: nested too deeply"]) from exc


def load(cls: type[S], path: Path | None) -> S:
    """Load `path` into `cls` (embedded defaults when `path` is None); raise ConfigError."""
    data = {} if path is None else read_toml(path)
    obj, problems = validate(cls, data)
    if obj is None:
        raise ConfigError([f"{path or '<defaults>'}: {p}" for p in problems])
    return obj
