"""EXIF in TIFF files: a photo's camera, lens, exposure, capture time and place.

In a TIFF, EXIF is not one block as in a JPEG: a few tags of the image's own directory
(Make, Model, DateTime, Artist, Copyright, ImageDescription) and two directories of their
own that it points to (the Exif and GPS IFDs). tifffile gives them as tags and writes
neither pointer, so a 16-bit TIFF from a raw developer lost them all.
:func:`read_tiff_exif` takes them as EXIF bytes (through Pillow, which reads the
directories); :func:`exif_extratags` and :func:`add_exif_directories` write them around
tifffile: the descriptive tags and two placeholder pointers go in with the image, then the
two directories are appended to the file and the placeholders made into their pointers.

A maker note (0x927C) is left out both ways: its offsets point into the file it came from.
"""

from __future__ import annotations

import os
import struct
from pathlib import Path

from .common import _own_size_check

DESCRIPTIVE = (0x010F, 0x0110, 0x0132, 0x013B, 0x8298)  # Make, Model, DateTime, Artist, (c)
# ImageDescription: a caption (a photographer's, a scanner's), written by tifffile itself
# (`description`); not where a program keeps its own settings there: ImageJ's, OME-XML,
# tifffile's shape.
CAPTION = 0x010E
_PROGRAMS = ("ImageJ=", "<?xml", "<OME", '{"shape"', "shape=(")
EXIF_IFD, GPS_IFD = 0x8769, 0x8825
_LEFT_OUT = {0x927C, 0xA005}  # maker note; the Interoperability IFD's pointer
# tifffile writes no pointer tags: these private codes, just below the pointers' (so the
# directory stays sorted), hold their places until add_exif_directories renames them.
_PLACEHOLDER = {EXIF_IFD: EXIF_IFD - 1, GPS_IFD: GPS_IFD - 1}
_LONG = 4


def read_tiff_exif(path: str | os.PathLike) -> bytes | None:
    """The EXIF of a TIFF as the bytes a JPEG holds (None: it has none, or Pillow cannot
    open the file, as a float colour TIFF)."""
    from PIL import Image

    try:
        with _own_size_check(), Image.open(path) as im:  # no pixels decoded here
            return _as_bytes(im.getexif())
    except Exception:  # noqa: BLE001 - metadata is optional: unreadable means none
        return None


def _as_bytes(source) -> bytes | None:
    """The descriptive tags and the Exif and GPS directories of ``source`` (a Pillow
    ``Exif``) as EXIF bytes, or None where it has none of them."""
    from PIL import Image

    exif = Image.Exif()
    for tag in DESCRIPTIVE:
        if tag in source:
            exif[tag] = source[tag]
    if isinstance(text := source.get(CAPTION), str) and not text.startswith(_PROGRAMS):
        exif[CAPTION] = text
    for group, values in _directories(source).items():
        exif[group] = values
    return exif.tobytes() if len(exif) else None


def _directories(exif) -> dict[int, dict]:
    """The Exif and GPS directories of a Pillow ``Exif``, without what is left out."""
    found = {}
    for group in (EXIF_IFD, GPS_IFD):
        values = {k: v for k, v in exif.get_ifd(group).items() if k not in _LEFT_OUT}
        if values:
            found[group] = values
    return found


def exif_extratags(exif: bytes) -> list[tuple]:
    """tifffile's ``extratags`` for EXIF bytes: the descriptive tags, and a placeholder
    for each directory that :func:`add_exif_directories` then fills in."""
    from PIL import Image

    source = Image.Exif()
    source.load(exif)
    tags = [(t, "s", 0, source[t], True) for t in DESCRIPTIVE if _ascii(source.get(t))]
    return tags + [(_PLACEHOLDER[g], "I", 1, 0, True) for g in _writable(source)]


def exif_caption(exif: bytes) -> str | None:
    """The ImageDescription of EXIF bytes, where it is ASCII (as tifffile writes it)."""
    from PIL import Image

    source = Image.Exif()
    source.load(exif)
    text = source.get(CAPTION)
    return text if _ascii(text) and text.strip("\0 ") else None


def _ascii(value) -> bool:
    return isinstance(value, str) and value.isascii()


def _writable(source) -> dict[int, dict]:
    """The directories of ``source`` that serialise (a value of an odd type in one leaves
    that directory out, not the image unwritten)."""
    found = {}
    for group, values in _directories(source).items():
        try:
            _directory(values, group, b"II*\0\0\0\0\0").tobytes(0)
        except Exception:  # noqa: BLE001 - metadata is optional
            continue
        found[group] = values
    return found


def _directory(values: dict, group: int, header: bytes):
    from PIL.TiffImagePlugin import ImageFileDirectory_v2

    directory = ImageFileDirectory_v2(ifh=header, group=group)
    for tag, value in values.items():
        directory[tag] = value
    return directory


def add_exif_directories(path: Path, exif: bytes) -> None:
    """Append the Exif and GPS directories of ``exif`` to the TIFF at ``path`` (written
    by tifffile with :func:`exif_extratags`) and make its placeholders point to them."""
    import tifffile
    from PIL import Image

    source = Image.Exif()
    source.load(exif)
    with tifffile.TiffFile(path) as tif:
        if tif.is_bigtiff:
            return  # its pointers are 8 bytes: not written
        order = tif.byteorder
        tags = tif.pages[0].tags
        places = {
            g: (tags[p].offset, tags[p].valueoffset) for g, p in _PLACEHOLDER.items() if p in tags
        }
    header = (b"II*\0" if order == "<" else b"MM\0*") + b"\0\0\0\0"
    with open(path, "r+b") as f:
        for group, values in _writable(source).items():
            if group not in places:
                continue
            end = f.seek(0, os.SEEK_END)
            if end % 2:  # directories start on a word boundary
                end = end + f.write(b"\0")
            f.write(_directory(values, group, header).tobytes(end))
            entry, value = places[group]
            f.seek(entry)
            f.write(struct.pack(order + "HHI", group, _LONG, 1))
            f.seek(value)
            f.write(struct.pack(order + "I", end))
