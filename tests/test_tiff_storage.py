"""A TIFF's output is stored as the TIFF was: tiled or in strips, compressed or not, with
its reduced-resolution copies (a pyramid, a thumbnail) made again from the result."""

import cv2
import numpy as np
import pytest
import tifffile
from PIL import Image

from noise2noise.cli import main
from noise2noise.image_io import Metadata, read_image, read_metadata, write_image
from noise2noise.image_io.tiff_storage import TiffStorage


def _noisy(astronaut_crop, seed=0):
    rng = np.random.default_rng(seed)
    return np.clip(astronaut_crop + rng.normal(0, 25, astronaut_crop.shape), 0, 255).astype(
        np.uint8
    )


def _denoise(tmp_path, name, *extra):
    out = tmp_path / f"out_{name}"
    assert main(["denoise", str(tmp_path / name), "-o", str(out), "-q", *extra]) == 0
    return out


def _roughness(image: np.ndarray) -> float:
    """The mean absolute difference of horizontal neighbours: noise raises it."""
    return float(np.abs(np.diff(image.astype(float), axis=1)).mean())


def test_a_pyramids_levels_are_made_again_from_the_denoised_image(tmp_path, astronaut_crop):
    """A slide scanner's pyramid (tiled, JPEG-compressed, levels in SubIFDs) came out as
    its full-resolution image only, in strips, uncompressed: a slide viewer has to read
    it whole to show it zoomed out."""
    noisy = np.concatenate([_noisy(astronaut_crop)] * 2, axis=1)  # 64 × 128
    with tifffile.TiffWriter(tmp_path / "slide.tif") as tif:
        options = {"photometric": "rgb", "tile": (64, 64), "compression": "jpeg"}
        tif.write(noisy, subifds=2, **options)
        tif.write(noisy[::2, ::2], subfiletype=1, **options)
        tif.write(noisy[::4, ::4], subfiletype=1, **options)
    out = _denoise(tmp_path, "slide.tif")
    with tifffile.TiffFile(out) as tif:
        assert len(tif.pages) == 1  # the levels are the first page's SubIFDs
        page = tif.pages[0]
        assert page.is_tiled and (page.tilelength, page.tilewidth) == (64, 64)
        assert page.compression == tifffile.COMPRESSION.ADOBE_DEFLATE  # JPEG would lose
        levels = [level.asarray() for level in tif.series[0].levels]
    assert [level.shape for level in levels] == [(64, 128, 3), (32, 64, 3), (16, 32, 3)]
    full = read_image(out)
    np.testing.assert_array_equal(levels[0], full)
    for level in levels[1:]:  # area averages of the result, not the noisy input's levels
        rows, columns = level.shape[:2]
        expected = cv2.resize(full.astype(np.float32), (columns, rows), interpolation=3)
        assert np.abs(level - expected).max() <= 1
    assert _roughness(levels[1]) < _roughness(noisy[::2, ::2]) / 1.5


