"""Noise2Noise and Noise2Clean training: one loop for every model and every target.

Lehtinen et al. 2018: with zero-mean noise and an L2 loss, training against a second noisy
image of the same scene has the same minimiser as training against the clean image, since
E‖f(x̂) − (y + n)‖² = E‖f(x̂) − y‖² + E‖n‖² when n is independent of the input. So the loss
is MSE, and the only difference between N2N and N2C is which target the sampler hands over.

A run folder holds ``config.json``, ``weights.pt`` (last epoch), ``best.pt`` (best
validation loss), ``state.pt`` (what ``--resume`` needs), ``history.csv`` and
``history.png``. Every epoch draws its crops and noise from a generator seeded by
(seed, epoch), so a resumed run ends exactly where an uninterrupted one would.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, fields, replace
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .config import check_types, raise_for_invalid
from .convert import as_float, luminance
from .errors import N2NError
from .metrics import psnr
from .models import MODELS, build_model
from .noise import (
    Gaussian,
    NoiseMixture,
    Poisson,
    as_mixture,
    make_generator,
    parse_noise,
    parse_training_noise,
    quantise,
)
from .runtime import autocast, resolve_device

__all__ = [
    "TrainConfig",
    "TRAIN_PRESETS",
    "train_preset",
    "SyntheticPairs",
    "RealPairs",
    "train",
    "save_checkpoint",
    "load_checkpoint",
    "CheckpointError",
    "load_model",
    "load_training_images",
    "run_training",
    "denoise_with_model",
    "read_history",
]

log = logging.getLogger(__name__)
CHECKPOINT_FORMAT = "noise2noise-checkpoint"


# ------------------------------------------------------------------ configuration


MAX_WIDTH, MAX_DEPTH = 1024, 8  # bounds of the network size fields


@dataclass(frozen=True)
class TrainConfig:
    """Hyperparameters of a training run (strict: unknown keys are an error on load).

    Parameters
    ----------
    arch : {"unet", "cnn"}
    target : {"noisy", "clean"}
        Noise2Noise (a second noisy realisation) or Noise2Clean (the clean crop).
    noise : str
        Synthetic noise, e.g. ``"gaussian:25"`` (ignored for real pairs).
    epochs : int
        Maximum epochs; an epoch draws one random crop from every training image.
    batch_size, lr : int, float
        Adam's batch size and learning rate.
    crop : int
        Training crop side (random position, random flips).
    early_stop : int or None
        Stop after this many epochs without a better validation loss.
    schedule : {"plateau", "cosine"}
        Learning-rate schedule: ReduceLROnPlateau on the validation loss (the report's),
        or cosine annealing over ``epochs``, which does not depend on the validation loss
        and so treats N2N (whose validation targets are noisy) and N2C alike.
    plateau_patience, plateau_factor : int, float
        ReduceLROnPlateau settings.
    val_fraction : float
        Share of the images held out for validation (fixed crops, fixed noise).
    width, depth : int
        Network size: hidden channels (U-Net: of the first level) and U-Net levels.
    blocks : int
        Residual blocks per level (``resunet`` only).
    residual : bool
        The network learns a correction added to its input (``x + f(x)``) instead of the
        image itself; off in the report's setting, on in the CPU budget, where it reaches
        a useful model in far fewer steps.
    clip_target : bool
        Clip the synthetic noisy target to [0, 1] like the input, as a saved image would be
        (default). Clipping makes the target's noise non-zero-mean near black and white,
        which biases Noise2Noise; False keeps the raw values, so the target is unbiased
        (synthetic noise only: real pairs are what they are).
    steps_per_epoch : int or None
        Optimiser steps per epoch, each on a batch of images drawn with replacement; None
        (default) makes an epoch one crop from every training image.
    quantise_input : bool
        Round the noisy input to 8 bits, as a stored image is.
    grayscale : bool
        Train on the luminance of the images (BT.601), for a one-channel model.
    seed : int
        Seeds initialisation, the split, crops and noise.

    ``noise`` may also be a mixture (``"gaussian:0-75|poisson:5-120"``, see
    :class:`~noise2noise.noise.NoiseMixture`): every crop then gets its own kind and level.
    """

    arch: str = "unet"
    target: str = "noisy"
    noise: str = "gaussian:25"
    epochs: int = 100
    batch_size: int = 32
    lr: float = 1e-4
    crop: int = 256
    early_stop: int | None = 10
    schedule: str = "plateau"
    plateau_patience: int = 5
    plateau_factor: float = 0.2
    val_fraction: float = 0.15
    width: int = 64
    depth: int = 4
    residual: bool = False
    clip_target: bool = True
    blocks: int = 2
    steps_per_epoch: int | None = None
    quantise_input: bool = False
    grayscale: bool = False
    seed: int = 0

    def __post_init__(self):
        check_types(self, "training configuration")
        checks = {
            "arch": self.arch in MODELS,
            "target": self.target in ("noisy", "clean"),
            "epochs": 1 <= self.epochs <= 1_000_000,
            "batch_size": 1 <= self.batch_size <= 4096,
            "lr": 0 < self.lr < math.inf,
            "crop": 16 <= self.crop <= 4096,
            "early_stop": self.early_stop is None or self.early_stop >= 1,
            "schedule": self.schedule in ("plateau", "cosine"),
            "plateau_patience": self.plateau_patience >= 0,
            "plateau_factor": 0 < self.plateau_factor < 1,
            "val_fraction": 0 < self.val_fraction < 1,
            # Upper bounds far above any useful network, so that a tampered checkpoint
            # cannot ask for a 100-gigabyte model.
            "width": 1 <= self.width <= MAX_WIDTH,
            "depth": 1 <= self.depth <= MAX_DEPTH,
            "blocks": 1 <= self.blocks <= 16,
            "steps_per_epoch": self.steps_per_epoch is None
            or 1 <= self.steps_per_epoch <= 1_000_000,
        }
        raise_for_invalid(self, checks, "training configuration")
        parse_training_noise(self.noise)  # fails early on a bad spec

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown training configuration keys: {', '.join(unknown)}")
        return cls(**data)

    def model_options(self) -> dict:
        if self.arch == "resunet":
            return {"width": self.width, "depth": self.depth, "blocks": self.blocks}
        if self.arch == "unet":
            return {"width": self.width, "depth": self.depth, "residual": self.residual}
        return {"width": self.width, "residual": self.residual}


_CPU_UNET = TrainConfig(
    arch="unet",
    lr=2e-3,
    batch_size=16,
    epochs=80,
    early_stop=None,
    schedule="cosine",
    crop=64,
    width=16,
    depth=3,
    residual=True,
)

# The shipped blind denoisers (docs/models.md): a residual U-Net trained Noise2Noise-style
# (noisy targets only) on noise drawn per crop over a range, so one network serves every
# level without being told it; 8-bit clipped inputs as stored images are, unclipped
# targets so that the target noise is zero-mean. Sized for a GPU: 20k steps of 48 crops.
_BLIND = TrainConfig(
    arch="resunet",
    target="noisy",
    noise="gaussian:0-75|poisson:5-120",
    epochs=40,
    steps_per_epoch=500,
    batch_size=48,
    lr=5e-4,
    crop=128,
    early_stop=None,
    schedule="cosine",
    val_fraction=0.05,
    width=48,
    depth=2,
    blocks=2,
    clip_target=False,
    quantise_input=True,
)

# The report's hyperparameters (appendix A.5) and a budget that trains on 2 CPU cores.
TRAIN_PRESETS: dict[str, dict[str, TrainConfig]] = {
    "report": {
        "unet": TrainConfig(
            arch="unet",
            lr=1e-4,
            batch_size=32,
            epochs=100,
            early_stop=10,
            plateau_patience=5,
            plateau_factor=0.2,
            crop=256,
        ),
        "cnn": TrainConfig(
            arch="cnn", lr=1e-3, batch_size=32, epochs=50, early_stop=None, width=48, crop=256
        ),
    },
    # At most 10 minutes on 2 CPU cores (see README): 64×64 crops, a narrow 3-level U-Net
    # that learns a residual correction from an identity start, a higher learning rate
    # annealed on a fixed schedule, so that N2N and N2C get exactly the same steps.
    "cpu": {"unet": _CPU_UNET, "cnn": replace(_CPU_UNET, arch="cnn", width=48)},
    "blind": {"resunet": _BLIND},
    # Half of the crops carry synthetic camera noise (noise2noise.camera), for real photos.
    "real": {"resunet": replace(_BLIND, noise="camera|gaussian:0-75|camera|poisson:5-120")},
}


def train_preset(preset: str, arch: str, **overrides) -> TrainConfig:
    """The preset's configuration for ``arch`` with ``overrides`` (None values ignored)."""
    try:
        base = TRAIN_PRESETS[preset][arch]
    except KeyError:
        raise ValueError(
            f"unknown preset/arch '{preset}'/'{arch}' (presets: {', '.join(TRAIN_PRESETS)}; "
            f"architectures: {', '.join(MODELS)})"
        ) from None
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})


