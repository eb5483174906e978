"""Outputs keep what the input file said about its pixels (colour profile, EXIF), and
JPEG outputs are written at a quality that keeps what denoising gained."""

import re
import struct
import warnings
from pathlib import Path

import numpy as np
import pytest
import tifffile
from PIL import Image, ImageCms, JpegImagePlugin

from noise2noise.cli import main
from noise2noise.errors import Note
from noise2noise.image_io import Metadata, read_image, read_metadata, write_image

MAKE, ORIENTATION, EXIF_IFD, EXPOSURE = 0x010F, 0x0112, 0x8769, 0x829A
SRGB = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    return float(10 * np.log10(255**2 / np.mean((a.astype(float) - b.astype(float)) ** 2)))


@pytest.fixture
def camera_jpeg(tmp_path, astronaut_crop):
    """A JPEG as a camera writes it: an ICC profile, EXIF with the camera's make, an
    exposure time (in the Exif sub-directory) and orientation 6 (turn 90° to view)."""
    exif = Image.Exif()
    exif[MAKE], exif[ORIENTATION] = "TestCam", 6
    exif.get_ifd(EXIF_IFD)[EXPOSURE] = (1, 50)
    path = tmp_path / "camera.jpg"
    Image.fromarray(astronaut_crop).save(path, quality=95, icc_profile=SRGB, exif=exif.tobytes())
    return path


def _said(path) -> tuple:
    with Image.open(path) as im:
        exif = im.getexif()
        return (
            im.info.get("icc_profile"),
            exif.get(MAKE),
            exif.get(ORIENTATION),
            exif.get_ifd(EXIF_IFD).get(EXPOSURE),
        )


def test_jpeg_is_written_at_high_quality_with_full_colour(tmp_path, astronaut_crop):
    ours = write_image(tmp_path / "ours.jpg", astronaut_crop)
    Image.fromarray(astronaut_crop).save(tmp_path / "default.jpg")  # Pillow: 75, 4:2:0
    with Image.open(ours) as im:
        assert JpegImagePlugin.get_sampling(im) == 0  # 4:4:4
    kept = _psnr(read_image(ours), astronaut_crop)
    assert kept > _psnr(read_image(tmp_path / "default.jpg"), astronaut_crop) + 3
    low = write_image(tmp_path / "low.jpg", astronaut_crop, quality=50)
    assert low.stat().st_size < ours.stat().st_size / 2
    with pytest.raises(Exception, match="quality"):
        write_image(tmp_path / "bad.jpg", astronaut_crop, quality=0)


def test_read_metadata_resets_the_orientation_that_read_image_applies(camera_jpeg):
    meta = read_metadata(camera_jpeg)
    assert meta.icc_profile == SRGB
    exif = Image.Exif()
    exif.load(meta.exif)
    assert exif[MAKE] == "TestCam" and exif[ORIENTATION] == 1


@pytest.mark.parametrize(
    ("ext", "depth"),
    [
        (".jpg", np.uint8),
        (".png", np.uint8),
        (".png", np.uint16),
        (".tif", np.uint8),
        (".tif", np.uint16),
    ],
)
def test_outputs_keep_the_profile_and_exif(tmp_path, camera_jpeg, ext, depth):
    image = read_image(camera_jpeg).astype(depth) * (257 if depth == np.uint16 else 1)
    out = write_image(tmp_path / f"out{ext}", image, metadata=read_metadata(camera_jpeg))
    icc, make, orientation, exposure = _said(out)
    assert icc == SRGB
    assert (make, orientation or 1, exposure) == ("TestCam", 1, (1, 50))  # TIFF too
    back = read_image(out)
    assert back.shape == image.shape
    if ext != ".jpg":
        np.testing.assert_array_equal(back, image)  # the chunks added leave pixels alone


def test_a_profile_of_another_colour_space_is_left_out(tmp_path, astronaut_crop):
    cmyk = b"\0" * 16 + b"CMYK" + b"\0" * 108  # a CMYK file is read as RGB
    gray = b"\0" * 16 + b"GRAY" + b"\0" * 108
    assert Metadata(cmyk).for_channels(3).icc_profile is None
    assert Metadata(gray).for_channels(3).icc_profile is None
    assert Metadata(gray).for_channels(1).icc_profile == gray
    out = write_image(tmp_path / "out.png", astronaut_crop, metadata=Metadata(cmyk))
    assert _said(out)[0] is None


def test_exif_too_long_for_jpeg_is_left_out_with_a_warning(tmp_path, astronaut_crop):
    exif = Image.Exif()
    exif[0x010E] = "x" * 70000  # ImageDescription
    meta = Metadata(SRGB, exif.tobytes())
    with pytest.warns(UserWarning, match="EXIF"):
        out = write_image(tmp_path / "out.jpg", astronaut_crop, metadata=meta)
    assert _said(out)[:2] == (SRGB, None)


