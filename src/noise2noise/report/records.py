"""The record a reproduction keeps of its own runs: which process ran what, for how long,
on which software and machine, and progress lines while it runs."""

from __future__ import annotations

import importlib.metadata
import logging
import os
import platform
import sys
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

import torch

from .. import __version__
from ..files import write_json
from ..machine import usable_cpus
from ..progress import LineProgress
from ..runtime import cpu_bf16

__all__ = ["Progress", "environment", "RunRecord"]

log = logging.getLogger(__name__)


class Progress:
    """Log 'done/total, elapsed, about T left' for a stage, at most once a minute (and at
    the end): called with (done, total)."""

    def __init__(self, stage: str, every: float = 60.0, unit: str = "cells"):
        self._line = LineProgress(desc=stage, every=every, unit=unit, write=log.info)

    def __call__(self, done: int, total: int) -> None:
        self._line.total = total
        self._line.update(done - self._line.n)


def environment(device: str | None = None) -> dict:
    """Software versions and the machine (with its GPU when ``device`` is one), for the
    record of a run."""
    # This package's own version from its source: run from a source tree it has no
    # installed metadata, and an editable install's metadata keeps the version installed.
    versions = {"python": platform.python_version(), "noise2noise": __version__}
    for package in ("torch", "numpy", "scikit-image", "bm3d", "opencv-python"):
        try:
            versions[package] = importlib.metadata.version(package)
        except importlib.metadata.PackageNotFoundError:
            versions[package] = None
    gpu = None
    if device is not None and torch.device(device).type == "cuda":
        gpu = torch.cuda.get_device_name(torch.device(device))
    elif device is not None and torch.device(device).type == "mps":
        gpu = "Apple MPS"
    return {
        "versions": versions,
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "usable_cpus": usable_cpus(),
            "torch_threads": torch.get_num_threads(),
            "gpu": gpu,
            "cpu_bf16": cpu_bf16(),  # shipped networks in bf16 on this CPU (runtime.py)
        },
    }


# How the program ends when it is the console script, or `python -m noise2noise(.cli)`.
_OUR_PROGRAMS = ("n2n", "n2n.exe", "noise2noise/__main__.py", "noise2noise/cli/__main__.py")


def typed_command(argv: Sequence[str] | None = None) -> str | None:
    """The command line (default ``sys.argv``) as a user types it, ``n2n ...``, when it
    ran this program (as the console script or with ``python -m``, whose first argument
    is the full path of a ``__main__.py``); None when something else did."""
    argv = list(sys.argv if argv is None else argv)
    if not argv or not argv[0].replace("\\", "/").endswith(_OUR_PROGRAMS):
        return None
    return " ".join(["n2n", *argv[1:]])


class RunRecord:
    """``runs/<start>-<pid>.json``: what a process ran and for how long, rewritten every
    minute, so that a run that is killed still leaves its time behind; and
    ``environment.json`` of the latest run."""

    def __init__(self, out: Path, *, device: str | None = None, **info):
        started = datetime.now(timezone.utc)
        self.info = {"started": started.isoformat(timespec="seconds"), "device": device, **info}
        folder = out / "runs"
        folder.mkdir(exist_ok=True)
        self.path = folder / f"{started:%Y%m%dT%H%M%S}-{os.getpid()}.json"
        self.tic = time.perf_counter()
        self._stop = threading.Event()
        self._write(finished=False)
        self._thread = threading.Thread(target=self._beat, daemon=True)
        self._thread.start()
        write_json(out / "environment.json", environment(device))

    def _beat(self) -> None:
        while not self._stop.wait(60.0):
            self._write(finished=False)

    def _write(self, *, finished: bool, **extra) -> None:
        seconds = round(time.perf_counter() - self.tic, 1)
        write_json(self.path, {**self.info, "seconds": seconds, "finished": finished, **extra})

    def close(self, *, interrupted: bool = False) -> None:
        """The final record: ``finished`` when the run did all it set out to do, else
        ``interrupted`` (Ctrl-C, SIGTERM or an error stopped it)."""
        self._stop.set()
        self._thread.join()
        self._write(finished=not interrupted, **({"interrupted": True} if interrupted else {}))
