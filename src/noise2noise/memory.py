"""The memory budget: how much memory an image will need, decided before it is decoded.

A file of a few kilobytes can declare a 60000×60000 image; decoding it first and failing
later takes the machine down on the way. So a file run reads the header
(:func:`noise2noise.image_io.read_header`), estimates the peak memory of decoding it and
of the chosen method (:func:`estimate_bytes`, from the per-method costs measured by
``bench/memory_per_pixel.py``), and refuses the image with one line when the estimate
exceeds what this process may use (:func:`noise2noise.machine.available_memory`: free
memory, the cgroup limit and ``ulimit -v``, whichever is smallest).
"""

from __future__ import annotations

from dataclasses import dataclass

from .image_io import DEFAULT_MAX_MEGAPIXELS, ImageFileError, ImageHeader, check_size
from .image_io.common import chunked_hint
from .machine import available_memory

__all__ = [
    "Limits",
    "available_memory",
    "per_worker",
    "estimate_bytes",
    "check_memory",
    "PROCESS_OVERHEAD",
]

# Python, torch and a network loaded, before any image (the `fixed MB` column of
# bench/results/memory_per_pixel.md, rounded up): what each worker process costs.
PROCESS_OVERHEAD = 500 * 2**20
# Decoding holds the file's array and, for most decoders, one converted copy of it.
_DECODE_COPIES = 2


@dataclass(frozen=True)
class Limits:
    """Run-time limits of a file run (never part of a configuration).

    max_megapixels : pixels per image (per plane of a stack) above which a file is refused
        before it is decoded; None for no limit.
    memory_bytes : peak memory one image may need (decoding plus the method); None for no
        limit.
    """

    max_megapixels: float | None = DEFAULT_MAX_MEGAPIXELS
    memory_bytes: int | None = None


def per_worker(available: int | None, workers: int) -> int | None:
    """The share of ``available`` bytes one image may use when ``workers`` processes
    (each with its own :data:`PROCESS_OVERHEAD`) run side by side."""
    if available is None:
        return None
    if workers <= 1:
        return available
    return max(available - workers * PROCESS_OVERHEAD, 0) // workers


def estimate_bytes(header: ImageHeader, bytes_per_pixel: float) -> int:
    """Peak memory of decoding the file and processing it with a method that needs
    ``bytes_per_pixel`` bytes per pixel. A file run reads, processes and writes a stack
    one plane at a time, and so asks with one plane's header."""
    plane_pixels = header.width * header.height
    return int(_DECODE_COPIES * header.nbytes + bytes_per_pixel * plane_pixels)


def _gb(n: int) -> str:
    return f"{n / 2**30:.1f} GB"


def check_memory(header: ImageHeader, bytes_per_pixel: float, limits: Limits) -> None:
    """Refuse, before decoding, an image above the pixel limit or the memory budget.

    Raises
    ------
    ImageFileError
        One line naming the file, its size and the estimate.
    """
    check_size(header, limits.max_megapixels)
    if limits.memory_bytes is None:
        return
    need = estimate_bytes(header, bytes_per_pixel)
    if need > limits.memory_bytes:
        raise ImageFileError(
            header.path,
            f"{header.describe()} needs about {_gb(need)} of memory to process, more than "
            f"the {_gb(limits.memory_bytes)} available; use a machine with more memory or "
            f"fewer workers{chunked_hint(header.path)}",
        )
