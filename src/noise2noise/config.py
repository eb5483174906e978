"""Configuration dataclasses: one shape for all of them.

Every configuration (``TrainConfig``, ``ZeroShotConfig``, the reproduction's ``Budget``,
a zarr run's ``ZarrJob``) is a frozen dataclass whose fields have a type and a bound; a
value of the wrong type or out of bounds is an error that names the field and its value
(:func:`check_types`, :func:`raise_for_invalid`). They are written beside every result
with :func:`to_dict` and read back with :func:`from_dict` (strict: unknown keys are an
error; fields added since take their defaults, so older folders still load), and
:func:`changed_fields` is the one rule for whether a folder may be continued with a
configuration: only if nothing differs.

Configurations also arrive from files (a run folder's ``config.json``, a checkpoint), so
the checks are written for hostile values too: a string where a number belongs, a bool
where an int belongs, a width of 1e9.
"""

from __future__ import annotations

import dataclasses
import numbers
import types
import typing

from .errors import N2NError

__all__ = [
    "ConfigError",
    "raise_for_invalid",
    "check_types",
    "to_dict",
    "from_dict",
    "changed_fields",
]


class ConfigError(N2NError):
    """A configuration with a field of the wrong type or out of its bounds."""


def _matches(value: object, hint: object) -> bool:
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return any(_matches(value, arg) for arg in typing.get_args(hint))
    if hint is type(None):
        return value is None
    if hint is bool:
        return isinstance(value, bool)
    if hint is int:
        return isinstance(value, numbers.Integral) and not isinstance(value, bool)
    if hint is float:
        return isinstance(value, numbers.Real) and not isinstance(value, bool)
    if hint is str:
        return isinstance(value, str)
    return True  # containers and the like: checked by the configuration's own bounds


def check_types(config: object, kind: str) -> None:
    """Raise :class:`ConfigError` naming every field whose value has the wrong type."""
    hints = typing.get_type_hints(type(config))
    bad = [
        f"{f.name}={getattr(config, f.name)!r}"
        for f in dataclasses.fields(config)
        if not _matches(getattr(config, f.name), hints[f.name])
    ]
    if bad:
        raise ConfigError(f"invalid {kind}: wrong type for {', '.join(bad)}")


def raise_for_invalid(
    config: object, checks: dict[str, bool | tuple[bool, str]], kind: str
) -> None:
    """Raise :class:`ConfigError` (a ``ValueError``) listing every field whose check is
    False, each with what it may be where the check says it (``(ok, "16 to 4096")``)."""
    said = {n: c if isinstance(c, tuple) else (c, "") for n, c in checks.items()}
    bad = [(name, rule) for name, (ok, rule) in said.items() if not ok]
    if bad:
        values = ", ".join(
            f"{name}={getattr(config, name)!r}" + (f" (may be {rule})" if rule else "")
            for name, rule in bad
        )
        raise ConfigError(f"invalid {kind}: {values}")


def to_dict(config: object) -> dict:
    """A configuration as JSON-ready data: nested configurations as dicts, tuples as
    lists (``json`` writes infinity as ``Infinity`` and reads it back)."""
    return {f.name: _plain(getattr(config, f.name)) for f in dataclasses.fields(config)}


def _plain(value: object) -> object:
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return to_dict(value)
    if isinstance(value, (tuple, list)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    return value


def from_dict(cls: type, data: object, *, strict: bool = True, kind: str | None = None):
    """The inverse of :func:`to_dict`: nested configurations (also as the values of a
    dict) and tuples are rebuilt, the class's own checks run. ``strict``: an unknown key
    is an error (a missing one takes its default: a field added since the file was
    written). ``kind`` names the configuration in messages (default: the class name).

    Raises
    ------
    ConfigError
        Not a dict, unknown keys, or a value the class refuses.
    """
    kind = kind or cls.__name__
    if not isinstance(data, dict):
        raise ConfigError(f"a {kind} must be a mapping, got {type(data).__name__}")
    names = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - names)
    if unknown and strict:
        raise ConfigError(f"unknown {kind} keys: {', '.join(map(str, unknown))}")
    hints = typing.get_type_hints(cls)
    values = {k: _rebuild(v, hints[k], strict) for k, v in data.items() if k in names}
    try:
        return cls(**values)
    except TypeError as exc:
        raise ConfigError(f"invalid {kind}: {exc}") from None


def _rebuild(value: object, hint: object, strict: bool) -> object:
    options = (
        typing.get_args(hint)
        if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union
        else (hint,)
    )
    for option in options:
        if dataclasses.is_dataclass(option) and isinstance(value, dict):
            return from_dict(option, value, strict=strict)
        if typing.get_origin(option) is tuple and isinstance(value, list):
            return tuple(value)
        if typing.get_origin(option) is dict and isinstance(value, dict):
            item = typing.get_args(option)[1]  # dict[str, SomeConfig]: rebuild the values
            if dataclasses.is_dataclass(item):
                return {k: from_dict(item, v, strict=strict) for k, v in value.items()}
    return value


def changed_fields(old: object, new: object) -> list[str]:
    """The fields in which two configurations (or their :func:`to_dict`) differ; a
    folder made with ``old`` may be continued with ``new`` only when this is empty."""
    a = to_dict(old) if dataclasses.is_dataclass(old) else dict(old)
    b = to_dict(new) if dataclasses.is_dataclass(new) else dict(new)
    return sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
