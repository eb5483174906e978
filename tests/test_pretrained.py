"""The pretrained networks shipped inside the package."""

import pickle

import numpy as np
import pytest
import torch

from noise2noise import N2NError, add_noise, denoise, psnr
from noise2noise import pretrained as pt
from noise2noise.denoisers import make_denoiser
from noise2noise.methods import denoise_image
from noise2noise.tta import average_dihedral


def test_weights_are_package_data():
    for name, model in pt.PRETRAINED.items():
        for channels in model.files:
            path = pt.weights_path(name, channels)
            assert path.is_file() and path.stat().st_size < 10_000_000


@pytest.mark.parametrize("noise", ["gaussian:25", "gaussian:50", "poisson:15"])
def test_blind_model_removes_noise_it_is_not_told(astronaut_crop, noise):
    noisy = add_noise(astronaut_crop, noise, seed=0, channel_axis=-1)
    out = denoise(noisy, channel_axis=-1)
    assert out.shape == noisy.shape and out.dtype == np.uint8
    gain = psnr(out, astronaut_crop, data_range=255) - psnr(noisy, astronaut_crop, data_range=255)
    assert gain > 5


def test_grayscale_and_16_bit_and_dim(camera_crop):
    clean16 = camera_crop.astype(np.uint16) * 64  # 14-bit data in 16 bits: dim
    noisy = add_noise(clean16, "gaussian:6", seed=0)
    out = denoise(noisy)
    assert out.dtype == np.uint16 and out.shape == camera_crop.shape
    assert psnr(out, clean16, data_range=65535) > psnr(noisy, clean16, data_range=65535) + 4


def test_rgba_keeps_alpha_and_other_channel_counts(astronaut_crop):
    alpha = np.full(astronaut_crop.shape[:2], 200, np.uint8)
    rgba = np.dstack([add_noise(astronaut_crop, "gaussian:25", seed=1, channel_axis=-1), alpha])
    out = denoise_image(rgba, "pretrained")
    assert np.array_equal(out[..., 3], alpha)
    two = denoise(rgba[..., :2], channel_axis=-1)  # 2 channels: one by one, gray model
    assert two.shape == rgba[..., :2].shape


def test_denoise_image_defaults_to_the_command_lines_method(astronaut_crop):
    from noise2noise.errors import Note

    noisy = add_noise(astronaut_crop, "gaussian:25", seed=1, channel_axis=-1)
    with pytest.warns(Note, match="auto chose pretrained"):
        out = denoise_image(noisy)
    np.testing.assert_array_equal(out, denoise_image(noisy, "pretrained"))


def test_large_images_go_through_tiles(astronaut_crop):
    noisy = add_noise(astronaut_crop, "gaussian:25", seed=0, channel_axis=-1)
    whole = denoise(noisy, channel_axis=-1)
    tiled = denoise(noisy, channel_axis=-1, tile=24)
    # The 64-pixel margin covers the receptive field in practice: at most one grey level.
    assert np.abs(whole.astype(int) - tiled.astype(int)).max() <= 1


def _photo_noisy(clean: np.ndarray, seed: int = 0) -> np.ndarray:
    """``clean`` (uint8 RGB) with the correlated noise of a camera JPEG (luma std 10)."""
    import torch

    from noise2noise.camera import PhotoParams, photo_noise
    from noise2noise.convert import image_to_tensor, tensor_to_image

    values = dict(luma=10 / 255, chroma=0.4, fine=0.8, coarse=2.5, share=0.3, slope=0.0)
    params = PhotoParams(**{k: torch.tensor([v]) for k, v in values.items()})
    x = image_to_tensor(clean, channel_axis=-1)
    noise = photo_noise(x, params, generator=torch.Generator().manual_seed(seed))
    return tensor_to_image(x + noise, clean, channel_axis=-1)


