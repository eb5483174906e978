"""The one training loop for every model and target, with its run folder: history CSV
and plot, best and last weights, resumable state."""

from __future__ import annotations

import csv
import logging
import math
import os
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from ..config import changed_fields
from ..errors import N2NError
from ..files import write_csv, write_json
from ..graphs import (
    TrainStep,
    learning_rate,
    load_portable_state,
    make_adam,
    portable_state,
)
from ..metrics import psnr
from ..models import build_model
from ..noise import (
    make_generator,
)
from ..progress import progress_bar
from ..runtime import autocast, resolve_device
from .checkpoint import initial_weights, load_checkpoint, save_checkpoint
from .configuration import TrainConfig
from .pairs import RealPairs, SyntheticPairs, _epoch_generator, split_indices

log = logging.getLogger(__name__)


@torch.no_grad()
def _validate(model, val_set, config: TrainConfig, device: torch.device) -> tuple[float, float]:
    """(mean training loss against the targets, mean PSNR against clean or NaN). The loss
    is the one trained on (level-weighted too), so ``best.pt`` is best at what the run
    optimises."""
    model.eval()
    losses, psnrs = [], []
    for x, t, c in val_set:
        x = x.to(device)
        with autocast(device):
            out = model(x).float()
        t = t.to(device)
        losses.append(float(_loss(out, x, t, config)))
        if c is not None:
            psnrs.extend(psnr(o.clamp(0, 1), r) for o, r in zip(out.cpu(), c.cpu(), strict=True))
    model.train()
    return float(np.mean(losses)), float(np.mean(psnrs)) if psnrs else math.nan


def _fixed_validation(data, size: int, seed: int, batch: int):
    """Validation batches with crops and noise fixed by the seed, the same every epoch."""
    g = make_generator(seed + 7)
    idx = list(range(len(data)))
    return [data.draw(idx[i : i + batch], size, g) for i in range(0, len(idx), batch)]


HISTORY_FIELDS = ("epoch", "train_loss", "val_loss", "val_psnr", "lr", "seconds")
PLOT_EVERY = 60.0  # seconds between updates of history.png during a run (and at its end)
# Seconds between checkpoints (state.pt, weights.pt, best.pt), also written after the first
# epoch of a process and at the end: an interrupted run loses at most this much training.
# Written every epoch, the report's U-Net (31 M float32 parameters: five copies, about
# 630 MB, in the three files) on an H200 took 183 s in all for 80 epochs of 1.3 s
# (docs/results/report, G25 N2N: done.json against history.csv), the rest being start-up,
# data loading and those writes.
CHECKPOINT_EVERY = 30.0


def _write_history(run_dir: Path, history: list[dict]) -> None:
    write_csv(run_dir / "history.csv", history, HISTORY_FIELDS)


def read_history(path: str | os.PathLike) -> list[dict]:
    """The rows of a run's ``history.csv`` (epoch as int, the rest as float)."""
    with open(path, newline="", encoding="utf-8") as f:
        return [
            {k: (int(v) if k == "epoch" else float(v)) for k, v in row.items()}
            for row in csv.DictReader(f)
        ]


def _plot_history(run_dir: Path, history: list[dict]) -> None:
    if not history:
        return
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:  # plotting is a convenience, never a reason to fail a run
        return
    epochs = [h["epoch"] for h in history]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(9, 3.2))
    ax1.plot(epochs, [h["train_loss"] for h in history], label="train")
    ax1.plot(epochs, [h["val_loss"] for h in history], label="validation")
    ax1.set(xlabel="epoch", ylabel="MSE loss", yscale="log")
    ax1.legend()
    psnr = [h["val_psnr"] for h in history]
    ax2.plot(epochs, psnr, color="C2")
    ax2.set(xlabel="epoch", ylabel="validation PSNR (dB)")
    if not any(map(math.isfinite, psnr)):  # noisy pairs without clean images
        ax2.text(0.5, 0.5, "no clean images: no PSNR", ha="center", transform=ax2.transAxes)
    fig.tight_layout()
    fig.savefig(run_dir / "history.png", dpi=100)
    plt.close(fig)


def check_run_dir(run_dir: str | os.PathLike, resume: bool) -> bool:
    """Whether ``run_dir`` has a run to resume (with ``resume``; False for a run stopped
    before its first checkpoint, where nothing was trained that could be kept).

    Raises
    ------
    N2NError
        A run is there and ``resume`` is False, or ``resume`` and nothing to resume.
    """
    run_dir = Path(run_dir)
    if run_dir.exists() and any(run_dir.iterdir()) and not resume:
        raise N2NError(f"{run_dir} already holds a run: use `resume=True`, or another `run_dir`")
    if resume and not (run_dir / "state.pt").exists():
        trained = [n for n in ("history.csv", "weights.pt", "best.pt") if (run_dir / n).exists()]
        if trained or not (run_dir / "config.json").is_file():
            raise N2NError(f"{run_dir}: nothing to resume (no state.pt)")
        return False
    return resume


