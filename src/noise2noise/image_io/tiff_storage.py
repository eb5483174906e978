"""How a TIFF stores its image, written so again into its TIFF output: in tiles or strips,
compressed or not, with reduced-resolution copies (a slide scanner's or QuPath's pyramid,
a scanner's thumbnail page) or without.

A pyramidal TIFF whose output is one full-resolution image opens in a slide viewer as a
file that must be read whole to be shown zoomed out; an LZW- or Deflate-compressed scan
written uncompressed is two to three times its size. The output's reduced levels are
made from the denoised image (area averages), not copied from the noisy input.

A compressed input's output is compressed with Deflate and a predictor (Zstandard and
LZMA kept): LZW expands the fine-grained values of a denoised image (scikit-image's
astronaut with Gaussian noise 20, denoised, its green channel as 16-bit: 693 kB in LZW,
585 kB in LZW with a predictor, 524 kB uncompressed, 454 kB in Deflate with a predictor;
as RGB 8-bit: 737, 786 and 623 kB), and a lossy one (JPEG, an Aperio JPEG 2000) would
lose some of what denoising gained (JPEG: 172 kB).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from .common import as_stored

# TIFF compressions kept (tifffile's names); any other becomes Deflate.
_KEPT = {50000: "zstd", 34925: "lzma"}
_NONE = 1


@dataclass(frozen=True)
class TiffStorage:
    """How a TIFF stores its (first) image: ``tile`` (rows, columns) or None for strips;
    ``compression`` tifffile's name for its output's, or None; ``levels`` the (rows,
    columns) of each reduced-resolution copy, in the file's order, kept in SubIFDs of the
    image where ``subifds`` (a modern pyramid), else as pages after it."""

    tile: tuple[int, int] | None = None
    compression: str | None = None
    levels: tuple[tuple[int, int], ...] = ()
    subifds: bool = False


def main_series(tif):
    """The first series of a TIFF that is not a reduced copy: the image. A TIFF/EP file
    (some scanners' and cameras') puts its thumbnail first."""
    return next((s for s in tif.series if not s.keyframe.is_reduced), tif.series[0])


# The pictures a slide scanner stores beside the slide, by tifffile's names for them (SVS,
# NDPI, QPI, Philips; an OME-TIFF's image names, "label image" as Bio-Formats converts
# them): a photo of the slide's label, an overview of the whole glass.
_ASSOCIATED = ("label", "macro", "overview", "map")


def _picture(series) -> str | None:
    """What a slide scanner's picture beside the slide is ("label", "macro"...), by its
    series' name, or None."""
    words = (series.name or "").lower().split()
    return words[0] if words and words[0] in _ASSOCIATED else None


def beside_image(tif) -> list:
    """The series of a TIFF beside its image (:func:`main_series`), not more planes of
    it: reduced copies (marked so, or a slide's thumbnail) and a slide scanner's other
    pictures."""
    image = main_series(tif)
    return [
        s
        for s in tif.series
        if s is not image and (s.keyframe.is_reduced or s.name == "Thumbnail" or _picture(s))
    ]


def reduced_copies(tif) -> list:
    """The series beside a TIFF's image that are reduced copies of it, written again from
    the result: of the image's proportions and not a slide's label or macro picture."""
    image = main_series(tif)
    return [s for s in beside_image(tif) if not _picture(s) and _proportional(s, image)]


def associated(tif) -> list[str]:
    """What the pictures beside a TIFF's image that are not reduced copies of it are (a
    slide's "label", a "macro" photo of the glass, else their size): not written, since
    not made from it."""
    return [_picture(s) or "{1}×{0}".format(*_rows_columns(s)) for s in _others(tif)]


def without_pictures(ome: str, tif) -> str:
    """An OME-TIFF's OME-XML without the images of its :func:`associated` pictures (a
    slide's label converted by Bio-Formats), which its output does not hold."""
    for series in _others(tif):
        name = re.escape(series.name or "")
        ome = re.sub(rf'<Image\b[^>]*\bName="{name}"[^>]*>.*?</Image>', "", ome, flags=re.S)
    return ome


def _others(tif) -> list:
    copies = reduced_copies(tif)
    return [s for s in beside_image(tif) if s not in copies]


def _proportional(series, image) -> bool:
    """Whether ``series`` has ``image``'s proportions, to the rounding of its sides."""
    (rows, columns), (height, width) = _rows_columns(series), _rows_columns(image)
    return abs(rows * width - columns * height) <= max(height, width)


def read_storage(tif) -> TiffStorage | None:
    """The :class:`TiffStorage` of an open ``tifffile.TiffFile``; None for an image in
    uncompressed strips without reduced copies (what is written anyway), and where the
    file's structure cannot be read (the rest of its metadata is still kept)."""
    try:
        return _storage(tif)
    except Exception:  # noqa: BLE001 - metadata is optional: unreadable means none
        return None


def _storage(tif) -> TiffStorage | None:
    series = main_series(tif)
    page = series.keyframe
    tile = (int(page.tilelength), int(page.tilewidth)) if page.is_tiled else None
    tile = tile if tile and tile[0] % 16 == tile[1] % 16 == 0 else None  # as TIFF allows
    code = int(page.compression)
    compression = None if code == _NONE else _KEPT.get(code, "zlib")
    reduced = [*series.levels[1:], *reduced_copies(tif)]
    levels = tuple(_rows_columns(s) for s in reduced if {"Y", "X"} <= set(s.axes))
    storage = TiffStorage(tile, compression, levels, bool(page.subifds) and bool(levels))
    return storage if storage != TiffStorage() else None


def _rows_columns(series) -> tuple[int, int]:
    size = dict(zip(series.axes, series.shape, strict=True))
    return int(size["Y"]), int(size["X"])


def write_with_storage(path, image: np.ndarray, storage: TiffStorage, **options) -> None:
    """``image`` (H×W or H×W×C) as a TIFF stored as ``storage`` says, with tifffile's
    ``options`` for the full-resolution image (photometric, extratags, profile...); its
    reduced copies are area averages of ``image`` in its sample type."""
    import tifffile

    tiling = {"tile": storage.tile} if storage.tile else {}
    packing = compression_options(storage)
    big = image.nbytes > 2**32 - 2**25  # as tifffile.imwrite decides
    subifds = {"subifds": len(storage.levels)} if storage.subifds else {}
    with tifffile.TiffWriter(path, bigtiff=big) as tif:
        tif.write(image, **options, **tiling, **packing, **subifds)
        for rows, columns in storage.levels:
            level = {k: v for k, v in options.items() if k in ("photometric", "extrasamples")}
            tif.write(_reduced(image, rows, columns), subfiletype=1, **level, **tiling, **packing)


def compression_options(storage: TiffStorage | None) -> dict:
    """tifffile's options for the compression of ``storage`` (none for None), with the
    horizontal (integers) or floating-point predictor."""
    compression = storage.compression if storage else None
    return {"compression": compression, "predictor": True} if compression else {}


def _reduced(image: np.ndarray, rows: int, columns: int) -> np.ndarray:
    """``image`` averaged down to rows × columns (OpenCV's area interpolation), in its own
    sample type."""
    import cv2

    values = image.astype(np.float32)
    small = cv2.resize(values, (columns, rows), interpolation=cv2.INTER_AREA)
    small = small.reshape(rows, columns, *image.shape[2:])  # OpenCV drops a last axis of 1
    if image.dtype.kind == "f":
        return small.astype(image.dtype)
    return as_stored(small, image.dtype)
