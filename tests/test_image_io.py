import numpy as np
import pytest
import tifffile
from PIL import Image

from noise2noise.image_io import (
    IMAGE_EXTENSIONS,
    ImageFileError,
    StackPlanes,
    apply_to_colour,
    is_stack,
    list_images,
    read_header,
    read_image,
    read_stack,
    write_image,
    write_stack,
)

RNG = np.random.default_rng(0)


def _image(shape, dtype):
    top = np.iinfo(dtype).max
    return RNG.integers(0, top + 1, shape, dtype=np.int64).astype(dtype)


ROUND_TRIPS = [
    (ext, dtype, shape)
    for ext in (".png", ".tif")
    for dtype in (np.uint8, np.uint16)
    for shape in ((17, 23), (17, 23, 3), (17, 23, 4), (16, 9, 2))
    # 16-bit gray+alpha PNG is stored as RGBA: see the next test
    if not (ext == ".png" and dtype == np.uint16 and shape[-1] == 2)
]


@pytest.mark.parametrize("ext, dtype, shape", ROUND_TRIPS)
def test_lossless_round_trip(tmp_path, ext, dtype, shape):
    image = _image(shape, dtype)
    path = write_image(tmp_path / f"x{ext}", image)
    back = read_image(path)
    assert back.dtype == dtype
    np.testing.assert_array_equal(back, image)


def test_16bit_gray_alpha_png_becomes_rgba(tmp_path):
    image = _image((6, 5, 2), np.uint16)
    back = read_image(write_image(tmp_path / "la.png", image))
    assert back.shape == (6, 5, 4)
    np.testing.assert_array_equal(back[..., 0], image[..., 0])
    np.testing.assert_array_equal(back[..., 3], image[..., 1])


@pytest.mark.parametrize("shape", [(15, 21), (15, 21, 3)])
def test_bmp_round_trip(tmp_path, shape):
    image = _image(shape, np.uint8)
    np.testing.assert_array_equal(read_image(write_image(tmp_path / "x.bmp", image)), image)


def test_jpeg_round_trip_is_close(tmp_path):
    image = np.full((16, 16, 3), 120, np.uint8)
    back = read_image(write_image(tmp_path / "x.jpg", image))
    assert back.shape == image.shape and np.abs(back.astype(int) - 120).max() <= 2


def test_16bit_to_8bit_format_warns(tmp_path):
    with pytest.warns(UserWarning, match="8 bits"):
        write_image(tmp_path / "x.jpg", _image((8, 8, 3), np.uint16))


def test_float_tiff_round_trip(tmp_path):
    image = RNG.random((9, 11, 3), dtype=np.float32)
    np.testing.assert_array_equal(read_image(write_image(tmp_path / "f.tiff", image)), image)


def test_planar_tiff_is_read_as_hwc(tmp_path):
    chw = _image((3, 10, 12), np.uint16)
    tifffile.imwrite(tmp_path / "p.tif", chw, photometric="rgb", planarconfig="separate")
    np.testing.assert_array_equal(read_image(tmp_path / "p.tif"), np.moveaxis(chw, 0, -1))


def test_palette_png_becomes_rgb(tmp_path):
    rgb = np.zeros((4, 6, 3), np.uint8)
    rgb[:, 3:] = [200, 30, 10]
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=4).save(
        tmp_path / "p.png"
    )
    back = read_image(tmp_path / "p.png")
    assert back.shape == (4, 6, 3)
    np.testing.assert_array_equal(back[0, 4], [200, 30, 10])


