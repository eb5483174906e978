"""One file: read its header, check its size and memory, read, apply, write atomically;
every problem becomes the file's :class:`FileResult`, never an exception."""

from __future__ import annotations

import errno
import time
import warnings
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..convert import (
    as_float,
    float_span,
    from_unit_range,
    outside_float_range,
    to_unit_range,
)
from ..errors import N2NError, Note, warn_user
from ..image_io import (
    ConversionWarning,
    ImageFileError,
    ScalingNote,
    StackPlanes,
    apply_to_colour,
    read_header,
    read_image,
    read_metadata,
    refuse_existing,
    refuse_float_units,
    require_tiff_target,
    write_image,
    write_stack,
)
from ..memory import Limits, check_memory
from ..noise import add_noise, noise_seed
from ..progress import nested_bars, progress_bar


@dataclass(frozen=True)
class FileResult:
    """What happened to one input file: an error, notes (a change of format or depth
    said on the way), or ``skipped`` when its output already existed."""

    source: Path
    target: Path
    seconds: float
    error: str | None = None
    notes: tuple[str, ...] = ()
    skipped: bool = False
    disk_full: bool = False  # the error: no space left (every later file would fail too)
    exists: bool = False  # the error: its output already existed (a run made before)

    @property
    def ok(self) -> bool:
        return self.error is None


@dataclass(frozen=True)
class NoiseAdder:
    """``image -> noisy image`` for files; each file (:meth:`for_file`) and each plane of
    a stack gets its own noise. Float data in physical units are scaled into [0, 1] and
    back, as for denoising (the noise is then relative to that range), with a note."""

    noise: object
    seed: int = 0
    takes_plane = True  # process_file passes the plane index of a stack

    def for_file(self, source: Path) -> NoiseAdder:
        """The adder of ``source``: its seed drawn from the run's and the file's name, as
        ``n2n eval`` seeds an image's noise (the same noise, whole images), so that the
        files of a folder do not all get the same noise."""
        return replace(self, seed=noise_seed(self.seed, source.stem, self.noise.name))

    def __call__(self, image: np.ndarray, plane: int = 0) -> np.ndarray:
        if not getattr(self.noise, "clip", True) and image.dtype.kind != "f":
            if plane == 0:
                warn_user(
                    f"{image.dtype} values written as float32 in [0, 1], which holds the "
                    "unclipped noise beyond them",
                    ConversionWarning,
                )
            image = as_float(image)
        span = None
        if extremes := outside_float_range(image):
            span = float_span(*extremes)
            warn_user(ScalingNote(span, "adding noise"))
        seed = self.seed + 7919 * plane
        noisy = apply_to_colour(add_noise, to_unit_range(image, span), noise=self.noise, seed=seed)
        return from_unit_range(noisy, span)


def _plane_progress(planes: Iterable, source: Path):
    return progress_bar(planes, desc=source.name, unit="plane", leave=False)


def _bytes_per_pixel(fn) -> float:
    return getattr(fn, "bytes_per_pixel", _DEFAULT_BYTES_PER_PIXEL)


# For a function that does not say what it needs (add-noise: a float copy, float64 for
# Poisson draws and the result).
_DEFAULT_BYTES_PER_PIXEL = 128.0


def process_file(
    source: Path,
    target: Path,
    fn: Callable[[np.ndarray], np.ndarray],
    *,
    overwrite: bool = False,
    limits: Limits | None = None,
    quality: int | None = None,
) -> FileResult:
    """Read ``source``, apply ``fn``, write ``target`` (a JPEG or WebP at ``quality``, with
    the metadata of ``source``); errors become ``FileResult.error``.

    The file's header is read first, and an image above ``limits`` is refused before it
    is decoded (:mod:`noise2noise.memory`). Every exception of the reading, the method or
    the writing becomes the file's error, so one file never ends a folder run; warnings
    of kind :class:`~noise2noise.errors.Note` (conversions, the method chosen) become its
    notes.
    """
    limits = limits or Limits()
    work = lambda: _process(source, target, fn, overwrite, limits, quality)  # noqa: E731
    return as_result(source, target, work)


