"""Reproduce the report: Table 1, the N2N/N2C convergence figure, the ZS-N2N sensitivity
study and the sample figures, as cached cells that survive interruption.

Nothing here denoises, trains or measures by itself: every cell is a call to the library
(:func:`noise2noise.training.run_training`, :func:`noise2noise.evaluation.evaluate`), and
this module only decides which cells exist, where their results live, and how the tables
and figures are laid out. Layout of an output folder::

    config.json             the budget; a re-run with another budget is refused
    runs/<start>-<pid>.json every run: start, seconds, experiments, threads, command
    environment.json        software versions and machine of the latest run
    train/<arch>-<target>-<noise>/   one training run each (done.json when finished)
    table1/results.csv      per image, noise and method (the cache of Table 1)
    sensitivity/results.csv per image, noise and configuration L<depth>_r<ratio>
    convergence/, figures/  CSVs and PNGs
    RESULTS.md              every table and figure, made from the files above
                            (by :mod:`noise2noise.results_md`)

Cells are written as they finish; a re-run skips them. Several processes may work on the
same folder, with the same experiments or different ones: lock files (:mod:`noise2noise.locks`)
give each network and each (image, noise) cell to one process, and a process that needs a
network another one is training waits for it instead of training it again.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import platform
import shutil
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path

import numpy as np

from .config import changed_fields, from_dict, to_dict
from .errors import N2NError
from .evaluation import CellResult, evaluate, make_noisy, read_results
from .locks import claim, held_elsewhere
from .methods import NoiseAwareDenoiser
from .metrics import psnr
from .noise import parse_noise
from .plots import plot_convergence, plot_grid
from .training import read_history
from .zeroshot import PRESETS, ZeroShotConfig

__all__ = [
    "EXPERIMENTS",
    "Budget",
    "BUDGETS",
    "quick_budget",
    "budget_for",
    "REPORT_TABLE1",
    "Reproduction",
    "reproduce",
]

log = logging.getLogger(__name__)

EXPERIMENTS = ("train", "table1", "convergence", "sensitivity", "figures")
TABLE1_NOISES = (
    "gaussian:25",
    "gaussian:50",
    "gaussian:75",
    "poisson:15",
    "poisson:20",
    "poisson:25",
)
# Row key, the report's label. Trained rows are "<arch>_<target>".
TABLE1_ROWS = (
    ("noisy", "Noise level"),
    ("cnn_clean", "Simple CNN (clean)"),
    ("unet_clean", "N2C (UNet)"),
    ("cnn_noisy", "Simple CNN (noisy)"),
    ("unet_noisy", "N2N (UNet)"),
    ("zeroshot", "Zero-shot N2N"),
    ("bm3d", "BM3D"),
    ("ansc", "ANSC"),
    ("pretrained", "Pretrained N2N (ours, shipped)"),
)
TRAINED = (("cnn", "clean"), ("unet", "clean"), ("cnn", "noisy"), ("unet", "noisy"))
# The report's Table 1 (mean PSNR in dB over its 50 test images), for comparison only.
REPORT_TABLE1: dict[str, tuple[float | None, ...]] = {
    "noisy": (20.45, 14.88, 12.01, 16.08, 17.25, 18.16),
    "cnn_clean": (28.16, 24.45, 22.24, 25.41, 26.01, 26.50),
    "unet_clean": (27.37, 25.05, 24.19, 25.22, 26.36, 26.36),
    "cnn_noisy": (27.30, 23.60, 21.34, 24.66, 25.52, 25.98),
    "unet_noisy": (27.55, 24.20, 22.54, 24.73, 25.68, 26.41),
    "zeroshot": (28.40, 24.21, 21.50, 25.20, 26.13, 26.78),
    "bm3d": (28.09, 24.87, 22.88, None, None, None),
    "ansc": (None, None, None, 22.13, 22.23, 22.29),
    "pretrained": (None,) * 6,  # not in the report: the blind model this package ships
}
CONVERGENCE_NOISES = ("gaussian:25", "gaussian:50")
SENSITIVITY_NOISES = ("gaussian:25", "poisson:25")
SENSITIVITY_LAYERS = (2, 3, 4)
SENSITIVITY_RATIOS = (0.5, 1.0, 2.0, 10.0, math.inf)
FIGURE_NOISES = ("gaussian:25", "poisson:25")


# ------------------------------------------------------------------ budgets


@dataclass(frozen=True)
class Budget:
    """What a reproduction computes: presets, sizes and image counts.

    Parameters
    ----------
    train : str
        Training preset (:data:`noise2noise.training.TRAIN_PRESETS`) for the four networks.
    train_overrides : dict
        Fields of that preset to change (the quick mode's few epochs).
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

    train: str
    zeroshot: ZeroShotConfig
    sensitivity: ZeroShotConfig
    train_overrides: dict = field(default_factory=dict)
    test_set: str = "test50"
    train_set: str = "bsds432"
    test_images: int | None = None
    sensitivity_images: int = 10
    train_images: int | None = None
    crop: int = 256
    seed: int = 0

    def to_dict(self) -> dict:
        """JSON-ready (:func:`noise2noise.config.to_dict`)."""
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict) -> Budget:
        """The inverse of :meth:`to_dict`, strict; fields added since take their defaults
        (:func:`noise2noise.config.from_dict`)."""
        return from_dict(cls, data)