def _png_with_transparent_colour(path, image: np.ndarray, key) -> None:
    """``image`` as a PNG (16-bit colour through OpenCV) with a tRNS chunk: the gray
    value or RGB colour ``key`` shown as transparent."""
    import struct
    import zlib

    import cv2

    data = cv2.imencode(".png", image[..., ::-1] if image.ndim == 3 else image)[1].tobytes()
    body = struct.pack(">" + "H" * len(key), *key)
    chunk = struct.pack(">I", len(body)) + b"tRNS" + body
    chunk += struct.pack(">I", zlib.crc32(b"tRNS" + body))
    path.write_bytes(data[:33] + chunk + data[33:])  # after the signature and IHDR


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16])
@pytest.mark.parametrize("channels", [1, 3])
def test_a_pngs_transparent_colour_is_read_as_alpha(tmp_path, dtype, channels):
    """A gray or RGB PNG may mark one value as transparent (tRNS) instead of storing
    alpha: it was read as opaque, so the output showed the keyed-out background."""
    top = np.iinfo(dtype).max
    image = np.full((6, 8, channels), top // 3, dtype)
    image[:, 4:] = top // 2
    key = (int(top // 3),) * channels
    _png_with_transparent_colour(tmp_path / "t.png", image.squeeze(), key)
    with pytest.warns(UserWarning, match="transparent"):
        back = read_image(tmp_path / "t.png")
    assert back.dtype == dtype and back.shape == (6, 8, channels + 1)
    np.testing.assert_array_equal(back[..., :channels], image)
    assert (back[:, :4, -1] == 0).all() and (back[:, 4:, -1] == top).all()
    assert read_header(tmp_path / "t.png").channels == channels + 1


@pytest.mark.parametrize(
    "orientation, transform",
    [(3, lambda a: a[::-1, ::-1]), (6, lambda a: np.rot90(a, -1)), (8, lambda a: np.rot90(a, 1))],
)
@pytest.mark.parametrize("ext", [".jpg", ".png", ".tif"])
def test_exif_orientation_is_applied(tmp_path, orientation, transform, ext):
    """Also a TIFF's Orientation tag (a scanner's, a camera's TIFF): read as stored, the
    output, written upright, showed the image turned from how viewers show the input."""
    a = np.zeros((16, 24, 3), np.uint8)
    a[:8, :8] = 255  # a white top-left corner shows where the image was turned
    im = Image.fromarray(a)
    exif = im.getexif()
    exif[0x0112] = orientation
    if ext == ".tif":
        tags = [(0x0112, "H", 1, orientation, True)]
        tifffile.imwrite(tmp_path / "o.tif", a, photometric="rgb", extratags=tags)
    else:
        im.save(tmp_path / f"o{ext}", exif=exif, quality=100)
    back = read_image(tmp_path / f"o{ext}")
    expected = transform(a)
    assert back.shape == expected.shape
    assert np.abs(back.astype(int) - expected).mean() < 8
    header = read_header(tmp_path / f"o{ext}")
    assert (header.height, header.width) == expected.shape[:2]


def test_exif_orientation_on_16bit_colour_png(tmp_path):
    a = np.zeros((6, 10, 3), np.uint16)
    a[0, 0] = 65535
    path = write_image(tmp_path / "x.png", a)
    with Image.open(path) as im:  # add the orientation tag without re-encoding the pixels
        exif = im.getexif()
    exif[0x0112] = 6
    data = path.read_bytes()
    import struct
    import zlib

    payload = exif.tobytes()
    chunk = struct.pack(">I", len(payload)) + b"eXIf" + payload
    chunk += struct.pack(">I", zlib.crc32(b"eXIf" + payload) & 0xFFFFFFFF)
    path.write_bytes(data[:33] + chunk + data[33:])  # after the 8+25-byte signature+IHDR
    back = read_image(path)
    assert back.shape == (10, 6, 3) and back.dtype == np.uint16
    np.testing.assert_array_equal(back, np.rot90(a, -1))


@pytest.mark.parametrize(
    "name, content, problem",
    [
        ("missing.png", None, "no such file"),
        ("empty.png", b"", "empty file"),
        ("text.png", b"hello, I am text", "not a readable image"),
        ("notes.xyz", b"abc", "unsupported format"),
        ("bad.tif", b"II*\x00garbage", "not a readable image"),
    ],
)
def test_bad_files_get_an_error_naming_file_and_problem(tmp_path, name, content, problem):
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(ImageFileError, match=problem) as info:
        read_image(path)
    assert name in str(info.value)


@pytest.mark.parametrize("ext", [".png", ".jpg"])
def test_truncated_file_is_an_error(tmp_path, ext):
    good = write_image(tmp_path / f"good{ext}", _image((64, 64, 3), np.uint8))
    data = good.read_bytes()
    (tmp_path / f"cut{ext}").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageFileError, match="cut"):
        read_image(tmp_path / f"cut{ext}")


def test_truncated_16bit_colour_png_is_an_error(tmp_path):
    good = write_image(tmp_path / "good.png", _image((64, 64, 3), np.uint16))
    data = good.read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    with pytest.raises(ImageFileError, match="cut.png"):
        read_image(tmp_path / "cut.png")


def test_existing_output_is_kept_without_overwrite(tmp_path):
    target = tmp_path / "x.png"
    target.write_bytes(b"keep me")
    with pytest.raises(ImageFileError, match="`overwrite=True`"):
        write_image(target, _image((4, 4), np.uint8))
    assert target.read_bytes() == b"keep me"
    write_image(target, _image((4, 4), np.uint8), overwrite=True)
    assert read_image(target).shape == (4, 4)


def test_failed_write_leaves_no_file(tmp_path):
    with pytest.raises(ImageFileError):
        write_image(tmp_path / "x.png", np.zeros((4, 4, 7), np.uint8))  # 7 channels
    assert list(tmp_path.iterdir()) == []


def test_list_images_sorted_and_filtered(tmp_path):
    for name in ["b.png", "a.TIF", ".hidden.png", "notes.txt"]:
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in list_images(tmp_path)] == ["a.TIF", "b.png"]


def test_apply_to_colour_passes_alpha_through():
    rgba = _image((5, 5, 4), np.uint8)
    seen = {}

    def invert(colour, *, channel_axis):
        seen["shape"], seen["axis"] = colour.shape, channel_axis
        return 255 - colour

    out = apply_to_colour(invert, rgba)
    assert seen == {"shape": (5, 5, 3), "axis": -1}
    np.testing.assert_array_equal(out[..., 3], rgba[..., 3])
    np.testing.assert_array_equal(out[..., :3], 255 - rgba[..., :3])


def test_tiff_stack_planes_and_round_trip(tmp_path):
    zyx = _image((5, 20, 24), np.uint16)
    tifffile.imwrite(tmp_path / "z.tif", zyx, photometric="minisblack", metadata={"axes": "ZYX"})
    zcyx = _image((3, 2, 20, 24), np.uint16)  # ImageJ hyperstack: z-slices × 2 channels
    tifffile.imwrite(tmp_path / "zc.tif", zcyx, imagej=True, metadata={"axes": "ZCYX"})
    for name, array, axes in (("z.tif", zyx, "ZYX"), ("zc.tif", zcyx, "ZCYX")):
        assert is_stack(tmp_path / name)
        planes, layout = read_stack(tmp_path / name)
        assert planes.shape == (array.size // (20 * 24), 20, 24)
        assert np.array_equal(planes[1], array.reshape(-1, 20, 24)[1])
        assert layout.axes == axes
        out = write_stack(tmp_path / f"out-{name}", planes, layout)
        with tifffile.TiffFile(out) as tif:
            assert tif.series[0].axes == axes
            assert np.array_equal(tif.asarray(), array)
        with pytest.raises(ImageFileError, match="already exists"):
            write_stack(out, planes, layout)


def test_a_stack_is_not_read_as_one_image(tmp_path):
    z = _image((3, 20, 24), np.uint16)
    tifffile.imwrite(tmp_path / "z.tif", z, photometric="minisblack", metadata={"axes": "ZYX"})
    with pytest.raises(ImageFileError, match="TIFF stack of 3 planes"):
        read_image(tmp_path / "z.tif")


@pytest.mark.parametrize("shape", [(17, 23), (17, 23, 3), (16, 9, 2), (17, 23, 4)])
def test_single_images_are_not_stacks(tmp_path, shape):
    path = write_image(tmp_path / "one.tif", _image(shape, np.uint16))
    assert not is_stack(path)
    assert read_image(path).shape == shape
    assert not is_stack(write_image(tmp_path / "one.png", _image(shape, np.uint8)))


def test_webp_round_trip_keeps_colour_and_alpha(tmp_path, astronaut_crop):
    rgba = np.dstack([astronaut_crop, np.full(astronaut_crop.shape[:2], 200, np.uint8)])
    for image in (astronaut_crop, rgba):
        back = read_image(write_image(tmp_path / f"x{image.shape[2]}.webp", image))
        assert back.shape == image.shape and back.dtype == np.uint8
        error = np.abs(back.astype(int) - image.astype(int))
        assert error[..., :3].mean() < 3  # lossy, at quality 95
        if image.shape[2] == 4:
            np.testing.assert_array_equal(back[..., 3], image[..., 3])


def test_webp_writes_grayscale_as_rgb_with_a_warning(tmp_path, astronaut_crop):
    gray = astronaut_crop[..., 1]
    with pytest.warns(UserWarning, match="WebP stores colour"):
        out = write_image(tmp_path / "g.webp", gray)
    back = read_image(out)
    assert back.shape == (*gray.shape, 3)
    assert np.abs(back[..., 0].astype(int) - gray).mean() < 3


def test_an_animated_webp_is_refused(tmp_path):
    frames = [Image.fromarray(np.full((16, 16, 3), v, np.uint8)) for v in (0, 128, 255)]
    path = tmp_path / "anim.webp"
    frames[0].save(path, save_all=True, append_images=frames[1:])
    with pytest.raises(ImageFileError, match="3 frames"):
        read_image(path)


def test_a_stack_larger_than_memory_goes_through_plane_by_plane(tmp_path):
    # 300 planes of 96×96 uint16 (5.5 MB): refused while a stack was read whole under a
    # budget of 3 MB; now each plane is read, processed and written before the next.
    import tracemalloc

    from noise2noise.batch import NoiseAdder, process_file
    from noise2noise.memory import Limits
    from noise2noise.noise import Gaussian

    rng = np.random.default_rng(0)
    stack = rng.integers(0, 65536, (100, 3, 96, 96), dtype=np.uint16)
    source = tmp_path / "big.tif"
    tifffile.imwrite(source, stack, imagej=True, metadata={"axes": "ZCYX"})
    with StackPlanes(source) as planes:
        assert len(planes) == 300 and planes.layout.axes == "ZCYX"
        assert np.array_equal(planes[123], stack.reshape(300, 96, 96)[123])
    tracemalloc.start()
    result = process_file(
        source, tmp_path / "out.tif", NoiseAdder(Gaussian(5)), limits=Limits(None, 3 * 2**20)
    )
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    assert result.ok, result.error
    assert peak < stack.nbytes / 4  # never the whole stack, in or out
    with tifffile.TiffFile(tmp_path / "out.tif") as tif:
        assert tif.is_imagej and tif.series[0].axes == "ZCYX"
        out = tif.asarray()
    assert out.shape == stack.shape and out.dtype == np.uint16
    noise = out.astype(float) - stack
    assert 3 < noise[0, 0].std() / 257 < 7  # Gaussian 5 on the 0-255 scale
    assert not np.array_equal(noise[0, 0], noise[99, 2])  # each plane its own noise


def _planar_rgb(path, rng):
    data = rng.integers(0, 256, (4, 3, 20, 30), dtype=np.uint8)
    tifffile.imwrite(path, data, photometric="rgb", planarconfig="separate")


def _page_by_page(path, rng):
    for _ in range(3):
        tifffile.imwrite(path, rng.integers(0, 256, (20, 30), dtype=np.uint8), append=True)


def _hyperstack(path, rng):
    data = rng.integers(0, 65536, (2, 3, 20, 30), dtype=np.uint16)
    tifffile.imwrite(path, data, imagej=True, metadata={"axes": "TZYX"})


def _rgb_planes(path, rng):
    tifffile.imwrite(path, rng.integers(0, 256, (4, 20, 30, 3), dtype=np.uint8))


@pytest.mark.parametrize("make", [_planar_rgb, _page_by_page, _hyperstack, _rgb_planes])
def test_planes_read_one_at_a_time_are_the_planes_read_whole(tmp_path, make):
    make(tmp_path / "s.tif", np.random.default_rng(1))
    whole, layout = read_stack(tmp_path / "s.tif")
    with StackPlanes(tmp_path / "s.tif") as planes:
        assert planes.layout == layout and len(planes) == len(whole)
        assert all(np.array_equal(planes[i], whole[i]) for i in range(len(whole)))
        with pytest.raises(IndexError):
            planes[len(whole)]


@pytest.mark.parametrize("writer", ["pillow-lzw", "pillow-jpeg", "tifffile-lzw-16bit"])
def test_compressed_tiffs_are_read(tmp_path, writer):
    """LZW (Photoshop's, scanners', many microscopes' default) and JPEG-in-TIFF needed
    the imagecodecs package, which was not installed: 'not a readable image'."""
    import tifffile
    from PIL import Image

    rng = np.random.default_rng(0)
    path = tmp_path / "in.tif"
    if writer.startswith("pillow"):
        image = rng.integers(0, 256, (48, 64, 3), dtype=np.uint8)
        Image.fromarray(image).save(path, compression=writer.replace("pillow-", "tiff_"))
        if writer == "pillow-jpeg":
            Image.fromarray(image).save(path, compression="jpeg", quality=100)
            image = np.asarray(Image.open(path))  # lossy: as Pillow decodes it
    else:
        image = rng.integers(0, 65536, (48, 64, 3), dtype=np.uint16)
        tifffile.imwrite(path, image, compression="lzw")
    out = read_image(path)
    assert out.dtype == image.dtype
    assert np.abs(out.astype(int) - image).max() <= (2 if writer == "pillow-jpeg" else 0)


def test_two_unmarked_samples_of_a_tiff_are_not_taken_for_gray_and_alpha(tmp_path, camera_crop):
    """numpy's H×W×2 written by tifffile as it is (ExtraSamples: unspecified): two channels
    of a micrograph, of which `n2n denoise` took the second for alpha and left it noisy."""
    import tifffile

    two = np.dstack([camera_crop, camera_crop[::-1]]).astype(np.uint16)
    tifffile.imwrite(tmp_path / "two.tif", two, photometric="minisblack", planarconfig="contig")
    with pytest.raises(ImageFileError, match="two channels, the second of which would be taken"):
        read_image(tmp_path / "two.tif")
    tifffile.imwrite(
        tmp_path / "ga.tif", two, photometric="minisblack", extrasamples=["unassalpha"]
    )
    np.testing.assert_array_equal(read_image(tmp_path / "ga.tif"), two)  # marked: gray+alpha


@pytest.mark.parametrize("samples, planar", [(3, "separate"), (3, "contig"), (4, "contig")])
def test_gray_samples_of_a_tiff_are_not_taken_for_rgb(tmp_path, camera_crop, samples, planar):
    """Three fluorescence channels stored as one min-is-black page (samples, not pages)
    were read as RGB: denoised by the colour model, which mixes the channels, and written
    back as an RGB photo."""
    import tifffile

    planes = np.stack([np.roll(camera_crop, 5 * i, axis=1) for i in range(samples)])
    layout = planes if planar == "separate" else np.moveaxis(planes, 0, -1)
    path = tmp_path / "channels.tif"
    tifffile.imwrite(path, layout.astype(np.uint16), photometric="minisblack", planarconfig=planar)
    with pytest.raises(ImageFileError, match=f"{samples} gray channels, .* not colours"):
        read_image(path)
    with pytest.raises(ImageFileError, match=f"{samples} gray channels"):
        read_header(path)


def test_a_tiff_of_unlike_images_says_what_to_do(tmp_path, camera_crop):
    """Two series of different sizes (an OME-TIFF's positions) were refused as 'pages that
    differ in size or type: not supported', with nothing to do about it."""
    with tifffile.TiffWriter(tmp_path / "two.ome.tif", ome=True) as tif:
        tif.write(np.stack([camera_crop] * 2), metadata={"axes": "ZYX"})
        tif.write(np.stack([camera_crop] * 3), metadata={"axes": "ZYX"})
    with pytest.raises(ImageFileError, match=r"2 images that differ .* a file of its own"):
        read_image(tmp_path / "two.ome.tif")


@pytest.mark.parametrize("bits", [10, 12])
def test_a_deep_avif_keeps_its_bits(tmp_path, astronaut_crop, bits):
    """Pillow decodes AVIF to 8 bits: a 10- or 12-bit one (an HDR export) lost its low
    bits without a word. Read as 16-bit (shifted up, as a 10-bit HEIC is)."""
    imagecodecs = pytest.importorskip("imagecodecs")
    if not imagecodecs.AVIF.available or ".avif" not in IMAGE_EXTENSIONS:
        pytest.skip("no AVIF codec here")
    deep = (astronaut_crop.astype(np.uint16) << (bits - 8)) + 3  # values 8 bits cannot hold
    path = tmp_path / "deep.avif"
    path.write_bytes(imagecodecs.avif_encode(deep, level=100, bitspersample=bits))
    header = read_header(path)
    image = read_image(path)
    assert header.dtype == image.dtype == np.uint16 and image.shape == deep.shape
    expected = deep.astype(np.float64) * 2 ** (16 - bits)
    assert np.abs(image - expected).mean() < 2 ** (16 - bits)  # within a step of its depth
    eight = tmp_path / "eight.avif"
    eight.write_bytes(imagecodecs.avif_encode(astronaut_crop, level=100))
    assert read_header(eight).dtype == read_image(eight).dtype == np.uint8


def test_a_cameras_10_bit_heic_keeps_its_bits(tmp_path, astronaut_crop):
    """Canon's, Sony's and Fujifilm's HEIF are 10-bit: Pillow's opener gave them as 8-bit
    and `n2n denoise` wrote an 8-bit HEIC, where the output is to keep the input's depth;
    and an HLG photo's colour description (nclx) was lost: shown as sRGB, washed out."""
    pillow_heif = pytest.importorskip("pillow_heif")
    from PIL import Image

    from noise2noise.cli import main

    deep = astronaut_crop.astype(np.uint16) * 257
    heif = pillow_heif.from_bytes(mode="RGB;16", size=deep.shape[1::-1], data=deep.tobytes())
    hlg = {
        "color_primaries": 9,
        "transfer_characteristics": 18,
        "matrix_coefficients": 9,
        "full_range_flag": 1,
    }
    heif.save(tmp_path / "R5_0001.HEIC", quality=95, chroma=444, nclx_profile=hlg)
    noisy = read_image(tmp_path / "R5_0001.HEIC")
    assert noisy.dtype == np.uint16 and noisy.shape == deep.shape
    assert np.abs(noisy.astype(float) - deep).mean() < 4 * 257  # as stored, lossy
    assert len(np.unique(noisy[..., 0] >> 6)) > 256  # 10 bits, not 8 shifted up
    assert main(["denoise", str(tmp_path / "R5_0001.HEIC"), "-o", str(tmp_path / "o.heic")]) == 0
    pillow_heif.register_heif_opener()
    with Image.open(tmp_path / "o.heic") as im:
        assert im.info["bit_depth"] == 10
        # an HLG photo stays one (its values shown through a curve other than sRGB's)
        assert {k: im.info["nclx_profile"][k] for k in hlg} == hlg
    out = read_image(tmp_path / "o.heic")
    assert out.dtype == np.uint16 and np.abs(out.astype(float) - noisy).mean() < 10 * 257


@pytest.mark.parametrize("ext", [".heic", ".avif"])
def test_phone_photo_formats_round_trip_through_the_command(tmp_path, astronaut_crop, ext):
    """HEIC (phones' default; with the heif extra) and AVIF were refused: 'convert it first'."""
    import importlib.util

    from noise2noise.cli import main
    from noise2noise.image_io import read_metadata

    if importlib.util.find_spec("pillow_heif" if ext == ".heic" else "PIL._avif") is None:
        pytest.skip(f"{ext}: its reader (pillow-heif, or Pillow with AVIF) is not installed")
    from PIL import Image, ImageCms

    if ext == ".heic":
        import pillow_heif

        pillow_heif.register_heif_opener()
    srgb = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    photo = Image.fromarray(astronaut_crop)
    exif = photo.getexif()
    exif[0x010F] = "PhoneMaker"
    photo.save(tmp_path / f"IMG{ext}", quality=95, exif=exif.tobytes(), icc_profile=srgb)
    noisy = read_image(tmp_path / f"IMG{ext}")
    np.testing.assert_array_equal(noisy.shape, astronaut_crop.shape)
    assert np.abs(noisy.astype(float) - astronaut_crop).mean() < 4  # as stored, lossy
    assert main(["denoise", str(tmp_path / f"IMG{ext}"), "--method", "pretrained"]) == 0
    out = tmp_path / f"IMG_denoised{ext}"  # beside it, in its format
    with Image.open(out) as im:
        assert im.format == ("HEIF" if ext == ".heic" else "AVIF")
        assert im.size == photo.size and im.mode == "RGB"
    meta = read_metadata(out)
    assert meta.icc_profile == srgb and b"PhoneMaker" in meta.exif
    assert np.abs(read_image(out).astype(float) - noisy).mean() < 10  # a denoised photo
    assert main(["denoise", str(out), "-o", str(tmp_path / "x.png"), "--quality", "90"]) == 2
    assert main(["denoise", str(out), "-o", str(tmp_path / f"x{ext}"), "--quality", "90"]) == 0


def test_a_write_that_fails_names_the_output_not_its_temporary_file(tmp_path, monkeypatch):
    """'could not write ([Errno 2] No such file or directory: '/proc/.x.partial-26375.png')':
    the reason names a file the user never asked for."""
    import errno

    from noise2noise.image_io import write as write_module

    def refused(path, write):
        raise PermissionError(
            errno.EACCES, "Permission denied", str(path.parent / ".x.partial-1.png")
        )

    monkeypatch.setattr(write_module, "write_atomically", refused)
    with pytest.raises(ImageFileError) as caught:
        write_image(tmp_path / "x.png", np.zeros((8, 8), np.uint8))
    assert str(caught.value) == f"{tmp_path / 'x.png'}: could not write (Permission denied)"