def as_result(source: Path, target: Path, work: Callable[[], object]) -> FileResult:
    """Run ``work`` (the reading, method or writing of one file) and say how it went:
    every exception becomes the file's error and notes (:class:`~noise2noise.errors.Note`:
    conversions, the method chosen) its notes."""
    start = time.perf_counter()
    full = False
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", Note)
        try:
            error = None
            work()
        except ImageFileError as exc:
            error, full = str(exc), _disk_full(exc)
        except N2NError as exc:  # the method refused this image
            error = f"{source}: {exc}"
        except MemoryError:
            error = f"{source}: out of memory while processing it"
        except Exception as exc:  # noqa: BLE001 - any failure is this file's, not the run's
            error = f"{source}: failed with {type(exc).__name__}: {_first_line(exc)}"
    notes, others = [], []
    for w in caught:
        (notes if issubclass(w.category, Note) else others).append(w)
    for w in others:  # not ours to collect: shown as they would have been
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    unique = tuple(dict.fromkeys(_said(notes)))
    return FileResult(source, target, time.perf_counter() - start, error, unique, disk_full=full)


def _said(notes: list) -> list[str]:
    """The texts of caught notes; a note of every plane of a stack (a kind with
    ``for_planes``: the float scaling, BM3D's estimated sigma) in one."""
    kinds: dict[type, list] = {}
    for w in notes:
        if hasattr(w.message, "for_planes"):
            kinds.setdefault(type(w.message), []).append(w.message)
    said = []
    for w in notes:
        if not hasattr(w.message, "for_planes"):
            said.append(str(w.message))
        elif w.message is (same := kinds[type(w.message)])[0]:
            said.append(type(w.message).for_planes(same))
    return said


_FULL = {errno.ENOSPC, getattr(errno, "EDQUOT", errno.ENOSPC)}  # no EDQUOT on Windows


def _disk_full(exc: BaseException | None) -> bool:
    """Whether ``exc`` or what caused it is a full disk or an exhausted quota."""
    while exc is not None:
        if isinstance(exc, OSError) and exc.errno in _FULL:
            return True
        exc = exc.__cause__
    return False


def read_single_image(
    source: Path, target: Path, fn, overwrite: bool, limits: Limits
) -> np.ndarray | None:
    """The image of ``source`` after the checks :func:`process_file` makes, for a run that
    denoises several images at once; None for a stack, which goes plane by plane."""
    header = read_header(source)  # a missing or unreadable input is said first
    refuse_existing(target, overwrite)
    # a stack is read, processed and written plane by plane (_process): one plane's worth
    check_memory(replace(header, planes=1), _bytes_per_pixel(fn), limits)
    if header.planes > 1:
        return None
    image = read_image(source, max_megapixels=None)
    refuse_float_units(target, image)  # before the work, not after it
    return image


def write_output(
    source: Path, target: Path, image: np.ndarray, overwrite: bool, quality: int | None = None
) -> None:
    """Write ``image`` to ``target`` with the metadata of ``source`` (read_metadata)."""
    meta = read_metadata(source)
    write_image(target, image, overwrite=overwrite, metadata=meta, quality=quality)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else "no message"


def _process(
    source: Path, target: Path, fn, overwrite: bool, limits: Limits, quality: int | None
) -> None:
    if hasattr(fn, "for_file"):  # a function of each file's own (add-noise's seed)
        fn = fn.for_file(source)
    image = read_single_image(source, target, fn, overwrite, limits)
    if image is not None:
        write_output(source, target, fn(image), overwrite, quality)
        return
    # z-stacks, time series, channels: each plane on its own
    # read, denoised and written one at a time, so a stack need not fit in memory
    require_tiff_target(target)
    with StackPlanes(source) as planes:
        if hasattr(fn, "for_stack"):  # one choice for all planes (method auto)
            fn = fn.for_stack(planes)
        per_plane = getattr(fn, "takes_plane", False)
        results = (
            fn(planes[i], plane=i) if per_plane else fn(planes[i])
            for i in _plane_progress(range(len(planes)), source)
        )
        meta = read_metadata(source)
        with nested_bars():  # a plane's own bar (steps, tiles) goes when it is done
            write_stack(target, results, planes.layout, overwrite=overwrite, metadata=meta)