def test_unreadable_metadata_is_none(tmp_path):
    (tmp_path / "x.png").write_bytes(b"not an image")
    assert not read_metadata(tmp_path / "x.png")


def test_denoise_keeps_the_camera_metadata(tmp_path, camera_jpeg):
    out = tmp_path / "clean.jpg"
    assert main(["denoise", str(camera_jpeg), "-o", str(out), "--method", "pretrained"]) == 0
    assert _said(out) == (SRGB, "TestCam", 1, (1, 50))
    assert read_image(out).shape == read_image(camera_jpeg).shape  # upright, not turned twice


def test_quality_option_reaches_worker_processes(tmp_path, camera_jpeg, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.jpg", "b.jpg"):  # two files: each runs in a worker process
        (folder / name).write_bytes(camera_jpeg.read_bytes())
    sizes = {}
    for quality in ("40", "95"):
        out = tmp_path / f"q{quality}"
        args = ["add-noise", str(folder), "-o", str(out), "--gaussian", "5"]
        assert main([*args, "--quality", quality]) == 0
        sizes[quality] = sum(p.stat().st_size for p in out.iterdir())
        assert all(_said(p) == (SRGB, "TestCam", 1, (1, 50)) for p in out.iterdir())
    assert sizes["40"] < sizes["95"] / 2
    with pytest.raises(SystemExit):
        main(
            [
                "add-noise",
                str(folder),
                "-o",
                str(tmp_path / "x"),
                "--gaussian",
                "5",
                "--quality",
                "101",
            ]
        )
    assert "1-100" in capsys.readouterr().err


def test_quality_for_outputs_that_have_none_is_an_error_not_ignored(tmp_path, camera_jpeg, capsys):
    # Like every option the run would not use: said, nothing written.
    for out in ("clean.png", "clean.tif"):
        args = ["add-noise", str(camera_jpeg), "-o", str(tmp_path / out), "--gaussian", "5"]
        assert main([*args, "--quality", "80"]) != 0
        assert "--quality applies to lossy outputs only (JPEG" in capsys.readouterr().err
        assert not (tmp_path / out).exists()
        assert main(args) == 0  # without it, the same run works


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_a_tiffs_profile_is_read_in_every_depth(tmp_path, astronaut_crop, dtype):
    image = astronaut_crop.astype(dtype) / (255 if dtype == np.float32 else 1)
    path = write_image(tmp_path / "in.tif", image.astype(dtype), metadata=Metadata(SRGB))
    assert read_metadata(path) == Metadata(SRGB)  # float colour: Pillow cannot open it


def test_webp_keeps_the_profile_and_exif(tmp_path, camera_jpeg):
    out = write_image(
        tmp_path / "out.webp", read_image(camera_jpeg), metadata=read_metadata(camera_jpeg)
    )
    assert _said(out) == (SRGB, "TestCam", 1, (1, 50))


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_a_pngs_text_goes_into_its_png_output(tmp_path, astronaut_crop, dtype):
    """A PNG's title, author, copyright and an image generator's settings (tEXt, zTXt,
    iTXt) were left out of its output; ImageMagick's raw EXIF profile stays out (its
    orientation would turn the upright output again), XMP is written once."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    info.add_text("Title", "Harbour at dawn")
    info.add_text("parameters", "a lighthouse, steps 20", zip=True)
    info.add_itxt("Copyright", "© 2026 Zoë")
    info.add_text("Raw profile type exif", "exif\n 4\n00000000")
    info.add_itxt("XML:com.adobe.xmp", "<x:xmpmeta xmlns:x='adobe:ns:meta/'/>")
    image = astronaut_crop.astype(dtype) * (257 if dtype == np.uint16 else 1)
    write_image(tmp_path / "in.png", image)
    Image.open(tmp_path / "in.png").save(tmp_path / "in.png", pnginfo=info)  # 8-bit: as it is
    source = tmp_path / "in.png"
    if dtype == np.uint16:  # Pillow's RGB is 8-bit: the 16-bit PNG OpenCV writes, with text
        write_image(source, image, overwrite=True, metadata=read_metadata(tmp_path / "in.png"))
    out = tmp_path / "out.png"
    assert main(["denoise", str(source), "-o", str(out), "-q"]) == 0
    with Image.open(out) as im:
        said = dict(im.text)
    assert read_image(out).dtype == dtype
    assert said.pop("Title") == "Harbour at dawn" and said.pop("Copyright") == "© 2026 Zoë"
    assert said.pop("parameters") == "a lighthouse, steps 20"
    assert list(said) == ["XML:com.adobe.xmp"] and out.read_bytes().count(b"adobe:ns:meta") == 1


def test_a_pngs_text_left_out_of_another_format_is_said(tmp_path, astronaut_crop, capsys):
    """Its title and copyright went nowhere in a JPEG output, without a word; ImageMagick's
    dates and a program's name are not worth one."""
    from PIL.PngImagePlugin import PngInfo

    info = PngInfo()
    for key, value in [("Title", "Harbour"), ("Copyright", "(c) Me"), ("date:create", "2026")]:
        info.add_text(key, value)
    Image.fromarray(astronaut_crop).save(tmp_path / "in.png", pnginfo=info)
    assert main(["denoise", str(tmp_path / "in.png"), "-o", str(tmp_path / "out.jpg")]) == 0
    assert "no place for the PNG's text (Title, Copyright): left out" in capsys.readouterr().err
    info = PngInfo()
    info.add_text("date:modify", "2026")
    info.add_text("Software", "ImageMagick")
    Image.fromarray(astronaut_crop).save(tmp_path / "magick.png", pnginfo=info)
    assert main(["denoise", str(tmp_path / "magick.png"), "-o", str(tmp_path / "m.jpg")]) == 0
    assert "PNG's text" not in capsys.readouterr().err


def _webp_image_chunk(path: Path) -> bytes:
    data = path.read_bytes()
    return next(kind for kind in (b"VP8L", b"VP8 ") if kind in data)


def test_a_lossless_webp_stays_lossless(tmp_path, astronaut_crop):
    """A lossless WebP (a screenshot, an archive's master) came out lossy, at quality 95;
    its output is lossless now, also where its image follows other chunks (VP8X, ICCP)."""
    rng = np.random.default_rng(0)
    noisy = np.clip(astronaut_crop + rng.normal(0, 20, astronaut_crop.shape), 0, 255)
    noisy = Image.fromarray(noisy.astype(np.uint8))
    noisy.save(tmp_path / "master.webp", lossless=True, icc_profile=SRGB)
    noisy.save(tmp_path / "photo.webp", quality=90, icc_profile=SRGB)
    assert read_metadata(tmp_path / "master.webp").lossless is True
    assert read_metadata(tmp_path / "photo.webp").lossless is None
    for name in ("master", "photo"):
        out = tmp_path / f"{name}_out.webp"
        assert main(["denoise", str(tmp_path / f"{name}.webp"), "-o", str(out), "-q"]) == 0
        assert _said(out)[0] == SRGB
        expected = b"VP8L" if name == "master" else b"VP8 "
        assert _webp_image_chunk(out) == expected
    result = read_image(tmp_path / "master_out.webp")
    again = write_image(tmp_path / "again.webp", result, metadata=Metadata(lossless=True))
    np.testing.assert_array_equal(read_image(again), result)  # nothing lost


@pytest.mark.parametrize("ext", [".png", ".jpg", ".bmp", ".tif"])
@pytest.mark.parametrize("depth", [np.uint8, np.uint16])
def test_a_scans_resolution_is_kept(tmp_path, astronaut_crop, ext, depth):
    # A 300-dpi scan written at the default 72 dpi would print at four times its size.
    scan = tmp_path / "scan.png"
    Image.fromarray(astronaut_crop).save(scan, dpi=(300, 300))
    assert read_metadata(scan).dpi == pytest.approx((300, 300), abs=0.01)
    image = read_image(scan).astype(depth) * (257 if depth == np.uint16 else 1)
    if ext in (".jpg", ".bmp") and depth == np.uint16:
        return  # 8-bit formats: the 8-bit case covers them
    out = write_image(tmp_path / f"out{ext}", image, metadata=read_metadata(scan))
    assert read_metadata(out).dpi == pytest.approx((300, 300), abs=0.01)


def test_a_micrographs_imagej_calibration_is_kept(tmp_path):
    import tifffile

    rng = np.random.default_rng(0)
    calibration = {"spacing": 0.5, "unit": "micron", "finterval": 2.0}
    stack = tmp_path / "cells.tif"
    tifffile.imwrite(
        stack, rng.integers(0, 4000, (3, 32, 32), dtype=np.uint16), imagej=True,
        resolution=(5.0, 5.0), metadata={"axes": "ZYX", **calibration},
    )  # fmt: skip
    single = tmp_path / "cell.tif"
    tifffile.imwrite(
        single, rng.integers(0, 4000, (32, 32), dtype=np.uint16), imagej=True,
        resolution=(5.0, 5.0), metadata={"axes": "YX", **calibration},
    )  # fmt: skip
    for source in (stack, single):
        out = tmp_path / f"clean-{source.name}"
        assert main(["denoise", str(source), "-o", str(out), "--method", "pretrained"]) == 0
        with tifffile.TiffFile(out) as tif:
            assert tif.pages[0].resolution == pytest.approx((5.0, 5.0))
            assert {k: tif.imagej_metadata.get(k) for k in calibration} == calibration


def _ome_tiff(path: Path, planes: np.ndarray, file_name: str) -> str:
    """An OME-TIFF as Bio-Formats writes one: TiffData naming its file by UUID."""
    tifffile.imwrite(
        path,
        planes,
        ome=True,
        metadata={"axes": "TCYX", "PhysicalSizeX": 0.2, "Channel": {"Name": ["DAPI", "GFP"]}},
    )
    with tifffile.TiffFile(path) as tif:
        xml = tif.ome_metadata
    own = re.search(r'UUID="([^"]+)"', xml).group(1)
    xml = re.sub(
        r"<TiffData ([^>]*)/>",
        rf'<TiffData \1><UUID FileName="{file_name}">{own}</UUID></TiffData>',
        xml,
    )
    tifffile.imwrite(path, planes, description=xml, metadata=None, ome=False)
    return own


def test_an_ome_tiffs_metadata_is_kept_and_names_the_output_not_the_input(tmp_path):
    planes = np.random.default_rng(0).integers(0, 65536, (3, 2, 32, 40), dtype=np.uint16)
    source = tmp_path / "cells.ome.tif"
    own = _ome_tiff(source, planes, "cells.ome.tif")
    assert (
        main(["add-noise", str(source), "-o", str(tmp_path / "noisy.ome.tif"), "--gaussian", "5"])
        == 0
    )
    with tifffile.TiffFile(tmp_path / "noisy.ome.tif") as tif:
        assert tif.is_ome and tif.series[0].axes == "TCYX" and tif.series[0].shape == planes.shape
        xml = tif.ome_metadata
        out = tif.asarray()
    assert 'PhysicalSizeX="0.2"' in xml and 'Name="GFP"' in xml
    assert "cells.ome.tif" not in xml and own not in xml  # its own UUID, no file named
    assert out.dtype == np.uint16 and not np.array_equal(out, planes)
    # one file of a dataset spread over several: its OME-XML cannot describe the output
    _ome_tiff(tmp_path / "part1.ome.tif", planes, "part2.ome.tif")
    with pytest.warns(Note, match=r"dataset spread over several files \(also part2.ome.tif\)"):
        assert read_metadata(tmp_path / "part1.ome.tif").ome is None


@pytest.mark.parametrize("kind", ["assocalpha", "unassalpha"])
def test_a_tiffs_kind_of_alpha_is_written_again(tmp_path, astronaut_crop, kind):
    """A TIFF with associated alpha (its colours premultiplied, as compositing programs
    write them) came out marked unassociated: the same colour values, read as straight
    colour, darkened every half-transparent pixel."""
    rgba = np.dstack([astronaut_crop, np.full(astronaut_crop.shape[:2], 128, np.uint8)])
    tifffile.imwrite(tmp_path / "in.tif", rgba, photometric="rgb", extrasamples=[kind])
    assert main(["denoise", str(tmp_path / "in.tif"), "-o", str(tmp_path / "out.tif"), "-q"]) == 0
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        assert [int(e) for e in tif.pages[0].extrasamples] == [1 if kind == "assocalpha" else 2]


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_premultiplied_colours_are_made_straight_for_a_format_without_them(tmp_path, dtype):
    """PNG, WebP and the others store straight alpha: a premultiplied TIFF's colours were
    written into them as they were, so every half-transparent pixel came out darker
    (a white pixel at alpha 1/2 as mid-gray)."""
    top = 255 if dtype == np.uint8 else 65535 if dtype == np.uint16 else 1.0
    rgba = np.zeros((8, 8, 4), dtype)
    rgba[..., 3] = top
    rgba[:4, :, 3] = top / 2 if dtype == np.float32 else top // 2 + 1  # half transparent
    rgba[..., :3] = rgba[..., 3:] * (0.75 if dtype == np.float32 else 1)  # white, x alpha
    if dtype != np.float32:
        rgba[..., :3] = (rgba[..., 3:].astype(float) * 0.75).round().astype(dtype)
    meta = Metadata(premultiplied=True)
    with pytest.warns(UserWarning, match="straight"):
        write_image(tmp_path / "out.png", rgba, metadata=meta)
    back = read_image(tmp_path / "out.png").astype(float)
    back /= 255 if back.max() <= 255 and dtype == np.uint8 else 65535
    assert np.allclose(back[..., :3], 0.75, atol=2 / 255)  # the colour, whatever its alpha
    assert np.allclose(back[:4, :, 3], 0.5, atol=2 / 255) and np.allclose(back[4:, :, 3], 1)
    # a straight-alpha image is written as it is, and a TIFF keeps premultiplied colours
    write_image(tmp_path / "straight.png", rgba)
    assert np.array_equal(
        read_image(tmp_path / "straight.png")[..., 3], read_image(tmp_path / "out.png")[..., 3]
    )
    write_image(tmp_path / "out.tif", rgba, metadata=meta)
    assert np.array_equal(read_image(tmp_path / "out.tif"), rgba)


def test_a_tiffs_exif_goes_into_every_output(tmp_path, astronaut_crop):
    """A raw developer's 16-bit TIFF carries the camera, exposure, capture time and GPS
    position: tifffile wrote none of them and read_metadata took none, so every output of
    a TIFF, a TIFF again included, had lost them."""
    exif = Image.Exif()
    exif[MAKE] = "TestCam"
    exif.get_ifd(EXIF_IFD).update({EXPOSURE: (1, 50), 0x9003: "2026:12:07 10:11:12"})
    exif.get_ifd(0x8825).update({1: "N", 2: (52.0, 13.0, 0.0)})
    image = astronaut_crop.astype(np.uint16) * 257
    write_image(tmp_path / "developed.tif", image, metadata=Metadata(exif=exif.tobytes()))
    np.testing.assert_array_equal(read_image(tmp_path / "developed.tif"), image)
    with tifffile.TiffFile(tmp_path / "developed.tif") as tif:  # as other readers see it
        tags = tif.pages[0].tags
        assert tags["Make"].value == "TestCam"
        assert tags["ExifTag"].value["DateTimeOriginal"] == "2026:12:07 10:11:12"
        assert tags["GPSTag"].value["GPSLatitudeRef"] == "N"
    for ext in (".jpg", ".tif"):
        out = tmp_path / f"out{ext}"
        assert main(["denoise", str(tmp_path / "developed.tif"), "-o", str(out), "-q"]) == 0
        with Image.open(out) as im:
            said = im.getexif()
            assert said[MAKE] == "TestCam" and said.get_ifd(EXIF_IFD)[EXPOSURE] == (1, 50)
            assert said.get_ifd(EXIF_IFD)[0x9003] == "2026:12:07 10:11:12"
            assert said.get_ifd(0x8825)[2] == (52.0, 13.0, 0.0)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_an_hdr_photos_colour_description_goes_into_a_png(tmp_path, astronaut_crop, dtype):
    """A camera's HLG or PQ HEIF written as PNG lost its transfer curve: shown as sRGB,
    washed out. PNG says it in a cICP chunk (read back too, for a PNG input)."""
    hlg = {
        "color_primaries": 9,
        "transfer_characteristics": 18,
        "matrix_coefficients": 9,
        "full_range_flag": 0,
    }
    image = astronaut_crop.astype(dtype) * (257 if dtype == np.uint16 else 1)
    out = write_image(tmp_path / "out.png", image, metadata=Metadata(nclx=hlg))
    data = out.read_bytes()
    at = data.find(b"cICP")
    assert 0 < at < data.find(b"IDAT") and data[at + 4 : at + 8] == bytes([9, 18, 0, 1])
    np.testing.assert_array_equal(read_image(out), image)
    said = read_metadata(out).nclx
    assert said["color_primaries"] == 9 and said["transfer_characteristics"] == 18
    assert read_metadata(write_image(tmp_path / "plain.png", image)).nclx is None


XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
    b'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
    b'xmlns:xmp="http://ns.adobe.com/xap/1.0/" xmlns:tiff="http://ns.adobe.com/tiff/1.0/" '
    b'xmp:Rating="5" tiff:Orientation="6"><dc:subject xmlns:dc="http://purl.org/dc/elements/'
    b'1.1/"><rdf:Bag><rdf:li>heron</rdf:li></rdf:Bag></dc:subject></rdf:Description>'
    b"</rdf:RDF></x:xmpmeta>"
)