def test_real_model_removes_camera_like_noise_the_blind_one_leaves(astronaut_crop):
    noisy = _photo_noisy(astronaut_crop)
    scores = {
        name: psnr(denoise(noisy, channel_axis=-1, model=name), astronaut_crop, data_range=255)
        for name in ("real", "blind")
    }
    noisy_psnr = psnr(noisy, astronaut_crop, data_range=255)
    assert scores["real"] > noisy_psnr + 1, (noisy_psnr, scores)
    assert scores["real"] > scores["blind"] + 1, (noisy_psnr, scores)


def test_real_on_grayscale_runs_the_gray_model_on_shuffled_sub_images(camera_crop):
    import torch

    x = torch.rand(1, 3, 13, 18)
    torch.testing.assert_close(pt.pixel_shuffle_apply(lambda t: t, x, 2), x)
    noisy = add_noise(camera_crop, "gaussian:15", seed=0)
    real = denoise(noisy, model="real")
    assert psnr(real, camera_crop, data_range=255) > psnr(noisy, camera_crop, data_range=255)
    assert not np.array_equal(real, denoise(noisy, model="blind", shrink=False))


def test_unknown_model_and_unused_options():
    with pytest.raises(N2NError, match="unknown pretrained model"):
        pt.weights_path("best", 3)
    with pytest.raises(N2NError, match="does not use `sigma` \\(it takes `device`\\)"):
        make_denoiser("pretrained", sigma=25)


@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_strength_takes_away_that_share_of_what_is_removed(astronaut_crop, dtype):
    scale = {np.uint8: 1, np.uint16: 257, np.float32: 1 / 255}[dtype]
    noisy = add_noise(astronaut_crop, "gaussian:25", seed=0, channel_axis=-1)
    noisy = (noisy.astype(np.float64) * scale).astype(dtype)
    rgba = np.dstack([noisy, np.full(noisy.shape[:2], 7 * scale, dtype)])  # alpha kept
    full = make_denoiser("pretrained")(rgba)
    assert np.array_equal(make_denoiser("pretrained", strength=0)(rgba), rgba)
    half = make_denoiser("pretrained", strength=0.5)(rgba)
    assert half.dtype == dtype and np.array_equal(half[..., 3], rgba[..., 3])
    expected = (noisy.astype(np.float64) + full[..., :3]) / 2
    tolerance = 1e-6 if dtype == np.float32 else 0.5 + 1e-9  # integers are rounded
    assert np.abs(half[..., :3] - expected).max() <= tolerance
    with pytest.raises(N2NError, match="strength"):
        make_denoiser("pretrained", strength=1.5)


def test_strength_zero_does_not_run_the_method(astronaut_crop, monkeypatch):
    """It ran the whole method (minutes for ZS-N2N's paper preset) to throw it away."""
    from noise2noise.denoisers import FileDenoiser

    monkeypatch.setattr(FileDenoiser, "_denoise", lambda self, image: 1 / 0)
    out = make_denoiser("zeroshot", preset="paper", strength=0)(astronaut_crop)
    assert np.array_equal(out, astronaut_crop) and out is not astronaut_crop


def test_strength_applies_to_images_denoised_together(astronaut_crop):
    # The GPU's batched path (ZS-N2N) blends as the one-image path does.
    from noise2noise.denoisers import _denoise_many

    def to_black(images, channel_axis, **options):
        return [np.zeros_like(image) for image in images]

    (out,) = _denoise_many(to_black, {}, [astronaut_crop], strength=0.25)
    assert np.array_equal(out, np.rint(astronaut_crop * 0.75).astype(np.uint8))


@pytest.mark.parametrize("model, channels", [("blind", 3), ("real", 3), ("real", 1)])
def test_progress_counts_every_tile_of_every_pass(astronaut_crop, model, channels, capsys):
    # a 64×64 image in 24-pixel tiles: 9 tiles a pass; `real` runs twice in colour, and on
    # gray twice on the pixel-shuffled sub-images (one grid shifted) and once on the whole
    image = astronaut_crop if channels == 3 else astronaut_crop[..., 1]
    axis = -1 if channels == 3 else None
    out = denoise(image, channel_axis=axis, model=model, tile=24, progress=True)
    assert out.shape == image.shape
    expected = {("blind", 3): 9, ("real", 3): 18, ("real", 1): 4 + 4 + 9}[(model, channels)]
    assert (
        capsys.readouterr()
        .err.strip()
        .splitlines()[-1]
        .startswith(f"denoising: {expected}/{expected} tile")
    )
    denoise(image, channel_axis=axis, model=model, progress=True)  # one tile: no bar
    assert capsys.readouterr().err == ""


