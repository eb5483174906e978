import csv
import os

import numpy as np
import pytest

from noise2noise import Gaussian, Poisson, evaluation, write_image
from noise2noise.cli import main
from noise2noise.datasets import center_crop, image_set_paths, load_image_set
from noise2noise.evaluation import (
    evaluate,
    make_noisy,
    noise_seed,
    read_results,
    run_evaluation,
)


@pytest.fixture
def images(astronaut_crop, camera_crop):
    return [("astro", astronaut_crop), ("gray", np.dstack([camera_crop] * 3))]


def _box_blur(noisy, noise):
    from scipy.ndimage import uniform_filter

    return uniform_filter(noisy, size=(3, 3, 1))


def test_every_method_sees_the_identical_noisy_image(tmp_path, images):
    seen = {}

    def recorder(name):
        def fn(noisy, noise):
            seen.setdefault((noise.name, name), []).append(noisy.copy())
            return noisy

        return fn

    noises = [Gaussian(25), Poisson(20)]
    evaluate(
        images,
        noises,
        {"a": recorder("a"), "b": recorder("b")},
        csv_path=tmp_path / "r.csv",
        progress=False,
    )
    for noise in noises:
        for a, b in zip(seen[(noise.name, "a")], seen[(noise.name, "b")], strict=True):
            np.testing.assert_array_equal(a, b)
    # ... and the noise does not depend on which image came first.
    _, again = make_noisy(images[1][1], Gaussian(25), seed=0, image_name="gray")
    np.testing.assert_array_equal(seen[("gaussian:25", "a")][1], again)


def test_noise_seed_depends_on_seed_name_and_noise():
    seeds = {noise_seed(s, n, z) for s in (0, 1) for n in ("a", "b") for z in ("g", "p")}
    assert len(seeds) == 8


def test_results_csv_and_resume_skips_done_cells(tmp_path, images):
    calls = []

    def blur(noisy, noise):
        calls.append(noise.name)
        return _box_blur(noisy, noise)

    path = tmp_path / "r.csv"
    first = evaluate(images, [Gaussian(25)], {"blur": blur}, csv_path=path, progress=False)
    assert len(calls) == 2 and len(first) == 4  # noisy + blur for 2 images
    rows = list(csv.DictReader(open(path)))
    assert {r["method"] for r in rows} == {"noisy", "blur"}
    blurred = [float(r["psnr"]) for r in rows if r["method"] == "blur"]
    noisy = [float(r["psnr"]) for r in rows if r["method"] == "noisy"]
    assert all(b > n for b, n in zip(blurred, noisy, strict=True))
    again = evaluate(
        images, [Gaussian(25), Poisson(25)], {"blur": blur}, csv_path=path, progress=False
    )
    assert calls == ["gaussian:25"] * 2 + ["poisson:25"] * 2  # only the new cells ran
    assert len(again) == 8 and len(list(csv.DictReader(open(path)))) == 8


def test_interrupted_run_keeps_finished_cells(tmp_path, images):
    def fails_on_second(noisy, noise, count=[0]):  # noqa: B006 - a counter on purpose
        count[0] += 1
        if count[0] == 2:
            raise KeyboardInterrupt
        return noisy

    path = tmp_path / "r.csv"
    with pytest.raises(KeyboardInterrupt):
        evaluate(images, [Gaussian(25)], {"m": fails_on_second}, csv_path=path, progress=False)
    rows = list(csv.DictReader(open(path)))
    assert [(r["image"], r["method"]) for r in rows] == [
        ("astro", "noisy"),
        ("astro", "m"),
        ("gray", "noisy"),
    ]


def test_a_method_refusing_an_image_names_the_cell(tmp_path, images):
    """'n2n eval --methods model:RGB_RUN' on a folder with a grayscale image stopped with
    'the model was trained on 3-channel images, this image has 1': which image?"""
    from noise2noise.errors import N2NError

    def picky(noisy, noise):
        if noisy[..., 0].mean() < 0.45:  # the camera crop, darker than the astronaut's
            raise N2NError("this image has 1 channel")
        return noisy

    with pytest.raises(N2NError, match=r"^gray, gaussian:25, picky: this image has 1"):
        evaluate(images, [Gaussian(25)], {"picky": picky}, csv_path=tmp_path / "r.csv")


