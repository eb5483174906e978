"""A reproduction's budget: every configuration its results depend on, written in full.

A :class:`Budget` holds the training configurations of the networks themselves (not the
name of a preset), the ZS-N2N configurations and the image counts; it is written to the
folder's ``config.json`` and a folder is continued only with the same budget. Budgets of
folders made when a budget named its training preset (``"train": "cpu"`` with
``"train_overrides"``) are migrated when read (:func:`migrate`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from ..config import ConfigError, from_dict, to_dict
from ..errors import N2NError
from ..training import TRAIN_PRESETS, TrainConfig
from ..zeroshot import PRESETS, ZeroShotConfig
from .spec import TRAINED

__all__ = ["Budget", "BUDGETS", "quick_budget", "budget_for", "migrate"]

ARCHS = tuple(dict.fromkeys(arch for arch, _ in TRAINED))  # the trained rows' networks


@dataclass(frozen=True)
class Budget:
    """What a reproduction computes: configurations, sizes and image counts.

    Parameters
    ----------
    train : dict of str to TrainConfig
        The training configuration of each network of Table 1 (``"cnn"``, ``"unet"``);
        each cell sets its own ``target`` and ``noise``.
    zeroshot : ZeroShotConfig
        ZS-N2N for Table 1 and the figures.
    sensitivity : ZeroShotConfig
        ZS-N2N for the sensitivity study; its ``layers`` and ``loss_ratio`` are varied.
    test_set, train_set : str
        Image sets (names or folders): the report's 50 test images, the training images.
    test_images, sensitivity_images, train_images : int or None
        Use only the first N images (None: all).
    crop : int
        Centre crop of the test images.
    seed : int
        Seeds the noise of every cell (see :func:`noise2noise.evaluation.noise_seed`).
    """

    train: dict[str, TrainConfig]
    zeroshot: ZeroShotConfig
    sensitivity: ZeroShotConfig
    test_set: str = "test50"
    train_set: str = "bsds432"
    test_images: int | None = None
    sensitivity_images: int = 10
    train_images: int | None = None
    crop: int = 256
    seed: int = 0

    def __post_init__(self):
        if not isinstance(self.train, dict) or set(self.train) != set(ARCHS):
            raise ConfigError(f"invalid budget: train must configure exactly {', '.join(ARCHS)}")
        for arch, config in self.train.items():
            if not isinstance(config, TrainConfig) or config.arch != arch:
                raise ConfigError(f"invalid budget: train['{arch}'] is not a {arch} configuration")

    def train_config(self, arch: str, target: str, noise: str) -> TrainConfig:
        """The configuration of one network of Table 1."""
        return replace(self.train[arch], target=target, noise=noise)

    def to_dict(self) -> dict:
        """JSON-ready (:func:`noise2noise.config.to_dict`)."""
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Budget:
        """The inverse of :meth:`to_dict`, strict; fields added since take their defaults,
        and a budget in the older format is migrated first (:func:`migrate`)."""
        return from_dict(cls, migrate(data), kind="budget")


def migrate(data: dict) -> dict:
    """A budget's dict in today's format.

    Until version 0.3 a budget named its training preset (``"train": "cpu"``) and listed
    changes to it (``"train_overrides"``). The name is replaced by the configurations it
    meant; the presets named then (``cpu``, ``report``) are the ones in
    :data:`noise2noise.training.TRAIN_PRESETS` today, which is why those two are never to
    be retuned in place (add a preset instead). ``tests/test_report.py`` checks the
    migration of ``docs/results/cpu`` against the configurations its trainings recorded.
    """
    if not isinstance(data, dict) or not isinstance(data.get("train"), str):
        return data
    data = dict(data)
    name = data.pop("train")
    overrides = data.pop("train_overrides", None) or {}
    if name not in ("cpu", "report") or not isinstance(overrides, dict):
        raise ConfigError(f"budget names an unknown training preset '{name}'")
    try:
        data["train"] = {
            arch: to_dict(replace(TRAIN_PRESETS[name][arch], **overrides)) for arch in ARCHS
        }
    except TypeError as exc:
        raise ConfigError(f"invalid budget train_overrides: {exc}") from None
    return data


_FAST_V01 = ZeroShotConfig(
    steps=1500, lr=2e-3, lr_milestones=(0.5, 0.75), crop=32, batch=8, loss_ratio=math.inf
)


def _networks(preset: str) -> dict[str, TrainConfig]:
    return {arch: TRAIN_PRESETS[preset][arch] for arch in ARCHS}


BUDGETS: dict[str, Budget] = {
    # The report's hyperparameters: its training settings, ZS-N2N with 3000 full-image
    # steps, and the sensitivity study with the paper's 2000 full-image steps. Days on CPU.
    "report": Budget(
        train=_networks("report"), zeroshot=PRESETS["report"], sensitivity=PRESETS["paper"]
    ),
    # What finishes on 2 CPU cores: the cpu training preset, the fast ZS-N2N preset of
    # version 0.1 for Table 1, and for the sensitivity study its crop training with 1000
    # steps (the consistency term is then computed on the crops). Spelled out, so that
    # retuning the fast preset does not silently invalidate the cached cells.
    "cpu": Budget(
        train=_networks("cpu"),
        zeroshot=_FAST_V01,
        sensitivity=replace(_FAST_V01, steps=1000, loss_ratio=1.0),
    ),
}


def quick_budget(budget: Budget) -> Budget:
    """The same structure in minutes: 2 test images of 64×64, tiny trainings, few steps."""
    tiny = {"epochs": 1, "crop": 32, "batch_size": 4}
    return replace(
        budget,
        train={arch: replace(config, **tiny) for arch, config in budget.train.items()},
        zeroshot=replace(budget.zeroshot, steps=10, crop=budget.zeroshot.crop and 16),
        sensitivity=replace(budget.sensitivity, steps=10, crop=budget.sensitivity.crop and 16),
        test_images=2,
        sensitivity_images=1,
        train_images=8,
        crop=64,
    )


def budget_for(preset: str, *, quick: bool = False) -> Budget:
    """The budget of a preset name (``"cpu"``, ``"report"``), or its quick version."""
    if preset not in BUDGETS:
        raise N2NError(f"unknown budget '{preset}' (choose from {', '.join(BUDGETS)})")
    return quick_budget(BUDGETS[preset]) if quick else BUDGETS[preset]
