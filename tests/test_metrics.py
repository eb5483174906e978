import math

import numpy as np
import pytest
import torch

from noise2noise import N2NError, mean_2std, psnr, ssim
from noise2noise.metrics import format_mean_2std


def test_psnr_of_a_known_error():
    ref = np.zeros((10, 10))
    x = ref + 0.1  # MSE 0.01 -> 20 dB at data range 1
    assert psnr(x, ref) == pytest.approx(20.0)
    assert psnr(x * 255, ref, data_range=255) == pytest.approx(20.0)


def test_psnr_identical_is_infinite_and_accepts_tensors():
    t = torch.rand(1, 3, 8, 8)
    assert math.isinf(psnr(t, t.clone()))


def test_psnr_shape_mismatch():
    with pytest.raises(ValueError, match="shape"):
        psnr(np.zeros((2, 2)), np.zeros((2, 3)))


def test_integer_images_are_measured_on_their_own_scale(camera_crop):
    """uint8 images as scikit-image's metrics take them: 255 is white (PSNR was -16 dB
    for a good result when the range 1 of float images was assumed)."""
    ref = camera_crop  # uint8
    x = np.clip(ref.astype(np.int16) + 5, 0, 255).astype(np.uint8)
    mse = np.mean((x.astype(np.float64) - ref) ** 2)
    assert psnr(x, ref) == pytest.approx(10 * math.log10(255**2 / mse))
    assert psnr(x, ref) == pytest.approx(psnr(x / 255.0, ref / 255.0))
    assert ssim(x, ref) == pytest.approx(ssim(x / 255.0, ref / 255.0))
    wide = ref.astype(np.uint16) * 257  # the same image in 16 bits
    assert psnr(x.astype(np.uint16) * 257, wide) == pytest.approx(psnr(x, ref))
    assert psnr(torch.from_numpy(x / 255.0).to(torch.bfloat16), ref / 255.0) > 30


def test_integer_and_float_images_together_need_a_data_range(camera_crop):
    with pytest.raises(ValueError, match="different types.*data_range"):
        psnr(camera_crop / 255.0, camera_crop)
    with pytest.raises(ValueError, match="different types"):
        ssim(camera_crop.astype(np.uint16), camera_crop)
    given = psnr(camera_crop / 255.0, camera_crop, data_range=255)  # compared as asked
    mse = np.mean((camera_crop / 255.0 - camera_crop) ** 2)
    assert given == pytest.approx(10 * math.log10(255**2 / mse))


def test_ssim_is_one_for_identical_and_lower_for_noisy(camera_crop):
    ref = camera_crop / 255.0
    noisy = np.clip(ref + np.random.default_rng(0).normal(0, 0.1, ref.shape), 0, 1)
    assert ssim(ref, ref) == pytest.approx(1.0)
    assert ssim(noisy, ref) < 0.9


def test_mean_2std():
    mean, two_std = mean_2std([1.0, 3.0])
    assert mean == 2.0 and two_std == 2.0  # population std of {1, 3} is 1
    assert format_mean_2std([1.0, 3.0]) == "2.00 ± 2.00"
    with pytest.raises(ValueError):
        mean_2std([])


def test_ssim_of_images_smaller_than_its_window_says_so():
    """scikit-image's error told the caller to 'pass win_size explicitly', which `ssim`
    does not take; a colour image without `channel_axis` is the usual cause."""
    rgb = np.random.default_rng(0).random((20, 20, 3))
    with pytest.raises(N2NError, match=r"at least 7 pixels a side.*pass channel_axis=-1"):
        ssim(rgb, rgb)
    with pytest.raises(N2NError, match=r"shape \(5, 6\)$"):
        ssim(rgb[:5, :6, 0], rgb[:5, :6, 0])
    assert ssim(rgb, rgb, channel_axis=-1) == pytest.approx(1.0)