def test_shared_csv_leaves_claimed_cells_to_their_process(tmp_path, images, monkeypatch):
    """Two processes filling one CSV: a cell whose lock a live process holds is done last,
    once that process lets go of it, and only for the methods it did not write; a cell
    another process finished after this one read the CSV is not redone."""
    csv_path = tmp_path / "r.csv"
    locks = tmp_path / "locks"
    locks.mkdir()
    (locks / "astro-gaussian25.lock").write_text(str(os.getppid()))  # alive, not us
    calls = []

    def blur(noisy, noise):
        calls.append(noise.name)
        with open(csv_path, "a") as f:
            if len(calls) == 1:  # meanwhile another process finishes gray at sigma 25
                f.write("gray,gaussian:25,noisy,1,0.1,0\ngray,gaussian:25,blur,30,0.9,1\n")
            if len(calls) == 2:  # and the holder of astro's cell its own method, not ours
                f.write("astro,gaussian:25,noisy,2,0.2,0\nastro,gaussian:25,other,31,0.9,1\n")
                (locks / "astro-gaussian25.lock").unlink()
        return _box_blur(noisy, noise)

    progress = []
    monkeypatch.setattr(evaluation, "REREAD_SECONDS", 0.0)  # the CSV read at every cell
    results = evaluate(
        images,
        [Gaussian(25), Poisson(20)],
        {"blur": blur},
        csv_path=csv_path,
        progress=False,
        shared=True,
        poll=0.01,
        on_cell=lambda done, total: progress.append((done, total)),
    )
    cells = [(r.image, r.noise, r.method) for r in results]
    assert calls == ["poisson:20", "poisson:20", "gaussian:25"]  # astro g25 last
    # Progress counts the cells the other process wrote too (3 of the 8), so that a
    # time-left estimate from it is the folder's rate, not this process's alone: as soon
    # as they are written (gray's two during the first blur, astro's noisy row during the
    # second), not when a cell is claimed.
    assert progress == [(1, 8), (4, 8), (5, 8), (7, 8), (8, 8)]
    assert [done for done, _ in progress] == sorted({done for done, _ in progress})
    assert len(cells) == len(set(cells)) == 9  # astro's noisy row once, from its holder
    assert {("astro", "gaussian:25", "blur"), ("gray", "gaussian:25", "blur")} < set(cells)
    assert list(locks.iterdir()) == []


def test_shared_csv_waits_for_a_cell_held_elsewhere(tmp_path, images):
    """A process evaluating another row of the same table holds a cell: this one waits
    for it rather than returning without that cell (a table left with a hole)."""
    import threading

    csv_path = tmp_path / "r.csv"
    lock = tmp_path / "locks" / "astro-gaussian25.lock"
    lock.parent.mkdir()
    lock.write_text(str(os.getppid()))
    threading.Timer(0.3, lock.unlink).start()  # the other process ends its cell
    results = evaluate(images[:1], [Gaussian(25)], {"blur": _box_blur}, csv_path=csv_path,
                       progress=False, shared=True, poll=0.05)  # fmt: skip
    assert {(r.image, r.method) for r in results} == {("astro", "noisy"), ("astro", "blur")}


def test_methods_that_do_not_apply_are_left_out(tmp_path, images):
    results = evaluate(
        images[:1],
        [Poisson(25)],
        {"g": lambda y, n: None},
        csv_path=tmp_path / "r.csv",
        progress=False,
    )
    assert [r.method for r in results] == ["noisy"]