# ------------------------------------------------------------------ data


def _epoch_generator(seed: int, epoch: int) -> torch.Generator:
    return make_generator(seed * 1_000_003 + epoch)


def _random_crop_flip(arrays: Sequence[np.ndarray], size: int, g: torch.Generator) -> list:
    """The same random crop and flips of several aligned H×W×C arrays, as (C, s, s) tensors."""
    h, w = arrays[0].shape[:2]
    top = int(torch.randint(0, h - size + 1, (1,), generator=g))
    left = int(torch.randint(0, w - size + 1, (1,), generator=g))
    flips = torch.rand(2, generator=g) < 0.5
    out = []
    for a in arrays:
        t = torch.from_numpy(as_float(a[top : top + size, left : left + size])).permute(2, 0, 1)
        if flips[0]:
            t = t.flip(-1)
        if flips[1]:
            t = t.flip(-2)
        out.append(t)
    return out


def _as_hwc(image: np.ndarray) -> np.ndarray:
    return image[:, :, None] if image.ndim == 2 else image


class SyntheticPairs:
    """Training pairs made from clean images: input = noisy 1, target = noisy 2 or clean.

    Every draw makes two independent noise realisations, so a crop never meets the same
    noise twice. ``target_noise`` (default: ``noise``) makes the noisy target, e.g. the
    same noise without clipping.
    """

    def __init__(
        self,
        images: Sequence[np.ndarray],
        noise: Gaussian | Poisson,
        target: str,
        target_noise: Gaussian | Poisson | None = None,
    ):
        self.images = [_as_hwc(i) for i in images]
        self.noise = noise
        self.target = target
        self.target_noise = noise if target_noise is None else target_noise

    def __len__(self) -> int:
        return len(self.images)

    @property
    def channels(self) -> int:
        return self.images[0].shape[2]

    def subset(self, indices: Sequence[int]) -> SyntheticPairs:
        images = [self.images[i] for i in indices]
        return SyntheticPairs(images, self.noise, self.target, self.target_noise)

    def draw(self, indices: Sequence[int], size: int, g: torch.Generator):
        """(inputs, targets, clean), each (B, C, size, size)."""
        clean = torch.stack([_random_crop_flip([self.images[i]], size, g)[0] for i in indices])
        noisy_in = self.noise(clean, generator=g)
        target = self.target_noise(clean, generator=g) if self.target == "noisy" else clean
        return noisy_in, target, clean


