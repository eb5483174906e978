"""Dask: folders and zarr arrays on a local cluster started by the test, compared with
single-process runs; a worker killed during the run; resume after a killed run."""

from __future__ import annotations

import dataclasses
import mmap
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import tifffile

distributed = pytest.importorskip("distributed")
zarr = pytest.importorskip("zarr")
da = pytest.importorskip("dask.array")

from noise2noise import add_noise  # noqa: E402
from noise2noise.batch import beside, plan_outputs, process_files  # noqa: E402
from noise2noise.chunked import denoise_dask  # noqa: E402
from noise2noise.cli import main  # noqa: E402
from noise2noise.denoisers import make_denoiser  # noqa: E402
from noise2noise.distributed import connect, denoise_zarr, process_files_dask  # noqa: E402
from noise2noise.errors import N2NError  # noqa: E402
from noise2noise.image_io import read_image, write_image  # noqa: E402
from noise2noise.pretrained import denoise  # noqa: E402


@pytest.fixture(scope="module")
def client():
    c = connect("local:2")
    yield c
    c.close()


@pytest.fixture
def noisy_rgb() -> np.ndarray:
    from skimage.data import astronaut

    return add_noise(astronaut()[100:292, 150:406], "gaussian:25", seed=0, channel_axis=-1)


def _folder(tmp_path: Path, image: np.ndarray, count: int) -> Path:
    folder = tmp_path / "in"
    folder.mkdir()
    for i in range(count):
        write_image(folder / f"img{i}.png", np.roll(image[:64, :64], 7 * i, axis=1))
    return folder


def _same_folders(a: Path, b: Path) -> None:
    names = sorted(p.name for p in a.iterdir())
    assert names == sorted(p.name for p in b.iterdir())
    for name in names:
        np.testing.assert_array_equal(read_image(a / name), read_image(b / name))


def test_folder_on_a_local_cluster_equals_the_single_process_run(tmp_path, noisy_rgb, capsys):
    folder = _folder(tmp_path, noisy_rgb, 4)
    assert main(["denoise", str(folder), "-o", str(tmp_path / "one"), "--workers", "1"]) == 0
    code = main(["denoise", str(folder), "-o", str(tmp_path / "dask"), "--scheduler", "local:2"])
    assert code == 0
    assert "4 of 4 images denoised" in capsys.readouterr().out
    _same_folders(tmp_path / "one", tmp_path / "dask")


@pytest.fixture
def own_client():
    """A cluster for one test that kills a worker: the nanny's restart can race with Dask
    closing that nanny (seen once in CI: 1 of 2 workers after 60 s), which must not leave
    the shared cluster short for the tests after it."""
    c = connect("local:2")
    yield c
    c.close()


@dataclasses.dataclass(frozen=True)
class KillsItsWorkerOnce:
    """The pretrained model, but the first worker to meet image 2 dies (SIGKILL, as the
    OOM killer would) right after writing nothing; the retry on another worker succeeds."""

    flag: str

    def __call__(self, image: np.ndarray) -> np.ndarray:
        if image[0, 0, 0] == self.poison and not os.path.exists(self.flag):
            Path(self.flag).touch()
            os.kill(os.getpid(), signal.SIGKILL)
        return make_denoiser("pretrained")(image)

    @property
    def poison(self) -> int:
        return int(Path(self.flag).with_suffix(".value").read_text())


def test_a_killed_worker_loses_nothing(tmp_path, noisy_rgb, own_client):
    client = own_client
    folder = _folder(tmp_path, noisy_rgb, 5)
    pairs = plan_outputs([folder], tmp_path / "ref")
    process_files(pairs, make_denoiser("pretrained"), workers=1)
    flag = tmp_path / "killed"
    flag.with_suffix(".value").write_text(str(int(read_image(folder / "img2.png")[0, 0, 0])))
    pairs = plan_outputs([folder], tmp_path / "out")
    results = process_files_dask(pairs, KillsItsWorkerOnce(str(flag)), client, progress=False)
    assert flag.exists()  # a worker did die
    assert all(r.ok for r in results), [r.error for r in results]
    _same_folders(tmp_path / "ref", tmp_path / "out")
    assert not any("partial" in p.name for p in (tmp_path / "out").iterdir())


def _zarr(
    tmp_path: Path, image: np.ndarray, name: str = "in.zarr", chunks=(64, 64, 3), **options
) -> Path:
    path = tmp_path / name
    z = zarr.open_array(
        str(path), mode="w", shape=image.shape, chunks=chunks, dtype=image.dtype, **options
    )
    z[:] = image
    return path


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2) / 255.0**2
    return float("inf") if mse == 0 else 10 * np.log10(1 / mse)


def test_zarr_chunks_equal_the_whole_image_within_the_stated_tolerance(tmp_path, noisy_rgb, client):
    source = _zarr(tmp_path, noisy_rgb)
    whole = denoise(noisy_rgb, channel_axis=-1)
    summary = denoise_zarr(source, tmp_path / "here.zarr", chunk=64, progress=False)
    assert summary["chunks"] == 12 and summary["done"] == 12
    here = zarr.open_array(str(tmp_path / "here.zarr"))[:]
    assert _psnr(here, whole) > 50  # docs: chunked vs whole-image processing
    denoise_zarr(source, tmp_path / "dask.zarr", chunk=64, cluster=client, progress=False)
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "dask.zarr"))[:], here)
    # With an overlap larger than the network's reach, chunks are exact.
    denoise_zarr(source, tmp_path / "wide.zarr", chunk=64, overlap=256, progress=False)
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "wide.zarr"))[:], whole)