class _Evil:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def test_a_malicious_file_in_place_of_the_weights_is_refused(tmp_path, monkeypatch):
    marker = tmp_path / "executed"
    evil = tmp_path / "blind_rgb.pt"
    evil.write_bytes(pickle.dumps(_Evil(str(marker))))
    monkeypatch.setattr(pt, "weights_path", lambda name, channels: evil)
    with pytest.raises(N2NError, match="not a noise2noise checkpoint"):
        denoise(np.arange(16 * 16 * 3, dtype=np.uint8).reshape(16, 16, 3), channel_axis=-1)
    assert not marker.exists()


def test_the_model_card_describes_the_shipped_files():
    import hashlib
    from pathlib import Path

    card = (Path(__file__).parents[1] / "docs" / "models.md").read_text()
    for name, model in pt.PRETRAINED.items():
        for channels in model.files:
            path = pt.weights_path(name, channels)
            digest = hashlib.sha256(path.read_bytes()).hexdigest()[:16]
            row = next(line for line in card.splitlines() if line.startswith(f"| `{path.name}`"))
            assert f"`{digest}`" in row, f"{path.name} changed: update docs/models.md"


def test_float_inputs_are_clipped_unless_the_weights_were_trained_on_them(monkeypatch):
    from dataclasses import replace

    import noise2noise.pretrained as pretrained

    rng = np.random.default_rng(0)
    x = np.clip(0.02 + rng.normal(0, 0.1, (48, 48)), -0.3, 1.3).astype(np.float32)  # dark
    assert x.min() < 0
    np.testing.assert_array_equal(denoise(x, tta=1), denoise(np.clip(x, 0, 1), tta=1))
    net, config = pretrained._load("blind", 1)
    assert config.float_share == 0  # the shipped grayscale model: 8-bit inputs only
    monkeypatch.setattr(pretrained, "_load", lambda *a: (net, replace(config, float_share=0.25)))
    assert not np.array_equal(denoise(x, tta=1), denoise(np.clip(x, 0, 1), tta=1))


@pytest.mark.parametrize("model,channels", [("blind", 3), ("blind", 1), ("real", 3)])
def test_shipped_networks_remove_white_noise_from_flat_fields(model, channels):
    # A flat field is the easiest image. The networks trained on the GPU up to 0.7 left
    # up to a quarter (RGB) and over a third (gray) of the noise here, where Gaussian noise
    # looks like Poisson noise of ~50 counts (bench/results/flat_field.md: CUDA's Poisson
    # draws for input and target were correlated). A sound blind denoiser leaves < 10%.
    net = pt.load_pretrained(model, channels).float().eval()
    worst = 0.0
    for level, sigma in [(150, 20), (185, 25), (200, 28), (215, 32), (100, 15), (128, 25)]:
        clean = np.full((1, channels, 64, 64), level / 255.0)
        noise = np.random.default_rng(level + sigma).normal(0, sigma / 255, clean.shape)
        noisy = np.round(np.clip(clean + noise, 0, 1) * 255) / 255
        with torch.no_grad():
            out = net(torch.from_numpy(noisy.astype(np.float32))).clamp(0, 1).numpy()
        worst = max(worst, float(((out - clean) * 255).std()) / sigma)
    assert worst < 0.1, worst


