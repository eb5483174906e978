"""ZS-N2N's hyperparameters (:class:`ZeroShotConfig`) and the named presets."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..config import ConfigError, check_types, from_dict, raise_for_invalid, to_dict
from ..errors import N2NError

__all__ = ["ZeroShotConfig", "PRESETS", "DEFAULT_PRESET", "RETIRED", "get_preset", "MIN_SIZE"]

MIN_SIZE = 8  # smaller images leave the 2×-downsampled pair too little to learn from


@dataclass(frozen=True)
class ZeroShotConfig:
    """Hyperparameters of ZS-N2N. The defaults are the paper's (its released code).

    Parameters
    ----------
    steps : int
        Adam steps (paper: 2000).
    lr : float
        Initial learning rate (paper: 1e-3).
    lr_milestones : tuple of float
        Fractions of ``steps`` at which the learning rate is multiplied by ``lr_gamma``;
        fractions, so that changing ``steps`` scales the schedule (paper: 1500/2000).
    lr_gamma : float
        Learning-rate factor at each milestone (paper: 0.5).
    layers : int
        Convolution layers L of the network (paper: 3).
    width : int
        Hidden channels (paper: 48).
    loss_ratio : float
        Weight ratio residual/consistency (paper: 1; ``inf`` = residual loss only).
    crop : int or None
        Train on random crops of this even size instead of the whole image (None: whole
        image, as in the paper). Makes the cost of a step independent of the image size.
    batch : int
        Crops per step (ignored without ``crop``).
    tta : bool
        Average the output over the 8 flips/rotations of the image.
    tta_budget : float or None
        With ``tta``: the megapixels × transforms that averaging may spend, so that it
        stays cheap on large images. An image of P megapixels gets the most of 8, 4 or 2
        transforms with P × n ≤ ``tta_budget``, else none (None: always 8).
    tile : int
        Inference tile size; memory is bounded by the tile, the result is unchanged.
    odd_offsets : bool
        With ``crop``: crops may also start at odd coordinates, so the downsampler pairs
        the pixels of all four 2×2 blockings of the image instead of the one the whole
        image has: four times as many distinct half-image pairs to learn from.

    Two switches were tried on crops and removed in version 0.3 because they lost
    (bsds432 crops, Gaussian 25, against ``fast`` of version 0.2 at 28.60 dB,
    ``bench/results/zeroshot_tune.csv``): leaving the border pixels out of the loss
    (``valid_loss``: 28.25 dB) and keeping the weights with the lowest loss on held-out
    crops (``select_best``: 28.51 dB). Files that name them switched off still load
    (:data:`RETIRED`).
    """

    steps: int = 2000
    lr: float = 1e-3
    lr_milestones: tuple[float, ...] = (0.75,)
    lr_gamma: float = 0.5
    layers: int = 3
    width: int = 48
    loss_ratio: float = 1.0
    crop: int | None = None
    batch: int = 1
    tta: bool = False
    tta_budget: float | None = None
    tile: int = 1024
    odd_offsets: bool = False

    def __post_init__(self):
        check_types(self, "ZS-N2N configuration")
        checks = {
            "steps": self.steps >= 1,
            "lr": self.lr > 0,
            "lr_milestones": all(0 < m <= 1 for m in self.lr_milestones),
            "lr_gamma": self.lr_gamma > 0,
            "layers": self.layers >= 2,
            "width": self.width >= 1,
            "loss_ratio": self.loss_ratio > 0,
            "crop": self.crop is None or (self.crop >= MIN_SIZE and self.crop % 2 == 0),
            "batch": self.batch >= 1,
            "tile": self.tile >= 16,
            "tta_budget": self.tta_budget is None or self.tta_budget > 0,
        }
        raise_for_invalid(self, checks, "ZS-N2N configuration")

    def with_steps(self, steps: int) -> ZeroShotConfig:
        """The same configuration with another number of steps (schedule scales with it)."""
        return replace(self, steps=steps)

    def to_dict(self) -> dict:
        """JSON-ready (:func:`noise2noise.config.to_dict`)."""
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ZeroShotConfig:
        """The inverse of :meth:`to_dict`, strict (:func:`noise2noise.config.from_dict`);
        fields removed since (:data:`RETIRED`) are accepted at the value that meant off."""
        if isinstance(data, dict):
            retired = {k: v for k, v in data.items() if k in RETIRED}
            on = [f"{k}={v!r}" for k, v in retired.items() if v != RETIRED[k]]
            if on:
                raise ConfigError(
                    f"ZS-N2N configuration uses {', '.join(on)}, removed in version 0.3"
                )
            data = {k: v for k, v in data.items() if k not in RETIRED}
        return from_dict(cls, data, kind="ZS-N2N configuration")


# Fields of earlier versions and the value at which they did nothing.
RETIRED = {"valid_loss": False, "select_best": False}


PRESETS: dict[str, ZeroShotConfig] = {
    # Mansour & Heckel's released code: 2000 full-image steps, lr halved at step 1500.
    "paper": ZeroShotConfig(),
    # The report, section 3.2: 3000 steps, lr halved every 1000 steps.
    "report": ZeroShotConfig(steps=3000, lr_milestones=(1 / 3, 2 / 3)),
    # Ours, tuned on 256×256 crops of bsds432 training images (never on test images;
    # bench/results/zeroshot_tune*.md): the paper's network, but each step sees 8 random
    # 32×32 crops instead of the whole image, so a step costs the same for any image size,
    # and the residual loss alone (ratio inf), which skips the full-resolution pass. The
    # paper's lr 1e-3 beat 2e-3 (version 0.1) at all three tuned noises (+0.07 dB at
    # Gaussian 25, +0.37 at Gaussian 50, +0.20 at Poisson 25). On top of that, crops at
    # odd offsets plus averaging over the 8 flips/rotations gained +0.31, +0.47 and +0.36;
    # the averaging is cut to 4, 2 or 1 transforms on images above 3 megapixels so that it
    # costs at most ~24 megapixel-passes (a 12 MP photo gets 2). See the README for the
    # benchmark on test images.
    "fast": ZeroShotConfig(
        steps=1500,
        lr=1e-3,
        lr_milestones=(0.5, 0.75),
        crop=32,
        batch=8,
        loss_ratio=math.inf,
        odd_offsets=True,
        tta=True,
        tta_budget=24.0,
    ),
}
DEFAULT_PRESET = "fast"


def get_preset(preset: str | ZeroShotConfig, *, steps: int | None = None) -> ZeroShotConfig:
    """Look a preset up by name (a ZeroShotConfig is returned as is); with ``steps``, that
    many steps instead of its own (:meth:`ZeroShotConfig.with_steps`)."""
    if isinstance(preset, ZeroShotConfig):
        config = preset
    else:
        try:
            config = PRESETS[preset]
        except KeyError:
            raise N2NError(
                f"unknown ZS-N2N preset '{preset}' (choose from {', '.join(PRESETS)})"
            ) from None
    return config if steps is None else config.with_steps(steps)
