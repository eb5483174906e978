"""The n2n command as a user meets it: files, folders, bad input, help."""

import os
import sys
from pathlib import Path

import numpy as np
import pytest

from noise2noise import read_image, write_image
from noise2noise.cli import build_parser, main
from noise2noise.errors import N2NError

FAST = ["--method", "zeroshot", "--iterations", "3"]


@pytest.fixture
def photo(tmp_path, astronaut_crop):
    return write_image(tmp_path / "photo.png", astronaut_crop)


def test_denoise_one_file(tmp_path, photo, capsys):
    out = tmp_path / "clean.tif"
    assert main(["denoise", str(photo), "-o", str(out), *FAST]) == 0
    assert read_image(out).shape == read_image(photo).shape
    assert "wrote" in capsys.readouterr().out


def test_existing_output_needs_overwrite(tmp_path, photo, capsys):
    out = tmp_path / "clean.png"
    out.write_bytes(b"old")
    assert main(["denoise", str(photo), "-o", str(out), *FAST]) == 1
    assert "--overwrite" in capsys.readouterr().err
    assert out.read_bytes() == b"old"
    assert main(["denoise", str(photo), "-o", str(out), *FAST, "--overwrite"]) == 0
    assert read_image(out).dtype == np.uint8


def test_a_missing_input_is_said_before_an_existing_output(tmp_path, capsys):
    """A mistyped input name beside an output left from an earlier run was reported as
    'already exists (use --overwrite ...)': overwriting would not have helped."""
    out = tmp_path / "clean.png"
    out.write_bytes(b"old")
    assert main(["denoise", str(tmp_path / "phto.png"), "-o", str(out), *FAST]) == 1
    err = capsys.readouterr().err
    assert "phto.png: no such file" in err and "already exists" not in err
    assert out.read_bytes() == b"old"


def test_a_file_cannot_take_the_output_of_a_folder_or_of_several_files(tmp_path, photo, capsys):
    folder = tmp_path / "in"
    folder.mkdir()
    write_image(folder / "a.png", read_image(photo))
    out = write_image(tmp_path / "out.png", read_image(photo))
    assert main(["denoise", str(folder), "-o", str(out), *FAST]) == 2
    assert "output must be a folder when the input is a folder" in capsys.readouterr().err
    assert main(["denoise", str(photo), str(folder / "a.png"), "-o", str(out), *FAST]) == 2
    assert "output must be a folder when there are several inputs" in capsys.readouterr().err
    # not there yet: a folder named new.png was made, holding the results
    assert main(["denoise", str(photo), str(folder / "a.png"), "-o", str(tmp_path / "new.png")])
    assert "new.png: a file name, but there are several inputs" in capsys.readouterr().err
    assert main(["denoise", str(folder), "-o", str(tmp_path / "new.png"), *FAST]) == 2
    assert "new.png: a file name, but the input is a folder" in capsys.readouterr().err
    assert not (tmp_path / "new.png").exists()
    assert main(["denoise", str(folder), "-o", str(tmp_path / "new.png") + "/", *FAST]) == 0
    assert (tmp_path / "new.png" / "a.png").is_file()  # asked for as a folder: one


def test_recursive_runs_keep_the_tree_and_never_take_their_own_results(tmp_path, photo, capsys):
    tree = tmp_path / "shoot"
    for where in ["top.png", "day1/a.png", "day1/evening/b.png", ".cache/c.png"]:
        (tree / where).parent.mkdir(parents=True, exist_ok=True)
        write_image(tree / where, read_image(photo))
    assert main(["denoise", str(tree), *FAST]) == 0  # without -r: the top folder only
    assert [p.name for p in (tmp_path / "shoot_denoised").iterdir()] == ["top.png"]
    out = tree / "clean"  # inside the input: a second run must not denoise the results
    for _ in range(2):
        assert main(["denoise", str(tree), "-r", "-o", str(out), *FAST, "--skip-existing"]) == 0
        found = sorted(str(p.relative_to(out)) for p in out.rglob("*.png"))
        assert found == ["day1/a.png", "day1/evening/b.png", "top.png"]  # hidden left out
    (tmp_path / "nested" / "deeper").mkdir(parents=True)
    write_image(tmp_path / "nested" / "deeper" / "d.png", read_image(photo))
    assert main(["denoise", str(tmp_path / "nested"), *FAST]) == 2
    assert "--recursive takes its subfolders too" in capsys.readouterr().err


def test_an_output_ending_in_a_slash_is_a_folder_even_for_one_file(tmp_path, photo, capsys):
    assert main(["denoise", str(photo), "-o", str(tmp_path / "new") + "/", *FAST]) == 0
    assert [p.name for p in (tmp_path / "new").iterdir()] == ["photo.png"]
    assert main(["denoise", str(photo), "-o", str(tmp_path / "noext"), *FAST]) == 2
    assert "for a folder, end the name with /" in capsys.readouterr().err