def test_run_evaluation_writes_summaries_and_refuses_mixed_settings(tmp_path, astronaut_crop):
    folder = tmp_path / "clean"
    folder.mkdir()
    for i in range(2):
        write_image(folder / f"{i}.png", np.roll(astronaut_crop, 7 * i, axis=1))
    out = tmp_path / "out"
    pytest.importorskip("bm3d")
    results, md = run_evaluation(
        [str(folder)], ["gaussian:25", "poisson:25"], ["bm3d", "ansc"], out, crop=32, progress=False
    )
    assert {(r.noise, r.method) for r in results} == {
        ("gaussian:25", "noisy"),
        ("gaussian:25", "bm3d"),
        ("poisson:25", "noisy"),
        ("poisson:25", "ansc"),
    }
    text = md.read_text()
    assert "| bm3d |" in text and "–" in text  # bm3d has no Poisson cell
    assert (out / "summary.csv").exists() and (out / "config.json").exists()
    with pytest.raises(ValueError, match="other seed"):
        run_evaluation(
            [str(folder)], ["gaussian:25"], ["bm3d"], out, crop=32, seed=1, progress=False
        )


def test_the_summary_is_of_this_runs_images(tmp_path, astronaut_crop):
    """An evaluation again into the same folder with fewer images (`--limit`, or files
    removed) summarised every cell of the CSV: the noisy row over 3 images beside a
    method's over 2, means of other images in one table."""
    folder = tmp_path / "clean"
    folder.mkdir()
    for i in range(3):
        write_image(folder / f"{i}.png", np.roll(astronaut_crop, 7 * i, axis=1))
    out = tmp_path / "out"
    run_evaluation([str(folder)], ["gaussian:25"], [], out, crop=32, progress=False)
    results, md = run_evaluation(
        [str(folder)], ["gaussian:25"], ["pretrained"], out, crop=32, limit=2, progress=False
    )
    assert sorted((r.image, r.method) for r in results) == [
        ("0", "noisy"), ("0", "pretrained"), ("1", "noisy"), ("1", "pretrained"),
    ]  # fmt: skip
    assert "| gaussian:25 | noisy | 2 |" in md.read_text()
    assert len(read_results(out / "results.csv")) == 5  # the third image's cell is kept


@pytest.mark.parametrize("name", ["summary.md", "results.csv", "config.json"])
def test_a_folder_of_other_files_of_those_names_is_refused_not_overwritten(tmp_path, name):
    """`n2n eval --out ~/Documents` replaced a user's summary.md and results.csv."""
    folder = tmp_path / "clean"
    folder.mkdir()
    write_image(folder / "a.png", np.full((32, 32), 100, np.uint8))
    (tmp_path / "docs").mkdir()
    (tmp_path / "docs" / name).write_text("my own notes", encoding="utf-8")
    with pytest.raises(ValueError, match=f"{name}: exists and is not an earlier evaluation's"):
        run_evaluation([str(folder)], ["gaussian:25"], ["pretrained"], tmp_path / "docs")
    assert [p.name for p in (tmp_path / "docs").iterdir()] == [name]
    assert (tmp_path / "docs" / name).read_text(encoding="utf-8") == "my own notes"


def test_eval_command(tmp_path, astronaut_crop, capsys):
    folder = tmp_path / "clean"
    folder.mkdir()
    write_image(folder / "a.png", astronaut_crop)
    code = main(
        [
            "eval",
            "--images",
            str(folder),
            "--methods",
            "zeroshot",
            "--iterations",
            "3",
            "--crop",
            "32",
            "--out",
            str(tmp_path / "r"),
        ]
    )
    assert code == 0
    assert "zeroshot" in capsys.readouterr().out


def test_eval_says_autos_choices_once_per_kind_not_as_warnings(tmp_path, astronaut_crop, capsys):
    import warnings

    folder = tmp_path / "clean"
    folder.mkdir()
    for i in range(2):
        write_image(folder / f"a{i}.png", np.rot90(astronaut_crop, i))
    argv = ["eval", "--images", str(folder), "--methods", "auto", "--crop", "48"]
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a Python warning reaching the user fails the test
        assert main([*argv, "--noise", "gaussian:25", "--out", str(tmp_path / "r")]) == 0
    err = capsys.readouterr().err.splitlines()
    said = [line for line in err if " cells, " not in line]  # not the progress lines
    assert said == ["n2n: note: auto chose pretrained: 2 cell(s)"]
    assert [line.split(",")[0] for line in err if line not in said] == ["4/4 cells"]


