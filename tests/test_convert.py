import warnings

import numpy as np
import pytest
import torch

from noise2noise.convert import (
    as_float,
    from_float,
    image_to_tensor,
    noise_std,
    pad_to_multiple,
    tensor_to_image,
    units_span,
)


@pytest.mark.parametrize("dtype, top", [(np.uint8, 255), (np.uint16, 65535)])
def test_integer_round_trip_is_lossless(dtype, top):
    a = np.arange(0, top + 1, max(1, top // 255), dtype=np.int64).astype(dtype)
    assert as_float(a).max() <= 1.0
    np.testing.assert_array_equal(from_float(as_float(a), dtype), a)


def test_from_float_clips_and_rounds():
    out = from_float(np.array([-0.5, 0.5 / 255, 0.6 / 255, 1.5], np.float32), np.uint8)
    np.testing.assert_array_equal(out, [0, 0, 1, 255])


def test_unsupported_dtype_is_refused():
    with pytest.raises(TypeError, match="uint8, uint16 or float"):
        as_float(np.zeros((4, 4), np.int32))


def test_tensor_layout_and_back_for_channel_axes():
    rgb = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
    t = image_to_tensor(rgb, channel_axis=-1)
    assert t.shape == (1, 3, 5, 7) and t.dtype == torch.float32
    assert float(t[0, 2, 1, 4]) == pytest.approx(rgb[1, 4, 2] / 255)
    np.testing.assert_array_equal(tensor_to_image(t, rgb, channel_axis=-1), rgb)
    chw = np.moveaxis(rgb, -1, 0)
    np.testing.assert_array_equal(
        tensor_to_image(image_to_tensor(chw, channel_axis=0), chw, channel_axis=0), chw
    )


def test_3d_array_without_channel_axis_is_an_error():
    with pytest.raises(ValueError, match="channel_axis=-1") as colour:
        image_to_tensor(np.zeros((4, 4, 3), np.uint8))
    assert "stack" not in str(colour.value)
    with pytest.raises(ValueError, match="a stack of planes: denoise each plane"):
        image_to_tensor(np.zeros((5, 16, 16), np.uint8))  # no axis can be colour


@pytest.mark.parametrize("h, w", [(5, 7), (6, 6), (1, 3)])
def test_pad_to_multiple_reflects_and_keeps_original(h, w):
    x = torch.arange(h * w, dtype=torch.float32).reshape(1, 1, h, w)
    y, size = pad_to_multiple(x, 2)
    assert size == (h, w)
    assert y.shape[-2] % 2 == 0 and y.shape[-1] % 2 == 0
    torch.testing.assert_close(y[..., :h, :w], x)


def test_units_span_tells_unclipped_noise_from_data_in_other_units(camera_crop):
    """Noise beyond [0, 1] is taken as it is; data that leave [0, 1] by more than noise
    does (zero-centred, background-subtracted) are scaled, not clipped."""
    clean = as_float(camera_crop)
    rng = np.random.default_rng(0)
    for sigma in (5, 25, 75):
        noisy = clean + rng.normal(0, sigma / 255, clean.shape).astype(np.float32)
        assert noisy.min() < 0 or noisy.max() > 1
        assert units_span(noisy) is None, sigma
        rgb = np.stack([noisy, noisy[::-1], noisy[:, ::-1]], axis=0)
        assert units_span(rgb, channel_axis=0) is None, sigma
    noisy = clean + rng.normal(0, 5 / 255, clean.shape).astype(np.float32)
    assert units_span(noisy - 0.5) == (pytest.approx(float((noisy - 0.5).min())), 1.0)
    assert units_span(noisy * 1000) == (0.0, pytest.approx(float(noisy.max() * 1000)))
    assert units_span(camera_crop) is None and units_span(clean) is None
    noisier = clean + rng.normal(0, 25 / 255, clean.shape).astype(np.float32)
    assert noise_std(noisier) == pytest.approx(25 / 255, rel=0.15)


def test_a_read_only_array_is_taken_without_a_warning(tmp_path):
    """A memory-mapped file (``np.load(mmap_mode="r")``) made PyTorch warn that it does
    not support non-writable tensors, on every call of `denoise`."""
    np.save(tmp_path / "a.npy", np.random.default_rng(0).random((16, 16), dtype=np.float32))
    mapped = np.load(tmp_path / "a.npy", mmap_mode="r")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        t = image_to_tensor(mapped)
    assert float(t[0, 0, 3, 5]) == float(mapped[3, 5])


@pytest.mark.parametrize("dtype", [">u2", ">u1", ">f4"])
def test_big_endian_arrays_are_taken_as_their_native_twins(dtype):
    """FITS data (astropy) are big-endian: `denoise` refused '>u2' with 'use uint8, uint16
    or float', which it was."""
    from noise2noise import add_noise, denoise

    top = {">u2": 65535, ">u1": 255, ">f4": 1}[dtype]
    native = (np.random.default_rng(0).random((24, 24)) * top).astype(
        np.dtype(dtype).newbyteorder("=")
    )
    big = native.astype(dtype)
    out = denoise(big)
    assert out.dtype == big.dtype
    np.testing.assert_array_equal(out, denoise(native))
    np.testing.assert_array_equal(
        add_noise(big, "gaussian:10", seed=1), add_noise(native, "gaussian:10", seed=1)
    )
