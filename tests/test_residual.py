"""Putting back what a blind denoiser removed beyond the image's own noise."""

import subprocess
import sys

import numpy as np
import pytest
from scipy.ndimage import gaussian_filter

from noise2noise import add_noise, denoise, psnr
from noise2noise.residual import box_mean, noise_level_function, shrink_residual


def _scene(size: int = 128) -> np.ndarray:
    """A smooth ramp with a patch of fine texture in its middle (H×W×3, float32)."""
    rng = np.random.default_rng(0)
    ramp = np.tile(np.linspace(0.2, 0.8, size, dtype=np.float32), (size, 1))
    image = np.repeat(ramp[:, :, None], 3, axis=2)
    q = size // 4
    image[q : 3 * q, q : 3 * q] += 0.1 * rng.standard_normal((2 * q, 2 * q, 1)).astype(np.float32)
    return image


@pytest.mark.parametrize("channels", [3, 1])
def test_a_residual_that_is_only_noise_is_removed_in_full(channels):
    clean = _scene()[..., :channels]
    noisy = add_noise(clean, "gaussian:10", seed=1, channel_axis=-1)
    out = shrink_residual(noisy, clean)  # a perfect denoiser: its residual is the noise
    assert out.dtype == np.float32 and out.shape == clean.shape
    # Next to nothing of the noise back (in grayscale too, where a window as small as in
    # colour holds too few values and takes the noise's own peaks for texture).
    assert psnr(out, clean) > psnr(noisy, clean) + 40


def test_texture_a_denoiser_removed_with_the_noise_is_put_back():
    clean = _scene()
    noisy = add_noise(clean, "gaussian:5", seed=1, channel_axis=-1)
    blurred = gaussian_filter(noisy, (1.5, 1.5, 0))  # removes the noise and the texture
    out = shrink_residual(noisy, blurred)
    q = clean.shape[0] // 4
    patch = (slice(q, 3 * q), slice(q, 3 * q))
    assert psnr(out[patch], clean[patch]) > psnr(blurred[patch], clean[patch]) + 3
    assert psnr(out, clean) > psnr(blurred, clean) + 2


def test_noise_that_grows_with_brightness_is_not_taken_for_texture():
    clean = _scene()
    noisy = add_noise(clean, "poisson:30", seed=1, channel_axis=-1)
    out = shrink_residual(noisy, clean)
    # One noise level for the whole image would put noise back in the bright half.
    bright = clean[..., 0] > 0.6
    assert psnr(out[bright], clean[bright]) > psnr(noisy[bright], clean[bright]) + 35


def test_the_noise_level_follows_brightness():
    brightness = np.tile(np.linspace(0, 1, 200, dtype=np.float32), (200, 1))
    energy = 0.01 * brightness + 0.001
    level = noise_level_function(brightness, energy)
    assert level.shape == brightness.shape
    np.testing.assert_allclose(level[:, 20::40], energy[:, 20::40], rtol=0.05)


def test_the_blind_model_shrinks_and_the_camera_model_does_not(astronaut_crop):
    clean = astronaut_crop.astype(np.float32) / 255
    noisy = add_noise(clean, "gaussian:5", seed=0, channel_axis=-1)
    noisy = np.round(np.clip(noisy, 0, 1) * 255).astype(np.uint8)
    plain = denoise(noisy, channel_axis=-1, shrink=False)
    assert not np.array_equal(denoise(noisy, channel_axis=-1), plain)
    real = denoise(noisy, channel_axis=-1, model="real")
    np.testing.assert_array_equal(real, denoise(noisy, channel_axis=-1, model="real", shrink=False))


@pytest.mark.parametrize(
    ("shape", "window"), [((64, 48), 5), ((8, 8), 9), ((3, 5), 9), ((1, 7), 3)]
)
def test_box_mean_is_scipys_reflecting_uniform_filter(shape, window):
    ndimage = pytest.importorskip("scipy.ndimage")
    values = np.random.default_rng(3).random(shape, dtype=np.float32)
    out = box_mean(values, window)
    assert out.shape == values.shape and out.dtype == np.float32
    expected = ndimage.uniform_filter(values, window, mode="reflect")
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-6)


def test_denoise_does_not_import_scipy():
    # scipy.ndimage took 0.3 s of every n2n run's start before box_mean replaced it.
    code = (
        "import sys, numpy as np, noise2noise as n2n\n"
        "n2n.denoise(np.full((32, 32), 0.5, np.float32))\n"
        "print(sorted(m for m in sys.modules if m.startswith('scipy')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
