"""What this process may still use of the machine: free memory (``/proc/meminfo``;
``vm_stat`` on macOS, GlobalMemoryStatusEx on Windows; a cgroup v2 limit, ``ulimit -v``)
and CPUs (its affinity mask, a cgroup v2 CPU quota), read from the system. Imports nothing
of the project, so the lowest layers (image headers) can ask it too. Where a source does
not exist it is left out, never an error.
"""

from __future__ import annotations

import math
import os
import re
import subprocess
import sys
from pathlib import Path

try:
    import resource  # POSIX only; Windows has no ulimit
except ImportError:
    resource = None

__all__ = ["available_memory", "usable_cpus"]

CGROUP = Path("/sys/fs/cgroup")


def _meminfo_available() -> int | None:
    try:
        for line in Path("/proc/meminfo").read_text(encoding="utf-8").splitlines():
            if line.startswith("MemAvailable:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    if sys.platform == "darwin":
        return _macos_available()
    if sys.platform == "win32":
        return _windows_available()
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def _macos_available() -> int | None:
    """macOS keeps most memory as file cache ("inactive"), given back on demand, so its
    free pages alone say far too little: free + inactive + speculative pages (``vm_stat``)."""
    try:
        out = subprocess.run(["vm_stat"], capture_output=True, text=True, timeout=5).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_vm_stat(out)


def parse_vm_stat(text: str) -> int | None:
    """Bytes that can be had from ``vm_stat`` output (see :func:`_macos_available`)."""
    size = re.search(r"page size of (\d+) bytes", text)
    pages = dict(re.findall(r"^Pages (\w+):\s+(\d+)\.?\s*$", text, flags=re.MULTILINE))
    if size is None or "free" not in pages:
        return None
    kinds = ("free", "inactive", "speculative")
    return sum(int(pages.get(k, 0)) for k in kinds) * int(size.group(1))


def _windows_available() -> int | None:
    """Available physical memory from GlobalMemoryStatusEx."""
    import ctypes

    class _Status(ctypes.Structure):  # MEMORYSTATUSEX
        _fields_ = [
            ("length", ctypes.c_ulong),
            ("load", ctypes.c_ulong),
            *(
                (name, ctypes.c_ulonglong)
                for name in (
                    "total",
                    "available",
                    "page_total",
                    "page_available",
                    "virtual_total",
                    "virtual_available",
                    "extended",
                )
            ),
        ]

    status = _Status()
    status.length = ctypes.sizeof(_Status)
    try:
        ok = ctypes.windll.kernel32.GlobalMemoryStatusEx(ctypes.byref(status))
    except (AttributeError, OSError):
        return None
    return int(status.available) if ok else None


def _cgroup_available() -> int | None:
    """Room left under a cgroup v2 memory limit (containers, SLURM jobs), if any."""
    try:
        limit = (CGROUP / "memory.max").read_text(encoding="utf-8").strip()
        if limit == "max":
            return None
        used = int((CGROUP / "memory.current").read_text(encoding="utf-8"))
        return max(int(limit) - used, 0)
    except (OSError, ValueError):
        return None


def _address_space_available() -> int | None:
    """Room left under ``ulimit -v`` (RLIMIT_AS), which counts virtual memory."""
    if resource is None:
        return None
    soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    if soft == resource.RLIM_INFINITY:
        return None
    try:
        for line in Path("/proc/self/status").read_text(encoding="utf-8").splitlines():
            if line.startswith("VmSize:"):
                return max(soft - int(line.split()[1]) * 1024, 0)
    except OSError:
        pass
    return soft


def available_memory() -> int | None:
    """Bytes this process can still allocate: the smallest of free memory, the room
    under a cgroup limit and under ``ulimit -v``; None when none of them is known."""
    known = [
        n
        for n in (_meminfo_available(), _cgroup_available(), _address_space_available())
        if n is not None
    ]
    return min(known) if known else None


def usable_cpus(cgroup: Path = CGROUP) -> int:
    """How many CPUs this process can keep busy, at least 1.

    ``os.cpu_count()`` counts the machine's CPUs, not this process's: under ``taskset`` or
    a batch system's cpuset (SLURM) the process may run on fewer (its affinity mask), and in
    a container started with ``--cpus`` a cgroup v2 quota (``cpu.max``) allows it fewer
    CPUs' worth of time. One worker per CPU beyond those only adds processes that wait and
    memory that each of them holds.
    """
    if hasattr(os, "process_cpu_count"):  # Python 3.13: the affinity mask where there is one
        cpus = os.process_cpu_count()
    elif hasattr(os, "sched_getaffinity"):
        cpus = len(os.sched_getaffinity(0))
    else:
        cpus = os.cpu_count()
    quota = cgroup_cpu_quota(cgroup / "cpu.max")
    return max(1, min(cpus or 1, quota or math.inf))


def cgroup_cpu_quota(path: Path = CGROUP / "cpu.max") -> int | None:
    """CPUs' worth of time a cgroup v2 ``cpu.max`` file allows (``"150000 100000"``: 1.5,
    rounded up to 2), or None where there is no quota (``"max ..."``, no such file)."""
    try:
        fields = Path(path).read_text(encoding="utf-8").split()
        quota, period = int(fields[0]), int(fields[1]) if len(fields) > 1 else 100000
    except (OSError, ValueError, IndexError):
        return None
    return max(1, math.ceil(quota / period)) if quota > 0 and period > 0 else None