def test_input_is_never_overwritten(tmp_path, photo, capsys):
    before = photo.read_bytes()
    assert main(["denoise", str(photo), "-o", str(photo), *FAST, "--overwrite"]) == 2
    assert "overwrite an input" in capsys.readouterr().err
    assert photo.read_bytes() == before
    assert main(["denoise", str(tmp_path), "-o", str(tmp_path), *FAST, "--overwrite"]) == 2
    assert photo.read_bytes() == before


def test_a_result_beside_its_input_keeps_an_ome_tiffs_double_extension(tmp_path):
    from noise2noise.batch import plan_outputs

    names = ["cells.ome.tif", "B.OME.TIFF", "scan.v2.png", "plain.tif"]
    for name in names:
        (tmp_path / name).write_bytes(b"x")
    beside = [dst.name for _, dst in plan_outputs([tmp_path / n for n in names], None)]
    assert beside == [
        "cells_denoised.ome.tif",  # Fiji and Bio-Formats know OME-TIFF by ".ome.tif"
        "B_denoised.OME.TIFF",
        "scan.v2_denoised.png",
        "plain_denoised.tif",
    ]


def test_without_an_output_results_go_beside_the_inputs_and_replace_nothing(
    tmp_path, photo, capsys
):
    before = photo.read_bytes()
    assert main(["denoise", str(photo), *FAST]) == 0
    assert f"wrote {tmp_path / 'photo_denoised.png'}" in capsys.readouterr().out
    assert read_image(tmp_path / "photo_denoised.png").shape == read_image(photo).shape
    assert photo.read_bytes() == before
    assert main(["denoise", str(photo), *FAST]) == 1  # a second run replaces nothing
    assert "--overwrite" in capsys.readouterr().err
    folder = tmp_path / "scans"
    folder.mkdir()
    write_image(folder / "a.png", read_image(photo))
    assert main(["add-noise", str(folder), "--gaussian", "5"]) == 0
    assert [p.name for p in (tmp_path / "scans_noisy").iterdir()] == ["a.png"]
    assert sorted(p.name for p in folder.iterdir()) == ["a.png"]
    assert main(["denoise", str(tmp_path / "big.zarr")]) == 2  # a zarr store: big_denoised.zarr
    assert "big.zarr: no such zarr store" in capsys.readouterr().err


def test_folder_run_continues_past_bad_files(tmp_path, astronaut_crop, camera_crop, capsys):
    src = tmp_path / "in"
    src.mkdir()
    write_image(src / "a.png", astronaut_crop)
    write_image(src / "b.tif", (camera_crop.astype(np.uint16) * 257))
    (src / "broken.png").write_bytes(b"this is text")
    (src / "empty.jpg").write_bytes(b"")
    (src / "tiny.png").write_bytes(
        write_image(tmp_path / "t.png", camera_crop[:4, :4]).read_bytes()
    )
    dst = tmp_path / "out"
    code = main(["denoise", str(src), "-o", str(dst), *FAST, "--workers", "1"])
    captured = capsys.readouterr()
    assert code == 1
    assert sorted(p.name for p in dst.iterdir()) == ["a.png", "b.tif"]
    assert read_image(dst / "b.tif").dtype == np.uint16
    assert "2 of 5 images denoised" in captured.out
    for name, problem in [
        ("broken.png", "not a readable image"),
        ("empty.jpg", "empty file"),
        ("tiny.png", "at least 8×8"),
    ]:
        assert any(name in line and problem in line for line in captured.err.splitlines())
    assert "Traceback" not in captured.err


def test_folder_run_with_two_workers(tmp_path, astronaut_crop, capsys, monkeypatch):
    src = tmp_path / "in"
    src.mkdir()
    for i in range(3):
        write_image(src / f"{i}.png", np.roll(astronaut_crop, i, axis=0))
    assert main(["denoise", str(src), "-o", str(tmp_path / "out"), *FAST, "--workers", "2"]) == 0
    assert len(list((tmp_path / "out").iterdir())) == 3
    assert "workers on" not in capsys.readouterr().err
    # more workers than cores: said (each holds a network; 8 on 2 cores took 9.0 s for
    # 3 images where the default took 5.4)
    monkeypatch.setattr("noise2noise.cli.denoise.usable_cpus", lambda: 1)
    assert main(["denoise", str(src), "-o", str(tmp_path / "more"), *FAST, "--workers", "2"]) == 0
    assert "n2n: note: 2 workers on 1 usable core: each takes memory" in capsys.readouterr().err


def test_outputs_that_exist_are_refused_before_any_worker_starts(tmp_path, astronaut_crop):
    """Running a folder again without --overwrite or --skip-existing started the workers
    (seconds each: torch) to refuse every file one by one."""
    from noise2noise.batch import plan_outputs, process_files

    for folder in ("in", "out"):
        (tmp_path / folder).mkdir()
        for i in range(3):
            write_image(tmp_path / folder / f"{i}.png", astronaut_crop)
    src = tmp_path / "in"
    pairs = plan_outputs([src], tmp_path / "out")
    results = process_files(pairs, lambda image: 1 / 0, workers=2, progress=False)
    assert all("already exists" in r.error and r.seconds == 0.0 for r in results)


