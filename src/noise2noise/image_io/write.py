"""Writing an image file atomically, saying every change of format or depth."""

from __future__ import annotations

import os
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..convert import as_float, from_float
from ..errors import N2NError
from ..files import write_atomically
from .common import (
    _EIGHT_BIT_ONLY,
    _TIFF,
    IMAGE_EXTENSIONS,
    ConversionWarning,
    ImageFileError,
    _reason,
    _supported,
)
from .tiff import _write_tiff


def write_image(path: str | os.PathLike, image: np.ndarray, *, overwrite: bool = False) -> Path:
    """Write an image atomically; the format follows the file extension.

    Parameters
    ----------
    path : path-like
        Destination (.png, .jpg/.jpeg, .bmp, .tif/.tiff). Its folder must exist.
    image : ndarray
        H×W or H×W×C (C in 1..4), uint8, uint16 or float in [0, 1]. PNG and TIFF keep
        16 bits; JPEG and BMP are 8-bit formats, so 16-bit data is reduced with a warning.
        Float data is stored as float in TIFF and as 16-bit in PNG.
    overwrite : bool
        Replace an existing file. Without it an existing file is an error.

    Returns
    -------
    Path of the written file.
    """
    path = Path(path)
    ext = path.suffix.lower()
    if ext not in IMAGE_EXTENSIONS:
        raise ImageFileError(
            path, f"cannot write format '{ext or path.name}' (supported: {_supported()})"
        )
    image = np.asarray(image)
    if ext in _TIFF:
        return _write_atomically(path, lambda tmp: _write_tiff(tmp, image), overwrite)
    return _write_atomically(path, lambda tmp: _write_raster(tmp, image, ext), overwrite)


def _write_atomically(path: Path, write: Callable[[Path], None], overwrite: bool) -> Path:
    """Call ``write`` on a temporary file beside ``path``, then rename it over ``path``."""
    if path.exists() and not overwrite:
        raise ImageFileError(path, "already exists (use `overwrite=True` to replace it)")
    if not path.parent.is_dir():
        raise ImageFileError(path, f"folder {path.parent} does not exist")
    try:
        return write_atomically(path, write)
    except ImageFileError:
        raise
    except Exception as exc:
        raise ImageFileError(path, f"could not write ({_reason(exc)})") from exc


def _write_raster(path: Path, image: np.ndarray, ext: str) -> None:
    if image.dtype.kind == "f":
        depth = 8 if ext in _EIGHT_BIT_ONLY else 16
        warnings.warn(
            f"{path.suffix} stores integers: float data written as {depth}-bit "
            "(write .tif to keep float)",
            ConversionWarning,
            stacklevel=3,
        )
        image = from_float(as_float(image), np.uint8 if depth == 8 else np.uint16)
    if ext in _EIGHT_BIT_ONLY and image.dtype == np.uint16:
        warnings.warn(
            f"{path.suffix} stores 8 bits: reducing 16-bit data", ConversionWarning, stacklevel=3
        )
        image = from_float(as_float(image), np.uint8)
    if ext in (".jpg", ".jpeg") and image.ndim == 3 and image.shape[2] in (2, 4):
        warnings.warn("JPEG has no alpha channel: alpha dropped", ConversionWarning, stacklevel=3)
        image = image[:, :, :-1]
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    if image.dtype == np.uint16 and image.ndim == 3:
        _write_16bit_colour_png(path, image)
        return
    from PIL import Image

    Image.fromarray(image).save(path)


def _write_16bit_colour_png(path: Path, image: np.ndarray) -> None:
    import cv2

    if image.shape[2] == 2:  # PNG has no 16-bit gray+alpha writer here: store as RGBA
        warnings.warn("16-bit gray+alpha is stored as RGBA in PNG", ConversionWarning, stacklevel=4)
        image = np.concatenate([np.repeat(image[:, :, :1], 3, axis=2), image[:, :, 1:]], 2)
    code = cv2.COLOR_RGBA2BGRA if image.shape[2] == 4 else cv2.COLOR_RGB2BGR
    ok, data = cv2.imencode(".png", cv2.cvtColor(image, code))
    if not ok:
        raise N2NError("PNG encoder failed")
    data.tofile(path)
