"""TIFF stacks (z-slices, time points, channels): read as planes, all at once
(:func:`read_stack`) or one at a time (:class:`StackPlanes`, for stacks larger than
memory), and written back with their original axes (:func:`write_stack`, from an array or
from planes as they are made)."""

from __future__ import annotations

import itertools
import os
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import Note, warn_user
from .common import (
    _TIFF,
    DEFAULT_MAX_MEGAPIXELS,
    ImageFileError,
    _reason,
    as_stored,
    is_tiff,
)
from .headers import _read_header, check_size
from .metadata import Metadata
from .tiff import _decoded, _layout_of, _read_tiff_array, _tiff_kind, _tiff_layout, tiff_options
from .tiff_storage import compression_options
from .write import _write_atomically, refuse_existing


@dataclass(frozen=True)
class StackLayout:
    """How the planes of a TIFF stack were arranged, to write them back the same way."""

    axes: str
    shape: tuple[int, ...]
    imagej: bool


def is_stack(path: str | os.PathLike) -> bool:
    """True for a TIFF holding several planes (z-slices, time points, channels...)."""
    path = Path(path)
    if not is_tiff(path) or not path.is_file() or path.stat().st_size == 0:
        return False
    try:
        layout = _tiff_layout(path)
    except Exception:  # unreadable files are read_image's to report
        return False
    return _tiff_kind(layout.axes, layout.shape) == "stack"


def read_stack(
    path: str | os.PathLike, *, max_megapixels: float | None = DEFAULT_MAX_MEGAPIXELS
) -> tuple[np.ndarray, StackLayout]:
    """Read a TIFF stack as planes: (N, H, W) or (N, H, W, S) with S colour samples.

    Every axis before Y and X (Z, time, channel, ...) is flattened into N, so each plane
    is one grayscale or colour image; :func:`write_stack` restores the original axes.
    Pages written one by one (one series each) are planes of the stack too.

    Returns
    -------
    (planes, layout)
    """
    path = Path(path)
    header, tiff = _read_header(path)
    check_size(header, max_megapixels)
    try:
        tiff = tiff or _tiff_layout(path)  # not a TIFF by name: tifffile says why
        axes, shape, imagej = tiff.axes, tiff.shape, tiff.imagej
        array = _read_tiff_array(path, tiff)
    except ImageFileError:
        raise
    except Exception as exc:
        raise ImageFileError(path, f"not a readable TIFF ({_reason(exc)})") from exc
    if not axes.endswith(("YX", "YXS")):  # a single image reads as a stack of one plane
        raise ImageFileError(path, f"TIFF with axes {axes} is not a stack of images")
    plane_axes = 3 if axes.endswith("S") else 2
    planes = array.reshape((-1, *shape[len(shape) - plane_axes :]))
    return _decoded(path, planes, tiff), StackLayout(axes, shape, imagej)


class StackPlanes:
    """The planes of a TIFF stack, each read from the file when it is asked for, so that
    a stack larger than memory can be denoised plane by plane; planes as
    :func:`read_stack` gives them. Use it as a context manager (it holds the file open).
    """

    def __init__(self, path: str | os.PathLike):
        import tifffile

        self.path = Path(path)
        try:
            self._tif = tifffile.TiffFile(self.path)  # parsed once: the layout and the pages
        except tifffile.TiffFileError as exc:
            raise ImageFileError(self.path, f"not a TIFF stack ({exc})") from None
        try:
            tiff = _layout_of(self._tif, self.path)
            if _tiff_kind(tiff.axes, tiff.shape) != "stack":
                raise ImageFileError(self.path, f"TIFF with axes {tiff.axes} is not a stack")
        except BaseException:
            self._tif.close()
            raise
        self.layout = StackLayout(tiff.axes, tiff.shape, tiff.imagej)
        self._plane_shape = tiff.shape[tiff.axes.index("Y") :]
        self._count = int(np.prod(tiff.shape[: tiff.axes.index("Y")]))
        self._per_series = self._count // len(tiff.series)
        self._tiff = tiff
        pages = len(self._tif.series[tiff.series[0]])
        # planes per page: 1, or the samples of a planar colour page (each plane grey)
        self._per_page = self._per_series // pages if self._per_series % pages == 0 else 0
        self._cached: tuple[tuple[int, int], np.ndarray] | None = None

    def __len__(self) -> int:
        return self._count

    def __getitem__(self, i: int) -> np.ndarray:
        if not 0 <= i < self._count:
            raise IndexError(i)
        series, j = divmod(i, self._per_series)
        if self._per_page:
            key, within = divmod(j, self._per_page)
            where = (series, key)
        else:  # pages are not whole planes: read the stack once, whole
            where, within = (-1, -1), i
        if self._cached is None or self._cached[0] != where:
            self._cached = (where, self._read(*where))
        plane = self._cached[1].reshape(-1, *self._plane_shape)[within]
        return _decoded(self.path, plane, self._tiff)

    def _read(self, series: int, key: int) -> np.ndarray:
        try:
            if series < 0:
                return _read_tiff_array(self.path, self._tiff)
            return self._tif.asarray(key=key, series=self._tiff.series[series])
        except Exception as exc:
            raise ImageFileError(self.path, f"not a readable TIFF ({_reason(exc)})") from exc

    def close(self) -> None:
        self._tif.close()

    def __enter__(self) -> StackPlanes:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def write_stack(
    path: str | os.PathLike,
    planes: np.ndarray | Iterable[np.ndarray],
    layout: StackLayout,
    *,
    overwrite: bool = False,
    metadata: Metadata | None = None,
) -> Path:
    """Write planes from :func:`read_stack` or :class:`StackPlanes` (same count and size)
    as a TIFF with the original axes, atomically, with ``metadata``'s colour profile,
    resolution and ImageJ calibration (:func:`~noise2noise.image_io.read_metadata` of the
    input), in its sample type where it was read as another. ``planes`` may be an
    iterable (a generator): each plane is written as it comes, so the stack is never whole
    in memory."""
    path = Path(path)
    require_tiff_target(path)
    refuse_existing(path, overwrite)  # before the first plane of a generator is made
    import tifffile

    meta = metadata or Metadata()
    if isinstance(planes, np.ndarray):
        data = {"data": as_stored(planes, meta.stored_type).reshape(layout.shape)}
        dtype = data["data"].dtype
    else:
        ahead = (as_stored(plane, meta.stored_type) for plane in planes)
        first = next(ahead)
        dtype = first.dtype
        data = {"data": itertools.chain([first], ahead), "shape": layout.shape, "dtype": dtype}
    colour = layout.axes.endswith("S") and layout.shape[-1] in (3, 4)
    if layout.imagej and dtype != np.float32:
        options = {"imagej": True, **tiff_options(replace(meta, ome=None), layout.axes)}
    else:
        options = {
            "photometric": "rgb" if colour else "minisblack",
            **tiff_options(replace(meta, imagej=None), layout.axes),
        }
    options |= compression_options(meta.storage)  # as the input (in planes, not tiles)
    if meta.storage and (count := len(meta.storage.levels)):
        warn_user(
            f"the stack's reduced-resolution {'copies are' if count > 1 else 'copy is'} "
            "not written (its output holds the full-resolution planes)",
            Note,
        )
    return _write_atomically(path, lambda tmp: tifffile.imwrite(tmp, **data, **options), overwrite)


def require_tiff_target(path: str | os.PathLike) -> None:
    """Fail unless ``path`` can hold a stack (before the work of making one)."""
    if Path(path).suffix.lower() not in _TIFF:
        raise ImageFileError(path, "a TIFF stack can only be written as .tif/.tiff")