def test_outputs_of_an_earlier_run_are_said_in_one_line_with_the_way_on(tmp_path, capsys):
    """A folder run again said 'already exists (use --overwrite to replace it)' once per
    file, hundreds of lines, and never --skip-existing, which continues a run."""
    for folder in ("in", "out"):
        (tmp_path / folder).mkdir()
        for i in range(4):
            write_image(tmp_path / folder / f"{i}.png", np.full((16, 16), 9 * i, np.uint8))
    (tmp_path / "in" / "4.png").write_text("not an image")
    for quiet in ([], ["-q"]):
        code = main(["denoise", str(tmp_path / "in"), "-o", str(tmp_path / "out"), *quiet])
        errors = [e for e in capsys.readouterr().err.splitlines() if e.startswith("n2n: error")]
        assert code == 1 and len(errors) == 2, errors
        assert errors[0].startswith("n2n: error: 4 outputs already exist (")
        assert "3.png" not in errors[0] and "and 1 more" in errors[0]
        assert "--skip-existing leaves them as they are and does the rest" in errors[0]
        assert "4.png: not a readable image" in errors[1]


def test_quiet_says_errors_only(tmp_path, photo, astronaut_crop, capsys):
    # For scripts: no progress, notes or summary; the errors and the exit status stay.
    folder = tmp_path / "in"
    folder.mkdir()
    write_image(folder / "a.png", astronaut_crop[..., 0])  # a grayscale one: notes
    (folder / "bad.png").write_text("not an image")
    assert main(["denoise", str(photo), "-o", str(tmp_path / "one.png"), "-q"]) == 0
    assert capsys.readouterr() == ("", "")
    assert (tmp_path / "one.png").exists()
    assert main(["denoise", str(folder), "-o", str(tmp_path / "out"), "--quiet"]) == 1
    out, err = capsys.readouterr()
    assert out == "" and err.splitlines() == [line for line in err.splitlines() if "error" in line]
    assert len(err.splitlines()) == 1 and "bad.png" in err
    assert (tmp_path / "out" / "a.png").exists()
    assert (
        main(["add-noise", str(photo), "-o", str(tmp_path / "n.jpg"), "--gaussian", "5", "-q"]) == 0
    )
    assert capsys.readouterr() == ("", "")  # not even the note on JPEG outputs


def test_folder_without_images(tmp_path, capsys):
    (tmp_path / "notes.txt").write_text("x")
    assert main(["denoise", str(tmp_path), "-o", str(tmp_path / "out")]) == 2
    assert "no images" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["missing.png", "notes.xyz"])
def test_bad_single_input_is_one_line_error(tmp_path, name, capsys):
    if name.endswith(".xyz"):
        (tmp_path / name).write_text("x")
    assert main(["denoise", str(tmp_path / name), "-o", str(tmp_path / "o.png")]) == 1
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and name in err
    assert not (tmp_path / "o.png").exists()


def test_add_noise_is_seeded_and_keeps_alpha(tmp_path, astronaut_crop):
    rgba = np.dstack([astronaut_crop, np.full(astronaut_crop.shape[:2], 77, np.uint8)])
    src = write_image(tmp_path / "rgba.png", rgba)
    for name in ["a.png", "b.png"]:
        assert main(["add-noise", str(src), "-o", str(tmp_path / name), "--gaussian", "25"]) == 0
    a, b = read_image(tmp_path / "a.png"), read_image(tmp_path / "b.png")
    np.testing.assert_array_equal(a, b)
    assert (a[..., 3] == 77).all() and not np.array_equal(a[..., :3], astronaut_crop)


def test_add_noise_to_a_jpeg_says_the_compression_changes_the_noise(tmp_path, photo, capsys):
    """The noise of an evaluation set made with add-noise must be what was asked for; a
    JPEG output changes it (without a word before)."""
    assert main(["add-noise", str(photo), "-o", str(tmp_path / "n.png"), "--gaussian", "25"]) == 0
    assert "compressed with loss" not in capsys.readouterr().err
    assert main(["add-noise", str(photo), "-o", str(tmp_path / "n.jpg"), "--gaussian", "25"]) == 0
    assert "n2n: note: .jpg outputs are compressed with loss" in capsys.readouterr().err


