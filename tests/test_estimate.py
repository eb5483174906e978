"""Measuring an image's noise, and `--method auto`, which picks a model from it."""

import math
import warnings

import numpy as np
import pytest

from noise2noise import choose_model, estimate_noise, read_image, write_image
from noise2noise.cli import main
from noise2noise.errors import Note
from noise2noise.estimate import CORRELATED
from noise2noise.methods import DEFAULT_METHOD
from noise2noise.pretrained import denoise, denoise_auto


def _ramp(size: int = 192, channels: int = 3) -> np.ndarray:
    """A smooth image in 0-255 (float): planes everywhere, so only the noise is left."""
    y, x = np.mgrid[0:size, 0:size] / size
    planes = [60 + 100 * x + 40 * y, 90 + 50 * y, 120 + 30 * x]
    return np.stack(planes[:channels], axis=-1)


def _white(shape, sigma: float, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).normal(0, sigma, shape)


def _correlated(shape, sigma: float, seed: int = 0) -> np.ndarray:
    """White noise averaged over 3×3 blocks of pixels: neighbours share two thirds of it,
    more than a demosaiced photo's pixels do (the estimator, which takes the flattest
    patches less their planes, measures about 0.4 for it)."""
    w = np.random.default_rng(seed).normal(0, 3 * sigma, (shape[0] + 2, shape[1] + 2, *shape[2:]))
    h, v = shape[:2]
    return sum(w[i : i + h, j : j + v] for i in range(3) for j in range(3)) / 9


def _uint8(x: np.ndarray) -> np.ndarray:
    return np.clip(np.rint(x), 0, 255).astype(np.uint8)


def test_white_noise_measures_uncorrelated_and_at_its_level():
    e = estimate_noise(_uint8(_ramp() + _white((192, 192, 3), 20)), channel_axis=-1)
    assert abs(e.correlation) < 0.1
    assert 15 < e.sigma < 22  # the flattest patches: a lower bound, near the truth here
    assert e.patches >= 8


def test_noise_shared_by_neighbours_measures_correlated():
    image = _uint8(_ramp() + _correlated((192, 192, 3), 8))
    e = estimate_noise(image, channel_axis=-1)
    assert 0.33 < e.correlation < 0.6
    assert e.correlated and e.correlation > CORRELATED


def test_auto_picks_real_for_correlated_noise_and_blind_for_white():
    white = _uint8(_ramp() + _white((192, 192, 3), 15))
    camera_like = _uint8(_ramp() + _correlated((192, 192, 3), 8))
    assert choose_model(white, channel_axis=-1)[0] == "blind"
    assert choose_model(camera_like, channel_axis=-1)[0] == "real"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Note)
        np.testing.assert_array_equal(
            denoise_auto(camera_like, channel_axis=-1),
            denoise(camera_like, channel_axis=-1, model="real"),
        )
        np.testing.assert_array_equal(
            denoise_auto(white, channel_axis=-1), denoise(white, channel_axis=-1)
        )
    np.testing.assert_array_equal(
        denoise(white, channel_axis=-1, model="auto"), denoise(white, channel_axis=-1)
    )


def test_auto_says_what_it_chose_and_why():
    camera_like = _uint8(_ramp(64) + _correlated((64, 64, 3), 8))
    with pytest.warns(Note, match=r"auto chose real \(noise correlated.*correlation 0\.\d\d"):
        denoise_auto(camera_like, channel_axis=-1)


def test_an_image_without_noise_or_flat_areas_goes_to_the_blind_model():
    flat = np.full((64, 64), 128, np.uint8)  # nothing varies: no usable patch
    e = estimate_noise(flat)
    assert math.isnan(e.correlation) and math.isnan(e.sigma) and not e.correlated
    assert choose_model(flat)[0] == "blind"
    assert math.isnan(estimate_noise(np.zeros((5, 5))).correlation)  # smaller than a patch
    with pytest.warns(Note, match="no noise to measure: image too small, noise-free or clipped"):
        denoise_auto(flat)


def test_clipped_areas_are_left_out():
    image = _ramp(128, 1)[..., 0] + _white((128, 128), 12)
    image[:, :64] = 0  # black: clipped, no noise left to measure
    e = estimate_noise(_uint8(image))
    assert abs(e.correlation) < 0.1 and 9 < e.sigma < 14


