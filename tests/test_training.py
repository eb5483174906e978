import pickle
import shutil
from dataclasses import replace

import numpy as np
import pytest
import torch
from PIL import Image

from noise2noise import Gaussian, Poisson, add_noise, psnr, write_image
from noise2noise.cli import main
from noise2noise.convert import luminance
from noise2noise.files import write_json
from noise2noise.models import UNet
from noise2noise.training import (
    CheckpointError,
    RealPairs,
    SyntheticPairs,
    TrainConfig,
    denoise_with_model,
    load_checkpoint,
    load_model,
    load_training_images,
    run_training,
    save_checkpoint,
    train,
    train_preset,
)

TINY = dict(
    arch="cnn",
    width=16,
    crop=32,
    batch_size=4,
    lr=1e-2,
    early_stop=None,
    residual=True,
    val_fraction=0.25,
)


@pytest.fixture
def crops():
    from skimage.data import astronaut

    a = astronaut()
    return [
        np.ascontiguousarray(a[i : i + 48, j : j + 48])
        for i in (100, 200, 300)
        for j in (100, 250, 400)
    ][:8]


@pytest.fixture
def clean_folder(tmp_path, crops):
    folder = tmp_path / "clean"
    folder.mkdir()
    for i, c in enumerate(crops):
        write_image(folder / f"{i}.png", c)
    return folder


def _weights(run_dir, name="weights.pt"):
    return load_checkpoint(run_dir / name)["model"]


@pytest.mark.parametrize("target", ["noisy", "clean"])
def test_a_few_epochs_lower_the_loss_and_raise_psnr(tmp_path, crops, target):
    config = TrainConfig(target=target, epochs=25, **TINY)
    history = train(
        SyntheticPairs(crops, Gaussian(25), target), config, tmp_path / "run", progress=False
    )
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    noisy_psnr = 20.2  # sigma 25 on [0, 1] images: 10·log10(1/(25/255)²) ≈ 20.2 dB
    assert history[-1]["val_psnr"] > noisy_psnr + 3
    for name in ["config.json", "weights.pt", "best.pt", "state.pt", "history.csv", "history.png"]:
        assert (tmp_path / "run" / name).exists()


def test_n2n_and_n2c_targets(crops):
    g = torch.Generator().manual_seed(0)
    x, t, c = SyntheticPairs(crops, Gaussian(25), "clean").draw([0, 1], 32, g)
    torch.testing.assert_close(t, c)
    x, t, c = SyntheticPairs(crops, Gaussian(25), "noisy").draw([0, 1], 32, g)
    assert not torch.equal(t, c) and not torch.equal(x, t)