def test_zeroshot_on_chunks_is_exact_up_to_rounding(tmp_path, noisy_rgb):
    x = da.from_array(noisy_rgb, chunks=(64, 64, 3))
    out = denoise_dask(x, "zeroshot", chunk=64, seed=0)
    assert isinstance(out, da.Array) and out.shape == noisy_rgb.shape
    chunked = out.compute(scheduler="sync")
    wide = denoise_dask(x, "zeroshot", chunk=256, overlap=0, seed=0).compute(scheduler="sync")
    assert np.abs(chunked.astype(int) - wide.astype(int)).max() <= 1


def test_denoise_dask_is_lazy_and_keeps_planes_apart(noisy_rgb):
    gray = noisy_rgb[..., 1]
    stack = da.from_array(np.stack([gray, gray[::-1]]), chunks=(1, 96, 96))
    out = denoise_dask(stack, chunk=96)
    assert isinstance(out, da.Array) and out.dtype == np.uint8 and out.shape == stack.shape
    planes = out.compute(scheduler="sync")
    np.testing.assert_array_equal(
        planes[1], denoise_dask(da.from_array(gray[::-1]), chunk=96).compute()
    )


def test_a_stack_of_colour_images_and_arrays_smaller_than_the_overlap(noisy_rgb):
    """(planes, Y, X, 3) was taken for planes of 3 pixels wide, and an array smaller than
    the overlap (64 pixels) failed inside dask ('overlapping depth 64 is larger than your
    array')."""
    stack = np.stack([noisy_rgb[:80, :90], noisy_rgb[80:160, :90]])
    out = denoise_dask(da.from_array(stack), chunk=64).compute(scheduler="sync")
    assert out.shape == stack.shape
    np.testing.assert_array_equal(
        out[1], denoise_dask(stack[1], axes="YXC", chunk=64).compute(scheduler="sync")
    )
    small = noisy_rgb[:40, :50, 1]
    np.testing.assert_array_equal(denoise_dask(small).compute(scheduler="sync"), denoise(small))


def test_signed_and_32_bit_arrays_are_denoised_as_float_as_tiffs_are(tmp_path, noisy_rgb, capsys):
    """A TIFF of int16 (CT, some cameras) or uint32 is read as float32 in its own units;
    the same data as a zarr array or a dask array were refused as a sample type. The
    output store is int16 again (it was float32); the API's dask array is float32."""
    gray = noisy_rgb[..., 1].astype(np.int16) * 4 - 300  # physical units, some negative
    source = _zarr(tmp_path, gray, chunks=(64, 64))
    assert main(["denoise", str(source), "-o", str(tmp_path / "out.zarr")]) == 0
    err = capsys.readouterr().err
    assert "int16 samples are read as float32 (a TIFF or zarr output is int16 again)" in err
    out = zarr.open_array(str(tmp_path / "out.zarr"))[:]
    assert out.dtype == np.int16 and out.min() < -100
    lazy = denoise_dask(da.from_array(gray.astype(np.uint32) + 300))
    assert lazy.dtype == np.float32
    np.testing.assert_allclose(lazy.compute(), out + 300, atol=0.51)
    with pytest.raises(N2NError, match="sample type complex64"):
        denoise_dask(da.from_array(gray.astype(np.complex64)))


@pytest.mark.parametrize("method", ["pretrained", "zeroshot"])
def test_killed_worker_during_a_zarr_run(tmp_path, noisy_rgb, own_client, method):
    client = own_client
    source = _zarr(tmp_path, np.concatenate([noisy_rgb] * 2, axis=1))
    denoise_zarr(source, tmp_path / "ref.zarr", method, chunk=64, progress=False)
    errors = []

    def run():
        try:
            denoise_zarr(
                source, tmp_path / "out.zarr", method, chunk=64, cluster=client, progress=False
            )
        except Exception as exc:  # pragma: no cover - reported below
            errors.append(exc)

    thread = threading.Thread(target=run)
    thread.start()
    marks = tmp_path / "out.zarr" / ".n2n-chunks"
    deadline = time.time() + 120
    while time.time() < deadline and not (marks.is_dir() and len(list(marks.iterdir())) >= 2):
        time.sleep(0.02)
    pids = client.client.run(os.getpid)
    os.kill(next(iter(pids.values())), signal.SIGKILL)
    thread.join(300)
    assert not errors, errors
    np.testing.assert_array_equal(
        zarr.open_array(str(tmp_path / "out.zarr"))[:],
        zarr.open_array(str(tmp_path / "ref.zarr"))[:],
    )
    assert not marks.exists()


@pytest.mark.parametrize("method", ["pretrained", "zeroshot"])
def test_a_killed_zarr_run_resumes_to_the_same_result(tmp_path, noisy_rgb, method):
    source = _zarr(tmp_path, noisy_rgb)
    out = tmp_path / "out.zarr"
    code = "import sys; from noise2noise.cli import main; sys.exit(main(sys.argv[1:]))"
    args = ["denoise", str(source), "-o", str(out), "--chunk", "64", "--method", method]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen([sys.executable, "-c", code, *args], env=env)
    marks = out / ".n2n-chunks"
    deadline = time.time() + 120
    while time.time() < deadline and not (marks.is_dir() and len(list(marks.iterdir())) >= 3):
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    done = len(list(marks.iterdir()))
    assert 3 <= done < 12
    refused = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, env=env
    )
    assert refused.returncode == 2 and "--resume" in refused.stderr
    resumed = subprocess.run(
        [sys.executable, "-c", code, *args, "--resume"], capture_output=True, text=True, env=env
    )
    assert resumed.returncode == 0, resumed.stderr
    assert f"{12 - done} of 12 chunks" in resumed.stdout
    # The reference as the interrupted run made it (one thread: ZS-N2N's training is
    # deterministic for a given thread count).
    ref = tmp_path / "ref.zarr"
    ref_args = [a if a != str(out) else str(ref) for a in args]
    subprocess.run([sys.executable, "-c", code, *ref_args], env=env, check=True)
    np.testing.assert_array_equal(zarr.open_array(str(out))[:], zarr.open_array(str(ref))[:])
    assert sorted(p.name for p in out.iterdir() if p.name.startswith(".")) == []


