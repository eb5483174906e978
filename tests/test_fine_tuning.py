"""Fine-tuning: a run that starts from trained (or shipped) weights instead of random ones."""

import hashlib
import json

import numpy as np
import pytest
import torch

from noise2noise import Gaussian, write_image
from noise2noise.cli import main
from noise2noise.errors import N2NError
from noise2noise.training import SyntheticPairs, TrainConfig, load_checkpoint, train
from noise2noise.weights import weights_path

TINY = dict(arch="cnn", width=8, crop=32, batch_size=2, early_stop=None, val_fraction=0.25)


@pytest.fixture
def data():
    rng = np.random.default_rng(0)
    images = [rng.random((40, 40, 3)).astype(np.float32) for _ in range(4)]
    return SyntheticPairs(images, Gaussian(25), "noisy")


def _weights(path):
    return load_checkpoint(path)["model"]


def _distance(a, b):
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a)


def test_a_run_starts_from_the_weights_it_names(tmp_path, data):
    train(data, TrainConfig(epochs=2, lr=1e-2, **TINY), tmp_path / "first", progress=False)
    first = _weights(tmp_path / "first" / "weights.pt")
    # A learning rate too small to move anything: the weights stay where they started.
    still = TrainConfig(epochs=1, lr=1e-9, seed=5, **TINY)
    tuned = replace_init(still, str(tmp_path / "first" / "weights.pt"))
    train(data, tuned, tmp_path / "tuned", progress=False)
    train(data, still, tmp_path / "fresh", progress=False)
    assert _distance(_weights(tmp_path / "tuned" / "weights.pt"), first) < 1e-6
    assert _distance(_weights(tmp_path / "fresh" / "weights.pt"), first) > 1e-2
    assert load_checkpoint(tmp_path / "tuned")["config"].init.endswith("weights.pt")
    origin = json.loads((tmp_path / "tuned" / "init.json").read_text())
    digest = hashlib.sha256((tmp_path / "first" / "weights.pt").read_bytes()).hexdigest()
    assert origin["sha256"] == digest and not (tmp_path / "fresh" / "init.json").exists()


def replace_init(config, init):
    return TrainConfig.from_dict({**config.to_dict(), "init": init})


def test_weights_of_another_network_are_refused_before_training(tmp_path, data):
    train(data, TrainConfig(epochs=1, lr=1e-2, **TINY), tmp_path / "first", progress=False)
    wider = TrainConfig(epochs=1, lr=1e-2, **{**TINY, "width": 16}, init=str(tmp_path / "first"))
    with pytest.raises(N2NError, match="width 8.*width 16"):
        train(data, wider, tmp_path / "wider", progress=False)
    with pytest.raises(N2NError, match="no such checkpoint"):
        train(data, replace_init(wider, str(tmp_path / "nowhere")), tmp_path / "x", progress=False)
    with pytest.raises(N2NError, match="unknown pretrained model 'best'"):
        train(data, replace_init(wider, "pretrained:best"), tmp_path / "y", progress=False)


def test_the_shipped_model_can_be_fine_tuned(tmp_path, data):
    config = TrainConfig(
        arch="resunet",
        width=48,
        depth=2,
        blocks=2,
        crop=32,
        batch_size=1,
        steps_per_epoch=1,
        epochs=1,
        lr=1e-9,
        early_stop=None,
        val_fraction=0.25,
        init="pretrained:blind",
    )
    train(data, config, tmp_path / "tuned", progress=False)
    shipped = _weights(weights_path("blind", 3))
    assert _distance(_weights(tmp_path / "tuned" / "weights.pt"), shipped) < 1e-6


