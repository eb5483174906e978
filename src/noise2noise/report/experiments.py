"""The report's experiments as cells of a :class:`~.reproduction.Reproduction`: Table 1,
the N2N/N2C convergence figure, the ZS-N2N sensitivity study and the sample figures, and
:func:`reproduce`, which runs any of them and writes RESULTS.md.

Cells are written as they finish; a re-run skips them, so the work can be done in pieces
and by several processes at once (see :mod:`.reproduction`).
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch

from ..errors import N2NError
from ..evaluation import make_noisy
from ..files import write_csv
from ..metrics import psnr
from ..noise import parse_noise
from ..training import read_history
from ..zeroshot import downsampled_pair
from .budget import Budget, budget_for
from .plots import plot_convergence, plot_grid
from .records import RunRecord
from .reproduction import Reproduction
from .spec import (
    CONVERGENCE_NOISES,
    EXPERIMENTS,
    FIGURE_NOISES,
    SENSITIVITY_LAYERS,
    SENSITIVITY_NOISES,
    SENSITIVITY_RATIOS,
    TABLE1_NOISES,
    TABLE1_ROWS,
    TRAINED,
    UNTRAINED,
    sensitivity_name,
    slug,
)

__all__ = ["table1", "convergence", "sensitivity", "figures", "reproduce"]

log = logging.getLogger(__name__)


def table1(repro: Reproduction) -> None:
    """Every row of Table 1 under the six noises; methods without training first."""
    images = repro.test_images()
    untrained = {key: repro.method("table1", key, "") for key in UNTRAINED}
    repro.evaluate("table1", images, TABLE1_NOISES, untrained)
    for noise in TABLE1_NOISES:
        keys = [f"{arch}_{target}" for arch, target in TRAINED]
        repro.evaluate(
            "table1", images, [noise], {k: repro.method("table1", k, noise) for k in keys}
        )


def convergence(repro: Reproduction) -> Path:
    """Validation PSNR per epoch of N2N and N2C (U-Net) at sigma 25 and 50."""
    rows, curves = [], {}
    for noise in CONVERGENCE_NOISES:
        curves[noise] = {}
        for target, label in (("noisy", "N2N (noisy targets)"), ("clean", "N2C (clean)")):
            run_dir = repro.train_dir("unet", target, noise)
            if not (run_dir / "done.json").exists():  # its history is all we need
                repro.trained("unet", target, noise)
            history = read_history(run_dir / "history.csv")
            curves[noise][label] = [(h["epoch"], h["val_psnr"]) for h in history]
            rows += [{"noise": noise, "target": target, **h} for h in history]
    folder = repro.out / "convergence"
    folder.mkdir(exist_ok=True)
    write_csv(folder / "convergence.csv", rows)
    return plot_convergence(curves, folder / "convergence.png")


def sensitivity(repro: Reproduction) -> None:
    """ZS-N2N with L = 2, 3, 4 layers and residual/consistency ratios 0.5 ... inf."""
    images = repro.test_images(repro.budget.sensitivity_images)
    names = [sensitivity_name(d, r) for d in SENSITIVITY_LAYERS for r in SENSITIVITY_RATIOS]
    methods = {name: repro.method("sensitivity", name, "") for name in names}
    repro.evaluate("sensitivity", images, SENSITIVITY_NOISES, methods)


def figures(repro: Reproduction, index: int = 0) -> None:
    """Original / noisy / every method on one test image; ZS-N2N's downsampled pair."""
    name, image = repro.test_images()[index]
    folder = repro.out / "figures"
    if (folder / "figures.csv").exists():
        log.info("figures: already made (delete %s to make them again)", folder)
        return
    folder.mkdir(exist_ok=True)
    rows = []
    for noise_name in FIGURE_NOISES:
        noise = parse_noise(noise_name)
        clean, noisy = make_noisy(image, noise, seed=repro.budget.seed, image_name=name)
        panels, outputs = [("original", clean)], {}
        for key, label in TABLE1_ROWS:
            out = noisy if key == "noisy" else repro.method("table1", key, noise_name)(noisy, noise)
            if out is None:
                continue
            outputs[key] = out = np.clip(out, 0.0, 1.0)
            value = psnr(out, clean)
            rows.append({"image": name, "noise": noise_name, "method": key, "psnr": value})
            panels.append((f"{label}: {value:.2f} dB", out))
        plot_grid(panels, folder / f"methods-{slug(noise_name)}.png", columns=3)
        if noise_name == FIGURE_NOISES[0]:
            d1, d2 = downsampled_pair(noisy, channel_axis=-1)
            denoised = outputs["zeroshot"]
            plot_grid(
                [
                    (f"noisy ({noise_name})", noisy),
                    ("D1(y): diagonal", d1),
                    ("D2(y): anti-diagonal", d2),
                    (f"ZS-N2N: {psnr(denoised, clean):.2f} dB", denoised),
                ],
                folder / "zeroshot-pair.png",
                columns=4,
            )
    write_csv(folder / "figures.csv", rows)


STEPS: dict[str, Callable[[Reproduction], object]] = {
    "train": Reproduction.train_all,
    "table1": table1,
    "convergence": convergence,
    "sensitivity": sensitivity,
    "figures": figures,
}
assert tuple(STEPS) == EXPERIMENTS


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
    preset : key of :data:`~.budget.BUDGETS`
    quick : a few small images and a few steps: the same structure in minutes
    data_root : where the named image sets live
    command : the command line, recorded in ``runs/``
    budget : use this budget instead of ``preset``/``quick`` (tests)
    device : where training and device-capable methods run (not part of the results'
        configuration; see :class:`~.reproduction.Reproduction`)

    Returns
    -------
    Path of ``RESULTS.md``.
    """
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
    work = [name for name in wanted if name in STEPS]
    if work:  # rewriting RESULTS.md alone is not a run
        record = RunRecord(
            repro.out,
            device=device,
            experiments=work,
            threads=torch.get_num_threads(),
            command=command or " ".join(sys.argv),
        )
        try:
            for name in work:
                log.info("%s ...", name)
                STEPS[name](repro)
        finally:
            record.close()
    return repro.write_report()
