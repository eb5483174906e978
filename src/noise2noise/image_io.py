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
"""

from __future__ import annotations

import contextlib
import os
import warnings
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .convert import as_float, from_float
from .errors import N2NError
from .files import write_atomically

# tifffile and cv2 (16-bit colour PNG) are imported in the functions that use them: most
# runs need neither, and loading them costs a noticeable part of a command's start-up.

__all__ = [
    "IMAGE_EXTENSIONS",
    "DEFAULT_MAX_MEGAPIXELS",
    "ImageFileError",
    "ConversionWarning",
    "ImageHeader",
    "read_header",
    "check_size",
    "read_image",
    "write_image",
    "list_images",
    "split_alpha",
    "merge_alpha",
    "apply_to_colour",
    "StackLayout",
    "is_stack",
    "read_stack",
    "write_stack",
]

IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff")
_TIFF = (".tif", ".tiff")
_EIGHT_BIT_ONLY = (".jpg", ".jpeg", ".bmp")
# Far above any camera (a 100-megapixel sensor) or slide scan we expect, and still a bound:
# the memory check of n2n denoise (noise2noise.memory) is usually the tighter one.
DEFAULT_MAX_MEGAPIXELS = 1000.0


class ImageFileError(N2NError):
    """A file that cannot be read or written as an image; the message names the file."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ConversionWarning(UserWarning):
    """The data change format or depth on the way in or out (1-bit read as 8-bit, CMYK as
    RGB, float stored as 16-bit PNG...): never silent, but not an error either."""


# --------------------------------------------------------------------------- headers


@dataclass(frozen=True)
class ImageHeader:
    """What a file holds, read without decoding its pixels.

    ``channels`` and ``dtype`` are those :func:`read_image` (or :func:`read_stack`) will
    return; ``planes`` > 1 for a TIFF stack.
    """

    path: Path
    width: int
    height: int
    channels: int
    dtype: np.dtype
    planes: int = 1

    @property
    def megapixels(self) -> float:
        """Pixels of one plane, in millions."""
        return self.width * self.height / 1e6

    @property
    def nbytes(self) -> int:
        """Bytes of the decoded array (all planes)."""
        return self.width * self.height * self.channels * self.planes * self.dtype.itemsize

    def describe(self) -> str:
        """For messages: ``"20000×20000, 3 channels of uint16 (400 MP)"``."""
        planes = f", {self.planes} planes" if self.planes > 1 else ""
        return (
            f"{self.width}×{self.height}, {self.channels} channel"
            f"{'s' if self.channels != 1 else ''} of {self.dtype}{planes} "
            f"({self.megapixels:.0f} MP)"
        )


def _check_file(path: Path) -> str:
    """The lower-case extension of an image file that exists and is not empty."""
    if not path.exists():
        raise ImageFileError(path, "no such file")
    if path.is_dir():
        raise ImageFileError(path, "is a folder, not an image file")
    ext = path.suffix.lower()
    if ext not in IMAGE_EXTENSIONS:
        raise ImageFileError(
            path, f"unsupported format '{ext or path.name}' (supported: {_supported()})"
        )
    if path.stat().st_size == 0:
        raise ImageFileError(path, "empty file")
    return ext


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
    ext = _check_file(path)
    try:
        if ext in _TIFF:
            layout = _tiff_layout(path)
            return _header_from_tiff(path, layout), layout
        return _pillow_header(path), None
    except ImageFileError:
        raise
    except Exception as exc:  # every decoder has its own exception types
        raise ImageFileError(path, f"not a readable image ({_reason(exc)})") from exc


@contextlib.contextmanager
def _own_size_check() -> Iterator[None]:
    """Pillow without its decompression-bomb check: ours (:func:`check_size`) has run,
    with a limit the user can set and a message that names the file."""
    from PIL import Image

    saved = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = None
    try:
        yield
    finally:
        Image.MAX_IMAGE_PIXELS = saved


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
        else:
            raise ImageFileError(path, f"unsupported image mode {im.mode}")
        # Several frames (APNG, a GIF or multi-page TIFF under another name) would lose
        # all but the first: refused. A camera JPEG's extra pictures (MPO) are previews.
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
            "(set by `max_megapixels`)",
        )
    from .memory import available_memory  # memory.py builds on this module

    free = available_memory()
    if free is not None and 2 * header.nbytes > free:
        raise ImageFileError(
            header.path,
            f"{header.describe()} needs about {2 * header.nbytes / 2**30:.1f} GB to decode, "
            f"more than the {free / 2**30:.1f} GB available",
        )