class RealPairs:
    """Training pairs from two noisy captures of each scene; no clean image needed.

    The order of the two images is drawn at random, so neither capture is always the input.
    ``clean`` images, when given, are used only to report PSNR.
    """

    def __init__(
        self,
        first: Sequence[np.ndarray],
        second: Sequence[np.ndarray],
        clean: Sequence[np.ndarray] | None = None,
    ):
        if len(first) != len(second):
            raise ValueError("the two folders must hold the same number of images")
        self.pairs = [(_as_hwc(a), _as_hwc(b)) for a, b in zip(first, second, strict=True)]
        self.clean = [_as_hwc(c) for c in clean] if clean is not None else None
        self.target = "noisy"

    def __len__(self) -> int:
        return len(self.pairs)

    @property
    def channels(self) -> int:
        return self.pairs[0][0].shape[2]

    def subset(self, indices: Sequence[int]) -> RealPairs:
        clean = [self.clean[i] for i in indices] if self.clean else None
        return RealPairs(
            [self.pairs[i][0] for i in indices], [self.pairs[i][1] for i in indices], clean
        )

    def draw(self, indices: Sequence[int], size: int, g: torch.Generator):
        inputs, targets, cleans = [], [], []
        for i in indices:
            arrays = [*self.pairs[i], *([self.clean[i]] if self.clean else [])]
            crops = _random_crop_flip(arrays, size, g)
            swap = bool(torch.rand(1, generator=g) < 0.5)
            inputs.append(crops[1] if swap else crops[0])
            targets.append(crops[0] if swap else crops[1])
            if self.clean:
                cleans.append(crops[2])
        return torch.stack(inputs), torch.stack(targets), torch.stack(cleans) if cleans else None