_FAST_V01 = ZeroShotConfig(
    steps=1500, lr=2e-3, lr_milestones=(0.5, 0.75), crop=32, batch=8, loss_ratio=math.inf
)

BUDGETS: dict[str, Budget] = {
    # The report's hyperparameters: its training settings, ZS-N2N with 3000 full-image
    # steps, and the sensitivity study with the paper's 2000 full-image steps. Days on CPU.
    "report": Budget(train="report", zeroshot=PRESETS["report"], sensitivity=PRESETS["paper"]),
    # What finishes on 2 CPU cores: the cpu training preset, the fast ZS-N2N preset of
    # version 0.1 for Table 1, and for the sensitivity study its crop training with 1000
    # steps (the consistency term is then computed on the crops). Spelled out, so that
    # retuning the fast preset does not silently invalidate the cached cells.
    "cpu": Budget(
        train="cpu",
        zeroshot=_FAST_V01,
        sensitivity=replace(_FAST_V01, steps=1000, loss_ratio=1.0),
    ),
}


def quick_budget(budget: Budget) -> Budget:
    """The same structure in minutes: 2 test images of 64×64, tiny trainings, few steps."""
    return replace(
        budget,
        train_overrides={**budget.train_overrides, "epochs": 1, "crop": 32, "batch_size": 4},
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
        raise N2NError(f"unknown preset '{preset}' (choose from {', '.join(BUDGETS)})")
    return quick_budget(BUDGETS[preset]) if quick else BUDGETS[preset]


# ------------------------------------------------------------------ helpers


def _slug(noise: str) -> str:
    return noise.replace(":", "")


def sensitivity_name(layers: int, ratio: float) -> str:
    return f"L{layers}_r{'inf' if math.isinf(ratio) else f'{ratio:g}'}"


def _parsesensitivity_name(name: str) -> tuple[int, float]:
    """``"L3_rinf"`` -> (3, inf)."""
    depth, _, ratio = name.partition("_r")
    try:
        return int(depth.removeprefix("L")), float(ratio)
    except ValueError:
        raise N2NError(f"not a sensitivity configuration: '{name}'") from None


def format_duration(seconds: float) -> str:
    """``"1 h 05 min"`` or ``"3 min 07 s"``."""
    seconds = int(round(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min {s:02d} s"


class _Progress:
    """Log 'done/total, about T left' for a stage, at most once a minute (and at the end)."""

    def __init__(self, stage: str, every: float = 60.0, unit: str = "cells"):
        self.stage, self.every, self.unit = stage, every, unit
        self.start = time.perf_counter()
        self.last = self.start

    def __call__(self, done: int, total: int) -> None:
        now = time.perf_counter()
        if done < total and now - self.last < self.every:
            return
        self.last = now
        left = (now - self.start) / done * (total - done) if done else math.nan
        eta = f", about {format_duration(left)} left" if done < total and done else ""
        log.info("%s: %d/%d %s%s", self.stage, done, total, self.unit, eta)


def environment() -> dict:
    """Software versions and the machine, for the record of a run."""
    import importlib.metadata as md

    import torch

    versions = {"python": platform.python_version()}
    for package in ("noise2noise", "torch", "numpy", "scikit-image", "bm3d", "opencv-python"):
        try:
            versions[package] = md.version(package)
        except md.PackageNotFoundError:
            versions[package] = None
    return {
        "versions": versions,
        "machine": {
            "platform": platform.platform(),
            "processor": platform.processor() or platform.machine(),
            "cpu_count": os.cpu_count(),
            "torch_threads": torch.get_num_threads(),
        },
    }


# ------------------------------------------------------------------ the reproduction


class Reproduction:
    """The cells of the report's experiments under one budget, cached in ``out``.

    Parameters
    ----------
    out : path-like
        Output folder (created); see the module docstring for its layout.
    budget : Budget
    data_root : path-like, optional
        Where the named image sets live.
    progress : bool
        Progress bars (training and evaluation) in addition to the log lines.
    device : str, optional
        Where training and the methods that can use a device run.
    """

    def __init__(
        self,
        out: str | os.PathLike,
        budget: Budget,
        *,
        data_root: str | os.PathLike | None = None,
        progress: bool = True,
        device: str | None = None,
    ):
        self.out = Path(out)
        self.budget = budget
        # Run-time setting, not part of config.json: a folder started on the CPU can be
        # continued on a GPU and back; None leaves every method on its default (the CPU).
        self.runtime = {"device": device} if device is not None else {}
        self.data_root = data_root
        self.progress = progress
        self._images: list | None = None
        self.out.mkdir(parents=True, exist_ok=True)
        config_file = self.out / "config.json"
        current = {"budget": budget.to_dict()}
        if config_file.exists():
            old = json.loads(config_file.read_text())
            try:  # read through the dataclasses, so that fields added since default
                old = {"budget": Budget.from_dict(old["budget"]).to_dict()}
            except (KeyError, TypeError, ValueError):
                pass  # a folder of another version or tool: reported as different below
            changed = changed_fields(old.get("budget", {}), current["budget"])
            if changed or set(old) != set(current):
                raise N2NError(
                    f"{self.out} holds a reproduction with another budget "
                    f"(differs in: {', '.join(changed) or 'format'}): use another --out"
                )
        else:
            config_file.write_text(json.dumps(current, indent=2) + "\n")

    # ---------------------------------------------------------------- cells

    def test_images(self, limit: int | None = None) -> list[tuple[str, np.ndarray]]:
        """The test set, centre-cropped (loaded once)."""
        from .datasets import load_image_set

        if self._images is None:
            self._images = load_image_set(
                [self.budget.test_set],
                crop=self.budget.crop,
                limit=self.budget.test_images,
                data_root=self.data_root,
            )
        return self._images[:limit] if limit is not None else self._images

    def test_count(self) -> int:
        """How many test images the budget uses (from the file list; nothing is read)."""
        from .datasets import image_set_paths

        files, _ = image_set_paths(self.budget.test_set, self.data_root)
        limit = self.budget.test_images
        return len(files) if limit is None else min(limit, len(files))

    def train_config(self, arch: str, target: str, noise: str):
        from .training import train_preset

        return train_preset(
            self.budget.train, arch, target=target, noise=noise, **self.budget.train_overrides
        )

    def train_dir(self, arch: str, target: str, noise: str) -> Path:
        return self.out / "train" / f"{arch}-{target}-{_slug(noise)}"

    def is_trained(self, arch: str, target: str, noise: str) -> bool:
        run_dir = self.train_dir(arch, target, noise)
        return (run_dir / "done.json").exists() and (run_dir / "best.pt").exists()

    def trained(self, arch: str, target: str, noise: str) -> Path:
        """The run folder of a finished training, training (or resuming) it if needed."""
        from .training import run_training

        run_dir = self.train_dir(arch, target, noise)
        done = run_dir / "done.json"
        if self.is_trained(arch, target, noise):
            return run_dir
        with claim(run_dir.with_name(run_dir.name + ".lock")):
            if self.is_trained(arch, target, noise):  # by another process while we waited
                return run_dir
            if run_dir.exists() and not (run_dir / "state.pt").exists():
                # Nothing to resume: a record without weights (weights are not kept in
                # git) or a run stopped before its first epoch. Training is seeded, so
                # training again makes the same network.
                log.info("%s: no weights to resume from, training from the start", run_dir.name)
                shutil.rmtree(run_dir)
            log.info("training %s", run_dir.name)
            tic = time.perf_counter()
            history = run_training(
                self.train_config(arch, target, noise),
                run_dir,
                data=self.budget.train_set,
                data_root=self.data_root,
                limit=self.budget.train_images,
                resume=(run_dir / "state.pt").exists(),
                progress=self.progress,
                device=self.runtime.get("device", "cpu"),
            )
            record = {
                "epochs": len(history),
                "train_seconds": round(sum(h["seconds"] for h in history), 1),
                "final_val_psnr": history[-1]["val_psnr"] if history else None,
                "this_process_seconds": round(time.perf_counter() - tic, 1),
            }
            done.write_text(json.dumps(record, indent=2) + "\n")
            log.info("trained %s in %s", run_dir.name, format_duration(record["train_seconds"]))
        return run_dir

    def in_training_elsewhere(self, arch: str, target: str, noise: str) -> bool:
        """Whether another live process holds the lock of this network's training."""
        run_dir = self.train_dir(arch, target, noise)
        return held_elsewhere(run_dir.with_name(run_dir.name + ".lock"))

    def train_all(self, noises: Sequence[str] = TABLE1_NOISES) -> None:
        """Train the four networks of Table 1 for each noise.

        A network that another live process is training is left to it (an experiment
        that needs it waits for it then), so several processes running ``train`` share
        the networks and none of them idles; it is trained here if its process stops.
        """
        cells = [(a, t, n) for n in noises for a, t in TRAINED]
        todo = [cell for cell in cells if not self.is_trained(*cell)]
        log.info("training: %d of %d networks to train", len(todo), len(cells))
        progress = _Progress("training", every=0.0, unit="networks")
        total, done = len(todo), 0
        while todo:
            free = [cell for cell in todo if not self.in_training_elsewhere(*cell)]
            if not free:
                names = ", ".join(self.train_dir(*cell).name for cell in todo)
                log.info("training: leaving %s to the processes training them", names)
                break
            self.trained(*free[0])
            todo.remove(free[0])
            done += 1
            progress(done, total)

    def _evaluate(self, experiment: str, images, noises, methods: dict) -> list[CellResult]:
        return evaluate(
            images,
            [parse_noise(n) for n in noises],
            methods,
            csv_path=self.out / experiment / "results.csv",
            seed=self.budget.seed,
            progress=self.progress,
            on_cell=_Progress(f"{experiment} {', '.join(noises)}"),
            shared=True,
        )

    def method(self, experiment: str, key: str, noise: str) -> Callable:
        """The denoiser ``(noisy, noise) -> image`` behind a row of an experiment's CSV.

        A trained network is trained (or its missing weights trained again) only when the
        denoiser is first called, so cached cells never cause a training.
        """
        if experiment == "sensitivity":
            depth, ratio = _parsesensitivity_name(key)
            config = replace(self.budget.sensitivity, layers=depth, loss_ratio=ratio)
            options = {"preset": config, "seed": self.budget.seed, **self.runtime}
            return NoiseAwareDenoiser("zeroshot", options)
        if key == "zeroshot":
            options = {"preset": self.budget.zeroshot, "seed": self.budget.seed, **self.runtime}
            return NoiseAwareDenoiser("zeroshot", options)
        if key in ("bm3d", "ansc", "pretrained"):
            return NoiseAwareDenoiser(key, dict(self.runtime))
        arch, _, target = key.partition("_")
        if (arch, target) not in TRAINED:
            raise N2NError(f"no method '{key}' in {experiment}")
        return _TrainedDenoiser(self, arch, target, noise)

    # ---------------------------------------------------------------- experiments

    def table1(self) -> None:
        """Every row of Table 1 under the six noises; methods without training first."""
        images = self.test_images()
        untrained = {
            k: self.method("table1", k, "") for k in ("zeroshot", "bm3d", "ansc", "pretrained")
        }
        self._evaluate("table1", images, TABLE1_NOISES, untrained)
        for noise in TABLE1_NOISES:
            methods = {f"{a}_{t}": self.method("table1", f"{a}_{t}", noise) for a, t in TRAINED}
            self._evaluate("table1", images, [noise], methods)

    def convergence(self) -> Path:
        """Validation PSNR per epoch of N2N and N2C (U-Net) at sigma 25 and 50."""
        rows, curves = [], {}
        for noise in CONVERGENCE_NOISES:
            curves[noise] = {}
            for target, label in (("noisy", "N2N (noisy targets)"), ("clean", "N2C (clean)")):
                run_dir = self.train_dir("unet", target, noise)
                if not (run_dir / "done.json").exists():  # its history is all we need
                    self.trained("unet", target, noise)
                history = read_history(run_dir / "history.csv")
                curves[noise][label] = [(h["epoch"], h["val_psnr"]) for h in history]
                rows += [{"noise": noise, "target": target, **h} for h in history]
        folder = self.out / "convergence"
        folder.mkdir(exist_ok=True)
        _write_csv(folder / "convergence.csv", rows)
        return plot_convergence(curves, folder / "convergence.png")

    def sensitivity(self) -> None:
        """ZS-N2N with L = 2, 3, 4 layers and residual/consistency ratios 0.5 ... inf."""
        images = self.test_images(self.budget.sensitivity_images)
        names = [sensitivity_name(d, r) for d in SENSITIVITY_LAYERS for r in SENSITIVITY_RATIOS]
        methods = {name: self.method("sensitivity", name, "") for name in names}
        self._evaluate("sensitivity", images, SENSITIVITY_NOISES, methods)

    def figures(self, index: int = 0) -> None:
        """Original / noisy / every method on one test image; ZS-N2N's downsampled pair."""
        import torch

        from .convert import image_to_tensor
        from .zeroshot import pair_downsample

        name, image = self.test_images()[index]
        folder = self.out / "figures"
        if (folder / "figures.csv").exists():
            log.info("figures: already made (delete %s to make them again)", folder)
            return
        folder.mkdir(exist_ok=True)
        rows = []
        for noise_name in FIGURE_NOISES:
            noise = parse_noise(noise_name)
            clean, noisy = make_noisy(image, noise, seed=self.budget.seed, image_name=name)
            panels, outputs = [("original", clean)], {}
            for key, label in TABLE1_ROWS:
                out = (
                    noisy
                    if key == "noisy"
                    else self.method("table1", key, noise_name)(noisy, noise)
                )
                if out is None:
                    continue
                outputs[key] = out = np.clip(out, 0.0, 1.0)
                value = psnr(out, clean)
                rows.append({"image": name, "noise": noise_name, "method": key, "psnr": value})
                panels.append((f"{label}: {value:.2f} dB", out))
            plot_grid(panels, folder / f"methods-{_slug(noise_name)}.png", columns=3)
            if noise_name == FIGURE_NOISES[0]:
                with torch.no_grad():
                    d1, d2 = pair_downsample(image_to_tensor(noisy, channel_axis=-1))
                half = [t[0].permute(1, 2, 0).numpy() for t in (d1, d2)]
                denoised = outputs["zeroshot"]
                plot_grid(
                    [
                        (f"noisy ({noise_name})", noisy),
                        ("D1(y): diagonal", half[0]),
                        ("D2(y): anti-diagonal", half[1]),
                        (f"ZS-N2N: {psnr(denoised, clean):.2f} dB", denoised),
                    ],
                    folder / "zeroshot-pair.png",
                    columns=4,
                )
        _write_csv(folder / "figures.csv", rows)

    def verify(self, sample: int = 5, *, seed: int = 0, tolerance: float = 0.1) -> list[dict]:
        """Recompute a random sample of the cached cells and compare PSNR with the CSVs.

        Networks whose weights are missing (they are not kept in git) are trained again
        first. Writes ``verify.csv``; a row's ``ok`` says whether the recomputed PSNR is
        within ``tolerance`` dB of the cached one.
        """
        import random

        from .evaluation import NOISY

        cells = [
            (experiment, cell)
            for experiment in ("table1", "sensitivity")
            for cell in read_results(self.out / experiment / "results.csv")
            if cell.method != NOISY
        ]
        if not cells:
            raise N2NError(f"{self.out}: no cached cells to verify")
        images = dict(self.test_images())
        rows = []
        for experiment, cell in random.Random(seed).sample(cells, min(sample, len(cells))):
            noise = parse_noise(cell.noise)
            clean, noisy = make_noisy(
                images[cell.image], noise, seed=self.budget.seed, image_name=cell.image
            )
            out = self.method(experiment, cell.method, cell.noise)(noisy, noise)
            value = psnr(np.clip(out, 0.0, 1.0), clean)
            rows.append(
                {
                    "experiment": experiment,
                    "image": cell.image,
                    "noise": cell.noise,
                    "method": cell.method,
                    "cached_psnr": cell.psnr,
                    "recomputed_psnr": round(value, 4),
                    "difference": round(value - cell.psnr, 4),
                    "ok": abs(value - cell.psnr) <= tolerance,
                }
            )
            log.info("verify: %s", " ".join(f"{k}={v}" for k, v in rows[-1].items()))
        _write_csv(self.out / "verify.csv", rows)
        return rows

    # ---------------------------------------------------------------- report

    def write_report(self) -> Path:
        """RESULTS.md from the files in the folder (cells not yet computed show as '–')."""
        from .results_md import write_results_md

        tests = self.test_count()
        return write_results_md(self.out, tests, min(tests, self.budget.sensitivity_images))


class _TrainedDenoiser:
    """A trained network as an evaluation method, trained on first use only."""

    def __init__(self, repro: Reproduction, arch: str, target: str, noise: str):
        self.repro, self.cell = repro, (arch, target, noise)
        self._denoiser: NoiseAwareDenoiser | None = None

    def __call__(self, noisy: np.ndarray, noise) -> np.ndarray | None:
        if self._denoiser is None:
            run = self.repro.trained(*self.cell)
            self._denoiser = NoiseAwareDenoiser(f"model:{run}", dict(self.repro.runtime))
        return self._denoiser(noisy, noise)


def _write_csv(path: Path, rows: list[dict]) -> None:
    with open(path, "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]) if rows else ["empty"])
        writer.writeheader()
        writer.writerows(rows)


# ------------------------------------------------------------------ entry point


def reproduce(
    experiments: Sequence[str],
    out: str | os.PathLike,
    *,
    preset: str = "cpu",
    quick: bool = False,
    data_root: str | os.PathLike | None = None,
    progress: bool = True,
    command: str | None = None,
    budget: Budget | None = None,
    device: str | None = None,
) -> Path:
    """Run experiments (``"train"``, ``"table1"``, ``"convergence"``, ``"sensitivity"``,
    ``"figures"``, ``"all"``) and write ``RESULTS.md``.

    Parameters
    ----------
    experiments : names; ``"train"`` trains Table 1's networks only, ``"all"`` runs every
        experiment, ``"report"`` only rewrites RESULTS.md
    out : output folder; cells already there are skipped
    preset : key of :data:`BUDGETS`
    quick : a few small images and a few steps: the same structure in minutes
    data_root : where the named image sets live
    command : the command line, recorded in ``runs/``
    budget : use this budget instead of ``preset``/``quick`` (tests)
    device : where training and device-capable methods run (not part of the results'
        configuration; see :class:`Reproduction`)

    Returns
    -------
    Path of ``RESULTS.md``.
    """
    import torch

    wanted = list(EXPERIMENTS) if "all" in experiments else list(dict.fromkeys(experiments))
    unknown = [e for e in wanted if e not in (*EXPERIMENTS, "report")]
    if unknown:
        raise N2NError(
            f"unknown experiment(s) {', '.join(unknown)} "
            f"(choose from {', '.join(EXPERIMENTS)}, all, report)"
        )
    if budget is None:
        budget = budget_for(preset, quick=quick)
    repro = Reproduction(out, budget, data_root=data_root, progress=progress, device=device)
    steps: dict[str, Callable[[], object]] = {
        "train": repro.train_all,
        "table1": repro.table1,
        "convergence": repro.convergence,
        "sensitivity": repro.sensitivity,
        "figures": repro.figures,
    }
    work = [name for name in wanted if name in steps]
    if work:  # rewriting RESULTS.md alone is not a run
        record = _RunRecord(
            repro.out,
            experiments=work,
            threads=torch.get_num_threads(),
            command=command or " ".join(sys.argv),
        )
        try:
            for name in work:
                log.info("%s ...", name)
                steps[name]()
        finally:
            record.close()
    return repro.write_report()


class _RunRecord:
    """``runs/<start>-<pid>.json``: what a process ran and for how long, rewritten every
    minute, so that a run that is killed still leaves its time behind."""

    def __init__(self, out: Path, **info):
        import threading

        started = datetime.now(timezone.utc)
        self.info = {"started": started.isoformat(timespec="seconds"), **info}
        folder = out / "runs"
        folder.mkdir(exist_ok=True)
        self.path = folder / f"{started:%Y%m%dT%H%M%S}-{os.getpid()}.json"
        self.tic = time.perf_counter()
        self._stop = threading.Event()
        self._write(finished=False)
        self._thread = threading.Thread(target=self._beat, daemon=True)
        self._thread.start()
        (out / "environment.json").write_text(json.dumps(environment(), indent=2) + "\n")

    def _beat(self) -> None:
        while not self._stop.wait(60.0):
            self._write(finished=False)

    def _write(self, *, finished: bool) -> None:
        record = {
            **self.info,
            "seconds": round(time.perf_counter() - self.tic, 1),
            "finished": finished,
        }
        tmp = self.path.with_suffix(".partial")
        tmp.write_text(json.dumps(record, indent=2) + "\n")
        os.replace(tmp, self.path)

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._write(finished=True)
