"""Reading an image file into an array (PNG, JPEG, WebP, BMP, AVIF, HEIC through Pillow;
16-bit colour PNG through OpenCV; TIFF through :mod:`.tiff`), after its header passed the
size check."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..errors import N2NError, warn_user
from .common import (
    DEFAULT_MAX_MEGAPIXELS,
    ConversionWarning,
    ImageFileError,
    _own_size_check,
    _reason,
)
from .headers import (
    _is_16bit_colour_png,
    _read_header,
    avif_bits,
    check_size,
    transparent_colour,
)
from .tiff import _read_tiff


def read_image(
    path: str | os.PathLike, *, max_megapixels: float | None = DEFAULT_MAX_MEGAPIXELS
) -> np.ndarray:
    """Read an image file into an array.

    Parameters
    ----------
    path : path-like
        A PNG, JPEG, WebP, BMP, AVIF, HEIC (with pillow-heif) or TIFF file, 8 or 16 bit
        (TIFF may also be float).
    max_megapixels : float or None
        Refuse, before decoding, an image with more pixels than this (None: no limit).

    Returns
    -------
    ndarray
        H×W or H×W×C, dtype uint8, uint16 or float32. Palette images become RGB (RGBA
        when the palette has transparency); EXIF orientation is applied.

    Raises
    ------
    ImageFileError
        Missing, empty, truncated, corrupt or unsupported files, animated PNGs, and
        images above ``max_megapixels``, with the reason.
    """
    path = Path(path)
    header, layout = _read_header(path)
    check_size(header, max_megapixels)
    try:
        if layout is None or layout.colours == "pillow" and layout.axes in ("YXS", "SYX"):
            image = _read_with_pillow(path)  # colours tifffile gives as stored
        else:  # turned upright as a JPEG is by its EXIF (Pillow does that above)
            image = _apply_orientation(_read_tiff(path, layout), layout.orientation)
    except ImageFileError:
        raise
    except Exception as exc:  # every decoder has its own exception types
        raise ImageFileError(path, f"not a readable image ({_reason(exc)})") from exc
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    return image


def _read_with_pillow(path: Path) -> np.ndarray:
    from PIL import Image, ImageOps

    with _own_size_check(), Image.open(path) as im:
        key = transparent_colour(im)
        if im.format == "PNG" and _is_16bit_colour_png(path):
            orientation = im.getexif().get(0x0112, 1)
            image = _apply_orientation(_read_16bit_colour_png(path), orientation)
            # OpenCV makes the alpha of a tRNS colour itself: made again, as for the others
            return image if key is None else _key_as_alpha(image[:, :, :3], key)
        if im.format == "HEIF" and im.info.get("bit_depth", 8) > 8 and im.mode != "I;16":
            return _read_deep_heif(path)
        if im.format == "AVIF" and (bits := avif_bits(path)) > 8:
            return _apply_orientation(_read_deep_avif(path, bits), im.getexif().get(0x0112, 1))
        im.load()  # decode now, so truncation surfaces here as an error
        im = ImageOps.exif_transpose(im)
        image = _pillow_to_array(im)
        return image if key is None else _key_as_alpha(image, key)


def _key_as_alpha(image: np.ndarray, key: int | tuple) -> np.ndarray:
    """``image`` with an alpha channel, transparent where its pixels are the colour
    ``key`` (in the file's values), with a note: read as opaque, the output showed the
    background the file keyed out."""
    warn_user(
        "a PNG's transparent colour is read as alpha (the output has alpha)", ConversionWarning
    )
    pixels = image if image.ndim == 3 else image[:, :, None]
    keyed = np.all(pixels == np.asarray(key, dtype=np.int64).reshape(-1), axis=2)
    alpha = np.where(keyed, 0, np.iinfo(image.dtype).max).astype(image.dtype)
    return np.dstack([pixels, alpha])


def _read_deep_heif(path: Path) -> np.ndarray:
    """A colour HEIC of 10 or 12 bits (cameras' HEIF), which Pillow's opener gives as 8
    bits, as uint16: pillow-heif shifts the values up to the 16-bit range (1023 to 65472),
    libheif turning the pixels upright as for the 8-bit ones."""
    import pillow_heif

    return np.array(np.asarray(pillow_heif.open_heif(path, convert_hdr_to_8bit=False)))


def _read_deep_avif(path: Path, bits: int) -> np.ndarray:
    """An AVIF of 10 or 12 bits, which Pillow decodes to 8, as uint16 through imagecodecs,
    shifted up to the 16-bit range as a 10-bit HEIC is (1023 to 65472). Turned upright by
    its EXIF orientation after, as Pillow's 8-bit ones are."""
    import imagecodecs

    image = imagecodecs.avif_decode(path.read_bytes())
    return image.astype(np.uint16) << (16 - bits)


_CONVERSIONS = {
    "1": "a 1-bit image is read as 8-bit grayscale (the output is 8-bit)",
    "P": "a palette image is read as RGB (the output is RGB)",
    "PA": "a palette image is read as RGBA (the output is RGBA)",
    "CMYK": "a CMYK image is read as RGB (the output is RGB)",
    "YCbCr": "a YCbCr image is read as RGB (the output is RGB)",
    "LAB": "a Lab image is read as RGB (the output is RGB)",
    "HSV": "an HSV image is read as RGB (the output is RGB)",
}


def _pillow_to_array(im) -> np.ndarray:
    mode = im.mode
    transparent = mode == "P" and "transparency" in im.info  # read as RGBA, as PA is
    if mode in _CONVERSIONS:
        warn_user(_CONVERSIONS["PA" if transparent else mode], ConversionWarning)
    if mode == "P":
        im = im.convert("RGBA" if transparent else "RGB")
    elif mode == "PA":
        im = im.convert("RGBA")
    elif mode == "1":
        im = im.convert("L")
    elif mode in ("CMYK", "YCbCr", "LAB", "HSV", "RGBX"):
        im = im.convert("RGB")
    elif mode == "La":
        im = im.convert("LA")
    elif mode == "RGBa":
        im = im.convert("RGBA")
    array = np.asarray(im)
    if array.dtype.kind in "iu" and array.dtype != np.uint8:
        # 16-bit grayscale arrives as I;16 (uint16) or I (int32) depending on the file.
        if array.min() < 0 or array.max() > 65535:
            raise N2NError(f"integer values outside 0..65535 (mode {mode})")
        array = array.astype(np.uint16)
    elif array.dtype.kind == "b":
        array = array.astype(np.uint8) * 255
    return np.array(array)  # writable copy, independent of the closed file


def _read_16bit_colour_png(path: Path) -> np.ndarray:
    import cv2

    data = np.fromfile(path, dtype=np.uint8)
    array = cv2.imdecode(data, cv2.IMREAD_UNCHANGED)
    if array is None:
        raise N2NError("corrupt or truncated PNG")
    code = cv2.COLOR_BGRA2RGBA if array.shape[2] == 4 else cv2.COLOR_BGR2RGB
    return cv2.cvtColor(array, code)


def _apply_orientation(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation tag (1-8) to an H×W(×C) array."""
    transpose = array.swapaxes(0, 1)
    result = {
        2: array[:, ::-1],
        3: array[::-1, ::-1],
        4: array[::-1],
        5: transpose,
        6: transpose[:, ::-1],
        7: transpose[::-1, ::-1],
        8: transpose[::-1],
    }.get(orientation, array)
    return np.ascontiguousarray(result)
