import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from noise2noise import PRESETS, ZeroShotConfig, add_noise, denoise_zeroshot, psnr
from noise2noise.models import SimpleCNN, count_parameters
from noise2noise.tta import _dihedral
from noise2noise.zeroshot import (
    apply_zeroshot,
    consistency_loss,
    fit_zeroshot,
    pair_downsample,
    residual_loss,
    tta_transforms,
    zeroshot_loss,
)
from noise2noise.zeroshot.fit import rate_changes


def test_pair_downsampler_averages_the_diagonal_pairs_of_each_block():
    x = torch.rand(2, 3, 6, 8, generator=torch.Generator().manual_seed(0))
    d1, d2 = pair_downsample(x)
    assert d1.shape == d2.shape == (2, 3, 3, 4)
    a = x.numpy()
    for i in range(3):
        for j in range(4):
            block = a[:, :, 2 * i : 2 * i + 2, 2 * j : 2 * j + 2]
            np.testing.assert_allclose(d1[:, :, i, j], (block[..., 0, 0] + block[..., 1, 1]) / 2)
            np.testing.assert_allclose(d2[:, :, i, j], (block[..., 0, 1] + block[..., 1, 0]) / 2)


def test_network_has_the_papers_parameter_count():
    assert count_parameters(SimpleCNN(3)) == 22_275  # stated in the ZS-N2N paper
    net = SimpleCNN(1, layers=4)
    assert len(net.hidden) == 3 and net.receptive_radius == 3


def _mean_sq(a, b):
    return float(((a - b) ** 2).mean())


def test_losses_match_their_equations():
    g = torch.Generator().manual_seed(1)
    y1, y2, n1, n2, e1, e2 = (torch.rand(1, 3, 5, 5, generator=g) for _ in range(6))
    expected_res = 0.5 * (_mean_sq(y1 - n1, y2) + _mean_sq(y2 - n2, y1))
    assert float(residual_loss(y1, y2, n1, n2)) == pytest.approx(expected_res, rel=1e-6)
    expected_cons = 0.5 * (_mean_sq(y1 - n1, e1) + _mean_sq(y2 - n2, e2))
    assert float(consistency_loss(y1, y2, n1, n2, e1, e2)) == pytest.approx(expected_cons, rel=1e-6)


def test_total_loss_composes_eq_1_and_2_with_the_weight_ratio():
    torch.manual_seed(0)
    model = SimpleCNN(3)
    y = torch.rand(1, 3, 8, 8, generator=torch.Generator().manual_seed(2))
    torch.set_grad_enabled(False)
    # Direct: separate forward passes, kernels written out as the paper gives them.
    y1 = (y[..., 0::2, 0::2] + y[..., 1::2, 1::2]) / 2
    y2 = (y[..., 0::2, 1::2] + y[..., 1::2, 0::2]) / 2
    den = y - model(y)
    den1 = (den[..., 0::2, 0::2] + den[..., 1::2, 1::2]) / 2
    den2 = (den[..., 0::2, 1::2] + den[..., 1::2, 0::2]) / 2
    p1, p2 = y1 - model(y1), y2 - model(y2)
    res = 0.5 * (_mean_sq(p1, y2) + _mean_sq(p2, y1))
    cons = 0.5 * (_mean_sq(p1, den1) + _mean_sq(p2, den2))
    assert float(zeroshot_loss(model, y)) == pytest.approx(res + cons, rel=1e-5)
    assert float(zeroshot_loss(model, y, ratio=2)) == pytest.approx(res + cons / 2, rel=1e-5)
    assert float(zeroshot_loss(model, y, ratio=math.inf)) == pytest.approx(res, rel=1e-5)
    torch.set_grad_enabled(True)


def test_presets_are_the_papers_and_the_reports():
    paper, report = PRESETS["paper"], PRESETS["report"]
    assert (paper.steps, paper.lr, paper.lr_gamma) == (2000, 1e-3, 0.5)
    assert round(paper.lr_milestones[0] * paper.steps) == 1500
    assert report.steps == 3000
    assert [round(m * report.steps) for m in report.lr_milestones] == [1000, 2000]
    assert paper.crop is None and not paper.tta and paper.layers == 3 and paper.width == 48


