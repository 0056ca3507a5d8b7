"""Build a component's options dataclass from a plain dict, with one-line errors for unknown keys and wrong types.

Used by every registry entry whose options live in its own dataclass (models, objectives, datasets).
"""

from __future__ import annotations

import dataclasses
import math
import types
import typing
from typing import Any, TypeVar

T = TypeVar("T")


class ConfigError(ValueError):
    """A bad configuration value: the message names the key and what is allowed."""


def _type_ok(value: Any, hint: Any) -> bool:
    """True if ``value`` fits the type hint (the small subset of hints used in ganforge configs)."""
    if hint is Any:
        return True
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, h) for h in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if origin is typing.Literal:
        return value in typing.get_args(hint)
    if origin in (list, tuple):
        args = typing.get_args(hint)
        if not isinstance(value, (list, tuple)):
            return False
        if not args:
            return True
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            return len(args) == len(value) and all(_type_ok(v, a) for v, a in zip(value, args, strict=True))
        return all(_type_ok(v, args[0]) for v in value)
    if origin is dict:
        return isinstance(value, dict)
    if hint is float:
        return isinstance(value, (int, float)) and not isinstance(value, bool)
    if hint is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if isinstance(hint, type):
        return isinstance(value, hint)
    return True


def coerce(value: Any, hint: Any) -> Any:
    """Normalise YAML values: int -> float for float fields, list -> tuple for tuple fields."""
    if hint is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    origin = typing.get_origin(hint)
    if origin is tuple and isinstance(value, list):
        return tuple(value)
    if origin in (typing.Union, types.UnionType):
        for h in typing.get_args(hint):
            if h is not type(None) and _type_ok(value, h):
                return coerce(value, h)
    return value


def type_name(hint: Any) -> str:
    """A hint as a user reads it in YAML: ``tuple[int, ...]`` → "a list of int", ``tuple[float, float]`` → "a list
    of 2 float" (YAML and ``--set`` write lists; the tuple is an implementation detail)."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin in (list, tuple) and args:
        if origin is tuple and not (len(args) == 2 and args[1] is Ellipsis):
            return f"a list of {len(args)} {type_name(args[0])}" if len(set(args)) == 1 else \
                f"a list [{', '.join(type_name(a) for a in args)}]"
        return f"a list of {type_name(args[0])}"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(type_name(a) for a in args)
    if hint is type(None):
        return "null"
    return getattr(hint, "__name__", None) or str(hint).replace("typing.", "")


def _non_finite(value: Any) -> bool:
    """True for a float NaN/inf anywhere in a (nested) value: ``lr=1e400`` parses as inf and must not pass."""
    if isinstance(value, float):
        return not math.isfinite(value)
    if isinstance(value, (list, tuple)):
        return any(_non_finite(v) for v in value)
    if isinstance(value, dict):
        return any(_non_finite(v) for v in value.values())
    return False


def build_options(cls: type[T], values: dict[str, Any] | None, where: str) -> T:
    """Instantiate the dataclass ``cls`` from ``values``, checking keys and types.

    ``where`` names the config section in error messages (e.g. ``model.options``).
    """
    values = dict(values or {})
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}  # type: ignore[arg-type]
    unknown = sorted(set(values) - set(fields))
    if unknown:
        key = f"{where}.{unknown[0]}" if where else unknown[0]
        raise ConfigError(f"unknown config key '{key}'; valid here: {sorted(fields)}")
    kwargs = {}
    for name, value in values.items():
        hint, key = hints[name], f"{where}.{name}" if where else name
        if hasattr(hint, "from_config"):  # a section with its own parser (e.g. optimiser groups)
            kwargs[name] = hint.from_config(value, key)
            continue
        if dataclasses.is_dataclass(hint):  # a nested section: recurse so errors name the full dotted key
            if not isinstance(value, dict):
                raise ConfigError(f"config key '{key}' is a section; expected a mapping, got {value!r}")
            kwargs[name] = build_options(hint, value, key)
            continue
        if not _type_ok(value, hint):
            raise ConfigError(f"config key '{key}' expects {type_name(hint)}, got {type(value).__name__} {value!r}")
        if _non_finite(value):
            raise ConfigError(f"config key '{key}' must be a finite number, got {value!r} (a literal like 1e400 "
                              "overflows to inf); use a finite value")
        kwargs[name] = coerce(value, hint)
    try:
        return cls(**kwargs)
    except (ValueError, TypeError) as exc:
        raise ConfigError(f"{where}: {exc}") from None


def options_dict(obj: Any) -> dict[str, Any]:
    """Dataclass -> plain dict (tuples become lists so YAML stays plain)."""

    def plain(v: Any) -> Any:
        if dataclasses.is_dataclass(v) and not isinstance(v, type):
            return options_dict(v)
        if isinstance(v, tuple):
            return [plain(x) for x in v]
        if isinstance(v, list):
            return [plain(x) for x in v]
        if isinstance(v, dict):
            return {k: plain(x) for k, x in v.items()}
        return v

    return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj) if f.init}