def train(
    data: SyntheticPairs | RealPairs,
    config: TrainConfig,
    run_dir: str | os.PathLike,
    *,
    resume: bool = False,
    progress: bool = True,
    on_epoch: Callable[[dict], None] | None = None,
    device: str | torch.device | None = None,
) -> list[dict]:
    """Train ``config.arch`` on ``data`` with MSE loss; the one loop for N2N and N2C.

    Parameters
    ----------
    data : SyntheticPairs or RealPairs
        All images; ``config.val_fraction`` of them are held out (seeded split).
    config : TrainConfig
    run_dir : path-like
        Run folder; must be new or empty unless ``resume``.
    resume : bool
        Continue from the last completed epoch recorded in ``run_dir``.
    progress : bool
        Progress bar with epoch, loss, validation PSNR and ETA.
    on_epoch : callable, optional
        Called with each epoch's history row (used by tests to interrupt a run).
    device : str or torch.device, optional
        Where to train (run-time setting, not part of the configuration: a run may resume
        on another device); None picks CUDA, then MPS, then the CPU. On CUDA the forward
        and backward passes run in bf16 autocast with channels-last tensors, and a pair
        source that can (:class:`MixturePairs`) moves its images to the GPU.

    Returns
    -------
    The history: one dict per epoch (see ``history.csv``). With ``config.init`` the
    starting weights are validated first (their loss and PSNR go to ``init.json``) and
    count as epoch 0: ``best.pt`` holds them when no epoch does better.
    """
    run_dir = Path(run_dir)
    state_file = run_dir / "state.pt"
    resumable = check_run_dir(run_dir, resume)
    if resume and not resumable:
        log.info("%s: stopped before its first epoch ended; training from the start", run_dir)
    resume = resumable
    if len(data) < 2:
        raise N2NError("training needs at least 2 images (one is held out for validation)")

    device = resolve_device(device)
    train_idx, val_idx = split_indices(len(data), config.val_fraction, config.seed)
    train_data, val_data = data.subset(train_idx), data.subset(val_idx)
    if hasattr(train_data, "to"):
        train_data, val_data = train_data.to(device), val_data.to(device)
    val_set = _fixed_validation(val_data, config.crop, config.seed, config.batch_size)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = build_model(config.arch, data.channels, **config.model_options())
    origin = None
    if config.init is not None and not resume:  # fine-tuning (a resumed run has its state)
        weights, origin = initial_weights(config, data.channels)
        model.load_state_dict(weights)
    model.to(device)
    if device.type == "cuda":
        model.to(memory_format=torch.channels_last)
    optimizer, scheduler = _optimiser(model, config, device)
    train_step = TrainStep(_loss_of(model, config, device), optimizer)
    history: list[dict] = []
    best, stale = math.inf, 0
    best_weights = None  # (a copy of the best epoch's weights, its epoch) not yet saved
    run_dir.mkdir(parents=True, exist_ok=True)  # not before: a refused run leaves no folder
    if origin is not None:  # the starting weights are epoch 0: best.pt is never worse
        best, start_psnr = _validate(model, val_set, config, device)
        best_weights = _copy_weights(model), 0
        origin = {**origin, "val_loss": best, "val_psnr": _finite_or_none(start_psnr)}
        write_json(run_dir / "init.json", origin)  # which file the name meant, by digest
    if resume:
        history, best, stale = _resume(state_file, config, model, optimizer, scheduler)
    start = len(history)
    write_json(run_dir / "config.json", config.to_dict())

    bar = progress_bar(  # off a terminal (a log, a batch job): a line per epoch
        range(start, config.epochs),
        initial=start,
        total=config.epochs,
        unit="epoch",
        show=progress,
        every=0.0,
    )
    model.train()
    last_plot = last_save = time.perf_counter()
    for epoch in bar:
        if config.early_stop is not None and stale >= config.early_stop:
            break
        tic = time.perf_counter()
        train_loss = _train_epoch(train_step, train_data, config, epoch, device)
        val_loss, val_psnr = _validate(model, val_set, config, device)
        if config.schedule == "plateau":
            scheduler.step(val_loss)
        else:
            scheduler.step()
        row = {
            "epoch": epoch + 1,
            "train_loss": train_loss,
            "val_loss": val_loss,
            "val_psnr": val_psnr,
            "lr": learning_rate(optimizer),
            "seconds": time.perf_counter() - tic,
        }
        history.append(row)
        if val_loss < best:
            best, stale = val_loss, 0
            best_weights = _copy_weights(model), epoch + 1
        else:
            stale += 1
        stopping = config.early_stop is not None and stale >= config.early_stop
        if (
            epoch == start
            or epoch + 1 == config.epochs
            or stopping
            or time.perf_counter() - last_save >= CHECKPOINT_EVERY
        ):
            if best_weights is not None:  # best.pt and state.pt always tell the same story
                weights, best_epoch = best_weights
                save_checkpoint(
                    run_dir / "best.pt", weights, config, data.channels, epoch=best_epoch
                )
                best_weights = None
            save_checkpoint(run_dir / "weights.pt", model, config, data.channels, epoch=epoch + 1)
            optimizer_state, scheduler_state = portable_state(optimizer, scheduler)
            save_checkpoint(
                state_file,
                model,
                config,
                data.channels,
                optimizer=optimizer_state,
                scheduler=scheduler_state,
                history=history,
                best=best,
                stale=stale,
            )
            last_save = time.perf_counter()
        _write_history(run_dir, history)
        if time.perf_counter() - last_plot > PLOT_EVERY:  # a plot costs about half a second
            _plot_history(run_dir, history)
            last_plot = time.perf_counter()
        shown = {"val_psnr": f"{val_psnr:.2f}"} if math.isfinite(val_psnr) else {}
        bar.set_postfix(loss=f"{row['train_loss']:.2e}", **shown)
        if on_epoch is not None:
            on_epoch(row)
    bar.close()
    _plot_history(run_dir, history)
    return history