def test_an_interrupted_zarr_run_counts_chunks_and_says_resume(tmp_path, noisy_rgb):
    # It said '0 of 12 images finished' and advised --skip-existing.
    source = _zarr(tmp_path, noisy_rgb)
    out = tmp_path / "out.zarr"
    code = "import sys; from noise2noise.cli import main; sys.exit(main(sys.argv[1:]))"
    args = ["denoise", str(source), "-o", str(out), "--chunk", "64", "--method", "pretrained"]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.Popen(
        [sys.executable, "-c", code, *args], env=env, stderr=subprocess.PIPE, text=True
    )
    marks = out / ".n2n-chunks"
    deadline = time.time() + 120
    while time.time() < deadline and not (marks.is_dir() and len(list(marks.iterdir())) >= 2):
        time.sleep(0.01)
    proc.send_signal(signal.SIGTERM)
    _, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 143, stderr
    done = len(list(marks.iterdir()))
    assert 2 <= done < 12
    assert f"interrupted: {done} of 12 chunks finished (run again with --resume" in stderr


def test_zarr_v2_ome_zarr_and_bigtiff_inputs_give_the_same_result(tmp_path, noisy_rgb):
    import tifffile

    ref = tmp_path / "ref.zarr"
    denoise_zarr(_zarr(tmp_path, noisy_rgb), ref, chunk=64, progress=False)
    expected = zarr.open_array(str(ref))[:]
    # zarr format 2
    v2 = _zarr(tmp_path, noisy_rgb, "v2.zarr", zarr_format=2)
    denoise_zarr(v2, tmp_path / "v2_out.zarr", chunk=64, progress=False)
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "v2_out.zarr"))[:], expected)
    # OME-Zarr (NGFF 0.4): axes c, y, x, level "0" inside a group
    ome = tmp_path / "image.ome.zarr"
    group = zarr.open_group(str(ome), mode="w", zarr_format=2)
    axes = [
        {"name": "c", "type": "channel"},
        {"name": "y", "type": "space"},
        {"name": "x", "type": "space"},
    ]
    group.attrs["multiscales"] = [
        {
            "version": "0.4",
            "axes": axes,
            "datasets": [
                {"path": "0", "coordinateTransformations": [{"type": "scale", "scale": [1, 1, 1]}]}
            ],
        }
    ]
    level = group.create_array(
        "0", shape=(3, *noisy_rgb.shape[:2]), chunks=(1, 64, 64), dtype=noisy_rgb.dtype
    )
    level[:] = np.moveaxis(noisy_rgb, -1, 0)
    out = tmp_path / "out.ome.zarr"
    assert main(["denoise", str(ome), "-o", str(out), "--chunk", "64"]) == 0
    result = zarr.open_group(str(out), mode="r")
    assert result.attrs["multiscales"][0]["axes"] == axes
    np.testing.assert_array_equal(np.moveaxis(result["0"][:], 0, -1), expected)
    # BigTIFF, tiled, read through tifffile's zarr interface
    tif = tmp_path / "big.tif"
    tifffile.imwrite(tif, noisy_rgb, bigtiff=True, tile=(64, 64), photometric="rgb")
    assert main(["denoise", str(tif), "-o", str(tmp_path / "tif_out.zarr"), "--chunk", "64"]) == 0
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "tif_out.zarr"))[:], expected)
    # An uncompressed contiguous TIFF (tifffile's and ImageJ's default): same result
    plain = tmp_path / "plain.tif"
    tifffile.imwrite(plain, noisy_rgb, photometric="rgb")
    assert main(["denoise", str(plain), "-o", str(tmp_path / "plain.zarr"), "--chunk", "64"]) == 0
    np.testing.assert_array_equal(zarr.open_array(str(tmp_path / "plain.zarr"))[:], expected)


def test_a_chunked_run_refuses_a_tiff_of_palette_indices(tmp_path, capsys):
    # A chunked run denoises samples as stored: palette indices came out as noise-blurred
    # indices, which show as other colours.
    import tifffile

    indices = np.random.default_rng(0).integers(0, 16, (64, 64), dtype=np.uint8)
    colormap = np.random.default_rng(1).integers(0, 65536, (3, 256), dtype=np.uint16)
    tifffile.imwrite(tmp_path / "map.tif", indices, photometric="palette", colormap=colormap)
    assert main(["denoise", str(tmp_path / "map.tif"), "-o", str(tmp_path / "out.zarr")]) == 2
    assert "palette colours: a chunked run" in capsys.readouterr().err
    assert not (tmp_path / "out.zarr").exists()