def test_learning_rate_schedule_scales_with_iterations():
    assert rate_changes(PRESETS["paper"].with_steps(8)) == {6: 5e-4}
    assert rate_changes(PRESETS["report"]) == {1000: 5e-4, 2000: 2.5e-4}


@pytest.mark.parametrize("name", ["paper", "report", "fast"])
@pytest.mark.parametrize("steps", [1, 3, 7, 40])
def test_learning_rates_are_multisteplr_s(name, steps):
    # The loop sets the rate only where it changes; every step must see the rate that
    # torch's MultiStepLR, stepped after each step, gives it (as the loop did before).
    config = PRESETS[name].with_steps(steps)
    optimizer = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=config.lr)
    milestones = sorted({round(m * config.steps) for m in config.lr_milestones})
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones, config.lr_gamma)
    changes, rate = rate_changes(config), config.lr
    for step in range(steps):
        rate = changes.get(step, rate)
        assert rate == optimizer.param_groups[0]["lr"], step
        optimizer.step()
        scheduler.step()


@pytest.mark.parametrize(
    "bad", [{"steps": 0}, {"crop": 7}, {"loss_ratio": 0}, {"layers": 1}, {"lr_milestones": (2,)}]
)
def test_invalid_configuration_is_refused(bad):
    with pytest.raises(ValueError, match="invalid ZS-N2N configuration"):
        ZeroShotConfig(**bad)


def test_unknown_preset():
    with pytest.raises(ValueError, match="choose from"):
        denoise_zeroshot(np.zeros((16, 16), np.float32), preset="nope")


def test_dihedral_inverse():
    x = torch.arange(12.0).reshape(1, 1, 3, 4)
    for k in range(8):
        torch.testing.assert_close(_dihedral(_dihedral(x, k), k, inverse=True), x)
    assert len({tuple(_dihedral(x, k).flatten().tolist()) for k in range(8)}) == 8


def test_tiled_inference_equals_full_image():
    y = torch.rand(1, 3, 40, 52, generator=torch.Generator().manual_seed(3))
    model = fit_zeroshot(y, PRESETS["paper"].with_steps(3))
    full = apply_zeroshot(model, y, tile=1024)
    torch.testing.assert_close(apply_zeroshot(model, y, tile=16), full)
    torch.testing.assert_close(
        apply_zeroshot(model, y, tile=16, tta=True), apply_zeroshot(model, y, tta=True)
    )


@pytest.mark.parametrize("shape", [(5, 3000), (3000, 5)])
def test_a_strip_narrower_than_a_tile_goes_in_few_long_tiles(shape):
    """Square tiles cut a 1×200000 strip into 391 calls of the shipped network, each on a
    sliver padded to the network's stride: 2 min 6 s for 0.2 megapixels."""
    from noise2noise.tiling import apply_tiled, tile_count

    x = torch.rand(1, 3, *shape, generator=torch.Generator().manual_seed(0))
    calls = []

    def box(t):  # a local function: 3×3 mean, its receptive radius 1
        calls.append(tuple(t.shape[-2:]))
        return torch.nn.functional.avg_pool2d(t, 3, 1, 1, count_include_pad=False)

    out = apply_tiled(box, x, tile=256, margin=1)
    assert len(calls) == tile_count(*shape, 256) == 3  # 1024 long: 256² over 64 rows
    torch.testing.assert_close(out, box(x))
    model = fit_zeroshot(x, PRESETS["paper"].with_steps(3))
    torch.testing.assert_close(apply_zeroshot(model, x, tile=256), apply_zeroshot(model, x))


def test_tta_budget_picks_fewer_transforms_for_larger_images():
    assert tta_transforms(4000 * 3000, None) == 8
    assert tta_transforms(768 * 512, 24.0) == 8  # 0.39 MP × 8 = 3.1
    assert tta_transforms(2000 * 2000, 24.0) == 4  # 4 MP × 8 = 32 > 24
    assert tta_transforms(4000 * 3000, 24.0) == 2
    assert tta_transforms(5000 * 5000, 24.0) == 1


