"""Noise mixtures and synthetic camera noise for training blind denoisers."""

import numpy as np
import pytest
import torch

from noise2noise.camera import (
    PhotoParams,
    camera_noise,
    demosaic,
    mosaic,
    photo_noise,
    sample_camera_params,
)
from noise2noise.noise import Gaussian, NoiseMixture, as_mixture, parse_training_noise
from noise2noise.training import TRAIN_PRESETS, MixturePairs


def test_parse_fixed_and_mixed_specs():
    assert parse_training_noise("gaussian:25") == Gaussian(25)
    mix = parse_training_noise("gaussian:0-75|poisson:5-120|camera")
    assert isinstance(mix, NoiseMixture)
    assert mix.components == (("gaussian", 0, 75), ("poisson", 5, 120), ("camera", 0, 0))
    assert as_mixture("poisson:20").components == (("poisson", 20, 20),)


@pytest.mark.parametrize(
    "bad",
    [
        "gaussian:75-0",
        "poisson:0-10",
        "gaussian:1-2-3",
        "gaussian:inf",
        "camera:3",
        "photo:2-4",
        "salt:1-2",
    ],
)
def test_bad_mixtures_are_refused(bad):
    with pytest.raises(ValueError, match="bad noise"):
        parse_training_noise(bad)


def test_levels_stay_in_their_ranges():
    mix = as_mixture("gaussian:10-20|poisson:5-120")
    draw = mix.sample(4000, torch.Generator().manual_seed(0))
    sigma, peak = draw.level[draw.kind == 0], draw.level[draw.kind == 1]
    assert 10 <= float(sigma.min()) and float(sigma.max()) <= 20
    assert 5 <= float(peak.min()) and float(peak.max()) <= 120
    # Peaks are log-uniform: the median is the geometric mean of the bounds (24.5).
    assert 20 < float(peak.median()) < 30
    assert 0.45 < float((draw.kind == 0).float().mean()) < 0.55


def test_mosaic_then_demosaic_keeps_flat_colour():
    flat = torch.tensor([0.2, 0.5, 0.7])[None, :, None, None].expand(1, 3, 8, 8)
    torch.testing.assert_close(demosaic(mosaic(flat)), flat.contiguous())


def test_camera_noise_is_zero_mean_correlated_and_keeps_the_image():
    clean = torch.full((64, 3, 32, 32), 0.5)
    params = sample_camera_params(64, torch.Generator().manual_seed(0))
    g = torch.Generator().manual_seed(1)
    noisy = camera_noise(clean, params, generator=g, clip=False)
    n = (noisy - clean).numpy()
    assert abs(n.mean()) < 0.2 * n.std()
    # Demosaicing spreads each sensor pixel's noise to its neighbours: neighbouring
    # pixels are correlated, unlike white Gaussian noise.
    corr = np.corrcoef(n[..., :, :-1].ravel(), n[..., :, 1:].ravel())[0, 1]
    assert corr > 0.2
    assert float(noisy.std()) > 0


def _correlation(x: np.ndarray, lag: int) -> float:
    """Of (..., H, W) zero-mean noise with itself ``lag`` pixels to the right."""
    return float((x[..., :-lag] * x[..., lag:]).mean() / x.var())


def test_photo_noise_has_the_asked_strength_grain_and_blotches():
    def params(**kw):
        values = dict(luma=8 / 255, chroma=0.5, fine=1.0, coarse=3.0, share=0.0, slope=0.0)
        values.update(kw)
        return PhotoParams(**{k: torch.full((16,), float(v)) for k, v in values.items()})

    clean = torch.full((16, 3, 48, 48), 0.5)
    g = torch.Generator().manual_seed(0)
    n = photo_noise(clean, params(), generator=g).double().numpy() * 255
    luma, colour = n.mean(axis=1), n[:, 0] - n[:, 1]
    assert abs(n.mean()) < 0.05 * n.std()
    assert luma.std() == pytest.approx(8, rel=0.05)
    # R - G = 0.344 Cb + 2.116 Cr, with Cb and Cr of std 0.5 x 8.
    assert colour.std() == pytest.approx(8 * 0.5 * np.hypot(0.344, 2.116), rel=0.08)
    # A Gaussian blur of width s (a pixel or more) correlates pixels k apart by
    # exp(-k^2 / 4 s^2).
    assert _correlation(luma, 1) == pytest.approx(np.exp(-1 / (4 * 1.0**2)), abs=0.05)
    assert _correlation(colour, 2) == pytest.approx(np.exp(-4 / (4 * 3.0**2)), abs=0.05)
    # A coarse share makes the luma grain wider; a slope makes dark regions noisier.
    coarse = photo_noise(clean, params(share=0.5), generator=g).numpy().mean(axis=1)
    assert _correlation(coarse, 4) > 0.2 > _correlation(luma, 4)
    dark = photo_noise(torch.zeros_like(clean), params(slope=-0.5), generator=g)
    assert float(dark.std()) * 255 == pytest.approx(1.5 * n.std(), rel=0.1)


