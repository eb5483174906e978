import numpy as np
import pytest
import torch

from noise2noise import Gaussian, Poisson, add_noise, parse_noise


def test_gaussian_noise_statistics():
    x = torch.full((1, 1, 256, 256), 0.5)
    y = Gaussian(25, clip=False)(x, generator=0)
    noise = (y - x).flatten()
    assert abs(float(noise.mean())) < 0.002
    assert float(noise.std()) == pytest.approx(25 / 255, rel=0.01)


@pytest.mark.parametrize("peak", [15, 25])
def test_poisson_mean_and_variance_before_clipping(peak):
    x = torch.full((1, 1, 256, 256), 0.4)
    y = Poisson(peak, clip=False)(x, generator=1)
    assert float(y.mean()) == pytest.approx(0.4, rel=0.01)
    # Var(Poisson(peak x) / peak) = x / peak
    assert float(y.var()) == pytest.approx(0.4 / peak, rel=0.03)
    counts = y * peak
    torch.testing.assert_close(counts, counts.round())  # integer photon counts


def test_clipping_keeps_values_in_range():
    x = torch.linspace(0, 1, 1000).reshape(1, 1, 10, 100)
    for model in (Gaussian(75), Poisson(2)):
        y = model(x, generator=3)
        assert float(y.min()) >= 0 and float(y.max()) <= 1


def test_same_seed_same_noise_other_seed_other_noise():
    x = torch.full((1, 3, 16, 16), 0.5)
    for model in (Gaussian(25), Poisson(20)):
        torch.testing.assert_close(model(x, generator=5), model(x, generator=5))
        assert not torch.equal(model(x, generator=5), model(x, generator=6))
    g1, g2 = torch.Generator().manual_seed(9), torch.Generator().manual_seed(9)
    torch.testing.assert_close(Gaussian(25)(x, generator=g1), Gaussian(25)(x, generator=g2))


def test_out_of_range_input_gets_a_fixable_error():
    with pytest.raises(ValueError, match="divide 8-bit data by 255"):
        Gaussian(25)(torch.full((1, 1, 2, 2), 200.0))


@pytest.mark.parametrize("bad", [0, -1])
def test_invalid_levels(bad):
    with pytest.raises(ValueError):
        Gaussian(bad)
    with pytest.raises(ValueError):
        Poisson(bad)


def test_parse_noise():
    assert parse_noise("gaussian:25") == Gaussian(25)
    assert parse_noise("Poisson:15") == Poisson(15)
    for bad in ["gauss:25", "gaussian", "poisson:abc"]:
        with pytest.raises(ValueError, match="noise"):
            parse_noise(bad)


def test_add_noise_keeps_dtype_and_shape(astronaut_crop):
    noisy = add_noise(astronaut_crop, "gaussian:25", seed=0, channel_axis=-1)
    assert noisy.dtype == np.uint8 and noisy.shape == astronaut_crop.shape
    diff = noisy.astype(float) - astronaut_crop
    assert 20 < diff.std() < 27  # clipping at 0/255 only shrinks it
    g16 = (astronaut_crop[..., 0].astype(np.uint16)) * 257
    assert add_noise(g16, Poisson(25), seed=0).dtype == np.uint16