@pytest.mark.parametrize("tile", [None, (64, 64)])
def test_a_planar_rgb_tiff_is_denoised_in_colour_in_a_chunked_run(tmp_path, noisy_rgb, tile):
    # Stored planar (3×H×W, tifffile's axes SYX), its axes were guessed from the shape
    # as three gray planes: each denoised alone, about 1 dB worse than in colour.
    import tifffile

    tifffile.imwrite(tmp_path / "rgb.tif", noisy_rgb, photometric="rgb", tile=tile)
    planar = np.moveaxis(noisy_rgb, -1, 0)
    tifffile.imwrite(tmp_path / "planar.tif", planar, photometric="rgb", tile=tile)
    for name in ("rgb", "planar"):
        src, out = str(tmp_path / f"{name}.tif"), str(tmp_path / f"{name}.zarr")
        assert main(["denoise", src, "-o", out, "--chunk", "64", "--method", "pretrained"]) == 0
    planes = zarr.open_array(str(tmp_path / "planar.zarr"))[:]
    expected = zarr.open_array(str(tmp_path / "rgb.zarr"))[:]
    np.testing.assert_array_equal(np.moveaxis(planes, 0, -1), expected)


@pytest.mark.parametrize(("colours", "method"), [(1, "pretrained"), (3, "zeroshot")])
def test_a_tiffs_marked_alpha_is_kept_in_a_chunked_run(tmp_path, noisy_rgb, colours, method):
    """An RGBA (or gray+alpha) TIFF into zarr: since arrays' channels became planes, its
    colours were denoised one by one by the gray model and its alpha as an image; ZS-N2N
    had always trained on its alpha and denoised it."""
    import tifffile

    colour = noisy_rgb[..., :colours]
    alpha = np.random.default_rng(0).integers(0, 256, noisy_rgb.shape[:2], np.uint8)
    photometric = "rgb" if colours == 3 else "minisblack"
    tifffile.imwrite(tmp_path / "c.tif", colour.squeeze(), photometric=photometric)
    with_alpha = np.dstack([colour, alpha])
    kind = ["unassalpha"]
    tifffile.imwrite(tmp_path / "a.tif", with_alpha, photometric=photometric, extrasamples=kind)
    for name in ("c", "a"):
        src, out = str(tmp_path / f"{name}.tif"), str(tmp_path / f"{name}.zarr")
        assert main(["denoise", src, "-o", out, "--chunk", "64", "--method", method]) == 0
    out = zarr.open_array(str(tmp_path / "a.zarr"))[:]
    np.testing.assert_array_equal(out[..., -1], alpha)  # passed through
    expected = zarr.open_array(str(tmp_path / "c.zarr"))[:]  # the colours without alpha
    np.testing.assert_array_equal(out[..., :colours].squeeze(), expected)


def test_a_contiguous_tiff_is_read_region_by_region_not_whole(tmp_path, monkeypatch):
    # tifffile's zarr interface gives an uncompressed contiguous TIFF as one chunk: every
    # task of a chunked run read the whole image (a 5 GB slide: 5 GB a task).
    import tifffile

    from noise2noise.distributed.arrays import open_source

    stack = np.random.default_rng(0).integers(0, 60000, (3, 500, 600), dtype=np.uint16)
    path = tmp_path / "stack.tif"
    tifffile.imwrite(path, stack.astype(">u2"), photometric="minisblack", byteorder=">")
    source = open_source(path)[0]
    assert source.shape == stack.shape
    read = []
    real_mmap = mmap.mmap

    def counted(fileno, length, **kwargs):
        read.append(length)
        return real_mmap(fileno, length, **kwargs)

    monkeypatch.setattr(mmap, "mmap", counted)
    region = source[1, 100:164, 200:264]
    np.testing.assert_array_equal(region, stack[1, 100:164, 200:264])
    assert region.dtype == np.uint16 and region.dtype.isnative
    assert not isinstance(source, zarr.Array) and len(read) == 1


def test_a_full_disk_stops_a_cluster_folder_run_too(
    tmp_path, noisy_rgb, monkeypatch, disk_full_after
):
    from noise2noise.batch import RunInterrupted
    from noise2noise.distributed.cluster import Cluster

    folder = _folder(tmp_path, noisy_rgb, 6)
    pairs = plan_outputs([folder], tmp_path / "out")
    # Threads, not processes: the full disk is this process's os.replace.
    local = distributed.LocalCluster(n_workers=1, threads_per_worker=1, processes=False)
    cluster = Cluster(distributed.Client(local), 1, local)
    disk_full_after(2)
    try:
        with pytest.raises(RunInterrupted) as stopped:
            process_files_dask(pairs, make_denoiser("pretrained"), cluster, progress=False)
    finally:
        monkeypatch.undo()
        cluster.close()
    assert stopped.value.exit_code == 1 and "No space left" in stopped.value.reason
    # Dask cannot stop a task already running: one may finish after the stop.
    assert stopped.value.done == 2 and len(list((tmp_path / "out").iterdir())) < 6


def test_a_tiff_too_large_for_memory_is_pointed_to_the_chunked_way(tmp_path, noisy_rgb):
    # Refused as a whole ('use a machine with more memory'), the chunked way that fits
    # was not said; it is, and it works on that file with the same limits.
    import tifffile

    from noise2noise.memory import Limits

    source = tmp_path / "slide.tif"
    tifffile.imwrite(source, noisy_rgb, photometric="rgb")
    fn = make_denoiser("pretrained")
    (result,) = process_files([(source, tmp_path / "out.tif")], fn, limits=Limits(None, 2**20))
    assert "chunk by chunk: into a zarr store (an output named OUT.zarr)" in result.error
    png = write_image(tmp_path / "slide.png", noisy_rgb)
    (result,) = process_files([(png, tmp_path / "out.png")], fn, limits=Limits(None, 2**20))
    assert "needs about" in result.error and "zarr" not in result.error  # no chunked way
    summary = denoise_zarr(source, tmp_path / "out.zarr", chunk=64, progress=False)
    assert summary["done"] == summary["chunks"] == 12


