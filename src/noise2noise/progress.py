"""Progress of long work: a tqdm bar on a terminal, plain lines everywhere else.

tqdm hides its bar when stderr is not a terminal, which is right for a pipe but leaves a
training run started with ``nohup``, in a batch job (SLURM) or in CI silent for hours.
There, :func:`progress_bar` prints one plain line to stderr now and then instead: what is
done of how much, the elapsed time, an estimate of what is left, and the latest status.
"""

from __future__ import annotations

import contextlib
import contextvars
import sys
import time
from collections.abc import Callable, Iterable, Iterator

__all__ = ["progress_bar", "nested_bars", "LineProgress", "format_duration"]


def progress_bar(
    iterable: Iterable | None = None,
    *,
    total: int | None = None,
    unit: str = "it",
    desc: str | None = None,
    show: bool = True,
    every: float = 60.0,
    initial: int = 0,
    leave: bool = True,
    lines: bool = True,
):
    """A progress indicator over ``iterable`` (or updated by hand up to ``total``).

    Parameters
    ----------
    iterable : iterable, optional
    total : int, optional
        Defaults to ``len(iterable)``.
    unit, desc, initial, leave
        As for ``tqdm``.
    show : bool
        False: nothing is shown (an object with the same methods is still returned).
    lines : bool
        Off a terminal, print lines (False: nothing there, for a caller that reports
        progress its own way).
    every : float
        Off a terminal: seconds at least between two lines (0: a line per update); the
        last item always gets one.

    Returns
    -------
    A ``tqdm`` bar when stderr is a terminal or in a Jupyter notebook, else a
    :class:`LineProgress`.
    """
    if total is None and iterable is not None and hasattr(iterable, "__len__"):
        total = len(iterable)
    terminal = show and (sys.stderr.isatty() or _in_notebook())  # a notebook: tqdm's widget
    if not terminal:
        # Hidden or plain lines. Not a disabled tqdm bar: every tqdm makes a
        # multiprocessing lock, which a worker process ended by its pool leaks (Python
        # then warns of "leaked semaphore objects" at exit).
        quiet = not (show and lines)
        return LineProgress(
            iterable,
            total=total,
            unit=unit,
            desc=desc,
            every=every,
            initial=initial,
            write=_nowhere if quiet else None,
            leave=not _NESTED.get(),
        )
    from tqdm.auto import tqdm

    return tqdm(
        iterable,
        total=total,
        unit=unit,
        desc=desc,
        initial=initial,
        leave=leave and not _NESTED.get(),
    )


_NESTED = contextvars.ContextVar("nested_progress", default=False)


@contextlib.contextmanager
def nested_bars():
    """Bars made inside vanish when done (tqdm's ``leave=False``; off a terminal, no line
    for their end): the steps or tiles of each plane of a stack, under the stack's own
    bar, would otherwise leave a line per plane."""
    token = _NESTED.set(True)
    try:
        yield
    finally:
        _NESTED.reset(token)


def _nowhere(line: str) -> None:
    """Where a hidden progress indicator writes its lines."""


def _in_notebook() -> bool:
    from tqdm.autonotebook import tqdm as chosen
    from tqdm.std import tqdm as plain

    return chosen is not plain


class LineProgress:
    """The part of tqdm's interface used here, as plain lines:
    ``desc: 3/16 epochs, 11 min 40 s, about 43 min 05 s left (loss=7.8e-03)``, written
    with ``write`` (default: a line on stderr). With ``leave=False`` (a bar within a
    bar, see :func:`nested_bars`) only the lines of its long runs are written, none for
    its end."""

    def __init__(
        self,
        iterable: Iterable | None = None,
        *,
        total: int | None = None,
        unit: str = "it",
        desc: str | None = None,
        every: float = 60.0,
        initial: int = 0,
        write: Callable[[str], None] | None = None,
        leave: bool = True,
    ):
        self.iterable = iterable
        self.leave = leave
        self.total = total
        self.unit = unit
        self.desc = desc
        self.every = every
        self.n = self.initial = initial
        self.write = write or (lambda line: print(line, file=sys.stderr, flush=True))
        self.postfix = ""
        self._start = self._last = time.perf_counter()
        self._printed = initial

    def __iter__(self) -> Iterator:
        for item in self.iterable:
            yield item
            self.update()

    def update(self, n: int = 1) -> None:
        self.n += n
        now = time.perf_counter()
        finished = self.leave and self.total is not None and self.n >= self.total
        if n and (finished or now - self._last >= self.every):
            self._last = now
            self._print(now)

    def set_postfix(self, **values) -> None:
        self.postfix = ", ".join(f"{k}={v}" for k, v in values.items())

    def set_postfix_str(self, text: str) -> None:
        self.postfix = text

    def close(self) -> None:
        if self.leave and self.n != self._printed:
            self._print(time.perf_counter())

    def __enter__(self) -> LineProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _units(self) -> str:
        """The unit, plural unless there is one in all ("1/1 image", "2/5 images")."""
        one = (self.total if self.total is not None else self.n) == 1
        return self.unit if one or self.unit == "it" or self.unit.endswith("s") else self.unit + "s"

    def _print(self, now: float) -> None:
        self._printed = self.n
        done = f"{self.n}/{self.total}" if self.total is not None else str(self.n)
        line = f"{self.desc}: " if self.desc else ""
        line += f"{done} {self._units()}, {format_duration(now - self._start)}"
        new = self.n - self.initial
        if self.total is not None and 0 < new and self.n < self.total:
            left = (now - self._start) / new * (self.total - self.n)
            line += f", about {format_duration(left)} left"
        if self.postfix:
            line += f" ({self.postfix})"
        self.write(line)


def format_duration(seconds: float) -> str:
    """``"1 h 05 min"`` or ``"3 min 07 s"``."""
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min {s:02d} s"
