"""What an image file says about its pixels beyond their values, carried from an input
file to its output: its colour profile (ICC), EXIF (camera, exposure, date, GPS), its
resolution (a scan's dots per inch, a micrograph's pixel size), ImageJ's calibration
(z-spacing, unit, frame interval) and an OME-TIFF's OME-XML (pixel sizes, channel names,
acquisition: what Bio-Formats, Fiji and OMERO read).

A photo in Display P3 or Adobe RGB (phones, many cameras) that loses its profile is shown
as sRGB: its colours change although no pixel did. A 300-dpi scan that loses its
resolution prints at the wrong size, and a micrograph that loses its calibration measures
in pixels instead of microns. Metadata is carried on a best-effort basis: a file whose
metadata cannot be read gets none, never an error, and a format without a place for a
field drops it.
"""

from __future__ import annotations

import os
import re
import struct
import uuid
import zlib
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from ..errors import Note, name_some, warn_user
from .common import _own_size_check, is_tiff, open_heif_with_pillow, stored_type
from .iptc import jpeg_iptc, tiff_iptc
from .jpeg_pictures import read_pictures
from .tiff_exif import read_tiff_exif
from .tiff_storage import TiffStorage, associated, main_series, read_storage, without_pictures

__all__ = ["Metadata", "read_metadata", "png_with_metadata", "ome_for_output"]

ORIENTATION = 0x0112  # EXIF tag; read_image applies it to the pixels
ICC_TAG = 34675  # TIFF's InterColorProfile
UNITS_PER_INCH = {"inch": 1.0, "cm": 2.54}
TIFF_UNITS = {2: "inch", 3: "cm"}  # ResolutionUnit; 1 is none
# ImageJ's calibration, kept from an ImageJ TIFF (its layout entries, such as the number
# of slices, tifffile writes from the array itself).
IMAGEJ_CALIBRATION = (
    "spacing", "unit", "yunit", "zunit", "finterval", "fps", "tunit", "xorigin", "yorigin",
    "zorigin",
)  # fmt: skip
# The entries of a HEIF's colour description (pillow-heif's nclx_profile) that say how its
# values are to be shown; the others (primaries' coordinates) follow from them.
NCLX = ("color_primaries", "transfer_characteristics", "matrix_coefficients", "full_range_flag")

# A TIFF's ExtraSamples: alpha that the colours are multiplied by, or not (0: unspecified)
ASSOCIATED_ALPHA, UNASSOCIATED_ALPHA = 1, 2

XMP_TAG = 700  # a TIFF's XMP packet
PNG_XMP_KEY = "XML:com.adobe.xmp"  # the keyword of a PNG's iTXt chunk that holds XMP
JPEG_XMP_MAX = 65533 - 29  # one APP1 segment, less its namespace

# JPEG keeps EXIF in one APP1 segment: at most 65535 bytes with its length and "Exif\0\0".
JPEG_EXIF_MAX = 65535 - 2 - 6