def split_indices(n: int, fraction: float, seed: int) -> tuple[list[int], list[int]]:
    """Seeded split into (train, validation) indices; at least one of each when n >= 2."""
    order = torch.randperm(n, generator=make_generator(seed)).tolist()
    n_val = min(max(1, round(n * fraction)), n - 1) if n >= 2 else 0
    return sorted(order[n_val:]), sorted(order[:n_val])


class MixturePairs:
    """Pairs from clean images with noise of a random kind and level per crop, made where
    the images are: on a GPU the whole set sits in device memory and every batch is cut,
    flipped and noised there, so the optimiser never waits for the CPU.

    The input is clipped to [0, 1] and, with ``quantise_input``, rounded to 8 bits, as a
    stored image is; the noisy target is an independent draw with the same kind and level,
    unclipped unless ``clip_target``, so its noise is zero-mean and the Noise2Noise argument
    holds exactly (Lehtinen et al. 2018, eq. 2).
    """

    def __init__(
        self,
        images: Sequence[np.ndarray] | None,
        noise: NoiseMixture,
        target: str,
        *,
        clip_target: bool = False,
        quantise_input: bool = True,
        _stack: tuple[torch.Tensor, torch.Tensor, float] | None = None,
    ):
        self.noise, self.target = noise, target
        self.clip_target, self.quantise_input = clip_target, quantise_input
        if _stack is not None:
            self.pixels, self.sizes, self.scale = _stack
            return
        hwc = [_as_hwc(i) for i in images]
        # Portrait images are turned to landscape so that one padded array holds all.
        hwc = [np.swapaxes(i, 0, 1) if i.shape[0] > i.shape[1] else i for i in hwc]
        self.scale = 255.0 if hwc[0].dtype == np.uint8 else 65535.0
        dtype = torch.uint8 if self.scale == 255.0 else torch.int32
        h = max(i.shape[0] for i in hwc)
        w = max(i.shape[1] for i in hwc)
        self.pixels = torch.zeros((len(hwc), hwc[0].shape[2], h, w), dtype=dtype)
        for k, image in enumerate(hwc):
            if image.dtype not in (np.uint8, np.uint16):
                image = np.rint(np.clip(image, 0, 1) * self.scale)
            values = torch.from_numpy(np.ascontiguousarray(image).astype(np.int64))
            self.pixels[k, :, : image.shape[0], : image.shape[1]] = values.permute(2, 0, 1)
        self.sizes = torch.tensor([i.shape[:2] for i in hwc])  # (N, 2) true H, W

    def __len__(self) -> int:
        return len(self.pixels)

    @property
    def channels(self) -> int:
        return self.pixels.shape[1]

    def _with(self, pixels: torch.Tensor, sizes: torch.Tensor) -> MixturePairs:
        return MixturePairs(
            None,
            self.noise,
            self.target,
            clip_target=self.clip_target,
            quantise_input=self.quantise_input,
            _stack=(pixels, sizes, self.scale),
        )

    def subset(self, indices: Sequence[int]) -> MixturePairs:
        index = torch.as_tensor(list(indices), dtype=torch.long)
        return self._with(self.pixels[index.to(self.pixels.device)], self.sizes[index])

    def to(self, device: torch.device) -> MixturePairs:
        return self._with(self.pixels.to(device), self.sizes)

    def draw(self, indices: Sequence[int], size: int, g: torch.Generator):
        """(inputs, targets, clean), each (B, C, size, size), on the images' device.

        ``g`` (a CPU generator) seeds a generator on the device that draws the crop
        positions, flips, noise levels and noise there, so a GPU never waits for the host.
        """
        dev = self.pixels.device
        index = torch.as_tensor(list(indices), dtype=torch.long)
        if dev.type == "cuda":
            index = index.pin_memory()
        index = index.to(dev, non_blocking=True)
        dg = torch.Generator(device=dev).manual_seed(int(torch.randint(2**62, (1,), generator=g)))
        count = len(indices)
        sizes = self.sizes.to(dev, non_blocking=True)[index]  # (B, 2)
        corner = (torch.rand(count, 2, generator=dg, device=dev) * (sizes - size + 1)).long()
        flips = torch.rand(count, 3, generator=dg, device=dev) < 0.5  # rows, columns, transpose
        steps = torch.arange(size, device=dev)
        rows = corner[:, :1] + torch.where(flips[:, :1], steps.flip(0), steps)  # (B, size)
        cols = corner[:, 1:] + torch.where(flips[:, 1:2], steps.flip(0), steps)
        crops = self.pixels[index[:, None, None], :, rows[:, :, None], cols[:, None, :]]
        clean = crops.permute(0, 3, 1, 2).float() / self.scale  # (B, C, size, size)
        transpose = flips[:, 2, None, None, None]
        clean = torch.where(transpose, clean.transpose(-1, -2), clean).contiguous()
        params = self.noise.sample(count, dg)
        noisy_in = self.noise.apply(clean, params, generator=dg, clip=True)
        if self.quantise_input:
            noisy_in = quantise(noisy_in)
        if self.target == "noisy":
            target = self.noise.apply(clean, params, generator=dg, clip=self.clip_target)
        else:
            target = clean
        return noisy_in, target, clean