# --------------------------------------------------------------------------- reading


def read_image(
    path: str | os.PathLike, *, max_megapixels: float | None = DEFAULT_MAX_MEGAPIXELS
) -> np.ndarray:
    """Read an image file into an array.

    Parameters
    ----------
    path : path-like
        A PNG, JPEG, BMP or TIFF file, 8 or 16 bit (TIFF may also be float).
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
        image = _read_tiff(path, layout) if layout is not None else _read_with_pillow(path)
    except ImageFileError:
        raise
    except Exception as exc:  # every decoder has its own exception types
        raise ImageFileError(path, f"not a readable image ({_reason(exc)})") from exc
    if image.ndim == 3 and image.shape[2] == 1:
        image = image[:, :, 0]
    return image


def _supported() -> str:
    return ", ".join(IMAGE_EXTENSIONS)


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def _read_with_pillow(path: Path) -> np.ndarray:
    from PIL import Image, ImageOps

    with _own_size_check(), Image.open(path) as im:
        if im.format == "PNG" and _is_16bit_colour_png(path):
            orientation = im.getexif().get(0x0112, 1)
            return _apply_orientation(_read_16bit_colour_png(path), orientation)
        im.load()  # decode now, so truncation surfaces here as an error
        im = ImageOps.exif_transpose(im)
        return _pillow_to_array(im)


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
    if mode in _CONVERSIONS:
        warnings.warn(_CONVERSIONS[mode], ConversionWarning, stacklevel=4)
    if mode == "P":
        im = im.convert("RGBA" if "transparency" in im.info else "RGB")
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


def _is_16bit_colour_png(path: Path) -> bool:
    with open(path, "rb") as f:
        header = f.read(26)
    # IHDR follows the 8-byte signature; bit depth at byte 24, colour type at 25.
    return len(header) == 26 and header[24] == 16 and header[25] in (2, 6)


def _png_colour_type(path: Path) -> int:
    with open(path, "rb") as f:
        return f.read(26)[25]


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


def _check_sample_type(path: Path, array: np.ndarray) -> np.ndarray:
    if array.dtype == np.float64 or array.dtype == np.float16:
        array = array.astype(np.float32)
    if array.dtype not in (np.uint8, np.uint16, np.float32):
        raise ImageFileError(
            path, f"unsupported sample type {array.dtype} (use uint8, uint16 or float)"
        )
    return array


@dataclass(frozen=True)
class _TiffLayout:
    """A TIFF's pages as one array: axes and shape with length-1 axes dropped, sample type,
    how many series of equal pages it holds (a writer that appends page by page makes one
    series per page), and whether it is an ImageJ file."""

    axes: str
    shape: tuple[int, ...]
    dtype: np.dtype
    series: int
    imagej: bool


def _tiff_layout(path: Path) -> _TiffLayout:
    """The layout of all of a TIFF's image pages, read from the headers only.

    Series after the first with the first's shape and type are more planes of the same
    stack; reduced-resolution pages (thumbnails) are skipped; any other page is refused
    rather than silently dropped.
    """
    import tifffile

    with tifffile.TiffFile(path) as tif:
        first = tif.series[0]
        same = [s for s in tif.series if s.shape == first.shape and s.dtype == first.dtype]
        other = [s for s in tif.series if s not in same and not s.keyframe.is_reduced]
        if other:
            raise ImageFileError(
                path,
                f"a TIFF whose pages differ in size or type ({first.shape} {first.dtype} and "
                f"{other[0].shape} {other[0].dtype}): not supported",
            )
        axes, shape = first.axes, tuple(first.shape)
        if len(same) > 1:
            axes, shape = "I" + axes, (len(same), *shape)
        kept = [(a, n) for a, n in zip(axes, shape, strict=True) if n > 1]
        return _TiffLayout(
            "".join(a for a, _ in kept),
            tuple(n for _, n in kept),
            np.dtype(first.dtype),
            len(same),
            tif.is_imagej,
        )


def _tiff_kind(axes: str, shape: tuple[int, ...]) -> str:
    """``"image"`` (gray, or up to 4 samples per pixel, interleaved or planar), ``"stack"``
    (planes along other axes before Y and X) or ``"unsupported"``: the one classification
    that :func:`read_image` and :func:`is_stack` share."""
    samples = {"YX": 1, "YXS": shape[-1], "SYX": shape[0]}.get(axes)
    if samples is not None:
        return "image" if samples <= 4 else "unsupported"
    return "stack" if axes.endswith(("YX", "YXS")) else "unsupported"


def _header_from_tiff(path: Path, layout: _TiffLayout) -> ImageHeader:
    axes, shape = layout.axes, layout.shape
    if "Y" not in axes or "X" not in axes:
        raise ImageFileError(path, f"TIFF with axes {axes} and shape {shape} is not supported")
    height, width = shape[axes.index("Y")], shape[axes.index("X")]
    channels = shape[-1] if axes.endswith("S") else shape[0] if axes == "SYX" else 1
    planes = int(np.prod(shape[: axes.index("Y")])) if _tiff_kind(axes, shape) == "stack" else 1
    dtype = np.float32 if layout.dtype.kind == "f" else layout.dtype
    return ImageHeader(path, width, height, channels, np.dtype(dtype), planes)


def _read_tiff_array(path: Path, layout: _TiffLayout) -> np.ndarray:
    """All planes of the TIFF (every series of equal pages), shaped as ``layout``."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        if layout.series == 1:
            array = tif.series[0].asarray()
        else:
            array = np.stack([s.asarray() for s in tif.series[: layout.series]])
    return array.reshape(layout.shape)


