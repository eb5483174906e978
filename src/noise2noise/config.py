"""Shared checking of configuration dataclasses: every field has a bound, and a value out
of bounds is an error that names the field and its value."""

from __future__ import annotations

__all__ = ["raise_for_invalid"]


def raise_for_invalid(config: object, checks: dict[str, bool], kind: str) -> None:
    """Raise ``ValueError`` listing every field whose check is False."""
    bad = [name for name, ok in checks.items() if not ok]
    if bad:
        values = ", ".join(f"{name}={getattr(config, name)!r}" for name in bad)
        raise ValueError(f"invalid {kind}: {values}")