# ------------------------------------------------------------------ checkpoints


class CheckpointError(N2NError):
    """A file that is not a checkpoint of this project."""


def save_checkpoint(
    path: Path, model: torch.nn.Module, config: TrainConfig, channels: int, **extra
) -> None:
    """Atomically save weights with the configuration that built them."""
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": 1,
        "config": asdict(config),
        "channels": channels,
        "model": model.state_dict(),
        **extra,
    }
    tmp = path.with_name(f".{path.name}.partial")
    torch.save(payload, tmp)
    os.replace(tmp, path)


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Load a checkpoint without executing code from the file (``weights_only=True``).

    ``path`` may be a run folder (its ``best.pt`` is used) or a ``.pt`` file.

    Raises
    ------
    CheckpointError
        Missing, unreadable, or not written by this project.
    """
    path = Path(path)
    if path.is_dir():
        path = path / "best.pt"
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint (train one with 'n2n train')")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and torch errors alike
        raise CheckpointError(
            f"{path}: not a noise2noise checkpoint ({_load_reason(exc)})"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a noise2noise checkpoint")
    payload["config"] = _checked_config(path, payload)
    _check_state(path, payload)
    return payload


def _load_reason(exc: Exception) -> str:
    """Why ``torch.load`` refused a file, in a few words and never cut mid-word."""
    text = str(exc).strip()
    if "Weights only load failed" in text or "weights_only" in text:
        return "it holds Python objects besides weights, which are not loaded (they could run code)"
    first = text.splitlines()[0] if text else type(exc).__name__
    return first if len(first) <= 120 else first[:120].rsplit(" ", 1)[0] + " ..."


def _checked_config(path: Path, payload: dict) -> TrainConfig:
    """The checkpoint's configuration, checked as strictly as one given to ``n2n train``."""
    config, channels = payload.get("config"), payload.get("channels")
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: the checkpoint has no training configuration")
    if not isinstance(channels, int) or isinstance(channels, bool) or channels not in (1, 3):
        raise CheckpointError(f"{path}: bad field 'channels' ({channels!r}; 1 or 3)")
    try:
        return TrainConfig.from_dict(config)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{path}: bad configuration in the checkpoint ({exc})") from None


def _check_state(path: Path, payload: dict) -> None:
    """The weights must have exactly the names and shapes of the network the
    configuration describes; it is built on the ``meta`` device, which allocates nothing."""
    state = payload.get("model")
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise CheckpointError(f"{path}: the checkpoint's weights are not a state dict")
    config = payload["config"]
    with torch.device("meta"):
        expected = build_model(config.arch, payload["channels"], **config.model_options())
    shapes = {k: tuple(v.shape) for k, v in expected.state_dict().items()}
    missing = sorted(set(shapes) - set(state))
    extra = sorted(set(state) - set(shapes))
    if missing or extra:
        name, kind = (missing[0], "missing") if missing else (extra[0], "unexpected")
        raise CheckpointError(
            f"{path}: weights do not match the {config.arch} the configuration describes "
            f"({kind} tensor '{name}')"
        )
    for key, shape in shapes.items():
        if tuple(state[key].shape) != shape:
            raise CheckpointError(
                f"{path}: weights do not match the {config.arch} the configuration describes "
                f"(tensor '{key}' has shape {tuple(state[key].shape)}, expected {shape})"
            )
        if state[key].is_floating_point() and not torch.isfinite(state[key]).all():
            raise CheckpointError(f"{path}: tensor '{key}' holds NaN or infinite values")


