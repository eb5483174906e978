"""Headers first: size, channels, sample type and planes of a file, read without decoding
any pixel, and the size check that runs before decoding."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..machine import available_memory
from .common import (
    ImageFileError,
    ImageHeader,
    _check_file,
    _own_size_check,
    _reason,
    chunked_hint,
    is_tiff,
)
from .tiff import _header_from_tiff, _tiff_layout, _TiffLayout


def read_header(path: str | os.PathLike) -> ImageHeader:
    """Size, channels, sample type and planes of an image file, without decoding pixels.

    Raises
    ------
    ImageFileError
        As :func:`read_image` for missing, empty, corrupt or unsupported files.
    """
    return _read_header(Path(path))[0]


def _read_header(path: Path) -> tuple[ImageHeader, _TiffLayout | None]:
    """The header, and for a TIFF the layout of its pages (so that reading it does not
    parse them again)."""
    _check_file(path)
    try:
        if is_tiff(path):
            layout = _tiff_layout(path)
            return _header_from_tiff(path, layout), layout
        return _pillow_header(path), None
    except ImageFileError:
        raise
    except Exception as exc:  # every decoder has its own exception types
        raise ImageFileError(path, f"not a readable image ({_reason(exc)})") from exc


# Pillow mode -> (channels, dtype) of the array read_image makes of it.
_PILLOW_MODES = {
    "1": (1, np.uint8),
    "L": (1, np.uint8),
    "P": (3, np.uint8),
    "LA": (2, np.uint8),
    "La": (2, np.uint8),
    "PA": (4, np.uint8),
    "RGB": (3, np.uint8),
    "RGBA": (4, np.uint8),
    "RGBa": (4, np.uint8),
    "RGBX": (3, np.uint8),
    "CMYK": (3, np.uint8),
    "YCbCr": (3, np.uint8),
    "LAB": (3, np.uint8),
    "HSV": (3, np.uint8),
    "I": (1, np.uint16),
    "F": (1, np.float32),
}


def _pillow_header(path: Path) -> ImageHeader:
    from PIL import Image

    with _own_size_check(), Image.open(path) as im:
        width, height = im.size
        if im.format == "PNG" and _is_16bit_colour_png(path):
            channels, dtype = (4 if _png_colour_type(path) == 6 else 3), np.uint16
        elif im.mode.startswith("I;16"):
            channels, dtype = 1, np.uint16
        elif im.mode in _PILLOW_MODES:
            channels, dtype = _PILLOW_MODES[im.mode]
            if im.mode == "P" and "transparency" in im.info:
                channels = 4
            if im.format == "HEIF" and im.info.get("bit_depth", 8) > 8:
                dtype = np.uint16  # a camera's 10-bit HEIF (read.py)
            if im.format == "AVIF" and avif_bits(path) > 8:
                dtype = np.uint16  # an HDR export's 10 or 12 bits (read.py)
        else:
            raise ImageFileError(path, f"unsupported image mode {im.mode}")
        if transparent_colour(im) is not None:  # read as alpha
            channels += 1
        # Several frames (APNG, a GIF or multi-page TIFF under another name) would lose
        # all but the first: refused. A JPEG's extra pictures (MPO: an Ultra HDR gain map,
        # previews) are not frames: the first is the photo (the others: .jpeg_pictures).
        if im.format != "MPO" and getattr(im, "n_frames", 1) > 1:
            kind = "an animated PNG" if im.format == "PNG" else f"a {im.format} file"
            raise ImageFileError(
                path,
                f"{kind} of {im.n_frames} frames: n2n processes still images; "
                "save the frames as a multi-page TIFF to process them as a stack",
            )
        orientation = im.getexif().get(0x0112, 1) if hasattr(im, "getexif") else 1
    if orientation in (5, 6, 7, 8):  # EXIF rotation by 90 degrees swaps the sides
        width, height = height, width
    return ImageHeader(path, width, height, channels, np.dtype(dtype))


def check_size(header: ImageHeader, max_megapixels: float | None) -> None:
    """Refuse an image larger than ``max_megapixels`` per plane (None: no limit), or one
    whose decoding alone (the array and a converted copy) would not fit in the memory
    this process can still use: every reader (training sets, evaluations, file runs) is
    safe from a small file that declares a huge image."""
    if max_megapixels is not None and header.megapixels > max_megapixels:
        raise ImageFileError(
            header.path,
            f"{header.describe()} is larger than the limit of {max_megapixels:g} megapixels "
            f"(set by `max_megapixels`): raise it{chunked_hint(header.path)}",
        )
    free = available_memory()
    if free is not None and 2 * header.nbytes > free:
        raise ImageFileError(
            header.path,
            f"{header.describe()} needs about {2 * header.nbytes / 2**30:.1f} GB to decode, "
            f"more than the {free / 2**30:.1f} GB available",
        )


def transparent_colour(im) -> int | tuple | None:
    """The gray value or RGB colour that a gray or RGB PNG marks as transparent (its tRNS
    chunk, instead of an alpha channel), or None. Pillow gives it for a palette PNG too,
    which it converts to RGBA itself."""
    if im.format != "PNG" or im.mode not in ("L", "I;16", "I", "RGB"):
        return None
    return im.info.get("transparency")


def avif_bits(path: Path) -> int:
    """The bits per sample of an AVIF's image (8, 10 or 12), from the first AV1 codec
    configuration ('av1C' box: its high_bitdepth and twelve_bit flags) among the file's
    first 64 KiB, where its item properties are; 8 where none is found there."""
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    at = head.find(b"av1C")
    if at < 4 or at + 7 > len(head):
        return 8
    flags = head[at + 6]  # seq_tier_0, high_bitdepth, twelve_bit, monochrome, ...
    return 8 if not flags & 0x40 else 12 if flags & 0x20 else 10


def _is_16bit_colour_png(path: Path) -> bool:
    with open(path, "rb") as f:
        header = f.read(26)
    # IHDR follows the 8-byte signature; bit depth at byte 24, colour type at 25.
    return len(header) == 26 and header[24] == 16 and header[25] in (2, 6)


def _png_colour_type(path: Path) -> int:
    with open(path, "rb") as f:
        return f.read(26)[25]