def test_unknown_set_and_method(tmp_path):
    with pytest.raises(ValueError, match="known image set"):
        image_set_paths("nope")
    with pytest.raises(ValueError, match="unknown method"):
        run_evaluation([str(tmp_path)], ["gaussian:25"], ["magic"], tmp_path / "o")


def test_center_crop():
    a = np.arange(100).reshape(10, 10)
    np.testing.assert_array_equal(center_crop(a, 4), a[3:7, 3:7])
    assert center_crop(a, 20).shape == (10, 10)


def test_a_limit_takes_the_first_images_of_each_set_and_reads_no_more(tmp_path):
    """`n2n eval --images kodak24 cbsd68 --limit 1` measured one image, kodak24's, having
    read all 92 to keep it."""
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        for i in range(2):
            write_image(tmp_path / folder / f"{i}.png", np.full((16, 16), 50 * i, np.uint8))
        (tmp_path / folder / "2.png").write_bytes(b"not an image")  # never read
    images = load_image_set([tmp_path / "a", tmp_path / "b"], limit=2)
    assert [name for name, _ in images] == ["a/0", "a/1", "b/0", "b/1"]


def test_images_smaller_than_the_crop_are_said(tmp_path, caplog):
    """An image smaller than `--crop` was measured whole without a word, its PSNR averaged
    with the others' of the crop's size."""
    write_image(tmp_path / "big.png", np.full((64, 64), 100, np.uint8))
    write_image(tmp_path / "small.png", np.full((40, 80), 100, np.uint8))
    with caplog.at_level("INFO", logger="noise2noise"):
        images = load_image_set([tmp_path], crop=48)
    assert [i.shape for _, i in images] == [(48, 48), (40, 48)]
    assert "1 image(s) smaller than the 48×48 crop, taken as large as they are (small.png)" in (
        caplog.text
    )


def test_an_images_alpha_is_left_out_of_what_is_noised_and_measured(
    tmp_path, caplog, astronaut_crop
):
    """A PNG with an (opaque) alpha channel got noise in its alpha too, which no method
    takes away: PSNR 28.5 dB where the same picture without alpha had 35.2."""
    opaque = np.full(astronaut_crop.shape[:2] + (1,), 255, np.uint8)
    write_image(tmp_path / "rgba.png", np.concatenate([astronaut_crop, opaque], axis=2))
    write_image(tmp_path / "la.png", np.concatenate([astronaut_crop[..., :1], opaque], axis=2))
    with caplog.at_level("INFO", logger="noise2noise"):
        images = dict(load_image_set([tmp_path]))
    np.testing.assert_array_equal(images["rgba"], astronaut_crop)
    np.testing.assert_array_equal(images["la"].squeeze(), astronaut_crop[..., 0])
    assert "alpha of la.png, rgba.png left out" in caplog.text


def test_the_summarys_two_tables_agree_to_the_last_digit(tmp_path):
    """The details table rounded the CSV's rounded values again: 14.545 became 14.54
    there and 14.55 in the table above it."""
    from noise2noise.evaluation import CellResult
    from noise2noise.summary import write_summary

    psnrs = [20.0, 34.545]  # mean ± 2·std: 27.2725 ± 14.545000000000002
    results = [CellResult(f"i{k}", "gaussian:25", "m", v, 0.5, 1.0) for k, v in enumerate(psnrs)]
    _, md = write_summary(results, tmp_path)
    lines = md.read_text(encoding="utf-8").splitlines()
    pivot = next(line for line in lines if line.startswith("| m |")).split(" | ")[1]
    details = next(line for line in lines if line.startswith("| gaussian:25 | m |"))
    assert pivot.strip(" |") in details