def test_stored_chunks_much_larger_than_a_task_are_said_before_the_run(tmp_path, noisy_rgb, capsys):
    # Each task decompresses whole stored chunks: with one chunk for the whole array a
    # run was 30 times slower than it needed to be, silently.
    source = _zarr(tmp_path, noisy_rgb, chunks=noisy_rgb.shape)  # 192×256, one chunk
    assert main(["denoise", str(source), "-o", str(tmp_path / "a.zarr"), "--chunk", "64"]) == 0
    err = capsys.readouterr().err
    assert "stored in chunks of 192×256 pixels: every task of --chunk 64 reads whole" in err
    assert main(["denoise", str(source), "-o", str(tmp_path / "b.zarr"), "--chunk", "128"]) == 0
    assert "stored in chunks" not in capsys.readouterr().err  # 2 tasks' worth: fine


def test_two_or_four_channels_of_an_array_are_each_denoised_alone(tmp_path, noisy_rgb):
    """An OME-Zarr of two channels (CYX) had its second channel taken for alpha, as a
    PNG's gray+alpha, and left noisy without a word; four channels were RGB and alpha."""
    two = np.stack([noisy_rgb[..., 0], noisy_rgb[..., 1]])  # C, Y, X
    path = _zarr(tmp_path, two, "c2.zarr", chunks=(1, 96, 96))
    out = tmp_path / "out.zarr"
    assert main(["denoise", str(path), "-o", str(out), "--axes", "CYX", "--chunk", "96"]) == 0
    both = zarr.open_array(str(out))[:]
    for c in range(2):
        alone = _zarr(tmp_path, two[c], f"one{c}.zarr", chunks=(96, 96))
        denoise_zarr(alone, tmp_path / f"one{c}_out.zarr", chunk=96, progress=False)
        np.testing.assert_array_equal(
            both[c], zarr.open_array(str(tmp_path / f"one{c}_out.zarr"))[:]
        )
    # four: a micrograph's four fluorescence channels, not RGB mixed by the colour model
    # and a fourth left noisy as alpha
    four = np.dstack([noisy_rgb, noisy_rgb[::-1, :, :1]])
    out = denoise_dask(da.from_array(four, chunks=(96, 96, 4)), chunk=96).compute()
    for c in (0, 3):
        alone = denoise_dask(da.from_array(four[..., c], chunks=(96, 96)), chunk=96).compute()
        np.testing.assert_array_equal(out[..., c], alone)


def test_zarr_planes_are_denoised_one_by_one(tmp_path, noisy_rgb):
    gray = noisy_rgb[..., 1]
    stack = np.stack([gray, gray[::-1], gray[:, ::-1]])
    path = _zarr(tmp_path, stack, "tyx.zarr", chunks=(1, 64, 64))
    out = tmp_path / "out.zarr"
    assert main(["denoise", str(path), "-o", str(out), "--axes", "TYX", "--chunk", "96"]) == 0
    planes = zarr.open_array(str(out))[:]
    single = _zarr(tmp_path, gray[::-1], "one.zarr", chunks=(64, 64))
    denoise_zarr(single, tmp_path / "one_out.zarr", chunk=96, progress=False)
    np.testing.assert_array_equal(planes[1], zarr.open_array(str(tmp_path / "one_out.zarr"))[:])


def test_the_output_keeps_the_inputs_zarr_format(tmp_path, noisy_rgb):
    v2 = _zarr(tmp_path, noisy_rgb, "v2.zarr", zarr_format=2)
    denoise_zarr(v2, tmp_path / "out.zarr", chunk=64, progress=False)
    assert (tmp_path / "out.zarr" / ".zarray").is_file()  # format 2
    assert zarr.open_array(str(tmp_path / "out.zarr")).attrs["n2n"]["complete"] is True


def test_a_zarr_run_without_an_output_writes_beside_its_input(tmp_path, noisy_rgb):
    """`n2n denoise volume.zarr` said 'a zarr run needs an output array' where a file
    gets `photo_denoised.jpg` beside it."""
    path = _zarr(tmp_path, noisy_rgb[..., 1], "cells.ome.zarr", chunks=(64, 64))
    assert main(["denoise", str(path), "-q"]) == 0
    written = zarr.open_array(str(tmp_path / "cells_denoised.ome.zarr"))
    assert written.shape == noisy_rgb.shape[:2]
    assert main(["denoise", str(path), "-q"]) == 2  # never over an earlier result unasked
    assert beside(tmp_path / "v.zarr", "_denoised") == tmp_path / "v_denoised.zarr"


def test_a_zarr_run_with_auto_chooses_once_and_says_which(tmp_path, capsys):
    rng = np.random.default_rng(0)
    w = rng.normal(0, 24, (258, 258, 3))
    correlated = sum(w[i : i + 256, j : j + 256] for i in range(3) for j in range(3)) / 9
    y, x = np.mgrid[0:256, 0:256] / 256
    ramp = np.stack([60 + 100 * x, 90 + 50 * y, 120 + 30 * x], axis=-1)
    photo = np.clip(np.rint(ramp + correlated), 0, 255).astype(np.uint8)  # camera-like noise
    path = _zarr(tmp_path, photo, "photo.zarr", chunks=(128, 128, 3))
    out = tmp_path / "out.zarr"
    args = ["denoise", str(path), "-o", str(out), "--chunk", "128", "--overlap", "64"]
    assert main(args) == 0
    assert "auto chose real" in capsys.readouterr().out
    real = tmp_path / "real.zarr"
    denoise_zarr(path, real, "real", chunk=128, overlap=64, progress=False)
    np.testing.assert_array_equal(zarr.open_array(str(out))[:], zarr.open_array(str(real))[:])


