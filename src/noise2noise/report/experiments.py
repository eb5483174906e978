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
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..convert import as_float, from_float
from ..datasets import image_set_paths
from ..errors import N2NError
from ..evaluation import make_noisy
from ..files import read_csv_rows, write_csv
from ..image_io import read_image, write_image
from ..locks import claim
from ..metrics import psnr
from ..noise import parse_noise
from ..training import read_history
from ..zeroshot import downsampled_pair
from .budget import BUDGETS, Budget, budget_for
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

__all__ = ["Selection", "table1", "convergence", "sensitivity", "figures", "reproduce"]

log = logging.getLogger(__name__)

ROW_KEYS = tuple(key for key, _ in TABLE1_ROWS if key != "noisy")


@dataclass(frozen=True)
class Selection:
    """Which part of the cells a run computes: a run-time choice, like the device, and
    never part of the folder's budget, so pieces of one reproduction can run on different
    machines (the GPU-trained rows on a GPU, BM3D where the ``bm3d`` package is).

    Parameters
    ----------
    noises : tuple of str or None
        Only the cells (and the networks) of these noises; None: every noise.
    methods : tuple of str or None
        Only these rows of Table 1 and the sample figures (``zeroshot``, ``bm3d``,
        ``unet_noisy``, ...), and only their networks in ``train``; the sensitivity study
        and the convergence curves are not rows and are not restricted; None: every row.
    """

    noises: tuple[str, ...] | None = None
    methods: tuple[str, ...] | None = None

    def __post_init__(self):
        known = dict.fromkeys((*TABLE1_NOISES, *SENSITIVITY_NOISES))
        bad = [n for n in self.noises or () if n not in known]
        if bad:
            raise N2NError(
                f"no noise {', '.join(bad)} in the report (its noises: {', '.join(known)})"
            )
        bad = [m for m in self.methods or () if m not in ROW_KEYS]
        if bad:
            raise N2NError(f"no row {', '.join(bad)} in Table 1 (its rows: {', '.join(ROW_KEYS)})")

    def wants(self, noise: str) -> bool:
        return self.noises is None or noise in self.noises

    def noises_of(self, noises: Sequence[str]) -> list[str]:
        return [n for n in noises if self.wants(n)]

    def rows_of(self, keys: Sequence[str]) -> list[str]:
        return [k for k in keys if self.methods is None or k in self.methods]

    def train(self, repro: Reproduction) -> None:
        """Table 1's networks of the selected noises and rows."""
        cells = [(a, t) for a, t in TRAINED if f"{a}_{t}" in self.rows_of(ROW_KEYS)]
        repro.train_all(self.noises_of(TABLE1_NOISES), cells)


def table1(repro: Reproduction, select: Selection = Selection()) -> None:
    """Every row of Table 1 under the six noises; methods without training first."""
    images = repro.test_images()
    noises = select.noises_of(TABLE1_NOISES)
    untrained = {key: repro.method("table1", key, "") for key in select.rows_of(UNTRAINED)}
    if untrained and noises:
        repro.evaluate("table1", images, noises, untrained)
    keys = select.rows_of([f"{arch}_{target}" for arch, target in TRAINED])
    for noise in noises if keys else ():
        repro.evaluate(
            "table1", images, [noise], {k: repro.method("table1", k, noise) for k in keys}
        )


def convergence(repro: Reproduction, select: Selection = Selection()) -> Path:
    """Validation PSNR per epoch of N2N and N2C (U-Net) at sigma 25 and 50 (the curves of
    unselected noises from trainings already done, if any)."""
    rows, curves = [], {}
    for noise in CONVERGENCE_NOISES:
        curves[noise] = {}
        for target, label in (("noisy", "N2N (noisy targets)"), ("clean", "N2C (clean)")):
            run_dir = repro.train_dir("unet", target, noise)
            if not (run_dir / "done.json").exists():  # its history is all we need
                if not select.wants(noise):
                    continue
                repro.trained("unet", target, noise)
            history = read_history(run_dir / "history.csv")
            curves[noise][label] = [(h["epoch"], h["val_psnr"]) for h in history]
            rows += [{"noise": noise, "target": target, **h} for h in history]
    folder = repro.out / "convergence"
    folder.mkdir(exist_ok=True)
    write_csv(folder / "convergence.csv", rows)
    return plot_convergence(curves, folder / "convergence.png")


def sensitivity(repro: Reproduction, select: Selection = Selection()) -> None:
    """ZS-N2N with L = 2, 3, 4 layers and residual/consistency ratios 0.5 ... inf."""
    images = repro.test_images(repro.budget.sensitivity_images)
    names = [sensitivity_name(d, r) for d in SENSITIVITY_LAYERS for r in SENSITIVITY_RATIOS]
    methods = {name: repro.method("sensitivity", name, "") for name in names}
    if noises := select.noises_of(SENSITIVITY_NOISES):
        repro.evaluate("sensitivity", images, noises, methods)


