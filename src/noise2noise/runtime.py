"""Where a computation runs: the device (and, beside it, threads and progress).

This is run-time setting, never configuration: nothing here is written into a result's
configuration, so a training run or reproduction started on the CPU can resume on a GPU,
and the same configuration gives the same result on either up to floating-point rounding.
"""

from __future__ import annotations

import torch

from .errors import N2NError

__all__ = ["resolve_device", "DEVICE_HELP", "autocast"]

DEVICE_HELP = "auto (CUDA, then Apple MPS, then CPU), cpu, cuda, cuda:N or mps"


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


def autocast(device: torch.device, enabled: bool = True):
    """bf16 autocast on CUDA (its matrix units run bf16 far faster), a no-op elsewhere;
    without autocast's weight cache, which a step captured as a CUDA graph must not use."""
    on = enabled and device.type == "cuda"
    return torch.autocast(device.type, dtype=torch.bfloat16, enabled=on, cache_enabled=False)