def test_float_arrays_in_physical_units_are_scaled_into_range_and_back(tmp_path, noisy_rgb, capsys):
    """They were clipped into [0, 1] (a blank result) and then refused; now scaled as a
    float TIFF is by `n2n denoise`: the result is that of the data in [0, 1], rescaled."""
    unit = (noisy_rgb[..., 1] / 255.0).astype(np.float32)
    unit[0, :2] = 0.0, 1.0  # spans exactly [0, 1]
    physical = unit * 1000 + 200  # spans [200, 1200]: scaled from [0, 1200]
    expected = denoise_dask(da.from_array(unit * (1000 / 1200) + 200 / 1200), chunk=64)
    expected = expected.compute() * 1200
    with pytest.warns(UserWarning, match=r"float values span \[0, 1200\]: scaled"):
        out = denoise_dask(da.from_array(physical), chunk=64).compute()
    assert out.dtype == np.float32 and out.min() > 100  # not clipped into [0, 1]
    np.testing.assert_allclose(out, expected, atol=0.5)  # 1200 × float32 rounding
    path = _zarr(tmp_path, physical, "units.zarr", chunks=(64, 64))
    args = ["denoise", str(path), "-o", str(tmp_path / "out.zarr"), "--chunk", "64"]
    assert main([*args, "--method", "pretrained"]) == 0
    assert "n2n: note: " in capsys.readouterr().err
    np.testing.assert_allclose(zarr.open_array(str(tmp_path / "out.zarr"))[:], out, atol=0.5)


def test_a_scheduler_address_that_is_not_one_is_a_one_line_error():
    """`--scheduler nonsense` was a traceback: Dask's ValueError 'missing port number'."""
    before = distributed.default_client() if distributed.client._get_global_client() else None
    for address in ("nonsense", "http://host:1"):
        with pytest.raises(N2NError, match=f"`scheduler` {address}: not the address of a Dask"):
            connect(address)
    # the failed client stayed the default one: every later Dask computation waited for it
    assert distributed.client._get_global_client() is before
    # a port where nothing listens was said after Dask's 20 s of tries
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    start = time.perf_counter()
    with pytest.raises(N2NError, match=f"127.0.0.1:{port}: nothing listens at that port"):
        connect(f"tcp://127.0.0.1:{port}")
    assert time.perf_counter() - start < 5
    assert distributed.client._get_global_client() is before


def test_a_worker_memory_that_is_not_a_size_and_a_photo_into_zarr_are_one_line_errors(tmp_path):
    """They were tracebacks: Dask's 'Could not interpret ... as a byte unit', and zarr's
    'No group found in store' for `n2n denoise photo.png -o out.zarr`."""
    with pytest.raises(N2NError, match="`worker_memory` lots: not a size"):
        connect("local:1", worker_memory="lots")
    write_image(tmp_path / "photo.png", np.zeros((64, 64), np.uint8))
    with pytest.raises(N2NError, match=r"photo\.png: a chunked run \(into \.zarr\) reads a zarr"):
        denoise_zarr(tmp_path / "photo.png", tmp_path / "out.zarr", "pretrained")


def _ome_pyramid(tmp_path: Path, image: np.ndarray, shapes, zarr_format: int = 2) -> Path:
    """An OME-Zarr image (CYX) whose levels have ``shapes`` (Y, X), made by striding."""
    path = tmp_path / "pyramid.ome.zarr"
    group = zarr.open_group(str(path), mode="w", zarr_format=zarr_format)
    cyx = np.moveaxis(image, -1, 0)
    datasets = []
    for i, (rows, columns) in enumerate(shapes):
        step = 2**i
        level = cyx[:, ::step, ::step][:, :rows, :columns]
        array = group.create_array(
            f"s{i}", shape=level.shape, chunks=(1, 64, 64), dtype=level.dtype
        )
        array[:] = level
        scale = [{"type": "scale", "scale": [1.0, 0.3 * step, 0.3 * step]}]
        datasets.append({"path": f"s{i}", "coordinateTransformations": scale})
    axes = [{"name": "c", "type": "channel"}] + [{"name": n, "type": "space"} for n in "yx"]
    multiscale = {"axes": axes, "datasets": datasets}
    if zarr_format == 2:
        group.attrs["multiscales"] = [{"version": "0.4", **multiscale}]
    else:
        group.attrs["ome"] = {"version": "0.5", "multiscales": [multiscale]}
    return path


