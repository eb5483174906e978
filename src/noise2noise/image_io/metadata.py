"""What an image file says about its pixels beyond their values: its colour profile (ICC)
and EXIF (camera, exposure, date, GPS), carried from an input file to its output.

A photo in Display P3 or Adobe RGB (phones, many cameras) that loses its profile is shown
as sRGB: its colours change although no pixel did. Metadata is carried on a best-effort
basis: a file whose metadata cannot be read gets none, never an error, and a format
without a place for it (BMP) drops it.
"""

from __future__ import annotations

import os
import struct
import zlib
from dataclasses import dataclass

__all__ = ["Metadata", "read_metadata", "png_with_metadata"]

ORIENTATION = 0x0112  # EXIF tag; read_image applies it to the pixels
ICC_TAG = 34675  # TIFF's InterColorProfile
# JPEG keeps EXIF in one APP1 segment: at most 65535 bytes with its length and "Exif\0\0".
JPEG_EXIF_MAX = 65535 - 2 - 6


@dataclass(frozen=True)
class Metadata:
    """An image file's colour profile and EXIF, as bytes (None: it had none)."""

    icc_profile: bytes | None = None
    exif: bytes | None = None

    def for_channels(self, channels: int) -> Metadata:
        """This metadata for an image of ``channels`` (1-4, alpha included): the profile
        only where its colour space is the image's (an RGB profile on RGB, a gray one on
        gray; a CMYK file is read as RGB, so its profile no longer applies)."""
        icc = self.icc_profile
        space = icc[16:20] if icc is not None and len(icc) >= 20 else None
        wanted = b"RGB " if channels >= 3 else b"GRAY"
        return Metadata(icc if space == wanted else None, self.exif)

    def __bool__(self) -> bool:
        return bool(self.icc_profile or self.exif)


def read_metadata(path: str | os.PathLike) -> Metadata:
    """The colour profile and EXIF of the image file ``path``.

    The EXIF orientation is set to 1 (upright): :func:`~noise2noise.image_io.read_image`
    turns the pixels already, so the output must not be turned again. Returns an empty
    :class:`Metadata` for a file without metadata or whose metadata cannot be read.
    """
    from PIL import Image

    if str(path).lower().endswith((".tif", ".tiff")):
        return _tiff_metadata(path)
    try:
        with Image.open(path) as im:
            icc = im.info.get("icc_profile") or None
            exif = im.getexif()
            if ORIENTATION in exif:
                exif[ORIENTATION] = 1
            return Metadata(icc, exif.tobytes() if len(exif) else None)
    except Exception:  # noqa: BLE001 - metadata is optional: unreadable means none
        return Metadata()


def _tiff_metadata(path: str | os.PathLike) -> Metadata:
    """A TIFF's colour profile (tag 34675), through tifffile, which reads every TIFF that
    read_image does (Pillow does not read float colour). Its other tags describe the file's
    layout, not the picture, so no EXIF is taken from them."""
    import tifffile

    try:
        with tifffile.TiffFile(path) as tif:
            tag = tif.pages[0].tags.get(ICC_TAG)
            icc = tag.value if tag is not None else None
    except Exception:  # noqa: BLE001 - metadata is optional: unreadable means none
        return Metadata()
    return Metadata(bytes(icc) if isinstance(icc, bytes | bytearray) and icc else None)


def png_with_metadata(data: bytes, metadata: Metadata) -> bytes:
    """PNG file bytes with ``metadata`` added as iCCP and eXIf chunks after the header
    (for the 16-bit colour PNGs that OpenCV writes, which Pillow cannot)."""
    chunks = b""
    if metadata.icc_profile:
        chunks += _chunk(b"iCCP", b"ICC\0\0" + zlib.compress(metadata.icc_profile))
    if metadata.exif:
        exif = metadata.exif[6:] if metadata.exif.startswith(b"Exif\0\0") else metadata.exif
        chunks += _chunk(b"eXIf", exif)
    end_of_header = 8 + 8 + 13 + 4  # signature, IHDR's length and type, its data, CRC
    return data[:end_of_header] + chunks + data[end_of_header:]


def _chunk(kind: bytes, body: bytes) -> bytes:
    return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