def test_tta_budget_limits_the_averaging():
    y = torch.rand(1, 3, 40, 52, generator=torch.Generator().manual_seed(3))
    model = fit_zeroshot(y, PRESETS["paper"].with_steps(3))
    plain = apply_zeroshot(model, y)
    full = apply_zeroshot(model, y, tta=True)
    # 40×52 pixels = 0.00208 MP: a budget of 0.005 allows 2 transforms, 0.001 none.
    two = apply_zeroshot(model, y, tta=True, tta_budget=0.005)
    torch.testing.assert_close(apply_zeroshot(model, y, tta=True, tta_budget=0.001), plain)
    assert not torch.allclose(two, plain) and not torch.allclose(two, full)
    torch.testing.assert_close(apply_zeroshot(model, y, tta=True, tta_budget=1.0), full)


def test_same_seed_same_output_other_seed_different(camera_crop):
    a = denoise_zeroshot(camera_crop, iterations=5, seed=0)
    b = denoise_zeroshot(camera_crop, iterations=5, seed=0)
    c = denoise_zeroshot(camera_crop, iterations=5, seed=1)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


@pytest.mark.parametrize("shape", [(33, 45), (9, 8), (31, 20, 3)])
def test_any_size_keeps_shape_and_dtype(shape):
    rng = np.random.default_rng(0)
    image = rng.random(shape, dtype=np.float32)
    axis = -1 if len(shape) == 3 else None
    out = denoise_zeroshot(image, iterations=3, channel_axis=axis)
    assert out.shape == image.shape and out.dtype == image.dtype
    u16 = (image * 65535).astype(np.uint16)
    assert denoise_zeroshot(u16, iterations=2, channel_axis=axis).dtype == np.uint16


def test_too_small_image_is_refused():
    with pytest.raises(ValueError, match="at least 8×8"):
        denoise_zeroshot(np.zeros((7, 20), np.uint8))


@pytest.mark.parametrize("noise", ["gaussian:25", "poisson:25"])
def test_short_run_raises_psnr_on_a_real_crop(astronaut_crop, noise):
    noisy = add_noise(astronaut_crop, noise, seed=0, channel_axis=-1)
    out = denoise_zeroshot(noisy, iterations=150, seed=0, channel_axis=-1)
    before = psnr(noisy, astronaut_crop, data_range=255)
    after = psnr(out, astronaut_crop, data_range=255)
    assert after > before + 2.0, (before, after)


def test_grayscale_denoising_raises_psnr(camera_crop):
    noisy = add_noise(camera_crop, "gaussian:25", seed=0)
    out = denoise_zeroshot(noisy, iterations=150, seed=0)
    assert psnr(out, camera_crop, data_range=255) > psnr(noisy, camera_crop, data_range=255) + 2


def test_fast_preset_is_the_default_and_trains_on_crops():
    fast = PRESETS["fast"]
    assert fast.crop is not None and math.isinf(fast.loss_ratio)
    assert fast.steps < PRESETS["paper"].steps
    import inspect

    assert inspect.signature(denoise_zeroshot).parameters["preset"].default == "fast"


def test_fast_preset_raises_psnr_and_is_seeded(astronaut_crop):
    noisy = add_noise(astronaut_crop, "gaussian:25", seed=0, channel_axis=-1)
    out = denoise_zeroshot(noisy, preset="fast", iterations=300, seed=0, channel_axis=-1)
    again = denoise_zeroshot(noisy, preset="fast", iterations=300, seed=0, channel_axis=-1)
    np.testing.assert_array_equal(out, again)
    before = psnr(noisy, astronaut_crop, data_range=255)
    assert psnr(out, astronaut_crop, data_range=255) > before + 3


def test_crop_training_works_on_images_smaller_than_the_crop():
    image = np.random.default_rng(0).random((10, 12), dtype=np.float32)
    assert denoise_zeroshot(image, preset="fast", iterations=3).shape == (10, 12)


