import sys

import numpy as np
import pytest

from noise2noise import add_noise, estimate_noise, psnr
from noise2noise.baselines import (
    anscombe,
    denoise_ansc,
    denoise_bm3d,
    estimate_sigma,
    inverse_anscombe_algebraic,
    inverse_anscombe_unbiased,
)
from noise2noise.errors import Note


@pytest.mark.parametrize("peak", [0.5, 1, 2, 5, 15, 25])
def test_unbiased_inverse_recovers_the_intensity_of_constant_images(peak):
    # An ideal denoiser outputs E[anscombe(z)]; the exact unbiased inverse maps it to peak.
    z = np.random.default_rng(int(peak * 10)).poisson(peak, size=2_000_000)
    ideal = anscombe(z).mean()
    assert inverse_anscombe_unbiased(ideal) == pytest.approx(peak, abs=0.03)
    # The algebraic inverse is biased low by about 1/4 at these counts.
    assert peak - inverse_anscombe_algebraic(ideal) > 0.1


def test_unbiased_inverse_closed_form_values():
    d = np.array([0.5, 2 * np.sqrt(3 / 8), 3.0, 10.0])
    s = np.sqrt(1.5)
    direct = 0.25 * d**2 + 0.25 * s / d - 11 / 8 / d**2 + 0.625 * s / d**3 - 0.125
    out = inverse_anscombe_unbiased(d)
    assert out[0] == 0.0 and out[1] == pytest.approx(0.0, abs=1e-12)
    np.testing.assert_allclose(out[2:], direct[2:])


def test_estimate_sigma_is_on_the_255_scale(camera_crop):
    noisy = add_noise(camera_crop.astype(np.float32) / 255, "gaussian:25", seed=0)
    assert estimate_sigma(noisy) == pytest.approx(25, rel=0.15)


def test_estimate_sigma_of_a_colour_image_needs_its_channel_axis(astronaut_crop):
    """`estimate_sigma(rgb)` took the colour image for a volume: scikit-image's warning
    and another value, where every denoiser of the package refuses a 3-D array without
    `channel_axis`."""
    noisy = add_noise(astronaut_crop, "gaussian:25", seed=0, channel_axis=-1)
    for estimator in (estimate_sigma, estimate_noise):  # estimate_noise: 'of 2 dimensions'
        with pytest.raises(ValueError, match="pass channel_axis=-1 for a colour image"):
            estimator(noisy)
    per_channel = [estimate_sigma(noisy[..., c]) for c in range(3)]
    assert estimate_sigma(noisy, channel_axis=-1) == pytest.approx(np.mean(per_channel))
    assert estimate_sigma(np.moveaxis(noisy, -1, 0), channel_axis=0) == pytest.approx(
        np.mean(per_channel)
    )


def test_a_flat_image_has_no_noise_to_estimate_and_bm3d_asks_for_sigma(recwarn):
    """It gave NaN with numpy's warnings, and `n2n denoise black.png --method bm3d`
    said "BM3D needs sigma > 0, got nan"."""
    flat = np.zeros((64, 64, 3), np.uint8)
    assert estimate_sigma(flat, channel_axis=-1) == 0.0
    with pytest.raises(ValueError, match="no noise found.*Give `sigma`"):
        denoise_bm3d(flat, channel_axis=-1)
    assert not [w for w in recwarn if issubclass(w.category, RuntimeWarning)]
    assert np.isnan(estimate_sigma(np.full((64, 64), np.nan)))  # NaN data: not "no noise"


def test_bm3d_raises_psnr_and_matches_a_direct_call(astronaut_crop):
    bm3d = pytest.importorskip("bm3d")
    noisy = add_noise(astronaut_crop, "gaussian:25", seed=0, channel_axis=-1)
    out = denoise_bm3d(noisy, sigma=25, channel_axis=-1)
    assert out.dtype == np.uint8 and out.shape == noisy.shape
    assert (
        psnr(out, astronaut_crop, data_range=255) > psnr(noisy, astronaut_crop, data_range=255) + 4
    )
    direct = np.clip(bm3d.bm3d_rgb(noisy / 255.0, sigma_psd=25 / 255), 0, 1)
    assert psnr(out, astronaut_crop, data_range=255) == pytest.approx(
        psnr(direct * 255, astronaut_crop, data_range=255), abs=0.05
    )


def test_bm3d_without_sigma_estimates_it(camera_crop):
    pytest.importorskip("bm3d")
    noisy = add_noise(camera_crop, "gaussian:25", seed=1)
    with pytest.warns(Note, match=r"noise sigma not given, estimated 2\d\.\d\d"):
        out = denoise_bm3d(noisy)
    assert psnr(out, camera_crop, data_range=255) > psnr(noisy, camera_crop, data_range=255) + 4


