"""What the readers and writers share: the formats, the errors and warnings, the header of
an image, and checks of files and sample types."""

from __future__ import annotations

import contextlib
import importlib.util
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import N2NError, Note, warn_user


def _installed(module: str) -> bool:
    """Whether ``module`` can be imported, without importing it."""
    try:
        return importlib.util.find_spec(module) is not None
    except (ImportError, ValueError):  # a package that is not there, or set to None
        return False


# HEIC (phones' photos) through the optional pillow-heif (the `heif` extra); AVIF through
# Pillow, where it was built with libavif (its wheels are, from 11.3).
_HEIF, _AVIF = (".heic", ".heif"), (".avif",)
HEIF_READABLE = _installed("pillow_heif")
AVIF_READABLE = _installed("PIL._avif")
IMAGE_EXTENSIONS = (
    (".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff")
    + (_AVIF if AVIF_READABLE else ())
    + (_HEIF if HEIF_READABLE else ())
)


_TIFF = TIFF_EXTENSIONS = (".tif", ".tiff")
# TIFF files by other names, read as TIFF and written as .tif (their makers' layouts are
# theirs): slide scanners' (Aperio SVS, Hamamatsu NDPI, Leica SCN, Ventana BIF, Akoya
# QPTIFF), Zeiss LSM and MetaMorph STK stacks, and BigTIFF's own names.
TIFF_LIKE = (".svs", ".ndpi", ".scn", ".bif", ".qptiff", ".lsm", ".stk", ".btf", ".tf8", ".tf2")
_TIFF_READ = (*_TIFF, *TIFF_LIKE)
READ_EXTENSIONS = (*IMAGE_EXTENSIONS, *TIFF_LIKE)


def is_tiff(path: str | os.PathLike) -> bool:
    """Whether ``path`` is read as a TIFF (by its extension: .tif, .tiff or
    :data:`TIFF_LIKE`)."""
    return Path(path).suffix.lower() in _TIFF_READ


_EIGHT_BIT_ONLY = (".jpg", ".jpeg", ".webp", ".bmp", *_AVIF)  # HEIC: 10 bits from 16


LOSSY_EXTENSIONS = (".jpg", ".jpeg", ".webp", *_AVIF, *_HEIF)  # written at a quality


def open_heif_with_pillow(path: Path) -> None:
    """Let Pillow open and save HEIC/HEIF where ``path`` is one (once a process)."""
    if Path(path).suffix.lower() in _HEIF and HEIF_READABLE:
        import pillow_heif

        pillow_heif.register_heif_opener()  # idempotent


# Far above any camera (a 100-megapixel sensor) or slide scan we expect, and still a bound:
# the memory check of n2n denoise (noise2noise.memory) is usually the tighter one.
DEFAULT_MAX_MEGAPIXELS = 1000.0


