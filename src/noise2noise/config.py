"""Shared checking of configuration dataclasses: every field has a type and a bound, and a
value of the wrong type or out of bounds is an error that names the field and its value.

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

__all__ = ["ConfigError", "raise_for_invalid", "check_types"]


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


def raise_for_invalid(config: object, checks: dict[str, bool], kind: str) -> None:
    """Raise :class:`ConfigError` (a ``ValueError``) listing every field whose check is
    False."""
    bad = [name for name, ok in checks.items() if not ok]
    if bad:
        values = ", ".join(f"{name}={getattr(config, name)!r}" for name in bad)
        raise ConfigError(f"invalid {kind}: {values}")