def _read_tiff(path: Path, layout: _TiffLayout) -> np.ndarray:
    axes, shape = layout.axes, layout.shape
    kind = _tiff_kind(axes, shape)
    if kind == "stack":
        planes = int(np.prod(shape[: axes.index("Y")]))
        raise ImageFileError(
            path,
            f"a TIFF stack of {planes} planes (axes {axes}): n2n denoise and n2n add-noise "
            "process stacks plane by plane; in Python use read_stack",
        )
    if kind == "unsupported":
        raise ImageFileError(path, f"TIFF with axes {axes} and shape {shape} is not supported")
    array = _read_tiff_array(path, layout)
    if array.size == 0:
        raise N2NError("no image data in TIFF")
    if axes == "SYX":
        array = np.moveaxis(array, 0, -1)  # planar (C, H, W) storage
    return _check_sample_type(path, array)


@dataclass(frozen=True)
class StackLayout:
    """How the planes of a TIFF stack were arranged, to write them back the same way."""

    axes: str
    shape: tuple[int, ...]
    imagej: bool


def is_stack(path: str | os.PathLike) -> bool:
    """True for a TIFF holding several planes (z-slices, time points, channels...)."""
    path = Path(path)
    if path.suffix.lower() not in _TIFF or not path.is_file() or path.stat().st_size == 0:
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
    return _check_sample_type(path, planes), StackLayout(axes, shape, imagej)


def write_stack(
    path: str | os.PathLike, planes: np.ndarray, layout: StackLayout, *, overwrite: bool = False
) -> Path:
    """Write planes from :func:`read_stack` (same count and size) as a TIFF with the
    original axes, atomically."""
    path = Path(path)
    require_tiff_target(path)
    import tifffile

    array = np.asarray(planes).reshape(layout.shape)
    colour = layout.axes.endswith("S") and layout.shape[-1] in (3, 4)
    if layout.imagej and array.dtype != np.float32:
        options = {"imagej": True, "metadata": {"axes": layout.axes}}
    else:
        options = {
            "photometric": "rgb" if colour else "minisblack",
            "metadata": {"axes": layout.axes},
        }
    return _write_atomically(path, lambda tmp: tifffile.imwrite(tmp, array, **options), overwrite)


def require_tiff_target(path: str | os.PathLike) -> None:
    """Fail unless ``path`` can hold a stack (before the work of making one)."""
    if Path(path).suffix.lower() not in _TIFF:
        raise ImageFileError(path, "a TIFF stack can only be written as .tif/.tiff")


# --------------------------------------------------------------------------- writing


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


def _write_tiff(path: Path, image: np.ndarray) -> None:
    import tifffile

    colour = image.ndim == 3 and image.shape[2] in (3, 4)
    alpha = image.ndim == 3 and image.shape[2] in (2, 4)
    extras = {"extrasamples": ["unassalpha"]} if alpha else {}
    tifffile.imwrite(path, image, photometric="rgb" if colour else "minisblack", **extras)


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


# --------------------------------------------------------------------------- helpers


def list_images(folder: str | os.PathLike) -> list[Path]:
    """The image files directly inside ``folder`` (by extension, hidden files skipped), sorted."""
    folder = Path(folder)
    return sorted(
        p
        for p in folder.iterdir()
        if p.is_file() and p.suffix.lower() in IMAGE_EXTENSIONS and not p.name.startswith(".")
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