def test_report_test_set_is_kodak_then_26_cbsd68(data_dir):
    files, crop = image_set_paths("test50", data_dir)
    assert crop == 256 and len(files) == 50
    assert [f.parent.name for f in files] == ["kodak24"] * 24 + ["cbsd68"] * 26
    assert files[:24] == sorted(files[:24]) and files[24:] == sorted(files[24:])
    images = load_image_set(["test50"], limit=2, data_root=data_dir)
    assert images[0][1].shape == (256, 256, 3)


class _BatchedBlur:
    """A method with a batched form (as ZS-N2N has on a GPU), recording its calls."""

    def __init__(self, release=None):
        self.single, self.batches, self.release = 0, [], release  # a lock to remove

    def __call__(self, noisy, noise):
        self.single += 1
        return _box_blur(noisy, noise)

    def batched(self, noisies, noise):
        if isinstance(noise, Poisson):
            return None  # does not apply: the cells are left out
        self.batches.append((noise.name, len(noisies)))
        if self.release is not None:
            self.release.unlink(missing_ok=True)
        return [_box_blur(n, noise) for n in noisies]


def test_a_batched_method_gets_groups_and_gives_the_same_cells(tmp_path, images):
    noises = [Gaussian(25), Gaussian(50), Poisson(20)]

    def gaussian_only(noisy, noise):  # as _BatchedBlur, one image at a time
        return None if isinstance(noise, Poisson) else _box_blur(noisy, noise)

    alone = evaluate(images, noises, {"blur": gaussian_only}, csv_path=tmp_path / "a.csv",
                     progress=False)  # fmt: skip
    method = _BatchedBlur()
    more = [*images, ("astro2", images[0][1][::-1].copy())]
    together = evaluate(more, noises, {"blur": method}, csv_path=tmp_path / "b.csv",
                        progress=False, group_size=2)  # fmt: skip
    # Per noise, groups of at most 2 images; the one-image form is never called.
    assert method.batches == [("gaussian:25", 2), ("gaussian:25", 1), ("gaussian:50", 2),
                              ("gaussian:50", 1)]  # fmt: skip
    assert method.single == 0
    key = lambda r: (r.image, r.noise, r.method)  # noqa: E731
    expected = {key(r): r.psnr for r in alone}
    got = {key(r): r.psnr for r in together if r.image != "astro2"}
    assert got == expected  # Poisson blur cells left out in both
    assert ("astro2", "gaussian:50", "blur") in {key(r) for r in together}
    # Resumed: nothing is computed again.
    again = _BatchedBlur()
    evaluate(more, noises, {"blur": again}, csv_path=tmp_path / "b.csv", progress=False)
    assert again.batches == [] and again.single == 0


def test_a_batched_method_leaves_claimed_cells_to_their_process(tmp_path, images):
    locks = tmp_path / "locks"
    locks.mkdir()
    (locks / "astro-gaussian25.lock").write_text(str(os.getppid()))  # alive, not us
    method = _BatchedBlur(release=locks / "astro-gaussian25.lock")  # after its first batch
    results = evaluate(images, [Gaussian(25)], {"blur": method}, csv_path=tmp_path / "r.csv",
                       progress=False, shared=True, poll=0.01)  # fmt: skip
    assert method.batches == [("gaussian:25", 1), ("gaussian:25", 1)]  # gray, then astro
    assert {(r.image, r.method) for r in results} == {
        (image, method) for image in ("astro", "gray") for method in ("noisy", "blur")
    }
    assert list(locks.iterdir()) == []


def test_zeroshot_is_batched_in_evaluations_only_on_a_gpu():
    from noise2noise.denoisers import NoiseAwareDenoiser

    assert NoiseAwareDenoiser("zeroshot", {"device": "cpu"}).batched is None
    assert NoiseAwareDenoiser("zeroshot", {}).batched is None
    assert NoiseAwareDenoiser("bm3d", {}).batched is None