def test_dim_16bit_data_is_denoised_in_its_own_range(camera_crop):
    # 12-bit data in a 16-bit container: values up to 4095 of 65535.
    clean = (camera_crop.astype(np.uint16) * 16).astype(np.uint16)
    noisy = add_noise(clean.astype(np.float32) / 4095, "poisson:30", seed=0)
    noisy = np.round(noisy * 4095).astype(np.uint16)
    out = denoise_zeroshot(noisy, preset="fast", iterations=200, seed=0)
    assert out.dtype == np.uint16 and out.max() <= 4200
    assert psnr(out, clean, data_range=4095) > psnr(noisy, clean, data_range=4095) + 2


def test_ordinary_images_are_not_rescaled(astronaut_crop):
    from noise2noise.convert import image_to_tensor, tensor_to_image

    noisy = add_noise(astronaut_crop, "gaussian:25", seed=0, channel_axis=-1)
    config = PRESETS["fast"].with_steps(5)
    y = image_to_tensor(noisy, channel_axis=-1)
    out = apply_zeroshot(fit_zeroshot(y, config), y, tta=config.tta, tta_budget=config.tta_budget)
    direct = tensor_to_image(out, noisy, channel_axis=-1)
    np.testing.assert_array_equal(denoise_zeroshot(noisy, preset=config, channel_axis=-1), direct)


def test_configurations_naming_retired_switches_load_only_when_they_are_off():
    from noise2noise.config import ConfigError

    written = {**PRESETS["fast"].to_dict(), "valid_loss": False, "select_best": False}
    assert ZeroShotConfig.from_dict(written) == PRESETS["fast"]  # a 0.2 file, switches off
    for name in ("valid_loss", "select_best"):
        with pytest.raises(ConfigError, match=f"{name}=True, removed"):
            ZeroShotConfig.from_dict({**written, name: True})
    with pytest.raises(ConfigError, match="unknown"):
        ZeroShotConfig.from_dict({**written, "held_out": 4})  # still strict otherwise