def test_add_noise_unclipped_keeps_float_values_beyond_0_and_1(tmp_path, photo, capsys):
    """The literature's protocol (zero-mean noise at black and white) could not be made
    from the command line: the noise was always clipped."""
    import tifffile

    ramp = np.linspace(0, 1, 64 * 64, dtype=np.float32).reshape(64, 64)
    tifffile.imwrite(tmp_path / "ramp.tif", ramp)
    args = ["add-noise", str(tmp_path / "ramp.tif"), "--gaussian", "50"]
    assert main([*args, "-o", str(tmp_path / "clipped.tif")]) == 0
    assert main([*args, "-o", str(tmp_path / "raw.tif"), "--unclipped"]) == 0
    clipped, raw = (tifffile.imread(tmp_path / f"{n}.tif") for n in ("clipped", "raw"))
    assert clipped.min() == 0 and clipped.max() == 1
    assert raw.dtype == np.float32 and raw.min() < -0.3 and raw.max() > 1.3
    assert abs(float((raw - ramp).mean())) < 0.01  # zero-mean noise
    capsys.readouterr()
    # An 8-bit clean image (the literature's test sets) into a float TIFF: it was refused
    # ('needs float data'), so the protocol needed a conversion first
    argv = ["add-noise", str(photo), "--gaussian", "50", "--unclipped"]
    assert main([*argv, "-o", str(tmp_path / "n.tif")]) == 0
    assert "uint8 values written as float32 in [0, 1]" in capsys.readouterr().err
    noisy, clean = read_image(tmp_path / "n.tif"), read_image(photo) / 255
    assert noisy.dtype == np.float32 and noisy.min() < -0.2 and noisy.max() > 1.2
    assert abs(float((noisy - clean).mean())) < 0.01  # zero-mean, black and white too
    assert main([*argv, "-o", str(tmp_path / "n.png")]) == 2  # said before any work
    assert "which only TIFF holds: give .tif outputs (not .png)" in capsys.readouterr().err
    assert not (tmp_path / "n.png").exists()


def test_add_noise_needs_exactly_one_level(tmp_path, photo):
    with pytest.raises(SystemExit):
        main(["add-noise", str(photo), "-o", str(tmp_path / "n.png")])
    with pytest.raises(SystemExit):
        main(["add-noise", str(photo), "-o", str(tmp_path / "n.png"), "--gaussian", "-3"])


def test_demo_writes_its_images_and_reports_psnr(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "zs"), "--size", "64", *FAST]) == 0
    assert main(["demo", "--out", str(tmp_path), "--size", "64"]) == 0
    out = capsys.readouterr().out
    assert "PSNR noisy" in out and "PSNR denoised" in out
    for name in ["clean", "noisy", "denoised", "comparison"]:
        assert (tmp_path / f"{name}.png").is_file()
    assert read_image(tmp_path / "comparison.png").shape == (64, 64 * 3 + 16, 3)
    assert main(["demo", "--out", str(tmp_path), "--size", "32"]) == 0  # its own: replaced
    assert read_image(tmp_path / "clean.png").shape == (32, 32, 3)
    (tmp_path / ".n2n-demo").unlink()  # a demo folder of a version before the mark
    assert main(["demo", "--out", str(tmp_path), "--size", "48"]) == 0
    # A user's files of the same names (`n2n demo --out ~/Pictures`) were overwritten
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "noisy.png").write_bytes(b"a user's photo")
    assert main(["demo", "--out", str(tmp_path / "mine"), "--size", "32"]) == 2
    assert "noisy.png: exists and is not an earlier demo's output" in capsys.readouterr().err
    assert (tmp_path / "mine" / "noisy.png").read_bytes() == b"a user's photo"
    assert [p.name for p in (tmp_path / "mine").iterdir()] == ["noisy.png"]
    capsys.readouterr()
    assert main(["demo", "--out", str(tmp_path / "big"), "--size", "600"]) == 2
    said = capsys.readouterr()
    assert "crop of a 512×512 photo: 8-512, got 600" in said.err and not said.out  # was 44×44


def test_demo_runs_on_the_device_asked_for(tmp_path, capsys, device):
    """The one command without `--device`: the built-in example ran on the CPU on a GPU
    machine, and did not say where."""
    assert main(["demo", "--out", str(tmp_path), "--size", "32", "--device", str(device)]) == 0
    assert f"with pretrained on {device}" in capsys.readouterr().out


def test_plain_n2n_lists_the_commands_and_python_m_noise2noise_runs_it(capsys):
    import subprocess

    assert main([]) == 2
    err = capsys.readouterr().err
    assert all(name in err for name in ("denoise", "train", "reproduce", "examples:"))
    proc = subprocess.run(
        [sys.executable, "-m", "noise2noise", "--version"], capture_output=True, text=True
    )
    assert proc.returncode == 0 and proc.stdout.startswith("n2n "), proc.stderr


def test_every_command_has_help_with_an_example():
    parser = build_parser()
    subparsers = next(a for a in parser._actions if a.dest == "command").choices
    for name, sub in subparsers.items():
        text = sub.format_help()
        assert "example" in text and f"n2n {name}" in text, name
        # argparse %-formats the help of options but not a description or an epilog
        assert "%%" not in text and "%(" not in text, name


