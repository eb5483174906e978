"""`n2n compare` and noise2noise.comparison: result images measured against references."""

import csv
import math
import re
from pathlib import Path

import numpy as np
import pytest

from noise2noise import write_image
from noise2noise.cli import main
from noise2noise.comparison import compare_files, compare_images, pair_by_name
from noise2noise.errors import N2NError


def test_psnr_is_on_each_images_own_bit_depth_and_alpha_is_left_out(astronaut_crop):
    shifted = astronaut_crop.astype(np.int16) + np.where(astronaut_crop < 128, 5, -5)
    shifted = shifted.astype(np.uint8)  # every pixel 5 levels off: 20·log10(255 / 5)
    value, quality = compare_images(shifted, astronaut_crop)
    assert value == pytest.approx(20 * math.log10(255 / 5), abs=1e-9)
    assert 0 < quality < 1
    as_16_bit = astronaut_crop.astype(np.uint16) * 257  # the same image on 0-65535
    assert compare_images(as_16_bit, astronaut_crop) == (math.inf, 1.0)
    alpha = np.dstack([astronaut_crop, np.zeros((64, 64), np.uint8)])
    assert compare_images(alpha, astronaut_crop) == (math.inf, 1.0)
    tiny = compare_images(np.zeros((4, 4), np.uint8), np.full((4, 4), 51, np.uint8))
    assert tiny[0] == pytest.approx(20 * math.log10(5)) and math.isnan(tiny[1])


def test_float_data_in_other_units_are_measured_on_the_references_range(camera_crop):
    """A float TIFF in physical units against its reference: PSNR on the reference's range
    (it was a meaningless large negative number, the data taken as if in [0, 1])."""
    reference = camera_crop.astype(np.float32) * 4 - 300
    reference[0, :2] = -300, 720  # spans [-300, 720]: 1020 wide
    result = reference + np.where(camera_crop < 128, 10.2, -10.2).astype(np.float32)
    value, quality = compare_images(result, reference)
    assert value == pytest.approx(20 * math.log10(1020 / 10.2), abs=1e-3)  # 40 dB
    assert 0 < quality < 1
    with pytest.raises(N2NError, match="other units than \\[0, 1\\] and the image is uint8"):
        compare_images(camera_crop, reference)


def test_images_that_do_not_match_say_how(astronaut_crop):
    with pytest.raises(N2NError, match=r"64×32 with 3 colour channels and its reference 64×64"):
        compare_images(astronaut_crop[:32], astronaut_crop)
    with pytest.raises(N2NError, match="64×64 gray and its reference 64×64 with 3 colour channels"):
        compare_images(astronaut_crop[..., 0], astronaut_crop)


def test_folders_pair_by_name_whatever_the_extension(tmp_path, astronaut_crop):
    results, references = tmp_path / "results", tmp_path / "references"
    for folder, names in (
        (results, ["a.png", "b.png", "odd.png"]),
        (references, ["a.tif", "b.png"]),
    ):
        folder.mkdir()
        for name in names:
            write_image(folder / name, astronaut_crop)
    pairs, unmatched = pair_by_name(results, references)
    assert [(r.name, ref.name) for r, ref in pairs] == [("a.png", "a.tif"), ("b.png", "b.png")]
    assert [p.name for p in unmatched] == ["odd.png"]
    assert [m.psnr for m in compare_files(pairs)] == [math.inf, math.inf]
    with pytest.raises(N2NError, match="give two files or two folders"):
        pair_by_name(results, references / "b.png")
    with pytest.raises(N2NError, match="no image has the same name"):
        pair_by_name(results, tmp_path)
    with pytest.raises(N2NError, match="no such file or folder"):
        pair_by_name(tmp_path / "none", references)


def test_a_reference_in_two_formats_is_taken_by_extension_or_refused(tmp_path, astronaut_crop):
    results, references = tmp_path / "results", tmp_path / "references"
    results.mkdir(), references.mkdir()
    for path in (results / "a.png", references / "a.png", references / "a.tif"):
        write_image(path, astronaut_crop)
    pairs, _ = pair_by_name(results, references)
    assert [(r.name, ref.name) for r, ref in pairs] == [("a.png", "a.png")]
    (results / "a.png").rename(results / "a.jpg")
    with pytest.raises(N2NError, match="a.png and a.tif could each be the reference of a.jpg"):
        pair_by_name(results, references)


