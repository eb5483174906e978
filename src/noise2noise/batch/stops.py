"""How a file run stops early: interrupted (Ctrl-C, SIGTERM, a closed terminal), or by
itself when the disk is full; what it had finished travels with the exception."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from .file_task import FileResult


class DiskFull(Exception):
    """A file's output found the disk full: every later file would fail too, each after
    its work, so the run stops."""

    @classmethod
    def check(cls, result: FileResult) -> None:
        """Stop the run (raise) where ``result``'s output found the disk full."""
        if result.disk_full:
            raise cls(result.error)


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a file run, or a full disk (``reason``, with
    ``exit_code`` 1): queued files were cancelled, workers stopped
    and partial outputs removed; ``results`` holds the files that were finished, ``stale``
    the outputs that an ``overwrite`` run had yet to replace (they are still those of an
    earlier run). A chunked array run has no file results: ``done`` of ``total`` chunks
    (``unit``) were finished."""

    def __init__(
        self,
        results: list[FileResult],
        total: int,
        exit_code: int = 130,
        stale: Sequence[Path] = (),
        *,
        unit: str = "image",
        done: int | None = None,
        reason: str | None = None,
    ):
        super().__init__()
        self.results = results
        self.total = total
        self.exit_code = exit_code
        self.stale = list(stale)
        self.unit = unit
        self.reason = reason  # why the run stopped itself (a full disk); None: interrupted
        self.done = sum(r.ok and not r.skipped for r in results) if done is None else done

    @classmethod
    def after(
        cls, exc: BaseException, results: dict[int, FileResult], total: int, stale
    ) -> RunInterrupted:
        """What stopped a file run of ``total`` files: ``exc``, an interrupt (its exit code:
        130, or 143 for SIGTERM) or :class:`DiskFull` (exit 1, its message the reason),
        with the ``results`` so far (by file index)."""
        full = isinstance(exc, DiskFull)
        return cls(
            [results[i] for i in sorted(results)],
            total,
            1 if full else getattr(exc, "exit_code", 130),
            stale,
            reason=str(exc) if full else None,
        )