def _block_means(image: np.ndarray, factor: int) -> np.ndarray:
    """CYX block means over factor × factor pixels, the edges repeated to fill the last."""
    rows, columns = -(-image.shape[1] // factor) * factor, -(-image.shape[2] // factor) * factor
    pad = ((0, 0), (0, rows - image.shape[1]), (0, columns - image.shape[2]))
    full = np.pad(image.astype(np.float64), pad, mode="edge")
    blocks = full.reshape(image.shape[0], rows // factor, factor, columns // factor, factor)
    return blocks.mean(axis=(2, 4))


@pytest.mark.parametrize("zarr_format", [2, 3])
def test_an_ome_zarrs_pyramid_is_made_again_from_the_result(
    tmp_path, noisy_rgb, client, zarr_format
):
    """An OME-Zarr input of three levels came out with one: a viewer (napari, OMERO) must
    read all of a large output to show it zoomed out. Its levels are the result's block
    means, its sides rounded up (odd sides) or down, with the input's scales."""
    image = noisy_rgb[:101, :131]
    shapes = [(101, 131), (51, 65), (25, 32)]
    source = _ome_pyramid(tmp_path, image, shapes, zarr_format)
    target = tmp_path / "out.ome.zarr"
    denoise_zarr(source, target, chunk=64, cluster=client, progress=False)
    group = zarr.open_group(str(target), mode="r")
    attrs = dict(group.attrs)
    multiscale = (attrs["multiscales"] if zarr_format == 2 else attrs["ome"]["multiscales"])[0]
    assert [d["path"] for d in multiscale["datasets"]] == ["0", "1", "2"]
    scales = [d["coordinateTransformations"][0]["scale"] for d in multiscale["datasets"]]
    assert scales == [[1.0, 0.3, 0.3], [1.0, 0.6, 0.6], [1.0, 1.2, 1.2]]
    assert attrs["n2n"]["complete"] is True
    levels = [group[str(i)][:] for i in range(3)]
    assert [level.shape[1:] for level in levels] == shapes
    assert all(level.dtype == np.uint8 for level in levels)
    expected = _block_means(levels[0], 2)[:, :51, :65]  # 101 up, 131 down
    np.testing.assert_allclose(levels[1], expected, atol=0.51)
    expected = _block_means(levels[1], 2)[:, :25, :32]  # 51 × 65 halved, rounded down
    np.testing.assert_allclose(levels[2], expected, atol=0.51)


def test_a_level_no_whole_factor_makes_is_left_out_with_a_note(tmp_path, noisy_rgb, capsys):
    image = noisy_rgb[:96, :128]
    source = _ome_pyramid(tmp_path, image, [(96, 128), (48, 64), (20, 20)])
    target = tmp_path / "out.ome.zarr"
    assert main(["denoise", str(source), "-o", str(target), "--chunk", "64"]) == 0
    assert "level 2 of the input (3×20×20) is not a whole reduction of level 1" in (
        capsys.readouterr().err
    )
    group = zarr.open_group(str(target), mode="r")
    assert [d["path"] for d in group.attrs["multiscales"][0]["datasets"]] == ["0", "1"]
    assert "2" not in group


def test_a_big_endian_16_bit_tiff_is_16_bit_in_a_chunked_run(tmp_path, capsys):
    """A big-endian TIFF (some microscopes and Macs of old write them) was '>u2 samples
    read as float' in a chunked run: stretched by its own span, not 65535, and written
    back big-endian; it is uint16 as a little-endian one is, with the same result."""
    stack = np.random.default_rng(0).integers(1000, 3000, (2, 128, 160)).astype(np.uint16)
    for name, order in (("little.tif", "<"), ("big.tif", ">")):
        tifffile.imwrite(tmp_path / name, stack, byteorder=order, photometric="minisblack")
        out = str(tmp_path / f"{name}.zarr")
        assert main(["denoise", str(tmp_path / name), "-o", out, "--chunk", "64"]) == 0
    assert "samples are read as float" not in capsys.readouterr().err
    little = zarr.open_array(str(tmp_path / "little.tif.zarr"))
    big = zarr.open_array(str(tmp_path / "big.tif.zarr"))
    assert big.dtype == np.dtype(np.uint16) and big.dtype.isnative
    np.testing.assert_array_equal(big[:], little[:])


def test_the_scan_before_the_chunks_shows_its_progress(tmp_path, noisy_rgb, capsys):
    """Before any chunk, a chunked run reads the whole array once (its brightest value):
    minutes for a large one, in silence, as if it hung."""
    source = _zarr(tmp_path, noisy_rgb[:128, :128], chunks=(16, 16, 3))  # 64 blocks
    assert main(["denoise", str(source), "-o", str(tmp_path / "out.zarr"), "--chunk", "64"]) == 0
    assert "scan: 64/64 blocks" in capsys.readouterr().err
    small = _zarr(tmp_path, noisy_rgb[:64, :64], "small.zarr", chunks=(32, 32, 3))
    assert main(["denoise", str(small), "-o", str(tmp_path / "small_out.zarr")]) == 0
    assert "scan:" not in capsys.readouterr().err  # 4 blocks: read at once, no bar


def test_a_tiff_into_a_tiff_chunk_by_chunk(tmp_path, noisy_rgb, capsys):
    """A slide or stack too large for memory could only be denoised into a zarr store
    (which Fiji and most viewers do not open without plugins): with --chunk, a TIFF goes
    into a TIFF, chunk by chunk, then written out tile by tile as the input was stored."""
    source = tmp_path / "slide.tif"
    tifffile.imwrite(
        source, noisy_rgb, photometric="rgb", compression="jpeg", tile=(64, 64),
        resolution=(4000, 4000), resolutionunit=3,
    )  # fmt: skip
    args = ["denoise", str(source), "--chunk", "64"]
    assert main([*args, "-o", str(tmp_path / "slide.zarr")]) == 0
    as_zarr = zarr.open_array(str(tmp_path / "slide.zarr"))[:]
    out = tmp_path / "clean.tif"
    assert main([*args, "-o", str(out)]) == 0
    assert f"wrote {out}: 12 of 12 chunks" in capsys.readouterr().out
    with tifffile.TiffFile(out) as tif:
        page = tif.pages[0]
        assert page.is_tiled and page.compression == tifffile.COMPRESSION.ADOBE_DEFLATE
        assert page.resolution == (4000, 4000) and page.photometric == tifffile.PHOTOMETRIC.RGB
        np.testing.assert_array_equal(tif.asarray(), as_zarr)
    assert [p.name for p in tmp_path.iterdir() if "n2n" in p.name] == []  # its store gone
    assert main([*args, "-o", str(out)]) == 2  # refused before any work
    assert "already exists" in capsys.readouterr().err
    ct = (noisy_rgb[..., 1].astype(np.int16) * 4 - 300)[None].repeat(2, axis=0)
    tifffile.imwrite(tmp_path / "ct.tif", ct, photometric="minisblack")
    assert main(["denoise", str(tmp_path / "ct.tif"), "-o", str(tmp_path / "c.tif"),
                 "--chunk", "64", "-q"]) == 0  # fmt: skip
    result = tifffile.imread(tmp_path / "c.tif")
    assert result.dtype == np.int16 and result.shape == ct.shape
    assert main(["denoise", str(tmp_path / "c.tif"), "-o", str(tmp_path / "c.tif"),
                 "--chunk", "64"]) == 2  # fmt: skip
    assert "output would overwrite the input" in capsys.readouterr().err
    stack = np.stack([noisy_rgb[..., c].astype(np.uint16) * 200 for c in range(3)])
    calibration = {"axes": "ZYX", "unit": "micron", "spacing": 0.5}
    tifffile.imwrite(tmp_path / "cells.tif", stack, imagej=True, metadata=calibration)
    assert main(["denoise", str(tmp_path / "cells.tif"), "-o", str(tmp_path / "ij.tif"),
                 "--axes", "ZYX", "-q"]) == 0  # fmt: skip
    with tifffile.TiffFile(tmp_path / "ij.tif") as tif:  # ImageJ's layout: its calibration
        assert tif.is_imagej and tif.series[0].shape == stack.shape
        assert tif.imagej_metadata["unit"] == "micron" and tif.imagej_metadata["spacing"] == 0.5


def test_a_slides_levels_are_made_again_in_a_chunked_tiff_output(tmp_path, noisy_rgb, capsys):
    """A whole-slide image is what needs a chunked run, and its pyramid (levels in
    SubIFDs) is what a slide viewer reads to show it zoomed out: the chunked TIFF output
    held the full resolution only. Its levels are made from the denoised image, block
    averages of the level above; a level no whole factor makes is left out, said."""
    source = tmp_path / "slide.tif"
    with tifffile.TiffWriter(source) as tif:  # 192 × 256, then 96 × 128 and 48 × 64
        options = {"photometric": "rgb", "tile": (64, 64), "compression": "zlib"}
        tif.write(noisy_rgb, subifds=2, **options)
        tif.write(noisy_rgb[::2, ::2], subfiletype=1, **options)
        tif.write(noisy_rgb[::4, ::4], subfiletype=1, **options)
    out = tmp_path / "clean.tif"
    assert main(["denoise", str(source), "-o", str(out), "--chunk", "128", "-q"]) == 0
    with tifffile.TiffFile(out) as tif:
        assert len(tif.pages) == 1  # the levels are the first page's SubIFDs
        levels = [level.asarray() for level in tif.series[0].levels]
    assert [level.shape for level in levels] == [(192, 256, 3), (96, 128, 3), (48, 64, 3)]
    for upper, level in zip(levels, levels[1:], strict=False):
        rows, columns = level.shape[:2]
        means = upper.reshape(rows, 2, columns, 2, 3).astype(np.float32).mean(axis=(1, 3))
        assert np.abs(level.astype(np.float32) - means).max() <= 0.5 + 1e-6
    assert [p.name for p in tmp_path.iterdir() if "n2n" in p.name] == []  # stores gone
    with tifffile.TiffWriter(tmp_path / "odd.tif") as tif:  # 192 × 256, then 70 × 93
        tif.write(noisy_rgb, photometric="rgb", tile=(64, 64))
        tif.write(noisy_rgb[:70, :93], photometric="rgb", subfiletype=1, tile=(64, 64))
    assert main(["denoise", str(tmp_path / "odd.tif"), "-o", str(tmp_path / "o.tif"),
                 "--chunk", "128"]) == 0  # fmt: skip
    assert "level 1 (93×70) is not a whole reduction" in capsys.readouterr().err
    with tifffile.TiffFile(tmp_path / "o.tif") as tif:
        assert [p.shape for p in tif.pages] == [(192, 256, 3)]


def test_an_ome_tiff_pyramid_into_a_chunked_tiff_keeps_its_ome_xml(tmp_path):
    """A QuPath export (OME-TIFF, levels in SubIFDs): its chunked TIFF output keeps the
    OME-XML (pixel size) with the levels made again."""
    rng = np.random.default_rng(0)
    image = np.clip(rng.normal(20000, 3000, (320, 256)), 0, 65535).astype(np.uint16)
    options = {"tile": (64, 64), "compression": "zlib", "photometric": "minisblack"}
    with tifffile.TiffWriter(tmp_path / "in.ome.tif") as tif:
        tif.write(image, subifds=1, metadata={"axes": "YX", "PhysicalSizeX": 0.5}, **options)
        tif.write(image[::2, ::2], subfiletype=1, **options)
    out = tmp_path / "out.ome.tif"
    assert main(["denoise", str(tmp_path / "in.ome.tif"), "-o", str(out), "--chunk", "128",
                 "-q"]) == 0  # fmt: skip
    with tifffile.TiffFile(out) as tif:
        assert tif.is_ome and 'PhysicalSizeX="0.5"' in tif.ome_metadata
        assert [level.shape for level in tif.series[0].levels] == [(320, 256), (160, 128)]
