"""A photo's IPTC record (caption, keywords, byline, copyright, as news agencies and press
photographers' tools write them) is kept in JPEG and TIFF outputs, and said to be left out
of the others; read back here by Pillow's own IPTC reader."""

import io
import struct

import numpy as np
import pytest
import tifffile
from PIL import Image, IptcImagePlugin

from noise2noise.cli import main
from noise2noise.image_io import read_metadata, write_image

CAPTION = "Storm over Zürich".encode()


def _dataset(record: int, number: int, value: bytes) -> bytes:
    return b"\x1c" + bytes([record, number]) + struct.pack(">H", len(value)) + value


RECORD = (
    _dataset(1, 90, b"\x1b%G")  # UTF-8
    + _dataset(2, 120, CAPTION)
    + _dataset(2, 25, b"storm")
    + _dataset(2, 25, b"lake")
    + _dataset(2, 116, b"(c) 2026 A. Photographer")
)
EXPECTED = {
    (1, 90): b"\x1b%G",
    (2, 120): CAPTION,
    (2, 25): [b"storm", b"lake"],
    (2, 116): b"(c) 2026 A. Photographer",
}


def _resource(ident: int, data: bytes) -> bytes:
    return b"8BIM" + struct.pack(">HHI", ident, 0, len(data)) + data + b"\0" * (len(data) % 2)


def _iptc(path) -> dict | None:
    with Image.open(path) as im:
        return IptcImagePlugin.getiptcinfo(im)


@pytest.fixture
def press_jpeg(tmp_path, astronaut_crop):
    """A JPEG as Photo Mechanic or Photoshop writes it: the IPTC record in an APP13
    segment among Photoshop's other resources (here a stand-in for its thumbnail)."""
    resources = _resource(0x0404, RECORD) + _resource(0x0409, b"a noisy thumbnail")
    body = b"Photoshop 3.0\0" + resources
    app13 = b"\xff\xed" + struct.pack(">H", len(body) + 2) + body
    buffer = io.BytesIO()
    Image.fromarray(astronaut_crop).save(buffer, "JPEG", quality=95, extra=app13)
    path = tmp_path / "press.jpg"
    path.write_bytes(buffer.getvalue())
    assert _iptc(path) == EXPECTED
    return path


def test_a_press_photos_iptc_record_is_kept(tmp_path, press_jpeg, capsys):
    """Its caption, keywords and copyright notice were dropped from every output."""
    for name in ("out.jpg", "out.tif"):
        assert main(["denoise", str(press_jpeg), "-o", str(tmp_path / name), "-q"]) == 0
        assert _iptc(tmp_path / name) == EXPECTED
    assert b"a noisy thumbnail" not in (tmp_path / "out.jpg").read_bytes()  # the record only
    assert main(["denoise", str(tmp_path / "out.tif"), "-o", str(tmp_path / "again.jpg")]) == 0
    assert _iptc(tmp_path / "again.jpg") == EXPECTED  # from a TIFF's IPTC tag
    assert main(["denoise", str(press_jpeg), "-o", str(tmp_path / "out.png")]) == 0
    assert ".png has no place for the photo's IPTC record" in capsys.readouterr().err


def test_a_tiffs_iptc_record_in_photoshops_longs_is_read_in_its_byte_order(
    tmp_path, astronaut_crop
):
    """Photoshop writes a TIFF's IPTC tag as LONGs; in a big-endian file (a Mac's of
    old) their bytes are the record's only when read in the file's order."""
    record = RECORD + b"\0" * (-len(RECORD) % 4)
    longs = np.frombuffer(record, dtype=">u4")
    tifffile.imwrite(
        tmp_path / "scan.tif", astronaut_crop, photometric="rgb", byteorder=">",
        extratags=[(33723, "I", len(longs), longs, True)],
    )  # fmt: skip
    assert _iptc(tmp_path / "scan.tif") == EXPECTED  # Pillow reads it so too
    meta = read_metadata(tmp_path / "scan.tif")
    write_image(tmp_path / "scan.jpg", astronaut_crop, metadata=meta)
    assert _iptc(tmp_path / "scan.jpg") == EXPECTED


def test_a_damaged_iptc_record_is_none_not_an_error(tmp_path, astronaut_crop):
    """A record cut short, or resources that are not Photoshop's, read as none."""
    for resources in (_resource(0x0404, RECORD)[:-9], b"8BIM\x04\x04", b"junk" * 8):
        body = b"Photoshop 3.0\0" + resources
        app13 = b"\xff\xed" + struct.pack(">H", len(body) + 2) + body
        path = tmp_path / "damaged.jpg"
        Image.fromarray(astronaut_crop).save(path, quality=90, extra=app13)
        assert read_metadata(path).iptc is None
        write_image(tmp_path / "out.jpg", astronaut_crop, metadata=read_metadata(path),
                    overwrite=True)  # fmt: skip
        assert _iptc(tmp_path / "out.jpg") is None