class ImageFileError(N2NError):
    """A file that cannot be read or written as an image; the message names the file."""

    def __init__(self, path: str | os.PathLike, problem: str):
        self.path = Path(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class ConversionWarning(Note):
    """The data change format or depth on the way in or out (1-bit read as 8-bit, CMYK as
    RGB, float stored as 16-bit PNG...): never silent, but not an error either."""


class ScalingNote(ConversionWarning):
    """Float data in physical units, scaled from ``span`` into [0, 1] for ``purpose`` and
    back. The span travels with the note, so that the planes of a stack, each scaled
    from its own, are said in one note (:meth:`for_planes`), not one a plane."""

    def __init__(self, span: tuple[float, float], purpose: str = "denoising"):
        lo, hi = span
        super().__init__(
            f"float values span [{lo:.4g}, {hi:.4g}]: scaled into [0, 1] for {purpose} and back"
        )
        self.span, self.purpose = (lo, hi), purpose

    @staticmethod
    def for_planes(notes: list[ScalingNote]) -> str:
        """One note for the planes of a stack."""
        if len({n.span for n in notes}) == 1:
            return str(notes[0])
        lo, hi = min(n.span[0] for n in notes), max(n.span[1] for n in notes)
        return (
            f"float values between {lo:.4g} and {hi:.4g} over {len(notes)} planes: each "
            f"plane scaled from its own span into [0, 1] for {notes[0].purpose} and back"
        )


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


def describe_shape(shape: tuple) -> str:
    """For messages: ``"64×48 with 3 colour channels"`` of an H×W(×C) array's shape
    (``"64×48 gray"`` with one channel, ``"64×48 with 2 channels"`` with 2 or 4)."""
    channels = shape[2] if len(shape) == 3 else 1
    if channels == 1:
        return f"{shape[1]}×{shape[0]} gray"
    kind = " colour" if channels == 3 else ""
    return f"{shape[1]}×{shape[0]} with {channels}{kind} channels"


def _check_file(path: Path) -> str:
    """The lower-case extension of an image file that exists and is not empty."""
    if not path.exists():
        raise ImageFileError(path, "no such file")
    if path.is_dir():
        raise ImageFileError(path, "is a folder, not an image file")
    ext = path.suffix.lower()
    if ext not in READ_EXTENSIONS:
        hint = format_hint(ext)
        raise ImageFileError(
            path,
            f"unsupported format '{ext or path.name}' (supported: {_supported()})"
            + (f"; {hint}" if hint else ""),
        )
    if path.stat().st_size == 0:
        raise ImageFileError(path, "empty file")
    open_heif_with_pillow(path)
    return ext


# What to do with formats users have and n2n cannot read.
RAW_ADVICE = (
    "develop it first (darktable, RawTherapee, Lightroom, or rawpy in Python) to a "
    "16-bit TIFF or PNG and denoise that"
)
_RAW = (
    ".dng .cr2 .cr3 .crw .nef .nrw .arw .srf .sr2 .raf .orf .rw2 .pef .srw .x3f .3fr .iiq .rwl .raw"
)
_FORMAT_HINTS = {
    **dict.fromkeys(_RAW.split(), "camera raw: " + RAW_ADVICE),
    **dict.fromkeys(
        () if HEIF_READABLE else _HEIF,
        "HEIC: install the optional pillow-heif (pip install 'noise2noise[heif]'), or "
        "convert it to PNG, JPEG or TIFF first (macOS Preview, heif-convert)",
    ),
    **dict.fromkeys(
        () if AVIF_READABLE else _AVIF,
        "AVIF: this Pillow was built without it (pip install -U pillow), or convert it to "
        "PNG, JPEG or TIFF first",
    ),
}
# Image formats n2n does not read, for a folder run to say it left them out.
OTHER_IMAGE_EXTENSIONS = frozenset(
    [*_FORMAT_HINTS, ".gif", ".jp2", ".j2k", ".jxl", ".exr", ".hdr", ".psd", ".ico"]
)


def format_hint(ext: str) -> str:
    """What to do with a file of this (lower-case) extension that n2n cannot read, or ""."""
    return _FORMAT_HINTS.get(ext, "")


def chunked_hint(path: str | os.PathLike) -> str:
    """For a TIFF too large to denoise whole: the way that needs memory for a chunk only
    (appended to the refusal); nothing for other formats, which have no such way."""
    if not is_tiff(path):
        return ""
    return (
        ", or denoise it chunk by chunk: into a zarr store (an output named OUT.zarr), or "
        "with `chunk` into a TIFF"
    )


def _supported() -> str:
    return ", ".join(IMAGE_EXTENSIONS)


def _reason(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__


def sample_type(dtype: np.dtype) -> np.dtype | None:
    """The sample type a TIFF of ``dtype`` is read as (None: not supported): uint8, uint16
    and float32 as they are, other floats as float32, 1-bit as 8-bit, other integers
    (signed, as CT and some cameras write them, or 32-bit) as float32; in this machine's
    byte order (a big-endian TIFF's uint16 is uint16, not other integers)."""
    dtype = np.dtype(dtype).newbyteorder("=")
    if dtype in (np.uint8, np.uint16, np.float32):
        return dtype
    if dtype.kind == "b":
        return np.dtype(np.uint8)
    return np.dtype(np.float32) if dtype.kind in "fiu" else None


def sample_type_note(dtype: np.dtype) -> str | None:
    """What a note says of data of ``dtype`` converted by :func:`convert_samples` (None:
    taken as they are)."""
    dtype = np.dtype(dtype).newbyteorder("=")
    if dtype.kind == "b":
        return "a 1-bit image is read as 8-bit grayscale (the output is 8-bit)"
    if dtype.kind in "iu" and dtype != sample_type(dtype):
        return f"{dtype} samples are read as float32 (a TIFF or zarr output is {dtype} again)"
    return None


def stored_type(dtype: np.dtype) -> np.dtype | None:
    """The sample type an output of data stored as ``dtype`` is written in where
    :func:`convert_samples` changed it for denoising (signed or 32-bit integers, half or
    double floats: ``dtype`` itself); None where the data are taken as stored, and for
    1-bit data (their output is 8-bit grayscale)."""
    dtype = np.dtype(dtype).newbyteorder("=")
    changed = dtype.kind in "iuf" and sample_type(dtype) not in (None, dtype)
    return dtype if changed else None


def as_stored(image: np.ndarray, dtype: np.dtype | None) -> np.ndarray:
    """A float ``image`` in the sample type ``dtype`` of its input (:func:`stored_type`):
    integers rounded and clipped to their type's range, floats converted; as it is where
    ``dtype`` is None or ``image`` is not float."""
    if dtype is None or image.dtype.kind != "f" or image.dtype == dtype:
        return image
    dtype = np.dtype(dtype)
    if dtype.kind not in "iu":
        return image.astype(dtype)
    info = np.iinfo(dtype)
    lo, hi = float(info.min), float(info.max)
    hi = np.nextafter(hi, 0.0) if int(hi) > info.max else hi  # 64-bit: not a float64
    return np.rint(np.clip(image.astype(np.float64), lo, hi)).astype(dtype)


def convert_samples(array):
    """``array`` (numpy or dask) in the integer sample type :func:`sample_type` gives:
    1-bit as 8-bit (0 or 255), other integers than uint8 and uint16 as float32 in their
    own units (physical units); uint8, uint16 and floats as they are, in this machine's
    byte order."""
    if array.dtype.kind == "b":
        return array.astype(np.uint8) * np.uint8(255)
    native = array.dtype.newbyteorder("=")
    if array.dtype.kind in "iu" and native != sample_type(native):
        return array.astype(np.float32)
    return array if array.dtype == native else array.astype(native)


def _check_sample_type(path: Path, array: np.ndarray) -> np.ndarray:
    """A TIFF's samples as :func:`sample_type` says; a change of integers said in a note
    (their values are then taken as they are: physical units)."""
    target = sample_type(array.dtype)
    if target is None:
        raise ImageFileError(
            path, f"unsupported sample type {array.dtype} (use uint8, uint16 or float)"
        )
    if note := sample_type_note(array.dtype):
        warn_user(note, ConversionWarning)
    return convert_samples(array).astype(target, copy=False)


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
