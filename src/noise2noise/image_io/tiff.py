"""TIFF: the layout of all pages read from the headers, images and stacks decoded, written.
tifffile is imported where used (it is slow to load and most runs read no TIFF)."""

from __future__ import annotations

import mmap
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from ..errors import N2NError, warn_user
from .common import (
    RAW_ADVICE,
    ConversionWarning,
    ImageFileError,
    ImageHeader,
    _check_sample_type,
    as_stored,
    sample_type,
)
from .iptc import iptc_extratags
from .metadata import (
    ASSOCIATED_ALPHA,
    UNASSOCIATED_ALPHA,
    XMP_TAG,
    Metadata,
    ome_for_output,
)
from .tiff_exif import add_exif_directories, exif_caption, exif_extratags
from .tiff_storage import beside_image, compression_options, main_series, write_with_storage

_CFA, _LINEAR_RAW = 32803, 34892  # TIFF/EP and DNG photometric interpretations
_SEPARATED, _INKSET_CMYK = 5, 1  # ink separations, and the ink set that is CMYK
_MINISWHITE, _MINISBLACK = 0, 1  # grayscale with 0 for white (scanners, fax), for black
_ALPHA = {ASSOCIATED_ALPHA, UNASSOCIATED_ALPHA}
_PALETTE, _YCBCR, _CIELAB = 3, 6, 8
_ORIENTATION = 274
_JPEG = (6, 7)  # old- and new-style JPEG compression: YCbCr decoded to RGB by the codec
# Colours tifffile gives as stored, which are not RGB: read as Pillow reads them (8 bit).
_THROUGH_PILLOW = {_YCBCR: "YCbCr", _CIELAB: "CIELAB"}
_OTHER_COLOURS = {9: "ICC L*a*b*", 10: "ITU L*a*b*", 32844: "LogL", 32845: "LogLuv"}


@dataclass(frozen=True)
class _TiffLayout:
    """A TIFF's pages as one array: axes and shape with length-1 axes dropped, sample type,
    which series of equal pages it holds (a writer that appends page by page makes one
    series per page; a thumbnail's series is none of them), and whether it is an ImageJ
    file."""

    axes: str
    shape: tuple[int, ...]
    dtype: np.dtype
    series: tuple[int, ...]  # the indices of the series that are its planes
    imagej: bool
    # How the stored samples become what the denoisers take: "stored" (as they are),
    # "cmyk" (4 inks, read as RGB), "inverted" (gray with 0 for white, read with 0 for
    # black), "palette" (indices into `colormap`, read as RGB) or "pillow" (8-bit YCbCr
    # or CIELAB, read as RGB by Pillow, as a JPEG of these is).
    colours: str = "stored"
    colormap: np.ndarray | None = field(default=None, compare=False, repr=False)
    # The Orientation tag (1-8, as EXIF's): how an image is turned to be viewed (not a
    # stack's: its planes are read as stored).
    orientation: int = 1


def _tiff_layout(path: Path) -> _TiffLayout:
    """The layout of all of a TIFF's image pages, read from the headers only.

    Series after the first with the first's shape and type are more planes of the same
    stack; reduced-resolution pages (thumbnails) are skipped; any other page is refused
    rather than silently dropped.
    """
    import tifffile

    with tifffile.TiffFile(path) as tif:
        return _layout_of(tif, path)


def _layout_of(tif, path: Path) -> _TiffLayout:
    """:func:`_tiff_layout` of an open ``tifffile.TiffFile``."""
    first = main_series(tif)
    # A DNG's first series is often its small preview; its raw data is a colour filter
    # array mosaic, which denoised as a grey image would be spoilt, not denoised.
    if tif.is_dng or first.keyframe.photometric in (_CFA, _LINEAR_RAW):
        raise ImageFileError(path, "a camera raw file (DNG, or a colour mosaic): " + RAW_ADVICE)
    beside = beside_image(tif)  # thumbnails, levels, a slide's label
    same = [
        i
        for i, s in enumerate(tif.series)
        if s.shape == first.shape and s.dtype == first.dtype and s not in beside
    ]
    other = [s for i, s in enumerate(tif.series) if i not in same and s not in beside]
    if other:
        raise ImageFileError(
            path,
            f"a TIFF of {len(tif.series)} images that differ in size or type ({first.shape} "
            f"{first.dtype} and {other[0].shape} {other[0].dtype}; an OME-TIFF's positions, "
            "say): one file is denoised as one image or stack; save each as a file of its own",
        )
    axes, shape = first.axes, tuple(first.shape)
    if len(same) > 1:
        axes, shape = "I" + axes, (len(same), *shape)
    kept = [(a, n) for a, n in zip(axes, shape, strict=True) if n > 1]
    page = first.keyframe
    return _TiffLayout(
        "".join(a for a, _ in kept),
        tuple(n for _, n in kept),
        np.dtype(first.dtype),
        tuple(same),
        tif.is_imagej,
        _colours(page, path),
        page.colormap if page.photometric == _PALETTE else None,
        int(page.tags.valueof(_ORIENTATION, 1)),
    )


