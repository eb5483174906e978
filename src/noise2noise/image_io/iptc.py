"""A photo's IPTC record (IPTC-IIM: its caption, keywords, byline, credit and copyright
notice, as news agencies, stock libraries and press photographers' tools write them),
carried into a JPEG or TIFF output.

In a JPEG the record is a Photoshop image resource (``8BIM``, id 0x0404) in an APP13
segment that starts "Photoshop 3.0"; in a TIFF it is the IPTC tag (33723). The record is
copied as it is (it describes the scene, which denoising does not change), with the digest
Photoshop keeps of it (id 0x0425) where the input had one, so that programs that compare
it with the XMP find them in step. Other formats have no place for it: said. Most photo
managers write the same fields into the XMP too, which is kept everywhere.
"""

from __future__ import annotations

import struct

import numpy as np

from .jpeg_pictures import segments

IPTC_TAG = 33723  # a TIFF's IPTC record
_PHOTOSHOP = b"Photoshop 3.0\0"
_RECORD, _DIGEST = 0x0404, 0x0425
_SEGMENT_MAX = 65535 - 2  # an APP13 segment's length counts its own two bytes


def jpeg_iptc(path) -> bytes | None:
    """The IPTC record of a JPEG with its digest, as the Photoshop resources that hold them
    (:func:`app13_segment` writes them again), or None where it has none or one that
    cannot be read."""
    try:
        with open(path, "rb") as f:
            resources = _resources(b"".join(_photoshop_segments(f)))
    except (OSError, struct.error):
        return None
    return resources if resources and _has_record(resources) else None


def tiff_iptc(page, byteorder: str) -> bytes | None:
    """The IPTC record of a tifffile page (its IPTC tag, which Photoshop writes as LONGs
    in the file's ``byteorder``) as the Photoshop resource :func:`app13_segment` writes,
    or None where it has none."""
    value = page.tags.valueof(IPTC_TAG)
    if value is None:
        return None
    if not isinstance(value, bytes | bytearray):
        value = np.asarray(value).astype(byteorder + "u4").tobytes()
    record = bytes(value).rstrip(b"\0")  # LONGs pad it to a multiple of 4
    return _resource(_RECORD, record) if record.startswith(b"\x1c") else None


def record_of(resources: bytes) -> bytes | None:
    """The IPTC record in ``resources`` (for a TIFF's IPTC tag)."""
    for ident, data in _walk(resources):
        if ident == _RECORD:
            return data
    return None


def iptc_extratags(resources: bytes) -> list[tuple]:
    """tifffile's extratags for the IPTC tag holding the record in ``resources``: LONGs,
    as Photoshop writes it, whose bytes in the file are the record's (tifffile writes in
    this machine's byte order)."""
    record = record_of(resources) or b""
    record += b"\0" * (-len(record) % 4)
    longs = np.frombuffer(record, dtype="=u4")
    return [(IPTC_TAG, "I", len(longs), longs, True)] if len(longs) else []


def app13_segment(resources: bytes) -> bytes | None:
    """A JPEG APP13 segment holding ``resources``; None where they do not fit in one."""
    body = _PHOTOSHOP + resources
    if len(body) + 2 > _SEGMENT_MAX:
        return None
    return b"\xff\xed" + struct.pack(">H", len(body) + 2) + body


def _photoshop_segments(f):
    """The payloads of a JPEG's Photoshop APP13 segments, in order (a long record may be
    spread over several), from the segments before its image data (the file ``f`` is
    read segment by segment: its image data are not)."""
    for marker, offset, length in segments(f):
        if marker == 0xED:
            f.seek(offset)
            if (payload := f.read(max(length, 0))).startswith(_PHOTOSHOP):
                yield payload[len(_PHOTOSHOP) :]


def _walk(data: bytes):
    """(id, data) of each Photoshop image resource in ``data``: "8BIM", a 2-byte id, a
    Pascal-string name padded to an even length, a 4-byte size, the data padded to even."""
    at = 0
    while at + 12 <= len(data) and data[at : at + 4] == b"8BIM":
        (ident,) = struct.unpack(">H", data[at + 4 : at + 6])
        name = data[at + 6]
        at += 6 + (name + 2) // 2 * 2
        (size,) = struct.unpack(">I", data[at : at + 4])
        body = data[at + 4 : at + 4 + size]
        if len(body) != size:  # cut short
            return
        yield ident, body
        at += 4 + size + size % 2


def _resources(data: bytes) -> bytes:
    """The IPTC record's and its digest's resources of ``data``, written again."""
    return b"".join(_resource(i, d) for i, d in _walk(data) if i in (_RECORD, _DIGEST))


def _has_record(resources: bytes) -> bool:
    return (record := record_of(resources)) is not None and record.startswith(b"\x1c")


def _resource(ident: int, data: bytes) -> bytes:
    """One Photoshop image resource, with an empty name."""
    padding = b"\0" * (len(data) % 2)
    return b"8BIM" + struct.pack(">HHI", ident, 0, len(data)) + data + padding
