"""How a command stops early: Ctrl-C, SIGTERM and SIGHUP (a closed terminal) all end in
a ``KeyboardInterrupt`` that the command cleans up after, then what was finished and how
to continue, said where there is still a terminal to say it on."""

from __future__ import annotations

import signal
import sys

from ..batch import RunInterrupted
from .file_report import n_images


class Terminated(KeyboardInterrupt):
    """SIGTERM or SIGHUP (the terminal closed), handled like Ctrl-C (cancel, stop
    workers, clean up) but exiting 128 + the signal's number: 143, 129."""

    def __init__(self, signum: int = signal.SIGTERM):
        super().__init__()
        self.exit_code = 128 + int(signum)


def terminated(signum, frame) -> None:
    raise Terminated(signum)


def handle_termination() -> dict:
    """Have SIGTERM and SIGHUP raise :class:`Terminated`; the handlers they had, to put
    back. A SIGHUP that is ignored (``nohup n2n ...``) stays ignored."""
    previous = {signal.SIGTERM: signal.signal(signal.SIGTERM, terminated)}
    hangup = getattr(signal, "SIGHUP", None)  # none on Windows
    if hangup is not None and signal.getsignal(hangup) is not signal.SIG_IGN:
        previous[hangup] = signal.signal(hangup, terminated)
    return previous


def report_interrupt(exc) -> int:
    """After Ctrl-C, SIGTERM or SIGHUP: what was finished, and how to continue (unsaid
    where the terminal is gone)."""
    message = "n2n: interrupted"
    if isinstance(exc, RunInterrupted) and exc.unit != "image":  # a chunked zarr run
        message += (
            f": {exc.done} of {exc.total} {exc.unit}s finished (run again with --resume to "
            "continue)"
        )
    elif isinstance(exc, RunInterrupted):
        done = f"{exc.done} of {n_images(exc.total)}"
        if skipped := sum(1 for r in exc.results if r.skipped):  # --skip-existing's
            done = f"{exc.done} of the {exc.total - skipped} to do ({skipped} done before)"
        if exc.stale:  # --skip-existing would keep them: the earlier run's outputs
            advice = (
                f"{n_images(len(exc.stale))} from before were not replaced yet, so "
                "--skip-existing would keep them: run again with --overwrite"
            )
        else:
            advice = "run again with --skip-existing to continue"
        message += (
            f": {done} finished; the rest were cancelled and no partial output is left ({advice})"
        )
        if exc.reason:  # it stopped itself: every later file would have failed too
            message = (
                f"n2n: error: {exc.reason}\nn2n: the run stopped there: {done} finished; "
                f"free some space, then {advice}"
            )
    say_interrupted(message)
    return getattr(exc, "exit_code", 130)


def say_interrupted(line: str) -> None:
    """``line`` on stderr, unless the terminal is gone (SIGHUP): nobody to tell."""
    try:
        print(line, file=sys.stderr)
    except OSError:
        pass