def test_photo_noise_pairs_are_independent_with_an_unbiased_target():
    config = TRAIN_PRESETS["real"]["resunet"]
    assert "photo" in config.noise and config.target == "noisy" and not config.clip_target
    mix = as_mixture("photo")
    images = [np.full((64, 64, 3), 128, np.uint8) for _ in range(2)]
    pairs = MixturePairs(images, mix, config.target, clip_target=False)
    x, target, clean = pairs.draw([0, 1] * 16, 48, torch.Generator().manual_seed(0))
    a, b = (x - clean).numpy(), (target - clean).numpy()
    assert abs(float(b.mean())) < 0.05 * float(b.std())
    assert abs(np.corrcoef(a.ravel(), b.ravel())[0, 1]) < 0.05


def test_input_and_target_noise_are_independent_on_every_device(device):
    # Flat crops at 50 expected counts per pixel (peak 62.5 at 0.8): where CUDA's
    # torch.poisson, drawn twice from one generator, gave correlated pairs (the shipped
    # networks of 0.4-0.7 trained on the GPU kept part of such noise). Pearson correlation
    # of the two draws' noise, per crop: about 0 ± 0.01 for 64×64×3 independent pixels.
    flat = [np.full((64, 64, 3), 204, np.uint8)] * 2
    for spec in ("poisson:62.5", "poisson:20-120", "gaussian:10-40|poisson:30-90"):
        pairs = MixturePairs(flat, as_mixture(spec), "noisy", quantise_input=False)
        pairs = pairs.to(torch.device(device))
        noisy, target, clean = pairs.draw([0, 1] * 8, 64, torch.Generator().manual_seed(5))
        a = (noisy - clean).flatten(1).double().cpu()
        b = (target - clean).flatten(1).double().cpu()
        a, b = a - a.mean(1, keepdim=True), b - b.mean(1, keepdim=True)
        corr = (a * b).sum(1) / (a.norm(dim=1) * b.norm(dim=1))
        assert float(corr.abs().max()) < 0.05, (spec, corr)


def test_blind_preset_trains_on_noisy_targets_only():
    config = TRAIN_PRESETS["blind"]["resunet"]
    assert config.target == "noisy" and not config.clip_target and config.quantise_input
    # Near black, the clipped 8-bit input is biased upwards while the unclipped noisy target
    # stays zero-mean around the clean image: the Noise2Noise argument holds.
    dark = [np.full((40, 40, 3), 3, np.uint8) for _ in range(2)]
    pairs = MixturePairs(dark, as_mixture(config.noise), config.target, clip_target=False)
    x, target, clean = pairs.draw([0, 1] * 32, 32, torch.Generator().manual_seed(0))
    assert not torch.equal(target, clean)
    assert abs(float((target - clean).mean())) < 0.01
    assert float((x - clean).mean()) > 0.02


def test_a_float_share_of_inputs_stays_unclipped_and_unrounded():
    dark = [np.full((40, 40, 3), 3, np.uint8) for _ in range(2)]
    mixture = as_mixture("gaussian:20-30")

    def draw(share):
        pairs = MixturePairs(dark, mixture, "noisy", float_share=share)
        return pairs.draw([0, 1] * 16, 32, torch.Generator().manual_seed(0))

    stored, _, _ = draw(0.0)
    floats, _, _ = draw(1.0)
    assert float(stored.min()) >= 0 and torch.equal(stored, torch.round(stored * 255) / 255)
    assert float(floats.min()) < -0.05  # near black, float noise goes below zero
    assert not torch.equal(floats, torch.round(floats * 255) / 255)
    torch.testing.assert_close(floats.clamp(0, 1), stored, atol=0.5 / 255, rtol=0)  # same draw
    some, _, _ = draw(0.5)
    unclipped = (some < 0).flatten(1).any(1)
    assert 0 < int(unclipped.sum()) < len(unclipped)


def test_float_share_is_checked_and_needs_a_mixture(tmp_path):
    from noise2noise import write_image
    from noise2noise.errors import N2NError
    from noise2noise.training import TrainConfig, run_training

    with pytest.raises(ValueError, match="float_share"):
        TrainConfig(float_share=1.5)
    for name in "ab":
        write_image(tmp_path / f"{name}.png", np.full((32, 32, 3), 100, np.uint8))
    config = TrainConfig(noise="gaussian:25", float_share=0.5, epochs=1, crop=16)
    with pytest.raises(N2NError, match="float_share needs"):
        run_training(config, tmp_path / "run", data=str(tmp_path))
