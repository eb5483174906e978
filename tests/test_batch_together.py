"""Folder runs that denoise many images in one call (ZS-N2N on a GPU): each file still
gets its own result, its own errors and notes, and the same output as alone."""

from dataclasses import replace

import numpy as np
import pytest
import tifffile

from noise2noise import write_image
from noise2noise.batch import plan_outputs, process_files
from noise2noise.denoisers import FileDenoiser, _denoise_many
from noise2noise.image_io import read_image
from noise2noise.methods import REGISTRY
from noise2noise.zeroshot import PRESETS


class Inverter:
    """A stand-in for a method with a batched form: 255 - image, counting its calls."""

    def __init__(self):
        self.singles, self.batches = 0, []

    def __call__(self, image):
        self.singles += 1
        return (255 - image).astype(image.dtype)

    def batched(self, images):
        self.batches.append(len(images))
        return [(255 - im).astype(im.dtype) for im in images]

    def fits_batch(self, image):
        return image.dtype.kind != "f"


def test_a_folder_goes_through_in_groups_with_per_file_results(tmp_path, astronaut_crop):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(5):
        write_image(src / f"a{i}.png", np.roll(astronaut_crop, i, axis=0))
    (src / "broken.png").write_bytes(b"\x89PNG not really")
    planes = np.stack([astronaut_crop[..., 0]] * 4)
    tifffile.imwrite(src / "stack.tif", planes, photometric="minisblack", metadata={"axes": "ZYX"})
    pairs = plan_outputs([src], tmp_path / "out")
    (tmp_path / "out").mkdir()
    write_image(tmp_path / "out" / "a4.png", astronaut_crop)  # exists: refused, not replaced
    fn = Inverter()
    results = process_files(pairs, fn, group=3, progress=False)
    by_name = {r.source.name: r for r in results}
    assert [r.source for r in results] == [s for s, _ in pairs]  # in order
    for i in range(4):
        r = by_name[f"a{i}.png"]
        assert r.ok, r.error
        expected = 255 - np.roll(astronaut_crop, i, axis=0)
        np.testing.assert_array_equal(read_image(r.target), expected)
    assert "already exists" in by_name["a4.png"].error
    assert "broken.png" in by_name["broken.png"].error
    assert by_name["stack.tif"].ok  # plane by plane through the one-image path
    # Groups of 3 files: a0-a2 together; a3 (a4 and broken.png failed before); the stack's
    # four planes one by one.
    assert fn.batches == [3, 1] and fn.singles == 4


def test_a_failing_batch_fails_each_of_its_files_and_the_run_goes_on(tmp_path, camera_crop):
    class Failing(Inverter):
        def batched(self, images):
            raise RuntimeError("device lost")

    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        write_image(src / f"c{i}.png", camera_crop)
    results = process_files(plan_outputs([src], tmp_path / "out"), Failing(), progress=False)
    assert [r.ok for r in results] == [False] * 3
    assert all("device lost" in r.error for r in results)
    assert not (tmp_path / "out").exists() or not any((tmp_path / "out").iterdir())


def test_the_batched_file_method_equals_the_one_image_method(astronaut_crop, camera_crop):
    config = replace(PRESETS["fast"], steps=15)
    rgba = np.dstack([astronaut_crop, np.full(astronaut_crop.shape[:2], 200, np.uint8)])
    images = [astronaut_crop, camera_crop, rgba]
    options = {"preset": config, "seed": 1}
    together = _denoise_many(REGISTRY["zeroshot"].batched, options, images)
    alone = FileDenoiser("zeroshot", options)
    for image, out in zip(images, together, strict=True):
        expected = alone(image)
        assert out.shape == image.shape and out.dtype == image.dtype
        assert np.abs(out.astype(int) - expected.astype(int)).max() <= 1  # rounding only
    np.testing.assert_array_equal(together[2][..., 3], rgba[..., 3])  # alpha kept


@pytest.mark.parametrize("device", ["cpu", None])
def test_on_the_cpu_files_are_denoised_one_by_one(device):
    options = {"preset": "fast"} if device is None else {"preset": "fast", "device": device}
    assert FileDenoiser("zeroshot", options).batched is None  # the worker-per-core plan
    assert FileDenoiser("pretrained", {"device": "cpu"}).batched is None


def test_an_image_that_cannot_join_runs_alone_once_read(tmp_path, camera_crop):
    src = tmp_path / "in"
    src.mkdir()
    write_image(src / "a.png", camera_crop)
    write_image(src / "b.png", camera_crop[::-1].copy())
    floats = (camera_crop / 255).astype(np.float32)
    tifffile.imwrite(src / "f.tif", floats)  # float: Inverter.fits_batch says no
    fn = Inverter()
    results = process_files(plan_outputs([src], tmp_path / "out"), fn, progress=False)
    assert all(r.ok for r in results), [r.error for r in results]
    assert fn.batches == [2] and fn.singles == 1
    np.testing.assert_allclose(read_image(tmp_path / "out" / "f.tif"), 255 - floats)
