"""The project's own error class: a problem the user can fix (a bad file, argument or
configuration). The command line prints these as one line; any other exception is a bug
and keeps its traceback."""

from __future__ import annotations

__all__ = ["N2NError", "MissingDependency"]


class N2NError(ValueError):
    """A user error: bad input, bad option, missing device. Subclasses name the kind."""


class MissingDependency(N2NError, ImportError):
    """An optional package a feature needs is not installed (the message says how to
    install it)."""