def test_pairs_moved_to_the_cpu_draw_what_they_drew_before(crops):
    """A CPU run's pairs stay bit for bit those of earlier versions (cached cells)."""
    data = SyntheticPairs(crops, Poisson(25, clip=False), "noisy")
    before = data.draw([0, 1, 2], 32, torch.Generator().manual_seed(3))
    after = data.to(torch.device("cpu")).draw([0, 1, 2], 32, torch.Generator().manual_seed(3))
    for a, b in zip(before, after, strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("noise", [Gaussian(25, clip=False), Poisson(25, clip=False)])
def test_pairs_with_noise_drawn_on_the_device(crops, device, noise):
    """The GPU path (forced on the CPU too): the host's crops, noise made where the data
    is, input and target independent draws of the right size, repeatable from the seed."""
    host = SyntheticPairs(crops, noise, "noisy")
    if device == "cpu":  # `to` keeps the host's draws there: ask for the device path
        on = SyntheticPairs(crops, noise, "noisy", noise_device=torch.device(device))
    else:  # what the training loop does on a GPU
        on = host.to(torch.device(device))
    x, t, c = on.draw(list(range(8)), 48, torch.Generator().manual_seed(5))
    assert x.device.type == t.device.type == c.device.type == torch.device(device).type
    _, _, c_host = host.draw(list(range(8)), 48, torch.Generator().manual_seed(5))
    torch.testing.assert_close(c.cpu(), c_host)  # same crops and flips as on the host
    x, t, c = x.cpu().double(), t.cpu().double(), c.cpu().double()
    n1, n2 = (x - c).flatten(), (t - c).flatten()
    assert abs(float(torch.corrcoef(torch.stack([n1, n2]))[0, 1])) < 0.02
    assert abs(float(n2.mean())) < 2e-3  # unclipped target: zero-mean noise
    if isinstance(noise, Gaussian):
        expected = torch.full_like(c, (25 / 255) ** 2)
    else:
        expected = c / 25  # Poisson: variance = mean / peak
    assert float(((t - c) ** 2).mean() / expected.mean()) == pytest.approx(1, abs=0.05)
    again = on.draw(list(range(8)), 48, torch.Generator().manual_seed(5))
    assert torch.equal(again[1].cpu().double(), t)


def test_input_and_target_noise_are_independent(crops):
    g = torch.Generator().manual_seed(0)
    data = SyntheticPairs(crops, Gaussian(25, clip=False), "noisy")
    x, t, c = data.draw(list(range(8)), 48, g)
    n1, n2 = (x - c).flatten(), (t - c).flatten()
    corr = float(torch.corrcoef(torch.stack([n1, n2]))[0, 1])
    assert abs(corr) < 0.02


def test_unclipped_targets_keep_their_noise_zero_mean():
    dark = [np.full((48, 48, 3), 5, np.uint8)] * 4  # 5/255: clipping at 0 matters at sigma 75
    noise = Gaussian(75)
    draws = {}
    for clip in (True, False):
        data = SyntheticPairs(dark, noise, "noisy", Gaussian(75, clip=clip))
        draws[clip] = data.draw([0, 1, 2, 3], 48, torch.Generator().manual_seed(0))
    (x, clipped, c), (x_raw, raw, _) = draws[True], draws[False]
    torch.testing.assert_close(x, x_raw, rtol=0, atol=0)  # the input is the same, clipped
    assert x.min() >= 0 and raw.min() < 0
    # E[clip(x + n)] at x = 5/255, sigma = 75/255 is about 0.13: the clipped target is biased
    assert float((clipped - c).mean()) > 0.08
    assert abs(float((raw - c).mean())) < 0.01


def test_unclipped_target_from_the_command_line(tmp_path, clean_folder):
    folder = clean_folder
    common = ["train", "--arch", "cnn", "--epochs", "1", "--crop", "32", "--unclipped-target"]
    assert main([*common, "--data", str(folder), "--out", str(tmp_path / "run")]) == 0
    assert load_checkpoint(tmp_path / "run" / "best.pt")["config"].clip_target is False
    pairs = ["--pairs", str(folder), str(folder), "--out", str(tmp_path / "pairs")]
    assert main([*common, *pairs]) == 2  # real pairs cannot be unclipped


def test_noisy_photos_given_as_clean_data_are_said(tmp_path, clean_folder, crops, caplog):
    """A folder of noisy photos given to --data (which takes clean images and adds noise)
    trained a network for the sum of both noises, unsaid."""
    args = ["train", "--arch", "cnn", "--epochs", "1", "--crop", "32", "--steps-per-epoch", "1"]
    with caplog.at_level("WARNING"):
        assert main([*args, "--data", str(clean_folder), "--out", str(tmp_path / "r1")]) == 0
    assert "look noisy" not in caplog.text  # clean photo crops
    (tmp_path / "noisy").mkdir()
    for i, c in enumerate(crops):
        noisy = add_noise(c, "gaussian:30", seed=i, channel_axis=-1)
        write_image(tmp_path / "noisy" / f"{i}.png", noisy)
    with caplog.at_level("WARNING"):
        assert main([*args, "--data", str(tmp_path / "noisy"), "--out", str(tmp_path / "r2")]) == 0
    assert "these images look noisy (median estimated noise sigma" in caplog.text
    assert "`data` takes clean images and adds `noise` to them" in caplog.text


def test_library_log_lines_name_the_commands_options():
    # printed by `n2n` with the library's parameters as its options ('`pairs`': '--pairs')
    import logging

    from noise2noise.cli import _LibraryFormatter

    line = logging.LogRecord("noise2noise.x", logging.WARNING, "", 0, "use `pairs`", None, None)
    assert _LibraryFormatter("n2n: %(message)s").format(line) == "n2n: use --pairs"


def test_library_log_lines_go_to_the_stderr_of_the_moment(monkeypatch):
    # The handler kept the stderr of the first `main` call: a caller (a test, a notebook)
    # that swapped and closed it got 'Logging error ... I/O operation on closed file'.
    import io
    import logging

    from noise2noise.cli import _StderrHandler

    handler = _StderrHandler()
    first, later = io.StringIO(), io.StringIO()
    monkeypatch.setattr("sys.stderr", first)
    first.close()
    monkeypatch.setattr("sys.stderr", later)
    handler.emit(logging.LogRecord("noise2noise.x", logging.WARNING, "", 0, "said", None, None))
    assert later.getvalue() == "said\n"


def test_real_pairs_need_no_clean_image(tmp_path, crops):
    first = [add_noise(c, "gaussian:25", seed=i, channel_axis=-1) for i, c in enumerate(crops)]
    second = [
        add_noise(c, "gaussian:25", seed=100 + i, channel_axis=-1) for i, c in enumerate(crops)
    ]
    history = train(
        RealPairs(first, second), TrainConfig(epochs=2, **TINY), tmp_path / "r", progress=False
    )
    assert np.isnan(history[-1]["val_psnr"]) and history[-1]["val_loss"] > 0


def test_real_pairs_that_cannot_serve_are_left_out_said_or_stop_a_strict_run(
    tmp_path, crops, capsys
):
    """A pair of captures of different sizes crashed training in the network (a
    traceback of conv2d about the kernel size) once validation reached it; then it
    stopped the run, as did a shot of the first folder without a pair, where `--data`
    leaves an unusable image out (said) and `--strict` stops: so do pairs now."""
    for folder in ("a", "b"):
        (tmp_path / folder).mkdir()
        for i, c in enumerate(crops):  # another shot: other pixels
            write_image(tmp_path / folder / f"s{i}.png", c if folder == "a" else c[::-1])
    write_image(tmp_path / "b" / "s1.png", crops[1][:40], overwrite=True)
    write_image(tmp_path / "a" / "alone.png", crops[0])
    (tmp_path / "b" / "s2.png").write_bytes(b"not a PNG")
    args = ["train", "--pairs", str(tmp_path / "a"), str(tmp_path / "b"), "--epochs", "1"]
    args += ["--crop", "32", "--steps-per-epoch", "1"]
    assert main([*args, "--out", str(tmp_path / "run")]) == 0
    err = capsys.readouterr().err
    assert "s1.png: 48×40 with 3 colour channels, its pair in" in err and "must match" in err
    assert "skipped" in err and "s2.png: not a readable image" in err
    assert "1 image without a pair in" in err and "(alone.png)" in err
    assert main([*args, "--strict", "--out", str(tmp_path / "strict")]) == 2
    assert "no match for alone.png (stopping" in capsys.readouterr().err
    (tmp_path / "a" / "alone.png").unlink()
    assert main([*args, "--strict", "--out", str(tmp_path / "strict")]) == 2
    assert "must match (stopping: --strict)" in capsys.readouterr().err


def test_real_pairs_that_cannot_teach_are_refused_and_strays_said(tmp_path, crops, capsys, caplog):
    """The same folder twice, or copies, trained a network to copy its input (loss 0);
    a file of the second folder without a pair was left out unsaid; without clean images
    the summary said 'PSNR nan dB'."""
    for folder, seed in (("a", 0), ("b", 100)):
        (tmp_path / folder).mkdir()
        for i, c in enumerate(crops):
            noisy = add_noise(c, "gaussian:25", seed=seed + i, channel_axis=-1)
            write_image(tmp_path / folder / f"s{i}.png", noisy)
    shutil.copytree(tmp_path / "a", tmp_path / "copy")
    write_image(tmp_path / "b" / "stray.png", crops[0])
    args = ["train", "--epochs", "1", "--crop", "32", "--steps-per-epoch", "1", "--pairs"]
    a, b = str(tmp_path / "a"), str(tmp_path / "b")
    assert main([*args, a, str(tmp_path / "a" / "."), "--out", str(tmp_path / "r1")]) == 2
    assert "given twice: Noise2Noise needs two separate noisy shots" in capsys.readouterr().err
    assert main([*args, a, str(tmp_path / "copy"), "--out", str(tmp_path / "r2")]) == 2
    assert "s0.png: the same pixels as in" in capsys.readouterr().err
    with caplog.at_level("WARNING"):
        assert main([*args, a, b, "--out", str(tmp_path / "r3")]) == 0
    assert "1 image without a pair in" in caplog.text and "(stray.png)" in caplog.text
    out = capsys.readouterr().out
    assert "best validation loss" in out and "nan" not in out.lower()


def test_real_pairs_are_matched_by_name_whatever_the_extension(tmp_path, crops):
    """`n2n train --pairs a/ b/` with shots.png in a/ and shots.tif in b/ (or references
    in another format) said 'no match', where `n2n compare` pairs them."""
    for folder, seed, ext in (("a", 0, "png"), ("b", 100, "tif")):
        (tmp_path / folder).mkdir()
        for i, c in enumerate(crops):
            noisy = add_noise(c, "gaussian:25", seed=seed + i, channel_axis=-1)
            write_image(tmp_path / folder / f"s{i}.{ext}", noisy)
    (tmp_path / "clean").mkdir()
    for i, c in enumerate(crops[:-1]):
        write_image(tmp_path / "clean" / f"s{i}.jpg", c)
    config = TrainConfig(epochs=1, steps_per_epoch=1, **TINY)
    pairs = (tmp_path / "a", tmp_path / "b")
    history = run_training(config, tmp_path / "r1", pairs=pairs, progress=False)
    assert np.isnan(history[-1]["val_psnr"])
    with pytest.raises(ValueError, match=f"no clean reference for s{len(crops) - 1}.png"):
        run_training(config, tmp_path / "r2", pairs=pairs, clean=tmp_path / "clean")
    history = run_training(
        config, tmp_path / "r3", pairs=pairs, clean=tmp_path / "clean", limit=4, progress=False
    )
    assert np.isfinite(history[-1]["val_psnr"])


@pytest.mark.parametrize("schedule", ["plateau", "cosine"])
def test_resume_equals_an_uninterrupted_run(tmp_path, crops, schedule):
    data = SyntheticPairs(crops, Gaussian(25), "noisy")
    config = TrainConfig(epochs=3, schedule=schedule, **TINY)
    train(data, config, tmp_path / "straight", progress=False)

    def stop_after_first(row):
        if row["epoch"] == 1:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(data, config, tmp_path / "cut", progress=False, on_epoch=stop_after_first)
    with pytest.raises(ValueError, match="`resume=True`"):
        train(data, config, tmp_path / "cut", progress=False)
    history = train(data, config, tmp_path / "cut", resume=True, progress=False)
    assert [h["epoch"] for h in history] == [1, 2, 3]
    for key, value in _weights(tmp_path / "straight").items():
        torch.testing.assert_close(_weights(tmp_path / "cut")[key], value, rtol=0, atol=0)


def test_checkpoints_every_so_often_resume_from_the_last_one(tmp_path, crops, monkeypatch):
    """Checkpoints are written after a process's first epoch, then every CHECKPOINT_EVERY
    seconds and at the end, not every epoch (630 MB an epoch for the report's U-Net): a run
    cut between two resumes from the older one and still ends as an uncut run, and best.pt
    is the best epoch's weights, kept aside until written."""
    import noise2noise.training.loop as loop

    data = SyntheticPairs(crops, Gaussian(25), "noisy")
    config = TrainConfig(epochs=5, **{**TINY, "lr": 0.05})  # unstable: best in the middle
    monkeypatch.setattr(loop, "CHECKPOINT_EVERY", 0.0)
    every_epoch = train(data, config, tmp_path / "every", progress=False)
    best_epoch = min(every_epoch, key=lambda h: h["val_loss"])["epoch"]
    assert 1 < best_epoch < 5
    monkeypatch.setattr(loop, "CHECKPOINT_EVERY", 1e9)
    train(data, config, tmp_path / "rare", progress=False)
    saved_at = []

    def stop_after_third(row):
        saved_at.append(load_checkpoint(tmp_path / "cut" / "state.pt")["history"][-1]["epoch"])
        if row["epoch"] == 3:
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        train(data, config, tmp_path / "cut", progress=False, on_epoch=stop_after_third)
    assert saved_at == [1, 1, 1]  # the first epoch only
    history = train(data, config, tmp_path / "cut", resume=True, progress=False)
    assert [h["epoch"] for h in history] == [1, 2, 3, 4, 5]
    for run in ("rare", "cut"):
        for name in ("weights.pt", "best.pt"):
            for key, value in _weights(tmp_path / "every", name).items():
                torch.testing.assert_close(
                    _weights(tmp_path / run, name)[key], value, rtol=0, atol=0
                )
        assert load_checkpoint(tmp_path / run / "best.pt")["epoch"] == best_epoch


def test_an_interrupted_training_says_where_it_resumes(tmp_path, clean_folder, monkeypatch, capsys):
    import noise2noise.training.loop as loop

    monkeypatch.setattr(loop, "CHECKPOINT_EVERY", 1e9)  # the first epoch's checkpoint only
    write_history = loop._write_history

    def stop_after_third(run_dir, history):  # Ctrl-C during epoch 4
        write_history(run_dir, history)
        if len(history) == 3:
            raise KeyboardInterrupt

    monkeypatch.setattr(loop, "_write_history", stop_after_third)
    run = tmp_path / "run"
    args = ["train", "--data", str(clean_folder), "--arch", "cnn", "--epochs", "5"]
    args += ["--crop", "32", "--batch-size", "4", "--out", str(run)]
    assert main(args) == 130
    err = capsys.readouterr().err
    assert f"n2n: interrupted: epoch 1 kept in {run}; the same command with --resume" in err
    assert "continues from epoch 2" in err
    monkeypatch.setattr(loop, "_write_history", write_history)
    assert main([*args, "--resume"]) == 0
    assert [h["epoch"] for h in loop.read_history(run / "history.csv")] == [1, 2, 3, 4, 5]


def test_a_run_stopped_before_its_first_epoch_ended_resumes_from_the_start(tmp_path, crops):
    data = SyntheticPairs(crops, Gaussian(25), "noisy")
    config = TrainConfig(epochs=2, **TINY)
    run = tmp_path / "run"
    run.mkdir()
    write_json(run / "config.json", config.to_dict())  # all a first epoch leaves behind
    history = train(data, config, run, resume=True, progress=False)
    assert [h["epoch"] for h in history] == [1, 2]
    (run / "state.pt").unlink()  # trained, but its state lost: not the same case
    with pytest.raises(ValueError, match="nothing to resume"):
        train(data, config, run, resume=True, progress=False)
    with pytest.raises(ValueError, match="nothing to resume"):
        train(data, config, tmp_path / "elsewhere", resume=True, progress=False)


def test_an_occupied_run_folder_is_said_before_any_image_is_read(tmp_path, capsys):
    """It was said after every image had been read (and the unusable ones listed): minutes
    for a large set."""
    folder = tmp_path / "clean"
    folder.mkdir()
    write_image(folder / "gray.png", np.zeros((40, 40), np.uint8))  # would be skipped
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.json").write_text("{}")
    assert main(["train", "--data", str(folder), "--out", str(run)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"n2n: error: {run} already holds a run: use --resume, or another --out"]


def test_a_run_resumed_with_other_settings_says_which_and_their_values(tmp_path, crops):
    """It named the fields only ('differs in: epochs, lr'), not what the run was started
    with, which is what a user must give again."""
    data = SyntheticPairs(crops, Gaussian(25), "noisy")
    train(data, TrainConfig(epochs=1, **TINY), tmp_path / "run", progress=False)
    other = TrainConfig(epochs=2, **{**TINY, "lr": 2e-5})
    with pytest.raises(ValueError, match=r"\(epochs 1 there, 2 now, lr 0.01 there, 2e-05 now\)"):
        train(data, other, tmp_path / "run", resume=True, progress=False)
    # More epochs for a finished run (the schedule was fitted to its epochs): how to get them
    longer = TrainConfig(epochs=3, **TINY)
    with pytest.raises(ValueError, match=r"train it further, start a new run from its weights"):
        train(data, longer, tmp_path / "run", resume=True, progress=False)
    longer = replace(longer, init=str(tmp_path / "run"))
    assert len(train(data, longer, tmp_path / "further", progress=False)) == 3


def test_checkpoint_round_trip(tmp_path):
    torch.manual_seed(0)
    net = UNet(3, width=4, depth=2).eval()
    config = TrainConfig(arch="unet", width=4, depth=2)
    save_checkpoint(tmp_path / "c.pt", net, config, 3)
    loaded, loaded_config = load_model(tmp_path / "c.pt")
    assert loaded_config == config
    x = torch.rand(1, 3, 20, 28)
    with torch.no_grad():
        torch.testing.assert_close(loaded(x), net(x))


class _Boom:
    def __reduce__(self):
        return (exec, ("import pathlib; pathlib.Path('PWNED').touch()",))


@pytest.mark.filterwarnings("ignore:Detected pickle protocol")
def test_files_that_are_not_checkpoints_get_a_clear_error(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "garbage.pt").write_bytes(b"\x00not a checkpoint")
    torch.save({"some": torch.zeros(2)}, tmp_path / "other.pt")
    (tmp_path / "evil.pt").write_bytes(pickle.dumps(_Boom()))
    for name in ["garbage.pt", "other.pt", "evil.pt", "missing.pt"]:
        with pytest.raises(CheckpointError, match=name):
            load_checkpoint(tmp_path / name)
    assert not (tmp_path / "PWNED").exists()  # loading never executes code from the file


def test_unusable_training_images_are_skipped_with_a_reason(tmp_path, crops):
    write_image(tmp_path / "ok.png", crops[0])
    write_image(tmp_path / "small.png", crops[0][:10, :10])
    write_image(tmp_path / "gray.png", crops[0][..., 0])
    (tmp_path / "broken.png").write_bytes(b"text")
    files = sorted(tmp_path.iterdir())
    images, problems = load_training_images(files, crop=32)
    assert len(images) == 1
    assert any("smaller than" in p for p in problems)
    assert any("gray.png: gray image among 1 colour image" in p for p in problems)
    assert any("broken.png" in p for p in problems)
    with pytest.raises(ValueError, match="`strict=True`"):
        load_training_images(files, crop=32, strict=True)


def test_a_refused_training_leaves_no_run_folder(tmp_path, crops):
    """`n2n train` on a folder of one image, or with weights of another network size
    (`init`), said why and left an empty run folder behind."""
    one = SyntheticPairs(crops[:1], Gaussian(25), "noisy")
    with pytest.raises(ValueError, match="at least 2 images"):
        train(one, TrainConfig(epochs=1, **TINY), tmp_path / "run", progress=False)
    two = SyntheticPairs(crops[:2], Gaussian(25), "noisy")
    config = TrainConfig(epochs=1, **{**TINY, "arch": "unet", "depth": 2}, init="pretrained:blind")
    with pytest.raises(ValueError, match="set the network's size to theirs"):
        train(two, config, tmp_path / "run", progress=False)
    assert not (tmp_path / "run").exists()


def test_a_mixed_folder_keeps_its_most_common_kind_and_grayscale_keeps_all(tmp_path, crops):
    """The first file by name set the folder's channel count: one gray image named
    before the colour ones ('a_gray.png') left every colour image out; `grayscale=True`
    converted only after that, so a mixed folder still lost images."""
    write_image(tmp_path / "a_gray.png", crops[0][..., 0])
    for i in (1, 2):
        write_image(tmp_path / f"b{i}.png", crops[i])
    files = sorted(tmp_path.iterdir())
    images, problems = load_training_images(files, crop=32)
    assert [i.shape for i in images] == [(48, 48, 3)] * 2
    assert problems == [
        f"{tmp_path / 'a_gray.png'}: gray image among 2 colour images; "
        "`grayscale=True` trains on the luminance of all"
    ]
    images, problems = load_training_images(files, crop=32, grayscale=True)
    assert problems == [] and [i.shape for i in images] == [(48, 48, 1)] * 3
    np.testing.assert_array_equal(images[1][..., 0], luminance(crops[1]))
    # colour float data in physical units: their luminance, then scaled as the others are
    import tifffile

    tifffile.imwrite(tmp_path / "c_units.tif", crops[3].astype(np.float32) * 4, photometric="rgb")
    images, problems = load_training_images([tmp_path / "c_units.tif"], crop=32, grayscale=True)
    assert problems == []
    lum = crops[3].astype(np.float32) @ np.float32([0.299, 0.587, 0.114])
    np.testing.assert_allclose(images[0][..., 0] / images[0].max(), lum / lum.max(), atol=1e-5)


def test_grayscale_training_on_noisy_pairs_makes_a_gray_model(tmp_path, crops):
    """`n2n train --pairs A B --grayscale` trained a colour model on the colour pairs
    and wrote `grayscale: true` in its configuration."""
    for folder, seed in (("a", 0), ("b", 100)):
        (tmp_path / folder).mkdir()
        for i, c in enumerate(crops):
            noisy = add_noise(c, "gaussian:25", seed=seed + i, channel_axis=-1)
            write_image(tmp_path / folder / f"{i}.png", noisy)
    config = TrainConfig(epochs=1, steps_per_epoch=1, grayscale=True, **TINY)
    run_training(config, tmp_path / "run", pairs=(tmp_path / "a", tmp_path / "b"), progress=False)
    gray = add_noise(crops[0][..., 0], "gaussian:25", seed=5)
    assert denoise_with_model(gray, model=tmp_path / "run").shape == gray.shape
    # On colour (a micrograph saved as RGB), each colour as a gray image; it was refused.
    colour = add_noise(crops[0], "gaussian:25", seed=6, channel_axis=-1)
    with pytest.warns(UserWarning, match="gray model on a colour image"):
        out = denoise_with_model(colour, model=tmp_path / "run", channel_axis=-1)
    for c in range(3):
        alone = denoise_with_model(colour[..., c], model=tmp_path / "run")
        np.testing.assert_allclose(out[..., c], alone, atol=1)
    with pytest.raises(ValueError, match="trained on 1-channel images, this image has 2"):
        denoise_with_model(colour[..., :2], model=tmp_path / "run", channel_axis=-1)


def test_float_training_images_in_physical_units_are_scaled_as_denoise_scales_them(
    tmp_path, caplog
):
    """One float TIFF in physical units stopped `n2n train` on a whole folder with the
    Python API's refusal, naming no file."""
    import tifffile

    units = np.linspace(-100, 900, 48 * 48, dtype=np.float32).reshape(48, 48)
    tifffile.imwrite(tmp_path / "units.tif", units)
    tifffile.imwrite(tmp_path / "unit.tif", units / 1000 + 0.1)  # in [0, 1]: as it is
    with caplog.at_level("WARNING"):
        images, problems = load_training_images(sorted(tmp_path.iterdir()), crop=32)
    assert problems == [] and len(images) == 2
    np.testing.assert_allclose(images[0][..., 0], units / 1000 + 0.1, atol=1e-6)
    np.testing.assert_allclose(images[1][..., 0], (units + 100) / 1000, atol=1e-6)
    assert "units.tif: float values span [-100, 900]: scaled into [0, 1]" in caplog.text
    # two captures of a scene: one range for both, or the target's scale is not the input's
    rng = np.random.default_rng(0)
    for folder, offset in (("a", 0.0), ("b", 50.0)):
        (tmp_path / folder).mkdir()
        for i in range(3):
            noisy = units + offset + rng.normal(0, 20, units.shape).astype(np.float32)
            tifffile.imwrite(tmp_path / folder / f"{i}.tif", noisy)
    caplog.clear()
    config = TrainConfig(epochs=1, steps_per_epoch=1, **TINY)
    with caplog.at_level("WARNING"):
        run_training(config, tmp_path / "run", pairs=(tmp_path / "a", tmp_path / "b"))
    said = [r.getMessage() for r in caplog.records if "scaled into" in r.getMessage()]
    assert len(said) == 6 and len({m.split(": ", 1)[1] for m in said}) == 3  # a scene: one


def test_cosine_schedule_ignores_validation_and_anneals(tmp_path, crops):
    config = TrainConfig(epochs=4, schedule="cosine", **TINY)
    history = train(
        SyntheticPairs(crops, Gaussian(25), "noisy"), config, tmp_path / "r", progress=False
    )
    lrs = [h["lr"] for h in history]
    assert lrs == sorted(lrs, reverse=True) and lrs[-1] == pytest.approx(0.0, abs=1e-12)


def test_presets_carry_the_reports_hyperparameters():
    unet, cnn = train_preset("report", "unet"), train_preset("report", "cnn")
    assert (unet.lr, unet.batch_size, unet.epochs, unet.early_stop) == (1e-4, 32, 100, 10)
    assert (unet.plateau_factor, unet.plateau_patience) == (0.2, 5)
    assert (cnn.lr, cnn.batch_size, cnn.epochs) == (1e-3, 32, 50)
    assert train_preset("cpu", "unet", epochs=3, seed=None).epochs == 3
    with pytest.raises(ValueError, match="unknown training configuration keys"):
        TrainConfig.from_dict({"arch": "unet", "color": "blue"})
    with pytest.raises(ValueError, match="invalid training configuration"):
        TrainConfig(target="sharp")
    # what a field may be, where a number is out of range (it said 'depth=9' only)
    with pytest.raises(ValueError, match=r"depth=9 \(may be 1 to 8\), level_weight=5\.0 \(may"):
        TrainConfig(depth=9, level_weight=5.0)


def test_train_and_denoise_from_the_command_line(tmp_path, crops, clean_folder, capsys):
    folder = clean_folder
    run = tmp_path / "run"
    args = [
        "train",
        "--data",
        str(folder),
        "--arch",
        "cnn",
        "--epochs",
        "2",
        "--crop",
        "32",
        "--batch-size",
        "4",
        "--out",
        str(run),
    ]
    assert main(args) == 0
    said = capsys.readouterr()
    assert "run folder" in said.out
    # stderr is not a terminal here, as in a batch job's log: a plain line per epoch
    epochs = [line for line in said.err.splitlines() if " epochs, " in line]
    assert [line.split(" epoch")[0] for line in epochs] == ["1/2", "2/2"]
    assert "about" in epochs[0] and "val_psnr=" in epochs[1]
    noisy = add_noise(crops[0], "gaussian:25", seed=0, channel_axis=-1)
    src = write_image(tmp_path / "noisy.png", noisy)
    assert main(["denoise", "--model", str(run), str(src), "-o", str(tmp_path / "o.png")]) == 0
    assert (
        main(
            [
                "denoise",
                "--method",
                f"model:{tmp_path / 'nope'}",
                str(src),
                "-o",
                str(tmp_path / "p.png"),
            ]
        )
        == 2
    )
    assert "no such checkpoint" in capsys.readouterr().err
    gray = write_image(tmp_path / "gray.png", noisy[..., 0])  # refused before: said now
    assert main(["denoise", "--model", str(run), str(gray), "-o", str(tmp_path / "g.png")]) == 0
    assert "gray.png: a colour model on a gray image: denoised as a colourless photo" in (
        capsys.readouterr().err
    )
    assert Image.open(tmp_path / "g.png").mode == "L"


def test_denoise_with_model_checks_channels_and_keeps_dtype(tmp_path, crops):
    config = TrainConfig(epochs=25, **TINY)
    train(SyntheticPairs(crops, Gaussian(25), "noisy"), config, tmp_path / "run", progress=False)
    noisy = add_noise(crops[1], "gaussian:25", seed=3, channel_axis=-1)
    out = denoise_with_model(noisy, model=tmp_path / "run", channel_axis=-1, tile=16)
    assert out.dtype == np.uint8 and out.shape == noisy.shape
    assert psnr(out, crops[1], data_range=255) > psnr(noisy, crops[1], data_range=255)
    # A gray image, refused before: as a colourless photo, the colours' mean
    gray = noisy[..., 1]
    with pytest.warns(UserWarning, match="colour model on a gray image"):
        out = denoise_with_model(gray, model=tmp_path / "run")
    as_colour = denoise_with_model(
        np.stack([gray] * 3, -1), model=tmp_path / "run", channel_axis=-1
    )
    assert out.dtype == np.uint8 and out.shape == gray.shape
    np.testing.assert_allclose(out, as_colour.mean(axis=-1), atol=1)


def test_train_threads_option_sets_the_process_threads(tmp_path, clean_folder, monkeypatch):
    import noise2noise.cli.train as cli_train

    seen = []

    def record_threads(*args, **kwargs):
        seen.append(torch.get_num_threads())
        return [{"epoch": 1, "val_loss": 1.0, "val_psnr": 0.0}]

    monkeypatch.setattr(cli_train, "run_training", record_threads)
    before = torch.get_num_threads()
    try:
        args = ["train", "--data", str(clean_folder), "--out", str(tmp_path / "r")]
        assert main([*args, "--threads", "1"]) == 0
    finally:
        torch.set_num_threads(before)
    assert seen == [1]


def test_a_trained_model_takes_float_data_in_other_units(tmp_path, camera_crop):
    """`denoise_with_model(x - 0.5)` clipped its output to [0, 1]: the values below 0
    were lost. Scaled into [0, 1] and back, with a note, as the shipped models do."""
    torch.manual_seed(0)
    net, config = UNet(1, width=4, depth=2).eval(), TrainConfig(arch="unet", width=4, depth=2)
    save_checkpoint(tmp_path / "m.pt", net, config, 1)
    shifted = camera_crop.astype(np.float32) / 255 - 0.5
    with pytest.warns(UserWarning, match="scaled into"):
        out = denoise_with_model(shifted, model=tmp_path / "m.pt")
    assert out.min() < -0.3 and out.shape == shifted.shape