def test_bm3ds_estimated_sigma_is_said_for_each_file_of_a_folder(tmp_path, camera_crop, capsys):
    # It was logged: in a folder run (worker processes) never said, for one image said
    # without its name, for a stack once a plane.
    pytest.importorskip("bm3d")
    import tifffile

    from noise2noise import add_noise

    folder = tmp_path / "in"
    folder.mkdir()
    for i, sigma in enumerate((10, 30)):
        write_image(folder / f"n{i}.png", add_noise(camera_crop, f"gaussian:{sigma}", seed=i))
    assert main(["denoise", str(folder), "-o", str(tmp_path / "out"), "--method", "bm3d"]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "estimated" in line]
    assert [line.split(":")[2].strip() for line in notes] == ["n0.png", "n1.png"]
    stack = np.stack([add_noise(camera_crop, f"gaussian:{s}", seed=s) for s in (10, 20, 30)])
    tifffile.imwrite(tmp_path / "stack.tif", stack, photometric="minisblack")
    assert main(["denoise", str(tmp_path / "stack.tif"), "--method", "bm3d"]) == 0
    notes = [line for line in capsys.readouterr().err.splitlines() if "estimated" in line]
    assert len(notes) == 1 and "estimated for each of 3 planes:" in notes[0]


def test_denoise_with_bm3d_and_ansc(tmp_path, photo, capsys):
    pytest.importorskip("bm3d")
    assert main(["denoise", str(photo), "-o", str(tmp_path / "b.png"), "--method", "bm3d"]) == 0
    assert main(["denoise", str(photo), "-o", str(tmp_path / "a.png"), "--method", "ansc"]) == 2
    assert "--peak" in capsys.readouterr().err
    assert (
        main(
            [
                "denoise",
                str(photo),
                "-o",
                str(tmp_path / "a.png"),
                "--method",
                "ansc",
                "--peak",
                "25",
            ]
        )
        == 0
    )


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG is Linux's")
def test_workers_die_with_a_killed_parent():
    import signal
    import subprocess
    import time

    child = (
        "from noise2noise.batch import die_with_parent; die_with_parent(); "
        "print('ready', flush=True); import time; time.sleep(60)"
    )
    parent = (
        "import subprocess, sys, time; "
        f"c = subprocess.Popen([sys.executable, '-c', {child!r}], stdout=subprocess.PIPE, "
        "text=True); c.stdout.readline(); print(c.pid, flush=True); time.sleep(60)"
    )
    proc = subprocess.Popen([sys.executable, "-c", parent], stdout=subprocess.PIPE, text=True)
    worker = int(proc.stdout.readline())
    proc.send_signal(signal.SIGKILL)
    proc.wait()

    def alive(pid):
        try:
            state = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return False
        return state != "Z"

    deadline = time.time() + 10
    while alive(worker) and time.time() < deadline:
        time.sleep(0.05)
    assert not alive(worker)


def test_denoise_a_tiff_stack_plane_by_plane(tmp_path, camera_crop, capsys):
    import tifffile

    from noise2noise import add_noise, denoise_image, psnr

    clean = np.stack([camera_crop, camera_crop[::-1], camera_crop.T]).astype(np.uint16) * 257
    noisy = np.stack([add_noise(p, "gaussian:25", seed=i) for i, p in enumerate(clean)])
    stack = tmp_path / "stack.tif"
    tifffile.imwrite(stack, noisy, photometric="minisblack", metadata={"axes": "ZYX"})
    out = tmp_path / "clean.tif"
    assert (
        main(["denoise", str(stack), "-o", str(out), "--method", "zeroshot", "--iterations", "100"])
        == 0
    )
    with tifffile.TiffFile(out) as tif:
        assert tif.series[0].axes == "ZYX"
        result = tif.asarray()
    assert result.shape == noisy.shape and result.dtype == np.uint16
    for i in range(3):  # each plane denoised on its own, exactly as a single image would be
        alone = denoise_image(noisy[i], "zeroshot", iterations=100, seed=0)
        assert np.array_equal(result[i], alone)
        assert psnr(result[i], clean[i]) > psnr(noisy[i], clean[i]) + 2
    assert main(["denoise", str(stack), "-o", str(tmp_path / "clean.png")]) == 1
    assert "TIFF stack can only be written as .tif" in capsys.readouterr().err


def test_add_noise_gives_each_plane_of_a_stack_its_own_noise(tmp_path, camera_crop):
    import tifffile

    clean = np.stack([camera_crop] * 3)
    stack = tmp_path / "stack.tif"
    tifffile.imwrite(stack, clean, photometric="minisblack", metadata={"axes": "ZYX"})
    out = tmp_path / "noisy.tif"
    assert main(["add-noise", str(stack), "-o", str(out), "--gaussian", "25"]) == 0
    noisy = tifffile.imread(out).astype(int)
    noise = noisy - clean
    assert noise.std() > 15
    assert not np.array_equal(noise[0], noise[1]) and not np.array_equal(noise[1], noise[2])
    # plane 0 is noised exactly as the same image on its own, of the same name
    (tmp_path / "single").mkdir()
    single = write_image(tmp_path / "single" / "stack.png", camera_crop)
    assert main(["add-noise", str(single), "-o", str(tmp_path / "n.png"), "--gaussian", "25"]) == 0
    assert np.array_equal(read_image(tmp_path / "n.png"), noisy[0])