def test_odd_offsets_draw_crops_from_all_four_blockings():
    from noise2noise.zeroshot.fit import _crop_offsets, _gather_crops

    h, w = 64, 64
    coords = torch.arange(h * w, dtype=torch.float32).reshape(1, 1, h, w)  # pixel -> index

    def crops(stride):
        offsets = _crop_offsets(coords, 16, 200, torch.Generator().manual_seed(0), stride=stride)
        return _gather_crops(coords, offsets[None], 16)[0]

    starts = {stride: crops(stride)[:, 0, 0, 0].long() for stride in (1, 2)}
    parity = lambda first: {(int(i) // w % 2, int(i) % w % 2) for i in first}  # noqa: E731
    assert parity(starts[2]) == {(0, 0)}  # the default: the whole image's pixel pairs
    assert parity(starts[1]) == {(0, 0), (0, 1), (1, 0), (1, 1)}


def test_odd_offsets_training_is_seeded_and_denoises(astronaut_crop):
    noisy = add_noise(astronaut_crop, "gaussian:25", seed=0, channel_axis=-1)
    config = replace(PRESETS["fast"], steps=200, odd_offsets=True)
    out = denoise_zeroshot(noisy, preset=config, seed=0, channel_axis=-1)
    again = denoise_zeroshot(noisy, preset=config, seed=0, channel_axis=-1)
    np.testing.assert_array_equal(out, again)
    before = psnr(noisy, astronaut_crop, data_range=255)
    assert psnr(out, astronaut_crop, data_range=255) > before + 3


@pytest.mark.parametrize("preset", ["fast", "paper"])
def test_a_batch_of_networks_trains_as_each_would_alone(preset, device):
    from noise2noise.zeroshot import fit_zeroshot_batch

    g = torch.Generator().manual_seed(1)
    images = [torch.rand(1, 3, 48, 40, generator=g) for _ in range(3)]
    config = replace(PRESETS[preset], steps=25)
    together = fit_zeroshot_batch(images, config, seed=2, device=device)
    assert len(together) == 3
    # Float rounding only. On CUDA convolutions run in TF32 (10-bit mantissa) and the
    # kernels for one network and for a batch differ: an H100 showed 2.6e-3 on pixels.
    weights, pixels = (5e-4, 2e-4) if device == "cpu" else (5e-3, 5e-3)
    for y, net in zip(images, together, strict=True):
        alone = fit_zeroshot(y, config, seed=2, device=device)
        for a, b in zip(alone.parameters(), net.parameters(), strict=True):
            torch.testing.assert_close(a, b, atol=weights, rtol=1e-3)
        out_alone = apply_zeroshot(alone, y.to(device))
        out_together = apply_zeroshot(net, y.to(device))
        torch.testing.assert_close(out_alone, out_together, atol=pixels, rtol=0)
    # Each network saw only its own image: swapping the images changes what it learns.
    swapped = fit_zeroshot_batch(images[::-1], config, seed=2, device=device)
    loose = {} if device == "cpu" else {"atol": weights, "rtol": 0}
    torch.testing.assert_close(swapped[2].out.weight, together[0].out.weight, **loose)
    assert not torch.allclose(swapped[0].out.weight, together[0].out.weight, atol=1e-3)


def test_denoising_a_batch_equals_denoising_each_image(astronaut_crop, camera_crop):
    from noise2noise.zeroshot import denoise_zeroshot_batch

    config = replace(PRESETS["fast"], steps=20)
    noisy_rgb = add_noise(astronaut_crop, "gaussian:25", seed=0, channel_axis=-1)
    noisy_gray = add_noise(camera_crop, "gaussian:25", seed=0)
    images = [
        noisy_rgb.astype(np.float32) / 255,
        noisy_gray[..., None].astype(np.float32) / 255,  # another channel count: another group
        noisy_rgb[:40, :24].astype(np.float32) / 255,  # smaller than a crop: another group
        np.fliplr(noisy_rgb).astype(np.float32) / 255,
        np.zeros_like(noisy_rgb, np.float32),  # blank: as it is, alone as in a batch
    ]
    outs = denoise_zeroshot_batch(images, preset=config, seed=3, channel_axis=-1, group_size=2)
    for image, out in zip(images, outs, strict=True):
        alone = denoise_zeroshot(image, preset=config, seed=3, channel_axis=-1)
        assert out.shape == image.shape and out.dtype == image.dtype
        np.testing.assert_allclose(out, alone, atol=2e-4)


def test_images_that_need_different_batches_are_refused_together():
    from noise2noise.zeroshot import fit_zeroshot_batch

    images = [torch.rand(1, 3, 40, 40), torch.rand(1, 1, 40, 40)]
    with pytest.raises(ValueError, match="cannot train in one batch"):
        fit_zeroshot_batch(images, replace(PRESETS["fast"], steps=2))


@pytest.mark.parametrize("preset", ["fast", "paper"])
def test_interleaved_fits_equal_single_image_runs_on_each_device(
    preset, device, astronaut_crop, camera_crop
):
    from noise2noise.zeroshot.interleaved import denoise_zeroshot_interleaved

    config = replace(PRESETS[preset], steps=12)
    rgb = add_noise(astronaut_crop[:48, :40], "gaussian:25", seed=0, channel_axis=-1)
    gray = add_noise(camera_crop[:40, :40], "gaussian:25", seed=0)[..., None]
    images = [rgb, gray, np.fliplr(rgb), rgb[:24, :32]]  # 4 images on 2 lanes: lanes reused
    outs = denoise_zeroshot_interleaved(
        images, preset=config, seed=3, channel_axis=-1, streams=2, device=device
    )
    for image, out in zip(images, outs, strict=True):
        alone = denoise_zeroshot(image, preset=config, seed=3, channel_axis=-1, device=device)
        assert out.shape == image.shape and out.dtype == image.dtype
        if device == "cpu":  # the same computation in the same order
            np.testing.assert_array_equal(out, alone)
        else:  # GPU kernels are not bit-reproducible run to run (8-bit outputs here)
            assert np.abs(out.astype(int) - alone.astype(int)).max() <= 2