def _finite_or_none(value: float) -> float | None:
    return value if math.isfinite(value) else None


def _copy_weights(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    """The model's weights now, on its device (kept until the next checkpoint is written)."""
    return {name: t.detach().clone() for name, t in model.state_dict().items()}


def _optimiser(model: torch.nn.Module, config: TrainConfig, device: torch.device):
    """Adam (made for the device: see :func:`~noise2noise.graphs.make_adam`) and the
    configuration's learning-rate schedule."""
    optimizer = make_adam(model.parameters(), config.lr, device)
    if config.schedule == "plateau":
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=config.plateau_factor, patience=config.plateau_patience
        )
    else:
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    return optimizer, scheduler


def _resume(state_file: Path, config: TrainConfig, model, optimizer, scheduler):
    """Load the state of an interrupted run (refused with another configuration):
    (history, best validation loss, epochs without improvement)."""
    state = load_checkpoint(state_file)
    changed = changed_fields(state["config"], config)
    if changed:
        old, new = state["config"], config
        said = ", ".join(f"{k} {getattr(old, k)!r} there, {getattr(new, k)!r} now" for k in changed)
        raise N2NError(
            f"{state_file.parent} was started with another configuration ({said}): resume "
            "with the settings it was started with"
            + (
                f"; to train it further, start a new run from its weights (`init` "
                f"{state_file.parent}, another `out`)"
                if "epochs" in changed
                else ""
            )
        )
    model.load_state_dict(state["model"])
    # Saved on any device, loaded into an optimiser made for this one.
    load_portable_state(optimizer, state["optimizer"], scheduler, state["scheduler"])
    return state["history"], state["best"], state["stale"]


# Noise variance below which a crop's weight stops growing: sigma 2 on the 0-255 scale.
LEVEL_FLOOR = (2.0 / 255.0) ** 2


def _loss(out: torch.Tensor, x: torch.Tensor, target: torch.Tensor, config: TrainConfig):
    """The training loss: MSE, each crop's weighted by its noise variance (as the pair
    itself shows it) to the power ``-config.level_weight``, weights averaging 1 per batch."""
    if config.level_weight == 0:
        return F.mse_loss(out, target)
    per_crop = (out - target).pow(2).flatten(1).mean(1)
    with torch.no_grad():
        share = 0.5 if config.target == "noisy" else 1.0  # two independent draws, or one
        variance = share * (x.float() - target).pow(2).flatten(1).mean(1)
        weight = (variance + LEVEL_FLOOR).pow(-config.level_weight)
        weight = weight / weight.mean()
    return (weight * per_crop).mean()


def _loss_of(model: torch.nn.Module, config: TrainConfig, device: torch.device):
    """The training step's loss as a function of the step's (input, target) batch."""

    def loss_of(x: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        with autocast(device):
            out = model(x)
        return _loss(out.float(), x, target, config)

    return loss_of


def _train_epoch(step: TrainStep, train_data, config: TrainConfig, epoch: int, device) -> float:
    """One epoch of Adam steps on MSE; the mean training loss. Crops, noise and order
    come from the epoch's own seeded generator, so a resumed run draws what it would have.
    On CUDA the steps are replayed as a CUDA graph (:class:`~noise2noise.graphs.TrainStep`)
    and batches drawn on the host travel from pinned memory, so the host draws the next
    batch while the device works."""
    g = _epoch_generator(config.seed, epoch)
    if config.steps_per_epoch is None:
        order = torch.randperm(len(train_data), generator=g).tolist()
    else:
        draws = (config.steps_per_epoch * config.batch_size,)
        order = torch.randint(len(train_data), draws, generator=g).tolist()
    # Losses stay on the device until the epoch ends: no host synchronisation per step.
    loss_sum, steps = torch.zeros((), dtype=torch.float64, device=device), 0
    pin = device.type == "cuda"
    for i in range(0, len(order), config.batch_size):
        x, target, _ = train_data.draw(order[i : i + config.batch_size], config.crop, g)
        if pin and x.device.type == "cpu":
            x, target = x.pin_memory(), target.pin_memory()
        x, target = x.to(device, non_blocking=True), target.to(device, non_blocking=True)
        loss_sum += step(x, target)
        steps += 1
    return float(loss_sum) / steps
