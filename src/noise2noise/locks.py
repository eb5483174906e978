"""Lock files that let several processes share one cache folder.

A lock is a file holding the pid of the process that works on what it guards. A lock
whose process is gone (killed, machine restarted) is stale and is taken over, so an
interrupted run never blocks the next one.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

__all__ = ["holder", "held_elsewhere", "claim", "try_claim"]

log = logging.getLogger(__name__)


def holder(path: str | os.PathLike) -> int:
    """The pid written in lock file ``path``, 0 if there is none or it cannot be read."""
    try:
        return int(Path(path).read_text(encoding="utf-8").strip() or 0)
    except (OSError, ValueError):
        return 0


def _alive(pid: int) -> bool:
    if os.name == "nt":
        return _alive_windows(pid)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by someone else
        return True
    return True


def _alive_windows(pid: int) -> bool:
    # os.kill(pid, 0) is no probe on Windows: 0 is CTRL_C_EVENT there, and any other
    # number ends the process. Ask for the process's exit code instead.
    import ctypes
    from ctypes import wintypes

    kernel32 = ctypes.WinDLL("kernel32", use_last_error=True)
    kernel32.OpenProcess.restype = wintypes.HANDLE
    kernel32.OpenProcess.argtypes = (wintypes.DWORD, wintypes.BOOL, wintypes.DWORD)
    kernel32.GetExitCodeProcess.argtypes = (wintypes.HANDLE, ctypes.POINTER(wintypes.DWORD))
    kernel32.CloseHandle.argtypes = (wintypes.HANDLE,)
    handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
    if not handle:
        return ctypes.get_last_error() == 5  # ERROR_ACCESS_DENIED: exists, someone else's
    try:
        code = wintypes.DWORD()
        ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
        return bool(ok) and code.value == 259  # STILL_ACTIVE
    finally:
        kernel32.CloseHandle(handle)


def held_elsewhere(path: str | os.PathLike) -> bool:
    """Whether another live process holds lock file ``path``."""
    pid = holder(path)
    return bool(pid) and pid != os.getpid() and _alive(pid)


def _acquire(path: Path) -> bool:
    """Create the lock with our pid; False if a live process holds it. Stale locks are
    removed and retried."""
    path.parent.mkdir(parents=True, exist_ok=True)
    while True:
        try:
            fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_WRONLY)
        except FileExistsError:
            pid = holder(path)
            if pid and _alive(pid):
                return False
            path.unlink(missing_ok=True)
            continue
        with os.fdopen(fd, "w") as f:
            f.write(str(os.getpid()))
        return True


@contextmanager
def claim(path: str | os.PathLike, *, poll: float = 15.0) -> Iterator[None]:
    """Hold lock file ``path`` for the block; wait while another live process holds it."""
    path = Path(path)
    waiting = False
    while not _acquire(path):
        if not waiting:
            log.info("waiting for process %d, which holds %s", holder(path), path.name)
            waiting = True
        time.sleep(poll)
    try:
        yield
    finally:
        path.unlink(missing_ok=True)


@contextmanager
def try_claim(path: str | os.PathLike) -> Iterator[bool]:
    """Hold lock file ``path`` for the block if it is free: yields True if we hold it,
    False (and holds nothing) if another live process does."""
    path = Path(path)
    got = _acquire(path)
    try:
        yield got
    finally:
        if got:
            path.unlink(missing_ok=True)