def test_dim_16_bit_data_is_measured_on_its_own_range():
    # 12-bit data in a 16-bit container, noise of 1 % of the range: 2.6 levels on 0-255
    image = _ramp(128, 1)[..., 0] / 255 * 4000 + _white((128, 128), 40)
    e = estimate_noise(np.clip(np.rint(image), 0, 65535).astype(np.uint16))
    assert abs(e.correlation) < 0.1
    assert 1.5 < e.sigma < 3.5  # stretched to the full range as the denoisers see it


def test_a_large_image_is_measured_on_a_subset_of_patches():
    big = _uint8(_ramp(2304, 1)[..., 0] + _white((2304, 2304), 10))
    e = estimate_noise(big)
    assert abs(e.correlation) < 0.1
    assert e.patches <= 65536 // 10 + 1  # the flattest tenth of at most 65536


def test_auto_is_the_default_and_the_command_says_its_choice(tmp_path, capsys):
    assert DEFAULT_METHOD == "auto"
    noisy = write_image(tmp_path / "n.png", _uint8(_ramp(64) + _correlated((64, 64, 3), 8)))
    out = tmp_path / "clean.png"
    assert main(["denoise", str(noisy), "-o", str(out)]) == 0
    err = capsys.readouterr().err
    assert "n.png: auto chose real" in err
    assert read_image(out).shape == (64, 64, 3)


def test_a_folder_run_says_autos_choices_in_one_line_naming_the_odd_ones(tmp_path, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(3):
        write_image(folder / f"w{i}.png", _uint8(_ramp(64) + _white((64, 64, 3), 15, seed=i)))
    write_image(folder / "c.png", _uint8(_ramp(64) + _correlated((64, 64, 3), 8)))
    assert main(["denoise", str(folder), "-o", str(tmp_path / "out/"), "--workers", "1"]) == 0
    said = [line for line in capsys.readouterr().err.splitlines() if "auto chose" in line]
    assert said == ["n2n: note: auto chose pretrained for 3 images, real for 1 (c.png)"]


def test_many_choices_name_at_most_five_files_of_each_less_common_method():
    from noise2noise.cli.file_report import describe_choices

    chosen = {"real": [f"r{i}.jpg" for i in range(7)], "pretrained": [f"p{i}" for i in range(9)]}
    assert describe_choices(chosen, 16) == (
        "auto chose pretrained for 9 images, real for 7 "
        "(r0.jpg, r1.jpg, r2.jpg, r3.jpg, r4.jpg and 2 more)"
    )
    assert describe_choices({"real": ["a", "b"]}, 2) == "auto chose real for all 2 images"
    assert describe_choices({"real": ["a", "b"]}, 3) == "auto chose real for 2 images"
    assert describe_choices({"real": ["a"]}, 3) == "auto chose real for 1 image"  # not "1 images"
    assert describe_choices({"real": ["a"], "pretrained": ["b"]}, 2).startswith(
        "auto chose real for 1 image, pretrained for 1 (b)"
    )


def test_chunked_auto_chooses_once_for_the_whole_array():
    pytest.importorskip("dask")
    import dask.array as da

    from noise2noise import denoise_dask

    image = _uint8(_ramp(256) + _correlated((256, 256, 3), 8))
    run = lambda method: denoise_dask(  # noqa: E731
        da.from_array(image), method, axes="YXC", chunk=128, overlap=64
    ).compute()
    np.testing.assert_array_equal(run("auto"), run("real"))


def test_auto_chooses_once_for_all_planes_of_a_stack(tmp_path, capsys):
    tifffile = pytest.importorskip("tifffile")
    white = _uint8(_ramp(96, 1)[..., 0] + _white((96, 96), 12))
    camera_like = _uint8(_ramp(96, 1)[..., 0] + _correlated((96, 96), 8))
    stack = tmp_path / "stack.tif"  # the middle plane decides for the others
    planes = np.stack([white, camera_like, white])
    tifffile.imwrite(stack, planes, photometric="minisblack", metadata={"axes": "ZYX"})
    assert main(["denoise", str(stack), "-o", str(tmp_path / "auto.tif")]) == 0
    err = capsys.readouterr().err
    assert err.count("auto chose") == 1 and "auto chose real" in err and "every plane" in err
    assert main(["denoise", str(stack), "-o", str(tmp_path / "real.tif"), "--method", "real"]) == 0
    np.testing.assert_array_equal(
        tifffile.imread(tmp_path / "auto.tif"), tifffile.imread(tmp_path / "real.tif")
    )