def test_a_flip_count_beyond_eight_or_a_tile_of_zero_is_refused(camera_crop):
    """`denoise(image, tta=100)` averaged the 8 flips/rotations over 100: an image 12
    times darker; `tile=0` was a ZeroDivisionError."""
    for bad in ({"tta": 100}, {"tta": 9}, {"tta": -1}, {"tile": 0}):
        with pytest.raises(N2NError, match="tta must be True, False or a count of 1 to 8"):
            denoise(camera_crop, **bad)
    with pytest.raises(ValueError, match="there are 1 to 8"):
        average_dihedral(lambda t: t, torch.zeros(1, 1, 4, 4), 9)
    np.testing.assert_array_equal(denoise(camera_crop, tta=0), denoise(camera_crop, tta=1))


def test_the_api_says_its_notes_at_the_callers_line(tmp_path, camera_crop):
    """A script's `denoise_image(x)` showed its note at a line of ours
    ('noise2noise/units.py:47: Note: auto chose pretrained', then that line's code), the
    hand-counted stack levels being off by the calls between; the reading and the
    scaling notes too. Each now names the caller's own line, as Python's warnings do."""
    import warnings

    from PIL import Image

    from noise2noise import read_image, write_image

    rgb = np.stack([camera_crop] * 3, axis=-1)
    Image.fromarray(rgb).convert("P", palette=Image.Palette.ADAPTIVE, colors=8).save(
        tmp_path / "palette.png"
    )
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        read_image(tmp_path / "palette.png")
        denoise_image(rgb)
        denoise(camera_crop.astype(np.float32) * 4)  # other units: scaled, with a note
        write_image(tmp_path / "a.jpg", np.dstack([rgb, camera_crop]))  # alpha dropped
    said = [(str(w.message)[:20], w.filename) for w in caught]
    assert len(said) == 4
    assert all(filename == __file__ for _, filename in said), said


def test_denoise_image_says_an_option_its_method_does_not_use(camera_crop):
    """`denoise_image(x, "pretrained", sigma=3)` was Python's TypeError from inside the
    method ('denoise() got an unexpected keyword argument'), where `n2n denoise` names the
    options the method takes; the run-time settings pass for every method."""
    with pytest.raises(ValueError, match=r"method 'pretrained' does not use `sigma` \(it takes"):
        denoise_image(camera_crop, "pretrained", sigma=3)
    out = denoise_image(camera_crop, "pretrained", device="cpu", progress=False, preset=None)
    assert out.shape == camera_crop.shape and psnr(out, camera_crop, data_range=255) > 30


@pytest.mark.parametrize("method", ["auto", "pretrained", "real", "zeroshot"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint16, np.float32])
def test_an_image_of_one_value_comes_back_as_it_is(method, dtype):
    """A blank plane of a stack (a frame of zeros) has no noise, but the networks gave
    it their bias at black: up to 390 in 16 bits, a tenth of the range of the 12-bit
    planes beside it; a saturated white one came out darker."""
    top = 1.0 if dtype == np.float32 else np.iinfo(dtype).max
    for value in (0, top):
        for shape, axis in (((48, 48), None), ((48, 48, 3), -1)):
            image = np.full(shape, value, dtype)
            out = denoise_image(image, method, channel_axis=axis, **_quick(method))
            assert out.dtype == dtype and np.array_equal(out, image), (value, shape)


def _quick(method: str) -> dict:
    return {"iterations": 5} if method == "zeroshot" else {}


def test_a_blank_plane_of_a_dim_stack_stays_blank(tmp_path, camera_crop):
    import tifffile

    from noise2noise.cli import main

    rng = np.random.default_rng(0)
    planes = [np.clip(camera_crop * 16.0 + rng.normal(0, 100, camera_crop.shape), 0, 4095)] * 4
    stack = np.stack(planes).astype(np.uint16)
    stack[1] = 0
    tifffile.imwrite(tmp_path / "stack.tif", stack, photometric="minisblack")
    assert (
        main(["denoise", str(tmp_path / "stack.tif"), "-o", str(tmp_path / "out.tif"), "-q"]) == 0
    )
    out = tifffile.imread(tmp_path / "out.tif")
    assert not out[1].any() and out[0].std() > 100
