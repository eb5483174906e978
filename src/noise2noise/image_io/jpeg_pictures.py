"""A JPEG's extra pictures (its Multi-Picture Format index, MPF), carried into a JPEG output.

A phone's Ultra HDR photo (Android since 14) is a JPEG with a second, smaller JPEG after it:
the gain map that viewers on HDR screens apply to show the highlights brighter. Cameras put
previews there, 3D cameras the second view. Written as one JPEG, the output of such a photo
is shown as SDR, its previews gone. The extra pictures are copied as they are (a gain map
describes the scene's light, which denoising does not change), after the denoised image,
with a new index in an APP2 segment that points to them.

The index's offsets count from its own TIFF header; each picture's entry is 16 bytes:
attributes, size, offset (0 for the first picture, which is the file itself), and two
dependent pictures.
"""

from __future__ import annotations

import io
import struct
from pathlib import Path

_MPF = b"MPF\0"
_ENTRIES, _VERSION, _COUNT = 0xB002, 0xB000, 0xB001
_UNDEFINED, _LONG = 7, 4


# At most this many pictures are read from an index (a hostile one may claim millions).
MAX_PICTURES = 64


def read_pictures(path: str | Path) -> tuple[tuple[int, bytes], ...] | None:
    """The extra pictures of a JPEG as (attributes, JPEG bytes) in the index's order, or
    None where it has no index, none beyond the first, or one that cannot be read."""
    try:
        return _pictures(Path(path).read_bytes())
    except struct.error:  # an index cut short
        return None


def segments(f):
    """(marker, offset, length) of each segment of the JPEG file ``f`` before its image
    data: the marker's second byte, where its payload starts and how long it is. Only the
    segments' headers are read (``f`` may be read between them), walked, not searched:
    an ICC profile of many APP2 segments, say, comes before an MPF index."""
    at = 2  # after SOI
    while True:
        f.seek(at)
        head = f.read(4)
        if len(head) < 4 or head[0] != 0xFF or head[1] == 0xDA:  # start of scan: no more
            return
        (length,) = struct.unpack(">H", head[2:])
        yield head[1], at + 4, length - 2
        at += 2 + length


def _index_at(data: bytes) -> int | None:
    """Where the MPF index's APP2 segment starts."""
    for marker, offset, _ in segments(io.BytesIO(data)):
        if marker == 0xE2 and data[offset : offset + 4] == _MPF:
            return offset - 4
    return None


def _pictures(data: bytes) -> tuple[tuple[int, bytes], ...] | None:
    at = _index_at(data)
    if at is None:
        return None
    base = at + 8  # the index's TIFF header
    order = "<" if data[base : base + 2] == b"II" else ">"
    (ifd,) = struct.unpack(order + "I", data[base + 4 : base + 8])
    (count,) = struct.unpack(order + "H", data[base + ifd : base + ifd + 2])
    entries, number = 0, 0
    for i in range(count):
        start = base + ifd + 2 + 12 * i
        tag, _, length, value = struct.unpack(order + "HHII", data[start : start + 12])
        if tag == _ENTRIES:
            entries, number = value, min(length // 16, MAX_PICTURES)
    pictures = []
    for k in range(1, number):
        start = base + entries + 16 * k
        attributes, size, offset, _, _ = struct.unpack(order + "IIIHH", data[start : start + 16])
        picture = data[base + offset : base + offset + size]
        if len(picture) == size and picture.startswith(b"\xff\xd8"):
            pictures.append((attributes, picture))
    return tuple(pictures) or None


def index_segment(pictures: tuple[tuple[int, bytes], ...]) -> bytes:
    """The APP2 segment of an index for the written picture and ``pictures``, its sizes
    and offsets zero until :func:`append_pictures` knows them."""
    count = len(pictures) + 1
    entries_at = 8 + 2 + 3 * 12 + 4  # the header, the directory and its next-offset
    directory = struct.pack("<H", 3) + b"".join(
        (
            struct.pack("<HHI", _VERSION, _UNDEFINED, 4) + b"0100",
            struct.pack("<HHII", _COUNT, _LONG, 1, count),
            struct.pack("<HHII", _ENTRIES, _UNDEFINED, 16 * count, entries_at),
        )
    )
    primary = struct.pack("<IIIHH", 0x030000, 0, 0, 0, 0)  # a baseline primary picture
    others = b"".join(struct.pack("<IIIHH", a, len(p), 0, 0, 0) for a, p in pictures)
    body = _MPF + b"II*\0" + struct.pack("<I", 8) + directory + struct.pack("<I", 0)
    body += primary + others
    return b"\xff\xe2" + struct.pack(">H", len(body) + 2) + body


def append_pictures(path: Path, pictures: tuple[tuple[int, bytes], ...]) -> None:
    """Fill the index that :func:`index_segment` put into the JPEG at ``path`` and append
    ``pictures`` after it."""
    data = bytearray(path.read_bytes())
    base = data.find(_MPF + b"II*\0") + len(_MPF)
    entries = base + 8 + 2 + 3 * 12 + 4
    struct.pack_into("<I", data, entries + 4, len(data))  # the first picture: this one
    offset = len(data) - base
    for k, (_, picture) in enumerate(pictures, start=1):
        struct.pack_into("<I", data, entries + 16 * k + 8, offset)
        offset += len(picture)
    path.write_bytes(bytes(data) + b"".join(p for _, p in pictures))