def _colours(page, path: Path) -> str:
    """:attr:`_TiffLayout.colours` of a TIFF whose first page is ``page``; colours that
    nothing here reads right are refused (read as stored, they came out as other colours)."""
    photometric = int(page.photometric)
    if photometric in (_MINISWHITE, _MINISBLACK) and page.samplesperpixel > 1:
        _refuse_gray_channels(page, path)
    inks = page.tags.get(332)  # InkSet: CMYK unless it says otherwise
    if photometric == _SEPARATED and page.samplesperpixel == 4:
        return "cmyk" if inks is None or inks.value == _INKSET_CMYK else "stored"
    if photometric == _MINISWHITE:
        return "inverted"
    if photometric == _PALETTE:
        return "palette"
    if photometric == _YCBCR and page.compression in _JPEG:
        return "stored"
    name = _THROUGH_PILLOW.get(photometric) or _OTHER_COLOURS.get(photometric)
    if name is None:
        return "stored"
    if photometric in _THROUGH_PILLOW and page.bitspersample == 8:
        return "pillow"
    raise ImageFileError(
        path,
        f"a TIFF of {page.bitspersample}-bit {name} colours: not supported (only 8-bit "
        "YCbCr and CIELAB are read); save it as RGB",
    )


def _refuse_gray_channels(page, path: Path) -> None:
    """Refuse a gray TIFF of several samples per pixel that are not one gray and its alpha:
    channels (a micrograph's), which would be denoised as gray and alpha (the second left
    noisy) or as RGB colours (mixed by the colour model) and written back as such."""
    channels = page.samplesperpixel - len(set(page.extrasamples) & _ALPHA)
    if channels <= 1:
        return
    taken = (
        "two channels, the second of which would be taken for alpha and left noisy"
        if channels == 2
        else f"{channels} gray channels, which would be denoised as RGB, not colours"
    )
    raise ImageFileError(
        path,
        f"{page.samplesperpixel} samples per pixel that the file does not mark as colour or "
        f"alpha: {taken}; save the channels as separate pages (an ImageJ hyperstack, axes "
        "CYX) to denoise each",
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
    if layout.orientation in (5, 6, 7, 8) and _tiff_kind(axes, shape) == "image":
        width, height = height, width  # turned by 90 degrees when read
    channels = shape[-1] if axes.endswith("S") else shape[0] if axes == "SYX" else 1
    channels = 3 if layout.colours in ("cmyk", "palette", "pillow") else channels  # as RGB
    planes = int(np.prod(shape[: axes.index("Y")])) if _tiff_kind(axes, shape) == "stack" else 1
    dtype = sample_type(layout.dtype) or layout.dtype  # unsupported: refused on reading
    dtype = np.uint8 if layout.colours in ("palette", "pillow") else dtype
    return ImageHeader(path, width, height, channels, np.dtype(dtype), planes)


def _read_tiff_array(path: Path, layout: _TiffLayout) -> np.ndarray:
    """All planes of the TIFF (every series of equal pages), shaped as ``layout``."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        if len(layout.series) == 1:
            array = tif.series[layout.series[0]].asarray()
        else:
            array = np.stack([tif.series[i].asarray() for i in layout.series])
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
    return _decoded(path, array, layout)


def _decoded(path: Path, array: np.ndarray, layout: _TiffLayout) -> np.ndarray:
    """A TIFF's image or planes as the denoisers take them: sample types as
    :func:`_check_sample_type` says, min-is-white inverted, CMYK and palette colours as RGB
    (not in a stack, whose planes must keep their shape: refused there)."""
    if layout.colours == "inverted":
        return _white_to_black(_check_sample_type(path, array))
    if layout.colours == "stored":
        return _check_sample_type(path, array)
    if _tiff_kind(layout.axes, layout.shape) != "image":
        raise ImageFileError(path, f"a stack of {_NAMES[layout.colours]} planes: not supported")
    if layout.colours == "palette":
        return _palette_to_rgb(array, layout.colormap)
    return _cmyk_to_rgb(_check_sample_type(path, array))


def _white_to_black(gray: np.ndarray) -> np.ndarray:
    """A min-is-white image (0 for white) as the usual min-is-black, with a note: written
    back as min-is-black, it looks the same (kept as it was, it came out inverted)."""
    warn_user(
        "a min-is-white TIFF is read as min-is-black (the output is min-is-black)",
        ConversionWarning,
    )
    if gray.dtype.kind == "u":
        return np.iinfo(gray.dtype).max - gray
    return (1 - gray).astype(gray.dtype)  # float: [0, 1] units


_NAMES = {"cmyk": "CMYK", "palette": "palette", "pillow": "YCbCr or CIELAB"}


def chunked_axes(path: Path) -> str:
    """The axes of a TIFF's first series as a chunked run (into zarr) names them: Y, X,
    C for samples of a pixel, P for any other; a TIFF whose samples are not values of light
    or ink (palette indices, YCbCr, L*a*b*) is refused, as such a run takes them as stored."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        series = main_series(tif)
        colours = _colours(series.keyframe, path)
        axes = series.axes
    if colours in ("palette", "pillow"):
        raise ImageFileError(
            path,
            f"a TIFF of {_NAMES[colours]} colours: a chunked run (into .zarr) denoises "
            "samples as stored; save it as RGB, or denoise it whole (into an image file)",
        )
    return "".join("C" if a == "S" else a if a in "YX" else "P" for a in axes)


def tiff_alpha(path: Path) -> bool:
    """Whether a TIFF's last sample is alpha (its ExtraSamples say so): a chunked run
    passes it through, where an array's channels are otherwise planes."""
    import tifffile

    with tifffile.TiffFile(path) as tif:
        return bool(set(main_series(tif).keyframe.extrasamples) & _ALPHA)


def _palette_to_rgb(indices: np.ndarray, colormap: np.ndarray) -> np.ndarray:
    """Palette indices (H×W) as the 8-bit RGB of their colours, as Pillow reads a palette
    TIFF, with a note (read as stored, the indices were denoised as a gray image)."""
    warn_user("a palette image is read as RGB (the output is RGB)", ConversionWarning)
    colours = np.asarray(colormap, dtype=np.uint32).T  # (entries, 3), 16 bit a value
    if colours.max() > 255:  # some writers store 8-bit values
        colours = colours >> 8
    return colours.astype(np.uint8)[np.clip(indices, 0, len(colours) - 1)]


def _cmyk_to_rgb(cmyk: np.ndarray) -> np.ndarray:
    """CMYK samples (H×W×4) as RGB, as Pillow converts a CMYK JPEG: each of R, G, B is
    (1 - C)(1 - K) of the full range, with a note."""
    warn_user("a CMYK image is read as RGB (the output is RGB)", ConversionWarning)
    top = float(np.iinfo(cmyk.dtype).max) if cmyk.dtype.kind in "iu" else 1.0
    ink = cmyk.astype(np.float64) / top
    rgb = (1 - ink[..., :3]) * (1 - ink[..., 3:]) * top
    return (np.rint(rgb) if cmyk.dtype.kind in "iu" else rgb).astype(cmyk.dtype)


def _write_tiff(path: Path, image: np.ndarray, meta: Metadata) -> None:
    """One image as a TIFF, with the colour profile, resolution, EXIF (:mod:`.tiff_exif`;
    not in an ImageJ file) and ImageJ calibration of ``meta`` where it has them, in the
    input's sample type (``meta.stored_type``) where it was read as another, stored as
    the input was (``meta.storage``: tiles, compression, reduced levels; not in ImageJ)."""
    import tifffile

    image = as_stored(image, meta.stored_type)
    colour = image.ndim == 3 and image.shape[2] in (3, 4)
    alpha = image.ndim == 3 and image.shape[2] in (2, 4)
    if meta.imagej and not alpha and image.dtype != np.float32:
        axes = "YXS" if image.ndim == 3 else "YX"
        options = tiff_options(replace(meta, ome=None), axes)
        options |= compression_options(meta.storage)  # ImageJ has no tiles or levels
        tifffile.imwrite(path, image, imagej=True, **options)
        return
    kind = "assocalpha" if meta.premultiplied else "unassalpha"  # as the input's
    extras = {"extrasamples": [kind]} if alpha else {}
    extras |= tiff_options(meta)
    exif = meta.exif if meta.exif and image.nbytes < 2**31 else None  # not in a BigTIFF
    tags = exif_extratags(exif) if exif else []
    tags += [(XMP_TAG, "B", len(meta.xmp), meta.xmp, True)] if meta.xmp else []
    tags += iptc_extratags(meta.iptc) if meta.iptc else []
    if exif and meta.ome is None and (caption := exif_caption(exif)):
        extras |= {"description": caption, "metadata": None}  # not tifffile's shape
    photometric = "rgb" if colour else "minisblack"
    options = {"photometric": photometric, "extratags": tags, **extras}
    if meta.storage:  # tiles, compression, a pyramid's levels: as the input's
        write_with_storage(path, image, meta.storage, **options)
    else:
        tifffile.imwrite(path, image, **options)
    if exif:
        add_exif_directories(path, exif)


def tiff_options(meta: Metadata, axes: str | None = None) -> dict:
    """tifffile.imwrite's options for ``meta``'s profile and resolution, and with ``axes``
    (an ImageJ file) its ImageJ calibration."""
    options = {}
    if meta.icc_profile:
        options["iccprofile"] = meta.icc_profile
    if meta.resolution is not None:
        options["resolution"] = meta.resolution
        options["resolutionunit"] = {"inch": 2, "cm": 3}.get(meta.unit, 1)
    if meta.ome is not None:  # its own description, written as it is: UTF-8 ("µm")
        description = ome_for_output(meta.ome).encode("utf-8")
        options |= {"description": description, "metadata": None, "ome": False}
    elif axes is not None:
        options["metadata"] = {"axes": axes, **(meta.imagej or {})}
    return options


class MappedTiff:
    """The first series of an uncompressed, contiguous TIFF as an array that reads only
    the pixels asked for (``region = tiff[y0:y1, x0:x1]``): shape, dtype, ``ndim`` and
    numpy indexing. Each read maps the file, copies the region and unmaps it, so a
    process's memory holds the regions it asked for, not the pages it has touched.
    tifffile's zarr interface gives such a file as one chunk, read whole for any region.
    """

    def __init__(self, path: str | Path, offset: int, shape: tuple, dtype: np.dtype):
        self.path, self.offset = Path(path), int(offset)
        self.shape, self.dtype = tuple(shape), np.dtype(dtype)
        self.ndim = len(self.shape)

    @classmethod
    def open(cls, path: str | Path) -> MappedTiff | None:
        """The file's first series as a :class:`MappedTiff`; None where it cannot be
        mapped (compressed, tiled or scattered over the file)."""
        import tifffile

        with tifffile.TiffFile(path) as tif:
            series = main_series(tif)
            if series.dataoffset is None:
                return None
            dtype = np.dtype(series.dtype).newbyteorder(tif.byteorder)
            return cls(path, series.dataoffset, series.shape, dtype)

    def __getitem__(self, index) -> np.ndarray:
        count = int(np.prod(self.shape))
        start = self.offset - self.offset % mmap.ALLOCATIONGRANULARITY
        length = self.offset - start + count * self.dtype.itemsize
        with (
            open(self.path, "rb") as f,
            mmap.mmap(f.fileno(), length, offset=start, access=mmap.ACCESS_READ) as mapped,
        ):
            whole = np.frombuffer(mapped, self.dtype, count, self.offset - start)
            region = np.array(whole.reshape(self.shape)[index])
            del whole  # no view of the map may outlive it
        return region.astype(self.dtype.newbyteorder("="), copy=False)