@dataclass(frozen=True)
class Metadata:
    """What a file says about its pixels (None: it said nothing of that).

    ``icc_profile`` and ``exif`` are the bytes of the file's colour profile and EXIF;
    ``resolution`` is (x, y) pixels per ``unit``, which is ``"inch"``, ``"cm"`` or None (a
    relative resolution, or a unit that only ``imagej`` names); ``imagej`` holds the
    calibration entries of an ImageJ TIFF (:data:`IMAGEJ_CALIBRATION`); ``ome`` the
    OME-XML of a single-file OME-TIFF (written again by :func:`ome_for_output`); ``nclx``
    the colour description of a HEIF or an AVIF (primaries and transfer curve: a camera's
    HLG or PQ photo), written again into a HEIC, an AVIF or a PNG (cICP);
    ``premultiplied`` True for a TIFF whose alpha is associated (its colours multiplied by
    it), written again as such;
    ``xmp`` a photo manager's XMP packet (rating, keywords, captions), its orientation
    set upright (:func:`upright_xmp`); ``stored_type`` the name of a TIFF's sample type
    where it was read as another (:func:`~.common.stored_type`: a CT's int16, a
    counter's uint32, half floats), written again as such into a TIFF; ``lossless`` True
    for a WebP stored without loss (a screenshot, an archive's master), whose WebP output
    is lossless too; ``text`` a PNG's text chunks as (keyword, text) pairs (title, author,
    copyright, description, an image generator's settings; not XMP, kept apart, nor
    ImageMagick's raw profiles, whose EXIF would turn the image again), written again
    into a PNG; ``pictures`` a JPEG's extra pictures (an Ultra HDR photo's gain map, a
    camera's previews: :mod:`.jpeg_pictures`), written again after a JPEG output;
    ``storage`` a TIFF's tiles, compression and reduced-resolution levels
    (:class:`~.tiff_storage.TiffStorage`), written so again into a TIFF; ``iptc`` a
    photo's IPTC record (:mod:`.iptc`), written again into a JPEG or a TIFF.
    """

    icc_profile: bytes | None = None
    exif: bytes | None = None
    resolution: tuple[float, float] | None = None
    unit: str | None = None
    imagej: dict | None = None
    ome: str | None = None
    nclx: dict | None = None
    premultiplied: bool | None = None
    xmp: bytes | None = None
    stored_type: str | None = None
    lossless: bool | None = None
    storage: TiffStorage | None = None
    text: tuple[tuple[str, str], ...] | None = None
    pictures: tuple[tuple[int, bytes], ...] | None = None
    iptc: bytes | None = None

    def for_channels(self, channels: int) -> Metadata:
        """This metadata for an image of ``channels`` (1-4, alpha included): the profile
        only where its colour space is the image's (an RGB profile on RGB, a gray one on
        gray; a CMYK file is read as RGB, so its profile no longer applies)."""
        icc = self.icc_profile
        space = icc[16:20] if icc is not None and len(icc) >= 20 else None
        wanted = b"RGB " if channels >= 3 else b"GRAY"
        return replace(self, icc_profile=icc if space == wanted else None)

    @property
    def dpi(self) -> tuple[float, float] | None:
        """The resolution in dots per inch, where it has an absolute unit."""
        if self.resolution is None or self.unit not in UNITS_PER_INCH:
            return None
        x, y = self.resolution
        return x * UNITS_PER_INCH[self.unit], y * UNITS_PER_INCH[self.unit]

    def __bool__(self) -> bool:
        return any(v is not None for v in vars(self).values())


def read_metadata(path: str | os.PathLike) -> Metadata:
    """The colour profile, EXIF, resolution and ImageJ calibration of the image file
    ``path`` (each where the file has it).

    The EXIF orientation is set to 1 (upright): :func:`~noise2noise.image_io.read_image`
    turns the pixels already, so the output must not be turned again. Returns an empty
    :class:`Metadata` for a file without metadata or whose metadata cannot be read.
    """
    from PIL import Image

    if is_tiff(path):
        return _tiff_metadata(path)
    open_heif_with_pillow(path)
    try:
        with _own_size_check(), Image.open(path) as im:  # no pixels decoded here
            icc = im.info.get("icc_profile") or None
            exif = im.getexif()
            pictures = _pictures(path, exif.get(ORIENTATION, 1)) if im.format == "MPO" else None
            if im.format == "HEIF" and (left := heif_images_left(im.info)):
                warn_user(f"its {left} not written (pillow-heif writes none)", Note)
            if ORIENTATION in exif:
                exif[ORIENTATION] = 1
            dpi = im.info.get("dpi")
            resolution = (float(dpi[0]), float(dpi[1])) if dpi and min(dpi) > 0 else None
            nclx = {k: v for k, v in (im.info.get("nclx_profile") or {}).items() if k in NCLX}
            nclx = (_png_nclx(path) or {}) if im.format == "PNG" else nclx
            nclx = (_avif_nclx(path) or {}) if im.format == "AVIF" and not icc else nclx
            return Metadata(
                icc,
                exif.tobytes() if len(exif) else None,
                resolution,
                "inch" if dpi else None,
                nclx=nclx if len(nclx) == len(NCLX) else None,  # pillow-heif writes all
                xmp=upright_xmp(im.info.get("xmp")),
                lossless=_webp_lossless(path) if im.format == "WEBP" else None,
                text=_png_text(im.info) if im.format == "PNG" else None,
                pictures=pictures,
                iptc=jpeg_iptc(path) if im.format in ("JPEG", "MPO") else None,
            )
    except Exception:  # noqa: BLE001 - metadata is optional: unreadable means none
        return Metadata()


