"""The project's own error class: a problem the user can fix (a bad file, argument or
configuration). The command line prints these as one line; any other exception is a bug
and keeps its traceback. And :class:`Note`: what a user should be told about a file that
is not an error (file runs print it beside the file's name)."""

from __future__ import annotations

import os
import sys
import warnings
from collections.abc import Sequence

__all__ = ["N2NError", "MissingDependency", "Note", "name_some", "warn_user"]


class N2NError(ValueError):
    """A user error: bad input, bad option, missing device. Subclasses name the kind."""


class MissingDependency(N2NError, ImportError):
    """An optional package a feature needs is not installed (the message says how to
    install it)."""


class Note(UserWarning):
    """Something a user should know about one image (its data converted on the way, the
    method chosen for it): never silent, not an error. File runs collect these as the
    file's notes (:class:`noise2noise.batch.FileResult`)."""


_PACKAGE = os.path.dirname(__file__) + os.sep


def warn_user(message: str | Warning, category: type[Warning] | None = None) -> None:
    """``warnings.warn``, said at the line of the caller's own code that led to it: the
    first frame outside this package (the warning of ``denoise_image`` called from a
    script names the script's line, not one of ours, however deep the call)."""
    frame, level = sys._getframe(1), 2
    while frame is not None and frame.f_code.co_filename.startswith(_PACKAGE):
        frame, level = frame.f_back, level + 1
    warnings.warn(message, category, stacklevel=level)


def name_some(names: Sequence[str], most: int) -> str:
    """The first ``most`` of ``names`` for a message: ``"a.png, b.png and 3 more"``."""
    more = f" and {len(names) - most} more" if len(names) > most else ""
    return ", ".join(names[:most]) + more