def figures(repro: Reproduction, select: Selection = Selection(), index: int = 0) -> None:
    """Original / noisy / every method on one test image; ZS-N2N's downsampled pair.

    Each method's output is kept in ``figures/panels/`` (8-bit PNG) with its PSNR in
    ``figures/figures.csv`` as it is made, so the figures, too, can be made in pieces and
    on several machines; each grid is drawn from the panels there are.
    """
    name, image = repro.test_images()[index]
    folder = repro.out / "figures"
    table, panels_dir = folder / "figures.csv", folder / "panels"
    if table.exists() and not panels_dir.is_dir():  # made whole before panels were kept
        log.info("figures: already made (delete %s to make them again)", folder)
        return
    panels_dir.mkdir(parents=True, exist_ok=True)
    repro.forget_stale(ROW_KEYS)  # panels of shipped models run another way since
    rows = read_csv_rows(table)
    done = {(r["noise"], r["method"]) for r in rows}
    for noise_name in FIGURE_NOISES:
        noise = parse_noise(noise_name)
        clean, noisy = make_noisy(image, noise, seed=repro.budget.seed, image_name=name)
        wanted = select.rows_of(ROW_KEYS) if select.wants(noise_name) else []
        todo = [key for key in ["noisy", *wanted] if (noise_name, key) not in done]
        for key in todo:
            out = noisy if key == "noisy" else repro.method("table1", key, noise_name)(noisy, noise)
            row_key = (noise_name, key)
            row = {"image": name, "noise": noise_name, "method": key, "psnr": ""}
            if out is not None:  # None: the method is not for this noise
                out = np.clip(out, 0.0, 1.0)
                row["psnr"] = psnr(out, clean)
            # Another process may be adding its rows (the figures of another network): the
            # table is read again and written, and the grids drawn, under one lock.
            with claim(folder / "figures.lock", poll=1.0):
                if out is not None:
                    panel = panels_dir / f"{slug(noise_name)}-{key}.png"
                    write_image(panel, from_float(out, np.uint8), overwrite=True)
                rows = [r for r in read_csv_rows(table) if (r["noise"], r["method"]) != row_key]
                write_csv(table, [*rows, row])
        if todo or not (folder / f"methods-{slug(noise_name)}.png").exists():
            with claim(folder / "figures.lock", poll=1.0):
                _draw_figures(folder, noise_name, clean, noisy, read_csv_rows(table))


def _draw_figures(folder: Path, noise_name: str, clean, noisy, rows: list[dict]) -> None:
    """The grid of one noise (and ZS-N2N's pair for the first) from the panels made."""
    psnrs = {r["method"]: float(r["psnr"]) for r in rows if r["noise"] == noise_name and r["psnr"]}
    panels, outputs = [("original", clean)], {}
    for key, label in TABLE1_ROWS:
        if key in psnrs:
            outputs[key] = as_float(read_image(folder / "panels" / f"{slug(noise_name)}-{key}.png"))
            panels.append((f"{label}: {psnrs[key]:.2f} dB", outputs[key]))
    plot_grid(panels, folder / f"methods-{slug(noise_name)}.png", columns=3)
    if noise_name == FIGURE_NOISES[0] and "zeroshot" in outputs:
        d1, d2 = downsampled_pair(noisy, channel_axis=-1)
        plot_grid(
            [
                (f"noisy ({noise_name})", noisy),
                ("D1(y): diagonal", d1),
                ("D2(y): anti-diagonal", d2),
                (f"ZS-N2N: {psnrs['zeroshot']:.2f} dB", outputs["zeroshot"]),
            ],
            folder / "zeroshot-pair.png",
            columns=4,
        )


STEPS: dict[str, Callable[[Reproduction, Selection], object]] = {
    "train": lambda repro, select: select.train(repro),
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
    noises: Sequence[str] | None = None,
    methods: Sequence[str] | None = None,
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
    noises, methods : compute only the cells of these noises and rows of Table 1 (see
        :class:`Selection`); None: all

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
    select = Selection(
        tuple(noises) if noises is not None else None,
        tuple(methods) if methods is not None else None,
    )
    if budget is None:
        budget = budget_for(preset, quick=quick)
    work = [name for name in wanted if name in STEPS]
    if not (Path(out) / "config.json").exists():  # said before the folder is made, which
        if not work:  # would hold the budget: another one refused when it is run again
            raise N2NError(f"{out}: no reproduction here yet to report on: run an experiment")
        for images in (budget.test_set, budget.train_set):
            image_set_paths(images, data_root)  # the data are where they should be
    repro = Reproduction(out, budget, data_root=data_root, progress=progress, device=device)
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
                STEPS[name](repro, select)
        except BaseException:
            record.close(interrupted=True)
            raise
        record.close()
    path = repro.write_report()
    _refresh_beside(repro.out, data_root)
    return path


def _refresh_beside(out: Path, data_root: str | os.PathLike | None) -> None:
    """Rewrite the RESULTS.md of the other presets' folders beside ``out`` (``docs/results/
    report`` beside ``docs/results/cpu``): each compares its cells with this folder's, cell
    by cell, and would otherwise show this folder's old cells until it is run again."""
    if out.name not in BUDGETS:
        return  # a sibling compares itself only with folders named by a preset
    for name in BUDGETS:
        other = out.parent / name
        if name == out.name or not (other / "RESULTS.md").is_file():
            continue
        try:
            Reproduction.open(other, data_root=data_root, progress=False).write_report()
        except (N2NError, OSError) as error:
            log.warning("%s: RESULTS.md not refreshed (%s)", other / "RESULTS.md", error)