def test_fine_tuning_from_the_command_line(tmp_path, capsys):
    folder = tmp_path / "clean"
    folder.mkdir()
    rng = np.random.default_rng(1)
    for i in range(4):  # clean: blocks of 8×8 pixels (white noise would look noisy)
        blocks = np.kron(rng.random((5, 5, 3)), np.ones((8, 8, 1)))
        write_image(folder / f"{i}.png", (blocks * 255).astype(np.uint8))
    common = ["train", "--data", str(folder), "--preset", "blind", "--crop", "32"]
    common += ["--batch-size", "1", "--steps-per-epoch", "1", "--epochs", "1"]
    assert main([*common, "--init", "pretrained:blind", "--out", str(tmp_path / "a")]) == 0
    config = load_checkpoint(tmp_path / "a")["config"]
    assert config.init == "pretrained:blind" and config.lr == 2e-5  # not blind's 5e-4
    assert "fine-tuned from pretrained:blind at learning rate 2e-05" in capsys.readouterr().err
    code = main(
        [*common, "--init", "pretrained:blind", "--width", "32", "--out", str(tmp_path / "b")]
    )
    assert code == 2
    err = capsys.readouterr().err
    assert "width 48" in err and "width 32" in err and len(err.strip().splitlines()) == 1
    assert not (tmp_path / "b" / "weights.pt").exists()


def test_best_pt_is_never_worse_than_the_starting_weights(tmp_path, data, capsys):
    """A fine-tuning run whose every epoch did worse than where it started left its best
    epoch in best.pt, worse than the weights the user had, without a word."""
    folder = tmp_path / "clean"
    folder.mkdir()
    for i, image in enumerate(data.images):
        write_image(folder / f"{i}.png", (image * 255).astype(np.uint8))
    args = ["train", "--data", str(folder), "--arch", "cnn", "--width", "8", "--crop", "32"]
    args += ["--batch-size", "2", "--epochs", "2"]
    assert main([*args, "--lr", "1e-2", "--out", str(tmp_path / "first")]) == 0
    start = tmp_path / "first" / "best.pt"
    args += ["--lr", "1", "--init", str(start), "--out", str(tmp_path / "ruined")]
    assert main(args) == 0  # lr 1: every epoch worse than where it started
    best = load_checkpoint(tmp_path / "ruined" / "best.pt")
    assert best["epoch"] == 0 and _distance(best["model"], _weights(start)) == 0
    origin = json.loads((tmp_path / "ruined" / "init.json").read_text())
    history = load_checkpoint(tmp_path / "ruined" / "state.pt")["history"]
    assert all(origin["val_loss"] < h["val_loss"] for h in history)
    assert "no epoch beat the starting weights' validation loss" in capsys.readouterr().out


def test_fine_tuning_gets_a_learning_rate_that_keeps_what_was_learnt():
    """With `init` and no `lr`, the preset's rate for random weights (5e-4 for blind)
    took the shipped network from 34.5 to 26.4 dB in 15 steps (bench/fine_tune_lr.py);
    the command line's side is in test_fine_tuning_from_the_command_line."""
    from noise2noise.training import train_preset

    assert train_preset("blind", "resunet").lr == 5e-4
    assert train_preset("blind", "resunet", init="pretrained:blind").lr == 2e-5
    assert train_preset("blind", "resunet", init="pretrained:blind", lr=1e-4).lr == 1e-4


def test_level_weighting_makes_low_and_high_noise_crops_count_alike():
    from noise2noise.training.loop import _loss

    g = torch.Generator().manual_seed(0)
    clean = torch.rand(2, 3, 96, 96, generator=g)
    sigma = torch.tensor([5.0, 50.0]).view(2, 1, 1, 1) / 255
    x = clean + sigma * torch.randn(clean.shape, generator=g)
    target = clean + sigma * torch.randn(clean.shape, generator=g)
    # A network off by a tenth of each crop's noise level, and the same network made
    # perfect on the low-noise crop or on the high-noise one: the same gain in PSNR.
    off = clean + 0.1 * sigma * torch.randn(clean.shape, generator=g)
    fixed_low, fixed_high = off.clone(), off.clone()
    fixed_low[0], fixed_high[1] = clean[0], clean[1]

    def worth_of_high_over_low(power):
        config = TrainConfig(arch="resunet", noise="gaussian:0-75", level_weight=power)
        loss = _loss(off, x, target, config)
        gain_low = loss - _loss(fixed_low, x, target, config)
        gain_high = loss - _loss(fixed_high, x, target, config)
        return (gain_high / gain_low).item()

    assert worth_of_high_over_low(0.0) > 30  # plain MSE: the noisy crop is all that counts
    assert 0.5 < worth_of_high_over_low(1.0) < 2  # divided by the variance: alike
    assert 5 < worth_of_high_over_low(0.5) < 20  # half way (10 in expectation)