def test_a_thumbnail_page_is_made_again_and_compression_kept(tmp_path, camera_crop):
    """A scanner's TIFF with a thumbnail page after the image (16-bit gray, LZW): the
    thumbnail was dropped and the output written uncompressed."""
    rng = np.random.default_rng(1)
    noisy = np.clip(camera_crop * 257.0 + rng.normal(0, 4000, camera_crop.shape), 0, 65535)
    noisy = noisy.astype(np.uint16)
    with tifffile.TiffWriter(tmp_path / "scan.tif") as tif:
        tif.write(noisy, compression="lzw", resolution=(300, 300), resolutionunit=2)
        tif.write(noisy[::8, ::8], subfiletype=1)
    assert read_metadata(tmp_path / "scan.tif").storage == TiffStorage(
        compression="zlib", levels=((camera_crop.shape[0] // 8, camera_crop.shape[1] // 8),)
    )
    out = _denoise(tmp_path, "scan.tif")
    with tifffile.TiffFile(out) as tif:
        assert [int(p.subfiletype) for p in tif.pages] == [0, 1]
        assert tif.pages[0].compression == tifffile.COMPRESSION.ADOBE_DEFLATE
        assert tif.pages[0].predictor == tifffile.PREDICTOR.HORIZONTAL
        thumbnail = tif.pages[1].asarray()
    assert thumbnail.dtype == np.uint16 and thumbnail.shape == noisy[::8, ::8].shape
    assert read_metadata(out).dpi == pytest.approx((300, 300))
    assert read_image(out).shape == noisy.shape  # the thumbnail is not a second plane


def test_a_compressed_stacks_output_is_compressed_and_its_levels_said(
    tmp_path, camera_crop, capsys
):
    stack = np.stack([camera_crop, camera_crop[::-1], camera_crop[:, ::-1]])
    tifffile.imwrite(tmp_path / "z.tif", stack, photometric="minisblack", compression="zlib")
    with tifffile.TiffFile(_denoise(tmp_path, "z.tif")) as tif:
        assert len(tif.pages) == 3
        assert {p.compression for p in tif.pages} == {tifffile.COMPRESSION.ADOBE_DEFLATE}
    with tifffile.TiffWriter(tmp_path / "pyramid.tif") as tif:
        tif.write(stack, photometric="minisblack", subifds=1, tile=(32, 32))
        tif.write(stack[:, ::2, ::2], photometric="minisblack", subfiletype=1, tile=(32, 32))
    out = tmp_path / "out.tif"
    assert main(["denoise", str(tmp_path / "pyramid.tif"), "-o", str(out)]) == 0
    assert "pyramid.tif: the stack's reduced-resolution copy is not written" in (
        capsys.readouterr().err
    )
    assert tifffile.imread(out).shape == stack.shape


def test_an_uncompressed_tiff_says_nothing_of_its_storage(tmp_path, astronaut_crop):
    write_image(tmp_path / "plain.tif", astronaut_crop)
    assert read_metadata(tmp_path / "plain.tif").storage is None
    Image.fromarray(astronaut_crop).save(tmp_path / "pillow.tif", compression="tiff_deflate")
    assert read_metadata(tmp_path / "pillow.tif").storage == TiffStorage(compression="zlib")


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_levels_of_gray_alpha_and_every_depth(tmp_path, camera_crop, dtype):
    alpha = np.linspace(0, 1, camera_crop.size).reshape(camera_crop.shape)
    image = np.stack([camera_crop / 255.0, alpha], axis=-1)
    image = image.astype(dtype) if dtype == np.float32 else (image * np.iinfo(dtype).max)
    image = image.astype(dtype)
    storage = TiffStorage(tile=(32, 32), compression="zstd", levels=((32, 32),), subifds=True)
    out = write_image(tmp_path / "o.tif", image, metadata=Metadata(storage=storage))
    np.testing.assert_array_equal(read_image(out), image)
    with tifffile.TiffFile(out) as tif:
        level = tif.series[0].levels[1].asarray()
        assert tif.pages[0].extrasamples == (2,)  # unassociated alpha
    assert level.dtype == dtype and level.shape == (32, 32, 2)
    assert read_metadata(out).storage == storage


def test_an_imagej_tiffs_compression_is_kept(tmp_path, camera_crop):
    image = camera_crop.astype(np.uint16) * 16
    calibration = {"unit": "micron"}
    tifffile.imwrite(
        tmp_path / "cell.tif", image, imagej=True, compression="zlib", metadata=calibration
    )
    with tifffile.TiffFile(_denoise(tmp_path, "cell.tif")) as tif:
        assert tif.is_imagej
        assert tif.pages[0].compression == tifffile.COMPRESSION.ADOBE_DEFLATE


def test_a_thumbnail_before_the_image_is_not_taken_for_it(tmp_path, astronaut_crop):
    """A TIFF/EP file puts its thumbnail first: such a TIFF was refused as 'a TIFF of 2
    images that differ in size', in a chunked run too; the image is the first series that
    is not a reduced copy (also for its metadata), the thumbnail made again after it."""
    noisy = _noisy(astronaut_crop)
    stack = np.stack([noisy[..., c] for c in range(3)])
    for name, image, kind in (("one.tif", noisy, "rgb"), ("stack.tif", stack, "minisblack")):
        with tifffile.TiffWriter(tmp_path / name) as tif:
            tif.write(image[..., ::8, ::8, :] if kind == "rgb" else image[0, ::8, ::8],
                      subfiletype=1, photometric=kind)  # fmt: skip
            tif.write(image, photometric=kind, resolution=(300, 300), resolutionunit=2)
    np.testing.assert_array_equal(read_image(tmp_path / "one.tif"), noisy)
    assert read_metadata(tmp_path / "one.tif").dpi == pytest.approx((300, 300))
    with tifffile.TiffFile(_denoise(tmp_path, "one.tif")) as tif:
        assert [p.shape for p in tif.pages] == [noisy.shape, (8, 8, 3)]
        assert [int(p.subfiletype) for p in tif.pages] == [0, 1]
    assert tifffile.imread(_denoise(tmp_path, "stack.tif")).shape == stack.shape
    out = tmp_path / "one.zarr"
    assert main(["denoise", str(tmp_path / "one.tif"), "-o", str(out), "--chunk", "64"]) == 0
    zarr = pytest.importorskip("zarr")  # the distributed extra
    assert zarr.open_array(str(out)).shape == noisy.shape