def load_model(path: str | os.PathLike) -> tuple[torch.nn.Module, TrainConfig]:
    """The trained network (eval mode) and its configuration from a run folder or file.

    The checkpoint is checked (:func:`load_checkpoint`) before the network is built."""
    payload = load_checkpoint(path)
    config = payload["config"]
    model = build_model(config.arch, payload["channels"], **config.model_options())
    model.load_state_dict(payload["model"])
    return model.eval(), config


# ------------------------------------------------------------------ the loop


@torch.no_grad()
def _validate(model, val_set, device: torch.device) -> tuple[float, float]:
    """(mean loss against the targets, mean PSNR against clean or NaN)."""
    model.eval()
    losses, psnrs = [], []
    for x, t, c in val_set:
        with autocast(device):
            out = model(x.to(device)).float()
        t = t.to(device)
        losses.append(float(F.mse_loss(out, t)))
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


def _write_history(run_dir: Path, history: list[dict]) -> None:
    with open(run_dir / "history.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=HISTORY_FIELDS)
        writer.writeheader()
        writer.writerows(history)


def read_history(path: str | os.PathLike) -> list[dict]:
    """The rows of a run's ``history.csv`` (epoch as int, the rest as float)."""
    with open(path, newline="") as f:
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
    ax2.plot(epochs, [h["val_psnr"] for h in history], color="C2")
    ax2.set(xlabel="epoch", ylabel="validation PSNR (dB)")
    fig.tight_layout()
    fig.savefig(run_dir / "history.png", dpi=100)
    plt.close(fig)


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
    The history: one dict per epoch (see ``history.csv``).
    """
    from tqdm.auto import tqdm

    run_dir = Path(run_dir)
    state_file = run_dir / "state.pt"
    if run_dir.exists() and any(run_dir.iterdir()) and not resume:
        raise ValueError(f"{run_dir} already holds a run: use --resume, or another --out")
    if resume and not state_file.exists():
        raise ValueError(f"{run_dir}: nothing to resume (no state.pt)")
    run_dir.mkdir(parents=True, exist_ok=True)
    if len(data) < 2:
        raise ValueError("training needs at least 2 images (one is held out for validation)")

    device = resolve_device(device)
    train_idx, val_idx = split_indices(len(data), config.val_fraction, config.seed)
    train_data, val_data = data.subset(train_idx), data.subset(val_idx)
    if hasattr(train_data, "to"):
        train_data, val_data = train_data.to(device), val_data.to(device)
    val_set = _fixed_validation(val_data, config.crop, config.seed, config.batch_size)

    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(config.seed)
        model = build_model(config.arch, data.channels, **config.model_options())
    model.to(device)
    if device.type == "cuda":
        model.to(memory_format=torch.channels_last)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    if config.schedule == "plateau":
        scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, factor=config.plateau_factor, patience=config.plateau_patience
        )
    else:
        scheduler = torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=config.epochs)
    history: list[dict] = []
    best, stale, start = math.inf, 0, 0
    if resume:
        state = load_checkpoint(state_file)
        if state["config"] != config:
            raise ValueError(f"{run_dir} was started with another configuration")
        model.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        scheduler.load_state_dict(state["scheduler"])
        history, best, stale = state["history"], state["best"], state["stale"]
        start = len(history)
    (run_dir / "config.json").write_text(json.dumps(asdict(config), indent=2) + "\n")

    bar = tqdm(
        range(start, config.epochs),
        initial=start,
        total=config.epochs,
        unit="epoch",
        disable=None if progress else True,
    )
    model.train()
    last_plot = time.perf_counter()
    for epoch in bar:
        if config.early_stop is not None and stale >= config.early_stop:
            break
        tic = time.perf_counter()
        g = _epoch_generator(config.seed, epoch)
        if config.steps_per_epoch is None:
            order = torch.randperm(len(train_data), generator=g).tolist()
        else:
            draws = (config.steps_per_epoch * config.batch_size,)
            order = torch.randint(len(train_data), draws, generator=g).tolist()
        # Losses stay on the device until the epoch ends: no host synchronisation per step.
        loss_sum, steps = torch.zeros((), dtype=torch.float64, device=device), 0
        for i in range(0, len(order), config.batch_size):
            x, target, _ = train_data.draw(order[i : i + config.batch_size], config.crop, g)
            x, target = x.to(device, non_blocking=True), target.to(device, non_blocking=True)
            with autocast(device):
                out = model(x)
            loss = F.mse_loss(out.float(), target)
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer.step()
            loss_sum += loss.detach()
            steps += 1
        val_loss, val_psnr = _validate(model, val_set, device)
        if config.schedule == "plateau":
            scheduler.step(val_loss)
        else:
            scheduler.step()
        row = {
            "epoch": epoch + 1,
            "train_loss": float(loss_sum) / steps,
            "val_loss": val_loss,
            "val_psnr": val_psnr,
            "lr": optimizer.param_groups[0]["lr"],
            "seconds": time.perf_counter() - tic,
        }
        history.append(row)
        if val_loss < best:
            best, stale = val_loss, 0
            save_checkpoint(run_dir / "best.pt", model, config, data.channels, epoch=epoch + 1)
        else:
            stale += 1
        save_checkpoint(run_dir / "weights.pt", model, config, data.channels, epoch=epoch + 1)
        save_checkpoint(
            state_file,
            model,
            config,
            data.channels,
            optimizer=optimizer.state_dict(),
            scheduler=scheduler.state_dict(),
            history=history,
            best=best,
            stale=stale,
        )
        _write_history(run_dir, history)
        if time.perf_counter() - last_plot > PLOT_EVERY:  # a plot costs about half a second
            _plot_history(run_dir, history)
            last_plot = time.perf_counter()
        bar.set_postfix(loss=f"{row['train_loss']:.2e}", val_psnr=f"{val_psnr:.2f}")
        if on_epoch is not None:
            on_epoch(row)
    bar.close()
    _plot_history(run_dir, history)
    return history


# ------------------------------------------------------------------ files and models


def load_training_images(
    files: Sequence[Path], *, crop: int, channels: int | None = None, strict: bool = False
) -> tuple[list[np.ndarray], list[str]]:
    """Read training images, leaving out those that cannot serve (with a reason each).

    Unreadable files, images smaller than ``crop`` and images whose channel count differs
    from the set's (e.g. a grayscale image among colour ones) are skipped, or with
    ``strict`` stop the run. An alpha channel is dropped.

    Returns
    -------
    (images, problems): the usable H×W×C arrays and one message per skipped file.
    """
    from .image_io import ImageFileError, read_image, split_alpha

    images, problems = [], []
    for f in files:
        try:
            image = _as_hwc(split_alpha(read_image(f))[0])
            if min(image.shape[:2]) < crop:
                raise ValueError(
                    f"{f}: {image.shape[1]}×{image.shape[0]} is smaller than "
                    f"the {crop}×{crop} training crop"
                )
            channels = channels or image.shape[2]
            if image.shape[2] != channels:
                raise ValueError(f"{f}: {image.shape[2]} channel(s) in a set of {channels}")
        except (ImageFileError, ValueError) as exc:
            if strict:
                raise ValueError(f"{exc} (stopping: --strict)") from exc
            problems.append(str(exc))
            log.warning("skipped %s", exc)
            continue
        images.append(image)
    return images, problems


def run_training(
    config: TrainConfig,
    run_dir: str | os.PathLike,
    *,
    data: str | os.PathLike | None = None,
    pairs: tuple[str | os.PathLike, str | os.PathLike] | None = None,
    clean: str | os.PathLike | None = None,
    data_root: str | os.PathLike | None = None,
    limit: int | None = None,
    resume: bool = False,
    strict: bool = False,
    progress: bool = True,
    device: str | torch.device | None = None,
) -> list[dict]:
    """Train from a folder (or set name) of clean images, or from two folders of noisy pairs.

    Parameters
    ----------
    config : TrainConfig
    run_dir : path-like
    data : folder or set name of clean images (synthetic noise ``config.noise``)
    pairs : (folder A, folder B) of noisy captures with matching file names
    clean : folder of clean references for ``pairs`` (PSNR reporting only)
    data_root : where named sets live
    limit : use only the first N images
    resume, strict, progress, device : see :func:`train` and :func:`load_training_images`

    Returns
    -------
    The history, one dict per epoch.
    """
    from .datasets import image_set_paths
    from .image_io import list_images

    if (data is None) == (pairs is None):
        raise ValueError("give either clean images (--data) or noisy pairs (--pairs), not both")
    if data is not None:
        files, _ = image_set_paths(data, data_root)
        images, _ = load_training_images(files[:limit], crop=config.crop, strict=strict)
        if not images:
            raise ValueError(f"{data}: no usable training images")
        if config.grayscale:
            images = [luminance(i) if i.shape[2] == 3 else i for i in images]
        noise = parse_training_noise(config.noise)
        if config.quantise_input or isinstance(noise, NoiseMixture):
            dataset = MixturePairs(
                images,
                as_mixture(config.noise),
                config.target,
                clip_target=config.clip_target,
                quantise_input=config.quantise_input,
            )
        else:
            target_noise = parse_noise(config.noise, clip=config.clip_target)
            dataset = SyntheticPairs(images, noise, config.target, target_noise)
    else:
        if config.target != "noisy":
            raise ValueError("noisy pairs have no clean target: use --target noisy")
        if not config.clip_target:
            raise ValueError("unclipped targets need synthetic noise (--data), not real pairs")
        folder_a, folder_b = map(Path, pairs)
        names = [p.name for p in list_images(folder_a)][:limit]
        missing = [n for n in names if not (folder_b / n).is_file()]
        if missing:
            raise ValueError(f"{folder_b}: no match for {', '.join(missing[:5])}")
        folders = [folder_a, folder_b] + ([Path(clean)] if clean else [])
        loaded = [
            load_training_images([d / n for n in names], crop=config.crop, strict=True)[0]
            for d in folders
        ]
        dataset = RealPairs(loaded[0], loaded[1], loaded[2] if clean else None)
    return train(dataset, config, run_dir, resume=resume, progress=progress, device=device)


_MODEL_CACHE: dict[tuple[str, float], tuple[torch.nn.Module, TrainConfig]] = {}


def denoise_with_model(
    image: np.ndarray,
    *,
    model: str | os.PathLike,
    channel_axis: int | None = None,
    tile: int = 512,
    device: str | torch.device | None = "cpu",
) -> np.ndarray:
    """Denoise with a network trained by :func:`train` (N2N or N2C), tiled for large images.

    Parameters
    ----------
    image : ndarray
        H×W or with a channel axis; uint8, uint16 or float in [0, 1]. Its channel count
        must match the training images'.
    model : path-like
        A run folder (its ``best.pt``) or a checkpoint file.
    channel_axis : int or None
    tile : int
        Tile side; each tile gets 32 pixels of context on every side.
    device : str or torch.device
        Where to run the network (``"cpu"``, ``"cuda"``, ``"mps"``, ``"auto"``).

    Returns
    -------
    ndarray with the shape and dtype of ``image``.
    """
    from .convert import image_to_tensor, tensor_to_image
    from .tiling import apply_tiled

    path = Path(model)
    path = path / "best.pt" if path.is_dir() else path
    key = (str(path.resolve()), path.stat().st_mtime if path.exists() else 0.0)
    if key not in _MODEL_CACHE:  # one load per process, also in folder runs
        _MODEL_CACHE[key] = load_model(path)
    net, _ = _MODEL_CACHE[key]
    x = image_to_tensor(image, channel_axis=channel_axis)
    # Image channels: the input channels of the first convolution, unless the network
    # folds pixels into channels first (ResUNet) and says its channel count itself.
    expected = getattr(net, "channels", next(net.parameters()).shape[1])
    if x.shape[1] != expected:
        raise ValueError(
            f"the model was trained on {expected}-channel images, this image has {x.shape[1]}"
        )
    dev = resolve_device(device)
    net = net.to(dev)
    with torch.no_grad():
        out = apply_tiled(lambda t: net(t.to(dev)).cpu(), x, tile=tile, margin=32)
    out = out.clamp(0.0, 1.0)
    return tensor_to_image(out, image, channel_axis=channel_axis)