def test_ansc_raises_psnr_and_unbiased_beats_algebraic(camera_crop):
    pytest.importorskip("bm3d")
    noisy = add_noise(camera_crop, "poisson:15", seed=0)
    unbiased = denoise_ansc(noisy, peak=15)
    algebraic = denoise_ansc(noisy, peak=15, inverse="algebraic")
    ref = camera_crop
    assert psnr(unbiased, ref, data_range=255) > psnr(noisy, ref, data_range=255) + 4
    # The algebraic inverse darkens the image; the unbiased one keeps the mean.
    assert abs(unbiased.mean() - ref.mean()) < abs(algebraic.mean() - ref.mean())


def test_missing_bm3d_names_the_install_command(monkeypatch, camera_crop):
    monkeypatch.setitem(sys.modules, "bm3d", None)  # makes `import bm3d` fail
    with pytest.raises(ImportError, match="pip install"):
        denoise_bm3d(camera_crop, sigma=25)


def test_bad_parameters():
    with pytest.raises(ValueError, match="peak"):
        denoise_ansc(np.zeros((8, 8)), peak=0)
    with pytest.raises(ValueError, match="inverse"):
        denoise_ansc(np.zeros((8, 8)), peak=5, inverse="magic")


def test_images_too_small_for_bm3d_blocks_are_refused_not_a_crash():
    """An 8×8 image crashed the process inside the bm3d package (segmentation fault: a
    folder run lost its worker, `n2n denoise` died); smaller ones raised its own
    ValueError, and an empty one numpy's. Run apart, so a crash fails only this test."""
    import subprocess

    code = """
import numpy as np
from noise2noise import denoise_ansc, denoise_bm3d
from noise2noise.errors import N2NError
for shape in [(8, 8, 3), (8, 8), (5, 40), (0, 10)]:
    axis = -1 if len(shape) == 3 else None
    for call, level in ((denoise_bm3d, "sigma"), (denoise_ansc, "peak")):
        try:
            call(np.full(shape, 0.5), channel_axis=axis, **{level: 10})
        except N2NError as e:
            print(e)
"""
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-500:]
    said = proc.stdout.splitlines()
    assert len(said) == 8 and all("BM3D needs an image larger than 8×8 pixels" in s for s in said)


def test_without_the_bm3d_extra_the_error_names_it_not_a_package_it_would_need(
    tmp_path, n2n_without
):
    """A fresh install without the extra said 'failed with ImportError: PyWavelets is not
    installed' for `--method bm3d` without --sigma: the sigma was estimated first, with
    scikit-image, whose wavelets came with bm3d."""
    from noise2noise import write_image

    write_image(tmp_path / "in.png", np.full((32, 32), 128, np.uint8))
    for args in (  # said once, before any work: not once a file, or after other cells
        ["denoise", tmp_path / "in.png", "-o", tmp_path / "o.png", "--method", "bm3d"],
        ["denoise", tmp_path, "-o", tmp_path / "out", "--method", "ansc", "--peak", "10"],
        ["eval", "--images", tmp_path, "--noise", "gaussian:25", "--methods",
         "pretrained,bm3d", "--crop", "0", "--out", tmp_path / "eval"],
    ):  # fmt: skip
        proc = n2n_without(("bm3d", "pywt"), *args)
        assert proc.returncode == 2, proc.stderr
        assert proc.stderr == (
            "n2n: error: BM3D is not installed: pip install 'noise2noise[bm3d]'  "
            "(or: pip install bm3d)\n"
        )
    assert sorted(p.name for p in tmp_path.iterdir()) == ["in.png"]


def test_bm3d_takes_float_data_in_other_units_with_sigma_in_those_units(camera_crop):
    """`denoise_bm3d(x - 0.5, sigma=15)` clipped its output to [0, 1]: the upper half of
    the image only (12 dB). Scaled into [0, 1] and back, sigma with it, as n2n denoise
    does for a float TIFF."""
    pytest.importorskip("bm3d")
    clean = camera_crop.astype(np.float32) / 255
    noisy = clean + np.random.default_rng(0).normal(0, 15 / 255, clean.shape).astype(np.float32)
    as_is = psnr(denoise_bm3d(noisy, sigma=15), clean)
    with pytest.warns(Note, match="scaled into"):
        shifted = denoise_bm3d(noisy - 0.5, sigma=15)
    assert psnr(shifted + 0.5, clean, data_range=1) > as_is - 0.3
    with pytest.warns(Note, match="scaled into"):  # 1000 times the units, and the sigma
        scaled = denoise_bm3d(noisy * 1000, sigma=15 * 1000)
    assert psnr(scaled / 1000, clean, data_range=1) > as_is - 0.3