@pytest.mark.parametrize("ext", [".jpg", ".png", ".tif", ".webp"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
def test_a_photos_xmp_goes_into_every_output(tmp_path, astronaut_crop, ext, dtype):
    """Ratings, keywords and captions of a photo manager (XMP) were left out of every
    output. Kept, with the orientation it says set upright, as the pixels are."""
    exif = Image.Exif()
    exif[ORIENTATION] = 6
    Image.fromarray(astronaut_crop).save(tmp_path / "in.jpg", exif=exif, xmp=XMP, quality=95)
    image = read_image(tmp_path / "in.jpg").astype(dtype) * (257 if dtype == np.uint16 else 1)
    out = write_image(tmp_path / f"out{ext}", image, metadata=read_metadata(tmp_path / "in.jpg"))
    xmp = read_metadata(out).xmp
    assert b'xmp:Rating="5"' in xmp and b"<rdf:li>heron</rdf:li>" in xmp
    assert b'tiff:Orientation="1"' in xmp
    if ext in (".png", ".tif"):  # lossless: the chunks and tags added leave pixels alone
        np.testing.assert_array_equal(read_image(out), image)


@pytest.mark.parametrize("ext", [".jpg", ".tif"])
def test_a_very_large_photos_metadata_is_read(tmp_path, camera_jpeg, monkeypatch, ext):
    """Pillow refuses images over twice its decompression-bomb limit (179 megapixels: a
    panorama, a 200-megapixel phone photo): read_metadata took that for a file without
    metadata, and such a photo's output lost its profile and EXIF without a word."""
    source = camera_jpeg
    if ext == ".tif":
        source = write_image(
            tmp_path / "in.tif", read_image(camera_jpeg), metadata=read_metadata(camera_jpeg)
        )
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 64)  # this crop: far over twice that
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nor Pillow's warning for one over the limit
        meta = read_metadata(source)
    exif = Image.Exif()
    exif.load(meta.exif)
    assert exif[MAKE] == "TestCam" and meta.icc_profile == SRGB


def test_a_tiffs_caption_goes_into_every_output(tmp_path, astronaut_crop):
    """A TIFF's ImageDescription (a photographer's or a scanner's caption) was replaced by
    tifffile's '{"shape": [...]}' in a TIFF output and left out of a JPEG's EXIF; a
    program's own description (ImageJ's settings) is no caption."""
    tifffile.imwrite(
        tmp_path / "scan.tif", astronaut_crop, photometric="rgb",
        description="Harbour at dawn", metadata=None, extratags=[(315, "s", 0, "Zoe", True)],
    )  # fmt: skip
    for ext in (".tif", ".jpg"):
        out = tmp_path / f"out{ext}"
        assert main(["denoise", str(tmp_path / "scan.tif"), "-o", str(out), "-q"]) == 0
        with Image.open(out) as im:
            assert im.getexif()[0x010E] == "Harbour at dawn" and im.getexif()[315] == "Zoe"
    back = tmp_path / "back.tif"  # the JPEG's caption into a TIFF: tifffile's own tag
    assert main(["denoise", str(tmp_path / "out.jpg"), "-o", str(back), "-q"]) == 0
    with tifffile.TiffFile(back) as tif:
        assert tif.pages[0].description == "Harbour at dawn"
        assert [tag.code for tag in tif.pages[0].tags].count(270) == 1
    tifffile.imwrite(tmp_path / "cells.tif", astronaut_crop[..., 0], imagej=True)
    with Image.open(tmp_path / "cells.tif") as im:
        assert im.getexif()[0x010E].startswith("ImageJ=")
    exif = read_metadata(tmp_path / "cells.tif").exif
    said = Image.Exif()
    said.load(exif or b"")
    assert 0x010E not in said


def _colr(path: Path) -> tuple[int, int, int] | None:
    """(primaries, transfer, matrix) of an AVIF's or HEIC's nclx colour box."""
    data = path.read_bytes()
    at = data.find(b"colrnclx")
    return None if at < 0 else struct.unpack(">HHH", data[at + 8 : at + 14])


def test_an_hdr_avif_keeps_its_colour_description_and_depth(tmp_path, astronaut_crop):
    """A PQ AVIF (an HDR export) came out as an 8-bit sRGB AVIF, and as a PNG without cICP:
    its PQ values shown as SDR, washed out. Written again as a 10-bit PQ AVIF, a PNG with
    cICP, and a JPEG with a note that it shows SDR."""
    imagecodecs = pytest.importorskip("imagecodecs")
    if not imagecodecs.AVIF.available:
        pytest.skip("no AVIF codec here")
    rng = np.random.default_rng(0)
    deep = astronaut_crop.astype(np.float64) * 4 + rng.normal(0, 40, astronaut_crop.shape)
    deep = np.clip(deep, 0, 1023).astype(np.uint16)
    source = tmp_path / "hdr.avif"
    pq = {"primaries": 9, "transfer": 16, "matrix": 9}
    source.write_bytes(imagecodecs.avif_encode(deep, level=95, bitspersample=10, **pq))
    assert read_metadata(source).nclx == {
        "color_primaries": 9, "transfer_characteristics": 16, "matrix_coefficients": 9,
        "full_range_flag": 1,
    }  # fmt: skip
    for ext in (".avif", ".png"):
        assert main(["denoise", str(source), "-o", str(tmp_path / f"o{ext}"), "-q"]) == 0
    assert _colr(tmp_path / "o.avif") == (9, 16, 9)
    out = read_image(tmp_path / "o.avif")
    assert out.dtype == np.uint16 and len(np.unique(out % 256)) > 1  # more than 8 bits
    assert np.abs(out / 64.0 - read_image(tmp_path / "o.png") / 64.0).mean() < 4  # lossy
    data = (tmp_path / "o.png").read_bytes()
    assert data[data.find(b"cICP") + 4 : data.find(b"cICP") + 6] == bytes([9, 16])
    with pytest.warns(UserWarning, match="no place for the PQ colour description"):
        write_image(tmp_path / "o.jpg", out, metadata=read_metadata(source))
    plain = tmp_path / "srgb.avif"
    plain.write_bytes(imagecodecs.avif_encode(astronaut_crop, level=95))
    assert read_metadata(plain).nclx is None  # no cICP in its PNG: sRGB says nothing more


def _ultra_hdr(path: Path, image: np.ndarray, orientation: int = 1) -> bytes:
    """A JPEG with a second picture after it (MPF), as a phone's Ultra HDR photo holds
    its gain map; returns the second picture's bytes."""
    gain = np.random.default_rng(1).integers(0, 256, (16, 24, 3), dtype=np.uint8)
    exif = Image.Exif()
    exif[MAKE], exif[ORIENTATION] = "TestPhone", orientation
    Image.fromarray(image).save(
        path, format="MPO", save_all=True, append_images=[Image.fromarray(gain)],
        exif=exif.tobytes(), quality=95,
    )  # fmt: skip
    with Image.open(path) as im:
        assert im.format == "MPO" and im.n_frames == 2
    pictures = read_metadata(path).pictures if orientation == 1 else None
    return pictures[0][1] if pictures else b""


def test_a_jpegs_gain_map_goes_after_its_jpeg_output(tmp_path, astronaut_crop, capsys):
    """An Ultra HDR photo's gain map (a second JPEG after the first, indexed by MPF) was
    left out of its output: shown as SDR on HDR screens. It is copied after the denoised
    picture, with an index that points to it; other formats say they hold one picture."""
    rng = np.random.default_rng(0)
    noisy = np.clip(astronaut_crop + rng.normal(0, 20, astronaut_crop.shape), 0, 255)
    gain = _ultra_hdr(tmp_path / "phone.jpg", noisy.astype(np.uint8))
    assert gain.startswith(b"\xff\xd8") and len(gain) > 100
    out = tmp_path / "out.jpg"
    assert main(["denoise", str(tmp_path / "phone.jpg"), "-o", str(out), "-q"]) == 0
    with Image.open(out) as im:
        assert im.format == "MPO" and im.n_frames == 2 and im.getexif()[MAKE] == "TestPhone"
        first = np.asarray(im.convert("RGB"))
        im.seek(1)
        assert im.size == (24, 16)
    assert read_metadata(out).pictures == ((0, gain),)  # the same bytes
    assert out.read_bytes().endswith(gain)
    np.testing.assert_array_equal(first, read_image(out))
    assert main(["denoise", str(tmp_path / "phone.jpg"), "-o", str(tmp_path / "o.png")]) == 0
    assert ".png holds one picture: the JPEG's 1 extra picture(s)" in capsys.readouterr().err
    _ultra_hdr(tmp_path / "turned.jpg", noisy.astype(np.uint8), orientation=6)
    assert main(["denoise", str(tmp_path / "turned.jpg"), "-o", str(tmp_path / "t.jpg")]) == 0
    assert "turned by its EXIF orientation" in capsys.readouterr().err
    with Image.open(tmp_path / "t.jpg") as im:
        assert getattr(im, "n_frames", 1) == 1 and im.size == (64, 64)


def test_a_hostile_picture_index_is_read_as_none(tmp_path, astronaut_crop):
    """An index that claims 2**28 - 1 pictures is read up to 64 of them; one cut short, and a
    segment walk that runs off the file, give none, the rest of the metadata kept."""
    from noise2noise.image_io.jpeg_pictures import MAX_PICTURES, read_pictures

    _ultra_hdr(tmp_path / "phone.jpg", astronaut_crop)
    data = bytearray((tmp_path / "phone.jpg").read_bytes())
    base = data.find(b"MPF\0") + 4
    order = "<" if data[base : base + 2] == b"II" else ">"
    (ifd,) = struct.unpack(order + "I", data[base + 4 : base + 8])
    for i in range(struct.unpack(order + "H", data[base + ifd : base + ifd + 2])[0]):
        at = base + ifd + 2 + 12 * i
        if struct.unpack(order + "H", data[at : at + 2])[0] == 0xB002:
            struct.pack_into(order + "I", data, at + 4, 16 * (2**28 - 1))  # 2**28 - 1 entries
    (tmp_path / "many.jpg").write_bytes(bytes(data))
    assert len(read_pictures(tmp_path / "many.jpg") or ()) <= MAX_PICTURES
    (tmp_path / "short.jpg").write_bytes(bytes(data[: base + 12]))
    assert read_pictures(tmp_path / "short.jpg") is None
    assert read_metadata(tmp_path / "many.jpg").exif is not None  # its EXIF kept


def test_a_quality_asked_for_makes_a_lossless_webps_output_lossy(tmp_path, astronaut_crop):
    """--quality 80 on a lossless WebP was ignored (a lossless output, its size unchanged):
    an option asked for is obeyed; without it, the output is lossless as the input."""
    Image.fromarray(astronaut_crop).save(tmp_path / "master.webp", lossless=True)
    out = tmp_path / "small.webp"
    args = ["denoise", str(tmp_path / "master.webp"), "-o", str(out), "-q"]
    assert main([*args, "--quality", "80"]) == 0
    assert _webp_image_chunk(out) == b"VP8 "
    meta = read_metadata(tmp_path / "master.webp")
    image = read_image(tmp_path / "master.webp")
    assert _webp_image_chunk(write_image(tmp_path / "a.webp", image, metadata=meta)) == b"VP8L"
    lossy = write_image(tmp_path / "b.webp", image, metadata=meta, quality=95)
    assert _webp_image_chunk(lossy) == b"VP8 "


def test_what_a_heifs_output_leaves_out_is_said():
    """An iPhone's HEIC holds an HDR gain map and portrait mattes as auxiliary images,
    which pillow-heif neither writes nor lets us make: its output lost them unsaid."""
    from noise2noise.image_io.metadata import heif_images_left

    iphone = {
        "aux": {
            "urn:com:apple:photo:2020:aux:hdrgainmap": [50],
            "urn:com:apple:photo:2019:aux:semanticskinmatte": [51],
            "urn:com:apple:photo:2018:aux:portraiteffectsmatte": [52],
        },
        "depth_images": [],
    }
    assert heif_images_left(iphone) == (
        "HDR gain map (the output shows as SDR), portrait matte (portrait effects are lost) are"
    )
    assert heif_images_left({"aux": {}, "depth_images": [object()]}) == (
        "depth map (portrait effects are lost) is"
    )
    assert heif_images_left({"aux": {"urn:example:mine": [3]}}) == (
        "auxiliary image (urn:example:mine) is"
    )
    assert heif_images_left({"aux": {}, "depth_images": [], "thumbnails": [1]}) is None


def test_a_plain_heic_says_nothing_of_images_left_out(tmp_path, astronaut_crop):
    pytest.importorskip("pillow_heif")
    for mode in ("RGB", "RGBA"):  # alpha is no auxiliary image of its own
        image = astronaut_crop if mode == "RGB" else np.dstack([astronaut_crop[..., :3]] + [
            np.full(astronaut_crop.shape[:2], 200, np.uint8)
        ])  # fmt: skip
        write_image(tmp_path / f"{mode}.heic", image)
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            read_metadata(tmp_path / f"{mode}.heic")


def test_an_ome_tiff_in_microns_is_written(tmp_path):
    """OME-XML says micrometres as "µm" (its default unit): every TIFF output of such an
    OME-TIFF failed, 'could not write (TIFF strings must be 7-bit ASCII)'; its OME-XML is
    written as UTF-8, as tifffile writes its own."""
    planes = np.random.default_rng(0).integers(0, 4000, (2, 32, 40), dtype=np.uint16)
    source = tmp_path / "cells.ome.tif"
    tifffile.imwrite(
        source, planes, ome=True, metadata={"axes": "ZYX", "PhysicalSizeX": 0.3,
                                            "PhysicalSizeXUnit": "µm"},
    )  # fmt: skip
    out = tmp_path / "noisy.ome.tif"
    assert main(["add-noise", str(source), "-o", str(out), "--gaussian", "5", "-q"]) == 0
    with tifffile.TiffFile(out) as tif:
        assert tif.is_ome and 'PhysicalSizeXUnit="µm"' in tif.ome_metadata
        assert tif.series[0].shape == planes.shape