def test_add_noise_gives_each_file_its_own_noise_as_eval_draws_it(tmp_path, camera_crop):
    """Every file of a folder got the same noise (one seed for all): a burst of similar
    frames, or copies of a scene meant as independent shots, shared one noise pattern."""
    from noise2noise import Gaussian
    from noise2noise.evaluation import make_noisy

    (tmp_path / "clean").mkdir()
    for name in ("a", "b"):
        write_image(tmp_path / "clean" / f"{name}.png", camera_crop)
    assert (
        main(["add-noise", str(tmp_path / "clean"), "-o", f"{tmp_path}/noisy/", "--gaussian", "25"])
        == 0
    )
    a, b = (read_image(tmp_path / "noisy" / f"{n}.png").astype(int) for n in ("a", "b"))
    assert abs(np.corrcoef((a - camera_crop).ravel(), (b - camera_crop).ravel())[0, 1]) < 0.05
    # the noisy image `n2n eval` measures for an image of that name (whole, seed 0)
    _, drawn = make_noisy(camera_crop, Gaussian(25), seed=0, image_name="a")
    assert np.array_equal(a, np.rint(drawn[..., 0] * 255).astype(int))


def test_by_default_white_noise_gets_the_pretrained_model(tmp_path, astronaut_crop, capsys):
    from noise2noise import add_noise, psnr
    from noise2noise.runtime import cpu_bf16

    noisy = write_image(
        tmp_path / "noisy.png", add_noise(astronaut_crop, "gaussian:25", seed=0, channel_axis=-1)
    )
    out = tmp_path / "clean.png"
    assert main(["denoise", str(noisy), "-o", str(out)]) == 0
    said = capsys.readouterr()
    assert "auto on cpu" in said.out
    assert ("auto on cpu, bf16" in said.out) == cpu_bf16()  # the precision is said
    assert "noisy.png: auto chose pretrained (noise independent" in said.err
    assert psnr(read_image(out), astronaut_crop, data_range=255) > 28


