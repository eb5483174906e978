"""Where a computation runs: the device (and, beside it, threads and progress).

This is run-time setting, never configuration: nothing here is written into a result's
configuration, so a training run or reproduction started on the CPU can resume on a GPU,
and the same configuration gives the same result on either up to floating-point rounding.
"""

from __future__ import annotations

import functools
import os
import platform

import torch

from .errors import N2NError
from .machine import usable_cpus

__all__ = [
    "resolve_device",
    "DEVICE_HELP",
    "autocast",
    "inference_autocast",
    "cpu_bf16",
    "fit_threads",
]

DEVICE_HELP = "auto (CUDA, then Apple MPS, then CPU), cpu, cuda, cuda:N or mps"
CPU_BF16_ENV = "N2N_CPU_BF16"  # 1: run shipped networks in bf16 on the CPU, 0: never; unset: auto
# CPU flags of bf16 arithmetic in hardware (x86: AVX-512 BF16, AMX), as Linux names them.
BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})


def _mps_available() -> bool:
    backend = getattr(torch.backends, "mps", None)
    return bool(backend is not None and backend.is_available())


def resolve_device(spec: str | torch.device | None = "auto") -> torch.device:
    """The ``torch.device`` for ``spec`` (None or ``"auto"``: the best one present).

    Raises
    ------
    N2NError
        The device asked for is not there (one line that says what is).
    """
    if isinstance(spec, torch.device):
        spec = str(spec)
    spec = (spec or "auto").strip().lower()
    if spec == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        return torch.device("mps") if _mps_available() else torch.device("cpu")
    try:
        device = torch.device(spec)
    except (RuntimeError, ValueError):
        raise N2NError(f"unknown device '{spec}': use {DEVICE_HELP}") from None
    if device.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise N2NError(f"device '{spec}' asked for, but this machine has no CUDA GPU")
        if device.index is not None and device.index >= count:
            raise N2NError(f"device '{spec}' asked for, but there are {count} CUDA GPU(s)")
    elif device.type == "mps" and not _mps_available():
        raise N2NError(f"device '{spec}' asked for, but Apple MPS is not available here")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise N2NError(f"unsupported device '{spec}': use {DEVICE_HELP}")
    return device


def fit_threads() -> int:
    """Use at most :func:`~noise2noise.machine.usable_cpus` torch threads; returns how many.

    torch sizes its thread pool from the machine's cores (it follows the affinity mask,
    not a container's CPU quota): in a container given 2 CPUs on a 64-core host it would
    start 32 threads that the quota lets run only in turns. The command line calls this;
    the library leaves a program's own setting alone.
    """
    cpus = usable_cpus()
    if torch.get_num_threads() > cpus:
        torch.set_num_threads(cpus)
    return torch.get_num_threads()


def autocast(device: torch.device, enabled: bool = True):
    """bf16 autocast on CUDA (its matrix units run bf16 far faster), a no-op elsewhere;
    without autocast's weight cache, which a step captured as a CUDA graph must not use."""
    return _bf16(device, enabled and device.type == "cuda")


def inference_autocast(device: torch.device):
    """bf16 autocast for running a trained network forward: on CUDA, and on a CPU that
    computes bf16 in hardware (:func:`cpu_bf16`), where oneDNN's bf16 convolutions take
    half the time of float32 ones; the skip connections and the output stay float32.

    The shipped blind model on the 22 held-out bsds432 images, 8-bit inputs, as `n2n
    denoise` runs it, on this project's 2-core AMD EPYC (AVX-512 BF16): 0.88 -> 0.46 s an
    image, PSNR -0.006 dB at Gaussian 5, -0.002 at 15, -0.001 at 25; `real` on camera
    photos -0.007 dB (`bench/cpu_bf16.py`, `bench/results/cpu_bf16.md`).
    """
    return _bf16(device, device.type == "cuda" or (device.type == "cpu" and cpu_bf16()))


def _bf16(device: torch.device, on: bool):
    """bf16 autocast on ``device`` when ``on``, without the weight cache (see autocast)."""
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=on, cache_enabled=False)


def cpu_bf16() -> bool:
    """Whether shipped networks run in bf16 on the CPU: as the environment variable
    ``N2N_CPU_BF16`` says (``1`` or ``0``), else where the CPU has bf16 in hardware (on
    other CPUs bf16 is emulated and slower than float32)."""
    value = os.environ.get(CPU_BF16_ENV, "").strip().lower()
    if value in ("1", "on", "true", "yes"):
        return True
    if value in ("0", "off", "false", "no"):
        return False
    return cpu_has_bf16()


@functools.cache
def cpu_has_bf16(cpuinfo: str | None = None) -> bool:
    """Whether the CPU has bf16 arithmetic in hardware, from the flags of ``cpuinfo`` (the
    text of Linux's /proc/cpuinfo; None: read it). False where it cannot be told (other
    systems, other architectures: float32 is the safe choice)."""
    if cpuinfo is None:
        if platform.system() != "Linux" or platform.machine().lower() not in ("x86_64", "amd64"):
            return False
        try:
            with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
                cpuinfo = f.read()
        except OSError:
            return False
    for line in cpuinfo.splitlines():
        key, _, flags = line.partition(":")
        if key.strip() == "flags":
            return not BF16_FLAGS.isdisjoint(flags.split())
    return False