def test_the_command_prints_each_image_the_mean_and_writes_the_table(
    tmp_path, astronaut_crop, capsys
):
    rng = np.random.default_rng(0)
    results, references = tmp_path / "results", tmp_path / "references"
    results.mkdir()
    references.mkdir()
    for name in ("a", "b"):
        write_image(references / f"{name}.png", astronaut_crop)
        noisy = np.clip(astronaut_crop + rng.normal(0, 10, astronaut_crop.shape), 0, 255)
        write_image(results / f"{name}.png", noisy.astype(np.uint8))
    table = tmp_path / "t.csv"
    assert main(["compare", str(results), str(references), "--csv", str(table)]) == 0
    out = capsys.readouterr().out
    with open(table, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [row["result"] for row in rows] == [str(results / "a.png"), str(results / "b.png")]
    printed = {line.split()[0]: float(line.split()[1]) for line in out.splitlines()[1:3]}
    for row in rows:
        assert 27 < float(row["psnr"]) < 30  # sigma 10 on 0-255: about 28 dB before clipping
        name = Path(row["result"]).name
        assert printed[name] == pytest.approx(float(row["psnr"]), abs=0.006)
    assert "mean ± 2·std over 2 images: PSNR " in out
    assert main(["compare", str(results / "a.png"), str(references / "a.png")]) == 0
    assert f"PSNR {printed['a.png']:.2f} dB, SSIM" in capsys.readouterr().out
    assert main(["compare", str(results), str(references), "--csv", str(results / "x.png")]) == 2
    assert "must end in .csv" in capsys.readouterr().err
    assert main(["compare", str(results), str(references), "--csv", str(table)]) == 0  # ours
    (tmp_path / "sheet.csv").write_text("name,score\nalice,3\n", encoding="utf-8")
    sheet = ["compare", str(results), str(references), "--csv", str(tmp_path / "sheet.csv")]
    assert main(sheet) == 2
    assert "sheet.csv: exists and is not an earlier n2n compare table" in capsys.readouterr().err
    assert (tmp_path / "sheet.csv").read_text(encoding="utf-8") == "name,score\nalice,3\n"
    (results / "b.png").unlink()  # a folder of one: its row, no 'mean ± 2·std over 1 images'
    assert main(["compare", str(results), str(references)]) == 0
    out = capsys.readouterr().out
    assert f"{printed['a.png']:.2f}" in out and "std" not in out


def test_names_pairs_noisy_shots_with_their_averages_in_one_folder(
    tmp_path, astronaut_crop, capsys
):
    for stem in ("x_real", "x_mean", "y_real", "y_mean", "z_real"):
        write_image(tmp_path / f"{stem}.JPG", astronaut_crop)
    pairs, unmatched = pair_by_name(tmp_path, tmp_path, rename=("_real", "_mean"))
    assert [(r.name, ref.name) for r, ref in pairs] == [
        ("x_real.JPG", "x_mean.JPG"),
        ("y_real.JPG", "y_mean.JPG"),
    ]
    assert [p.name for p in unmatched] == ["z_real.JPG"]
    with pytest.raises(N2NError, match="no image with '_noisy' in its name has one with '_mean'"):
        pair_by_name(tmp_path, tmp_path, rename=("_noisy", "_mean"))
    assert main(["compare", str(tmp_path), str(tmp_path), "--names", "_real:_mean"]) == 0
    said = capsys.readouterr()
    assert "over 2 images: PSNR inf dB (all identical), SSIM 1.0000 ± 0.0000" in said.out
    assert "n2n: note: no reference found for z_real.JPG" in said.err
    write_image(tmp_path / "y_mean.JPG", astronaut_crop[::-1], overwrite=True)
    assert main(["compare", str(tmp_path), str(tmp_path), "--names", "_real:_mean"]) == 0
    assert re.search(r"PSNR [0-9.]+ ± 0\.00 dB \(1 identical\), SSIM", capsys.readouterr().out)
    one_pair = [str(tmp_path / "x_real.JPG"), str(tmp_path / "x_mean.JPG")]
    assert main(["compare", *one_pair, "--names", "_real:_mean"]) == 2
    assert "--names pairs the images of folders" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        main(["compare", str(tmp_path), str(tmp_path), "--names", "_real"])
    assert "give OLD:NEW" in capsys.readouterr().err


def test_stacks_are_measured_plane_by_plane_on_their_pooled_error(tmp_path, astronaut_crop):
    import tifffile

    from noise2noise.image_io import ImageFileError, StackPlanes

    truth = np.full((2, 16, 16), 30000, np.uint16)
    result = truth.copy()
    result[0] += 655  # plane 0 off by 655 levels, plane 1 exact
    for name, stack in (("result.tif", result), ("truth.tif", truth)):
        tifffile.imwrite(tmp_path / name, stack, imagej=True, metadata={"axes": "ZYX"})
    pairs = [(tmp_path / "result.tif", tmp_path / "truth.tif")]
    (measured,) = compare_files(pairs)
    error = (655 / 65535) ** 2 / 2  # the mean over both planes' pixels
    assert measured.psnr == pytest.approx(-10 * math.log10(error), abs=1e-9)
    assert measured.ssim == pytest.approx((compare_images(result[0], truth[0])[1] + 1) / 2)
    tifffile.imwrite(tmp_path / "three.tif", np.zeros((3, 16, 16), np.uint16), imagej=True)
    with pytest.raises(N2NError, match="three.tif: 3 planes and its reference 2"):
        compare_files([(tmp_path / "three.tif", tmp_path / "truth.tif")])
    png = write_image(tmp_path / "one.png", astronaut_crop)
    with pytest.raises(N2NError, match="truth.tif is a stack and .*one.png a single image"):
        compare_files([(png, tmp_path / "truth.tif")])
    with pytest.raises(ImageFileError, match="one.png: not a TIFF stack"):
        StackPlanes(png)