def test_options_a_method_does_not_use_are_refused(tmp_path, photo, capsys):
    code = main(["denoise", str(photo), "-o", str(tmp_path / "o.png"), "--sigma", "25"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "does not use --sigma (it takes --device)" in err
    assert len(err.splitlines()) == 1 and not (tmp_path / "o.png").exists()
    argv = ["denoise", str(photo), "-o", str(tmp_path / "o.png"), "--method", "bm3d"]
    assert main([*argv, "--iterations", "9"]) == 2  # said in options, not parameter names
    assert "method 'bm3d' does not use --iterations (it takes --sigma)" in capsys.readouterr().err


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a CUDA GPU")
def test_missing_gpu_is_a_one_line_error(tmp_path, photo, capsys):
    code = main(["denoise", str(photo), "-o", str(tmp_path / "o.png"), "--device", "cuda"])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "no CUDA GPU" in err and len(err.splitlines()) == 1


def test_unsupported_output_format_is_refused_before_any_work(tmp_path, photo, capsys):
    target = tmp_path / "newdir" / "out.xyz"
    assert main(["denoise", str(photo), "-o", str(target)]) == 2
    assert "cannot write format" in capsys.readouterr().err
    assert not (tmp_path / "newdir").exists()


@pytest.mark.parametrize(
    "argv",
    [
        ["add-noise", "x.png", "-o", "y.png", "--poisson", "inf"],
        ["add-noise", "x.png", "-o", "y.png", "--gaussian", "nan"],
        ["eval", "--images", "x", "--crop", "-5", "--out", "r"],
    ],
)
def test_absurd_numbers_are_refused_at_parse_time(argv):
    with pytest.raises(SystemExit):
        main(argv)


def test_dask_is_not_imported_without_a_scheduler(tmp_path, photo):
    import subprocess
    import sys

    code = (
        "import sys; from noise2noise.cli import main; "
        f"main(['denoise', {str(photo)!r}, '-o', {str(tmp_path / 'o.png')!r}]); "
        "print(sorted(m for m in sys.modules "
        "if m.split('.')[0] in ('dask', 'distributed', 'zarr')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]"


def test_library_messages_name_parameters_and_the_cli_names_its_options():
    from noise2noise.cli.common import in_options

    assert in_options("x exists (use `overwrite=True`)") == "x exists (use --overwrite)"
    assert in_options("give `data_root` or N2N_DATA_ROOT") == "give --data-root or N2N_DATA_ROOT"
    assert in_options("unknown `thing` kept") == "unknown thing kept"


def test_reproduce_takes_its_budget_as_budget_or_preset():
    from noise2noise.cli import build_parser

    parser = build_parser()
    for option in ("--budget", "--preset"):
        args = parser.parse_args(["reproduce", "table1", option, "report", "--out", "x"])
        assert args.budget == "report"
    assert parser.parse_args(["reproduce", "table1", "--out", "x"]).budget == "cpu"


def test_wildcards_the_shell_left_are_expanded_and_urls_refused(tmp_path, astronaut_crop, capsys):
    # Windows shells, and any shell for a quoted pattern, pass "*.png" on as it is
    folder = tmp_path / "in"
    folder.mkdir()
    for name in ("a.png", "b.png", "c.jpg"):
        write_image(folder / name, astronaut_crop)
    out = tmp_path / "out"
    args = ["add-noise", str(folder / "*.png"), "-o", f"{out}/", "--gaussian", "10"]
    assert main(args) == 0
    assert sorted(p.name for p in out.iterdir()) == ["a.png", "b.png"]
    assert main(["add-noise", str(folder / "*.tif"), "--gaussian", "10"]) == 2
    assert "*.tif: no file matches" in capsys.readouterr().err
    odd = write_image(tmp_path / "x[1].png", astronaut_crop)  # a real name, not a pattern
    assert main(["add-noise", str(odd), "--gaussian", "10"]) == 0
    assert (tmp_path / "x[1]_noisy.png").is_file()
    assert main(["denoise", "https://example.com/photo.jpg"]) == 2
    assert "https://example.com/photo.jpg: n2n reads files on this computer" in (
        capsys.readouterr().err
    )
    # '-' as in `cat photo.jpg | n2n denoise - -o -`: 'no such file' and 'cannot write
    # format' did not say why
    assert main(["denoise", "-", "-o", str(tmp_path / "o.png")]) == 2
    assert "-: n2n reads image files, not standard input" in capsys.readouterr().err
    assert main(["denoise", str(odd), "-o", "-"]) == 2
    assert "-: n2n writes image files, not standard output" in capsys.readouterr().err


def test_method_names_in_any_case_and_a_near_miss_gets_a_hint(tmp_path, photo, capsys):
    args = ["denoise", str(photo), "-o", str(tmp_path / "a.png")]
    assert main([*args, "--method", "ZeroShot", "--iterations", "3"]) == 0
    assert main(["denoise", str(photo), "-o", str(tmp_path / "b.png"), "--method", "bm3"]) == 2
    assert "unknown method 'bm3' (did you mean 'bm3d'?" in capsys.readouterr().err
    assert main(["denoise", str(photo), "--method", "Model:" + str(tmp_path / "Run")]) == 2
    assert f"{tmp_path / 'Run'}: no such checkpoint" in capsys.readouterr().err
    # A run's other files, and no path at all: said so, not torch's reading error
    (tmp_path / "history.csv").write_text("epoch,train_loss\n1,0.5\n", encoding="utf-8")
    assert main(["denoise", str(photo), "--model", str(tmp_path / "history.csv")]) == 2
    assert "history.csv: not a noise2noise checkpoint (not a PyTorch file)\n" in (
        capsys.readouterr().err
    )  # was '(pop from empty list)'
    assert main(["denoise", str(photo), "--method", "model:"]) == 2
    assert "'model:' names no run folder: give model:RUN_DIR" in capsys.readouterr().err


def test_a_file_given_twice_is_denoised_once_and_name_clashes_are_named(tmp_path):
    from noise2noise.batch import plan_outputs

    (tmp_path / "in").mkdir(), (tmp_path / "other").mkdir()
    for path in (
        tmp_path / "in" / "a.png",
        tmp_path / "in" / "b.png",
        tmp_path / "other" / "a.png",
    ):
        write_image(path, np.zeros((8, 8), np.uint8))
    pairs = plan_outputs([tmp_path / "in" / "a.png", tmp_path / "in"], tmp_path / "out")
    assert sorted(dst.name for _, dst in pairs) == ["a.png", "b.png"]
    with pytest.raises(N2NError, match=r"in/a.png and .*other/a.png would both be written to"):
        plan_outputs([tmp_path / "in", tmp_path / "other"], tmp_path / "out")


def test_methods_and_noises_are_taken_space_or_comma_separated_or_repeated():
    """`n2n eval --methods pretrained bm3d` said 'n2n: error: unrecognized arguments:
    bm3d' (the option took one comma-separated value; --noise one value a time)."""
    parser = build_parser()
    args = parser.parse_args(
        ["eval", "--images", "a", "--out", "o", "--methods", "pretrained,zeroshot", "bm3d"]
        + ["--noise", "gaussian:25", "poisson:25", "--noise", "gaussian:50"]
    )
    assert args.methods == ["pretrained", "zeroshot", "bm3d"]
    assert args.noise == ["gaussian:25", "poisson:25", "gaussian:50"]
    assert parser.parse_args(["eval", "--images", "a", "--out", "o"]).methods is None
    args = parser.parse_args(
        ["reproduce", "table1", "--methods", "bm3d", "ansc", "--noise", "gaussian:25", "--out", "x"]
    )
    assert args.experiments == ["table1"] and args.methods == ["bm3d", "ansc"]
    assert args.noise == ["gaussian:25"]


def test_an_unknown_option_is_said_with_the_command_and_the_option_meant(capsys):
    """It was said with the usage of `n2n` itself ('n2n: error: unrecognized arguments')."""
    with pytest.raises(SystemExit) as exit_:
        main(["denoise", "photo.png", "-o", "clean.png", "--methd", "bm3d"])
    assert exit_.value.code == 2
    err = capsys.readouterr().err
    assert "usage: n2n denoise" in err
    assert "n2n denoise: error: unrecognized arguments: --methd bm3d" in err
    assert "did you mean --method?" in err
    # another tool's option: ours named; a far one: no guess ('--tile': '--quiet?')
    with pytest.raises(SystemExit):
        main(["denoise", "photo.png", "--gpu", "--tile", "256", "-j", "4"])
    err = capsys.readouterr().err
    assert "(--gpu: did you mean --device cuda?; -j: did you mean --workers?)" in err
    with pytest.raises(SystemExit):
        main(["train", "--data", "a", "--out", "r", "--gpu", "--output-dir", "x"])
    err = capsys.readouterr().err  # train's output is --out, not denoise's --output
    assert "(--gpu: did you mean --device cuda?; --output-dir: did you mean --out?)" in err


def test_a_file_named_like_an_option_is_said_as_one(tmp_path, astronaut_crop, capsys, monkeypatch):
    """`n2n denoise -scan.png` said only 'the following arguments are required: INPUT'."""
    monkeypatch.chdir(tmp_path)
    write_image(tmp_path / "-scan.png", astronaut_crop)
    (tmp_path / "-q").write_bytes(b"a file of an option's name")
    with pytest.raises(SystemExit) as exit_:
        main(["denoise", "-scan.png"])
    assert exit_.value.code == 2
    assert "n2n: error: -scan.png: a file whose name begins with '-' reads as an option: " in (
        capsys.readouterr().err
    )
    assert main(["denoise", "./-scan.png", "-q"]) == 0  # -q: the option, not the file
    assert main(["denoise", "-q", "--overwrite", "--", "-scan.png"]) == 0
    assert (tmp_path / "-scan_denoised.png").is_file()


def test_options_of_chunked_runs_are_refused_for_files_and_resume_continues_a_folder(
    tmp_path, astronaut_crop, capsys
):
    """`--axes`, `--chunk`, `--overlap` and `--worker-memory` (without a local cluster)
    were ignored without a word by a run on image files, and `--resume` too: a folder run
    again refused every output that existed."""
    src, out = tmp_path / "in", tmp_path / "out"
    src.mkdir()
    for i in range(2):
        write_image(src / f"{i}.png", astronaut_crop)
    for extra in (
        ["--axes", "YXC"],
        ["--chunk", "256", "--overlap", "8"],
        ["--worker-memory", "2GB"],
    ):
        assert main(["denoise", str(src), "-o", str(out), *extra]) != 0
        err = capsys.readouterr().err
        assert f"n2n: error: {extra[0]}" in err and ("chunked runs" in err or "local:N" in err)
    assert not out.exists()
    out.mkdir()
    write_image(out / "0.png", astronaut_crop[::-1])  # done by an interrupted run
    assert main(["denoise", str(src), "-o", str(out), "--resume"]) == 0
    assert "1 of 2 images denoised" in capsys.readouterr().out
    np.testing.assert_array_equal(read_image(out / "0.png"), astronaut_crop[::-1])


def test_a_folder_run_says_where_its_outputs_went(tmp_path, astronaut_crop, capsys, monkeypatch):
    """`n2n denoise scans/` wrote into scans_denoised/ and said only '2 of 2 images
    denoised'."""
    monkeypatch.chdir(tmp_path)
    Path("scans").mkdir()
    for i in range(2):
        write_image(Path("scans") / f"{i}.png", astronaut_crop)
    assert main(["denoise", "scans", *FAST]) == 0
    into = f"2 of 2 images denoised into {Path.cwd() / 'scans_denoised'}{os.sep} in "
    assert into in capsys.readouterr().out
    Path("b").mkdir()
    write_image(Path("b") / "x.png", astronaut_crop)  # beside inputs of two folders: none
    assert main(["denoise", "scans/0.png", "b/x.png", *FAST]) == 0
    assert "2 of 2 images denoised in " in capsys.readouterr().out


def test_experiments_named_after_methods_are_the_experiments(capsys):
    """`--methods` takes several values, so `n2n reproduce --methods bm3d table1` took
    table1 for a method (argparse: 'the following arguments are required')."""
    from noise2noise.cli.reproduce import _take_misplaced_experiments

    args = build_parser().parse_args(
        ["reproduce", "--methods", "bm3d", "table1", "--noise", "gaussian:25", "figures"]
        + ["--out", "x"]
    )
    _take_misplaced_experiments(args)
    assert (args.experiments, args.methods, args.noise) == (
        ["table1", "figures"],
        ["bm3d"],
        ["gaussian:25"],
    )
    for wrong, said in (
        (["--methods", "bm3d"], "no experiment named (choose from train,"),
        (["tabel1"], "unknown experiment 'tabel1'"),
    ):
        with pytest.raises(SystemExit) as exit_:
            main(["reproduce", *wrong, "--out", "x"])
        assert exit_.value.code == 2
        assert f"n2n reproduce: error: {said}" in capsys.readouterr().err
