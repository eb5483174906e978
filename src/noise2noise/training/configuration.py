"""The training configuration (a strict dataclass written beside every run) and the
named presets."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..config import check_types, from_dict, raise_for_invalid, to_dict
from ..errors import N2NError
from ..models import MODELS
from ..noise import (
    parse_training_noise,
)

CHECKPOINT_FORMAT = "noise2noise-checkpoint"


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
    level_weight : float
        Weight each crop's squared error by its noise variance to the power
        ``-level_weight`` (0: plain MSE; 1: divided by the variance), the variance
        estimated from the pair itself (half the mean squared difference between a noisy
        input and its noisy target; the whole of it against a clean target), weights
        normalised to a mean of 1 per batch. With noise of many levels the plain loss is
        dominated by the noisiest crops; weighting moves the network's effort towards
        low noise (bench/results/level_weighting.md). Each crop's minimiser is
        unchanged, so Noise2Noise still holds.
    float_share : float
        With ``quantise_input`` and synthetic noise: this share of the crops keeps its
        noisy input unclipped and unrounded (float data, the literature's protocol), so that
        one network serves stored 8-bit images and float ones alike.
    init : str or None
        Start from these weights instead of a seeded random initialisation (fine-tuning):
        a run folder, a checkpoint file, or ``"pretrained:NAME"`` for a shipped model
        (:data:`noise2noise.weights.PRETRAINED`, e.g. ``"pretrained:blind"``). The network
        they describe must be the one this configuration builds. Use a low ``lr``
        (:func:`train_preset` gives :data:`FINE_TUNE_LR` with ``init``): a preset's rate
        for random weights undoes trained ones.

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
    level_weight: float = 0.0
    init: str | None = None
    float_share: float = 0.0

    def __post_init__(self):
        check_types(self, "training configuration")
        checks = {
            "arch": self.arch in MODELS,
            "target": self.target in ("noisy", "clean"),
            "epochs": (1 <= self.epochs <= 1_000_000, "1 to 1000000"),
            "batch_size": (1 <= self.batch_size <= 4096, "1 to 4096"),
            "lr": 0 < self.lr < math.inf,
            "crop": (16 <= self.crop <= 4096, "16 to 4096"),
            "early_stop": self.early_stop is None or self.early_stop >= 1,
            "schedule": self.schedule in ("plateau", "cosine"),
            "plateau_patience": self.plateau_patience >= 0,
            "plateau_factor": 0 < self.plateau_factor < 1,
            "val_fraction": 0 < self.val_fraction < 1,
            # Upper bounds far above any useful network, so that a tampered checkpoint
            # cannot ask for a 100-gigabyte model.
            "width": (1 <= self.width <= MAX_WIDTH, f"1 to {MAX_WIDTH}"),
            "depth": (1 <= self.depth <= MAX_DEPTH, f"1 to {MAX_DEPTH}"),
            "blocks": (1 <= self.blocks <= 16, "1 to 16"),
            "steps_per_epoch": self.steps_per_epoch is None
            or 1 <= self.steps_per_epoch <= 1_000_000,
            "level_weight": (0.0 <= self.level_weight <= 1.0, "0 to 1"),
            "init": self.init is None or 0 < len(self.init) <= 4096,
            "float_share": (0.0 <= self.float_share <= 1.0, "0 to 1"),
        }
        raise_for_invalid(self, checks, "training configuration")
        parse_training_noise(self.noise)  # fails early on a bad spec

    def to_dict(self) -> dict:
        """JSON-ready (:func:`noise2noise.config.to_dict`)."""
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict) -> TrainConfig:
        """The inverse of :meth:`to_dict`, strict: unknown keys are an error, keys added
        since default (:func:`noise2noise.config.from_dict`)."""
        return from_dict(cls, data, kind="training configuration")

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
    # Half of the crops carry the noise of a developed camera JPEG (noise2noise.camera.
    # photo_noise), for real photos; version 0.6 and before: raw camera noise ("camera"),
    # which real photos did not resemble (bench/results/photo_noise_stats.md).
    "real": {"resunet": replace(_BLIND, noise="photo|gaussian:0-75|photo|poisson:5-120")},
}


# A preset's learning rate is for training from random weights; from trained ones (`init`)
# it undoes them: 15 steps at the blind preset's 5e-4 took the shipped network from 34.52 dB
# of validation PSNR to 26.40, at 1e-4 to 33.15, at 2e-5 to 34.33
# (bench/results/fine_tune_lr.md). Used when `init` is given without `lr`.
FINE_TUNE_LR = 2e-5


def train_preset(preset: str, arch: str, **overrides) -> TrainConfig:
    """The preset's configuration for ``arch`` with ``overrides`` (None values ignored);
    with ``init`` and no ``lr``, the learning rate is :data:`FINE_TUNE_LR`."""
    if overrides.get("init") is not None and overrides.get("lr") is None:
        overrides["lr"] = FINE_TUNE_LR
    try:
        base = TRAIN_PRESETS[preset][arch]
    except KeyError:
        raise N2NError(
            f"unknown preset/arch '{preset}'/'{arch}' (presets: {', '.join(TRAIN_PRESETS)}; "
            f"architectures: {', '.join(MODELS)})"
        ) from None
    return replace(base, **{k: v for k, v in overrides.items() if v is not None})
