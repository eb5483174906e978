"""Reading and writing image files: what users have, in the bit depth they have it.

Arrays come back as H×W (grayscale) or H×W×C (C = 2 gray+alpha, 3 RGB, 4 RGBA) of uint8,
uint16 or float32, with EXIF orientation applied. Writing is atomic: a temporary file in the
destination folder is renamed over the target only once it is complete, so a failed write
never leaves a half-written image behind.

Pillow reads and writes most formats, but not 16-bit colour PNG; OpenCV handles those,
and tifffile handles TIFF in every depth.

Size is checked before any pixel is decoded: :func:`read_header` reads only the header
(size, channels, depth, pages), and :func:`read_image` refuses an image above
``max_megapixels`` instead of letting a small file that declares a huge image (a
"decompression bomb") take the machine's memory. A change of format or depth on the way in
(1-bit, CMYK, palette) is said with a :class:`ConversionWarning`.

Modules: ``common`` (formats, errors, the header record), ``headers`` (read before
decoding; the size check), ``read``, ``write``, ``tiff`` (layout of pages, decoding,
writing), ``stacks`` (multi-plane TIFF), ``metadata`` (colour profile, EXIF,
resolution and ImageJ calibration, carried from input to output); here the helpers for
folders and alpha.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .common import (
    DEFAULT_MAX_MEGAPIXELS,
    IMAGE_EXTENSIONS,
    LOSSY_EXTENSIONS,
    OTHER_IMAGE_EXTENSIONS,
    READ_EXTENSIONS,
    TIFF_EXTENSIONS,
    TIFF_LIKE,
    ConversionWarning,
    ImageFileError,
    ImageHeader,
    ScalingNote,
    as_stored,
    convert_samples,
    describe_shape,
    format_hint,
    is_tiff,
    sample_type,
    sample_type_note,
    stored_type,
)
from .headers import check_size, read_header
from .metadata import Metadata, read_metadata
from .read import read_image
from .stacks import (
    StackLayout,
    StackPlanes,
    is_stack,
    read_stack,
    require_tiff_target,
    write_stack,
)
from .write import JPEG_QUALITY, refuse_existing, refuse_float_units, write_image

__all__ = [
    "IMAGE_EXTENSIONS",
    "LOSSY_EXTENSIONS",
    "TIFF_EXTENSIONS",
    "TIFF_LIKE",
    "READ_EXTENSIONS",
    "is_tiff",
    "DEFAULT_MAX_MEGAPIXELS",
    "ImageFileError",
    "ConversionWarning",
    "ScalingNote",
    "ImageHeader",
    "describe_shape",
    "sample_type",
    "sample_type_note",
    "convert_samples",
    "stored_type",
    "as_stored",
    "read_header",
    "check_size",
    "read_image",
    "write_image",
    "refuse_existing",
    "refuse_float_units",
    "JPEG_QUALITY",
    "Metadata",
    "read_metadata",
    "list_images",
    "unreadable_images",
    "describe_unreadable",
    "split_alpha",
    "merge_alpha",
    "apply_to_colour",
    "StackLayout",
    "StackPlanes",
    "is_stack",
    "read_stack",
    "write_stack",
    "require_tiff_target",
]


def list_images(folder: str | os.PathLike, *, recursive: bool = False) -> list[Path]:
    """The image files directly inside ``folder`` (with ``recursive``, in its subfolders
    too), by extension, hidden files and folders skipped, sorted."""
    return _files(folder, READ_EXTENSIONS, recursive)


def unreadable_images(folder: str | os.PathLike, *, recursive: bool = False) -> list[Path]:
    """Image files in ``folder`` in formats n2n does not read (camera raw, HEIC, GIF,
    ...), sorted: :func:`list_images` leaves them out, and a run says so."""
    return _files(folder, OTHER_IMAGE_EXTENSIONS, recursive)


def _files(folder: str | os.PathLike, extensions, recursive: bool) -> list[Path]:
    folder = Path(folder)
    return sorted(
        p
        for p in (folder.rglob("*") if recursive else folder.iterdir())
        if p.suffix.lower() in extensions
        and not any(part.startswith(".") for part in p.relative_to(folder).parts)
        and p.is_file()
    )


def describe_unreadable(folder: str | os.PathLike, *, recursive: bool = False) -> str:
    """``"2 image file(s) in formats n2n does not read (a.NEF, b.NEF); camera raw: develop
    it first ..."`` for ``folder``, or ``""`` when it holds none."""
    left = unreadable_images(folder, recursive=recursive)
    if not left:
        return ""
    names = ", ".join(p.name for p in left[:3]) + (", ..." if len(left) > 3 else "")
    hints = dict.fromkeys(h for h in (format_hint(p.suffix.lower()) for p in left) if h)
    return f"{len(left)} image file(s) in formats n2n does not read ({names})" + "".join(
        f"; {h}" for h in hints
    )


def split_alpha(image: np.ndarray) -> tuple[np.ndarray, np.ndarray | None]:
    """Split H×W×2 (gray+alpha) or H×W×4 (RGBA) into colour and alpha; others pass through."""
    if image.ndim == 3 and image.shape[2] in (2, 4):
        return image[:, :, :-1], image[:, :, -1]
    return image, None


def merge_alpha(colour: np.ndarray, alpha: np.ndarray | None) -> np.ndarray:
    """Inverse of :func:`split_alpha`."""
    if alpha is None:
        return colour
    if colour.ndim == 2:
        colour = colour[:, :, None]
    return np.concatenate([colour, alpha[:, :, None]], axis=2)


def apply_to_colour(fn, image: np.ndarray, /, **options) -> np.ndarray:
    """``fn(colour, channel_axis=..., **options)`` on the colour channels of a file image.

    ``image`` is H×W or H×W×C as :func:`read_image` returns it; with 2 or 4 channels the
    last is alpha, which is passed through untouched.
    """
    colour, alpha = split_alpha(image)
    out = fn(colour, channel_axis=None if colour.ndim == 2 else -1, **options)
    return merge_alpha(out, alpha)