def _tiff_metadata(path: str | os.PathLike) -> Metadata:
    """A TIFF's colour profile (tag 34675), resolution and ImageJ calibration, through
    tifffile, which reads every TIFF that read_image does (Pillow does not read float
    colour), and its EXIF (:func:`~.tiff_exif.read_tiff_exif`)."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            page = main_series(tif).keyframe  # not a thumbnail before it
            tag = page.tags.get(ICC_TAG)
            icc = tag.value if tag is not None else None
            unit = TIFF_UNITS.get(int(page.resolutionunit))
            resolution = tuple(float(r) for r in page.resolution)
            if min(resolution) <= 0 or (unit is None and resolution == (1.0, 1.0)):
                resolution = None  # absent, or the tags' defaults
            imagej = {
                k: v for k, v in (tif.imagej_metadata or {}).items() if k in IMAGEJ_CALIBRATION
            }
            ome = without_pictures(tif.ome_metadata, tif) if tif.is_ome else None
            premultiplied = True if ASSOCIATED_ALPHA in page.extrasamples else None
            xmp = upright_xmp(page.tags.valueof(XMP_TAG))
            stored = stored_type(np.dtype(main_series(tif).dtype).newbyteorder("="))
            storage = read_storage(tif)
            iptc = tiff_iptc(page, tif.byteorder)
            if left := associated(tif):  # said once: the metadata is read once a file
                many = "s are" if len(left) > 1 else " is"
                warn_user(f"its {' and '.join(left)} picture{many} not written", Note)
    except Exception:  # noqa: BLE001 - metadata is optional: unreadable means none
        return Metadata()
    icc = bytes(icc) if isinstance(icc, bytes | bytearray) and icc else None
    return Metadata(
        icc,
        read_tiff_exif(path),
        resolution,
        unit,
        imagej or None,
        _single_file(ome, path),
        premultiplied=premultiplied,
        xmp=xmp,
        stored_type=stored.name if stored is not None else None,
        storage=storage,
        iptc=iptc,
    )


def upright_xmp(xmp: bytes | str | None) -> bytes | None:
    """An XMP packet as bytes, the orientation it says (tiff:Orientation, as an attribute
    or an element) set to 1: the pixels are read upright, and an output that kept 6 would
    be turned again by the programs that read XMP."""
    if not xmp:
        return None
    xmp = xmp.encode() if isinstance(xmp, str) else bytes(xmp)
    xmp = re.sub(rb'(tiff:Orientation=["\'])\d(["\'])', rb"\g<1>1\g<2>", xmp)
    return re.sub(rb"(<tiff:Orientation>)\s*\d\s*(</tiff:Orientation>)", rb"\g<1>1\g<2>", xmp)


def _single_file(ome: str | None, path: str | os.PathLike) -> str | None:
    """``ome`` where it describes this file alone: the OME-XML of a dataset spread over
    several files names the others, and one output file cannot stand for them."""
    if not ome:
        return None
    names = set(re.findall(r'<UUID[^>]*\bFileName="([^"]*)"', ome))
    others = sorted(names - {Path(path).name})
    if not others:
        return ome
    warn_user(
        Note(
            "its OME-XML describes a dataset spread over several files "
            f"(also {name_some(others, 3)}): "
            "the output has this file's planes without it (pixel sizes, channel names)"
        )
    )
    return None


def ome_for_output(ome: str) -> str:
    """The input's OME-XML for an output file with the same planes: its TiffData no
    longer name the input's file (without a UUID they mean the file they are in), it
    gets a UUID of its own, and its pixels are little-endian as written."""
    ome = re.sub(r"<UUID\b[^>]*/>|<UUID\b[^>]*>[^<]*</UUID>", "", ome)
    ome = re.sub(r'(<OME\b[^>]*\bUUID=")[^"]*"', rf'\g<1>urn:uuid:{uuid.uuid4()}"', ome, count=1)
    return re.sub(r'\bBigEndian="true"', 'BigEndian="false"', ome)


def png_with_metadata(data: bytes, metadata: Metadata) -> bytes:
    """PNG file bytes with ``metadata`` added as iCCP, eXIf, pHYs, cICP, iTXt (XMP) and text
    chunks after the header (for the 16-bit colour PNGs that OpenCV writes, which Pillow cannot)."""
    chunks = b""
    if metadata.icc_profile:
        chunks += _chunk(b"iCCP", b"ICC\0\0" + zlib.compress(metadata.icc_profile))
    if metadata.exif:
        exif = metadata.exif[6:] if metadata.exif.startswith(b"Exif\0\0") else metadata.exif
        chunks += _chunk(b"eXIf", exif)
    if metadata.dpi:  # pixels per metre, unit 1 (the metre)
        x, y = (round(d / 0.0254) for d in metadata.dpi)
        chunks += _chunk(b"pHYs", struct.pack(">IIB", x, y, 1))
    if metadata.nclx:
        chunks += _chunk(b"cICP", cicp(metadata.nclx))
    if metadata.xmp:  # iTXt, uncompressed, no language or translated keyword
        chunks += _chunk(b"iTXt", PNG_XMP_KEY.encode() + b"\0\0\0\0\0" + metadata.xmp)
    for key, value in metadata.text or ():
        chunks += _text_chunk(key, value)
    end_of_header = 8 + 8 + 13 + 4  # signature, IHDR's length and type, its data, CRC
    return data[:end_of_header] + chunks + data[end_of_header:]


def cicp(nclx: dict) -> bytes:
    """A PNG's cICP chunk for a HEIF's colour description: its primaries and transfer
    curve (an HLG or PQ photo's), matrix 0 and full range, as PNG holds RGB (decoded from
    the HEIF's YCbCr to full range)."""
    return bytes([nclx["color_primaries"], nclx["transfer_characteristics"], 0, 1])


def _png_nclx(path: str | os.PathLike) -> dict | None:
    """A PNG's cICP chunk (before its image data) as the colour description a HEIC output
    is given: the matrix for its YCbCr, BT.2020's for BT.2020 primaries, else BT.601's."""
    with open(path, "rb") as f:
        f.seek(8)  # the signature
        while len(head := f.read(8)) == 8:
            length, kind = struct.unpack(">I4s", head)
            if kind == b"IDAT":
                return None
            if kind == b"cICP" and length == 4:
                primaries, transfer, _, _ = f.read(4)
                matrix = 9 if primaries == 9 else 6
                return dict(zip(NCLX, (primaries, transfer, matrix, 1), strict=True))
            f.seek(length + 4, os.SEEK_CUR)  # its data and CRC
    return None


# An AVIF's colour description that says no more than an AVIF without one (libavif's
# sRGB, or unspecified): not kept, so that a PNG output gets no cICP chunk for it.
_PLAIN_NCLX = {(1, 13), (2, 2)}


def _avif_nclx(path: str | os.PathLike) -> dict | None:
    """An AVIF's colour description (its 'colr' box of type 'nclx', among the item
    properties in the file's first 64 KiB): an HDR photo's BT.2020 primaries and PQ or
    HLG transfer, which Pillow's reader does not give; None for sRGB or none."""
    with open(path, "rb") as f:
        head = f.read(1 << 16)
    at = head.find(b"colrnclx")
    if at < 0 or at + 15 > len(head):
        return None
    primaries, transfer, matrix, flags = struct.unpack(">HHHB", head[at + 8 : at + 15])
    if (primaries, transfer) in _PLAIN_NCLX:
        return None
    return dict(zip(NCLX, (primaries, transfer, matrix, flags >> 7), strict=True))


def _pictures(path, orientation: int) -> tuple[tuple[int, bytes], ...] | None:
    """A JPEG's extra pictures (:func:`~.jpeg_pictures.read_pictures`); none, said, where
    its EXIF orientation turns it: the output is written upright, they would not be."""
    pictures = read_pictures(path)
    if pictures and orientation not in (0, 1):
        warn_user(
            f"its {len(pictures)} extra picture(s) (an Ultra HDR gain map, previews) are "
            "not written: the photo is turned by its EXIF orientation, they would not be "
            "(an Ultra HDR photo's output shows as SDR)",
            Note,
        )
        return None
    return pictures


# A HEIF's auxiliary images by the end of their type: an iPhone's HDR gain map, its
# portrait mattes, a depth map; what an output without them loses.
_AUXILIARY = {
    "hdrgainmap": "HDR gain map (the output shows as SDR)",
    "matte": "portrait matte (portrait effects are lost)",
    "depth": "depth map (portrait effects are lost)",
}


def heif_images_left(info: dict) -> str | None:
    """What a HEIF's output leaves out of its images beyond the photo (Pillow's ``info``
    of it, as pillow-heif gives it: its auxiliary images by type, its depth images), or
    None where it has none. Thumbnails are not counted: an output needs none."""
    kinds = [str(kind) for kind in (info.get("aux") or {})]
    kinds += ["depth"] * len(info.get("depth_images") or [])
    said = []
    for kind in kinds:
        what = next((v for k, v in _AUXILIARY.items() if k in kind.lower()), None)
        what = what or f"auxiliary image ({kind})"
        if what not in said:
            said.append(what)
    return (", ".join(said) + (" is" if len(said) == 1 else " are")) if said else None


def _png_text(info: dict) -> tuple[tuple[str, str], ...] | None:
    """The text chunks before a PNG's image data, from Pillow's ``info`` (its text values
    are its only strings), less XMP and ImageMagick's raw profiles."""
    pairs = tuple(
        (key, value)
        for key, value in info.items()
        if isinstance(key, str) and isinstance(value, str)
        and key != PNG_XMP_KEY and not key.startswith("Raw profile type")
    )  # fmt: skip
    return pairs or None


def _webp_lossless(path: str | os.PathLike) -> bool | None:
    """True where a WebP's image is stored without loss (its image chunk is VP8L, not
    VP8; the chunks before it, VP8X, ICCP, ANIM or ALPH, are stepped over), else None."""
    with open(path, "rb") as f:
        f.seek(12)  # "RIFF", the size, "WEBP"
        while len(head := f.read(8)) == 8:
            kind, length = struct.unpack("<4sI", head)
            if kind in (b"VP8 ", b"VP8L"):
                return True if kind == b"VP8L" else None
            f.seek(length + length % 2, os.SEEK_CUR)  # chunks are padded to even sizes
    return None


def _text_chunk(key: str, value: str) -> bytes:
    """tEXt where keyword and text are Latin-1 (PNG's own), else iTXt (UTF-8)."""
    try:
        return _chunk(b"tEXt", key.encode("latin-1") + b"\0" + value.encode("latin-1"))
    except UnicodeEncodeError:
        body = key.encode("latin-1", "replace") + b"\0\0\0\0\0" + value.encode("utf-8")
        return _chunk(b"iTXt", body)


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
