"""A reproduction folder: its budget, its test images, its trained networks and the
denoiser behind each row of the report's tables.

Layout of an output folder::

    config.json             the budget; a re-run with another budget is refused
    runs/<start>-<pid>.json every run: start, seconds, experiments, threads, command
    environment.json        software versions and machine of the latest run
    train/<arch>-<target>-<noise>/   one training run each (done.json when finished)
    table1/results.csv      per image, noise and method (the cache of Table 1)
    weights.json            digest of the shipped weights behind the cached `pretrained`
                            and `real` cells (other weights: those cells are computed again)
    sensitivity/results.csv per image, noise and configuration L<depth>_r<ratio>
    convergence/, figures/  CSVs and PNGs
    verify.csv              the latest re-computation of a sample of cells
    RESULTS.md              every table and figure, made from the files above

Nothing here denoises, trains or measures by itself: a training is
:func:`noise2noise.training.run_training`, a cell is :func:`noise2noise.evaluation.evaluate`.
Several processes may work on the same folder: lock files (:mod:`noise2noise.locks`) give
each network to one process, and a process that needs a network another one is training
waits for it instead of training it again.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..config import ConfigError, changed_fields
from ..datasets import image_set_paths, load_image_set
from ..denoisers import NoiseAwareDenoiser
from ..errors import N2NError
from ..evaluation import CellResult, evaluate
from ..files import drop_csv_rows, refuse_others_files, write_json
from ..locks import claim, held_elsewhere
from ..methods import REGISTRY
from ..noise import parse_noise
from ..progress import format_duration
from ..training import run_training
from ..weights import model_digest
from .budget import Budget
from .records import Progress
from .results_md import write_results_md
from .spec import TABLE1_NOISES, TRAINED, parse_sensitivity_name, slug

__all__ = ["Reproduction"]

log = logging.getLogger(__name__)


# The files of a folder's top level a reproduction writes beside its config.json.
_OWN_FILES = ("RESULTS.md", "environment.json", "weights.json", "verify.csv", "runs", "table1")


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
        self._check_budget(self.out / "config.json")

    @classmethod
    def open(cls, out: str | os.PathLike, **runtime) -> Reproduction:
        """An existing reproduction folder with the budget it was made with (its
        ``config.json``); ``runtime``: ``data_root``, ``progress``, ``device``.

        Raises
        ------
        N2NError
            ``out`` holds no reproduction this version can read.
        """
        config_file = Path(out) / "config.json"
        try:
            budget = Budget.from_dict(json.loads(config_file.read_text(encoding="utf-8"))["budget"])
        except (OSError, ValueError, KeyError, TypeError, ConfigError) as error:
            raise N2NError(
                f"{out}: not a reproduction folder this version reads ({error})"
            ) from None
        return cls(out, budget, **runtime)

    def _check_budget(self, config_file: Path) -> None:
        """Write the budget to a new folder; refuse a folder made with another one. A
        budget in an older format is migrated and written back in today's."""
        current = {"budget": self.budget.to_dict()}
        ours = "an earlier reproduction's", "use another `out`"
        if not config_file.exists():
            refuse_others_files(self.out, _OWN_FILES, *ours)  # a user's RESULTS.md, say
            write_json(config_file, current)
            return
        try:
            written = json.loads(config_file.read_text(encoding="utf-8"))
        except ValueError:
            written = None
        if not isinstance(written, dict) or "budget" not in written:  # another tool's
            refuse_others_files(self.out, (config_file.name,), *ours)
        old = written
        try:  # read through the dataclasses: fields added since default, old formats migrate
            old = {"budget": Budget.from_dict(written["budget"]).to_dict()}
        except (KeyError, TypeError, ConfigError):
            pass  # a folder of another version or tool: reported as different below
        changed = changed_fields(old.get("budget", {}), current["budget"])
        if changed or set(old) != set(current):
            raise N2NError(
                f"{self.out} holds a reproduction with another budget "
                f"(differs in: {', '.join(changed) or 'format'}): use another `out`"
            )
        if old != written:
            write_json(config_file, current)
            log.info("%s: budget migrated to the current format", config_file)

    # ---------------------------------------------------------------- cells

    def test_images(self, limit: int | None = None) -> list[tuple[str, np.ndarray]]:
        """The test set, centre-cropped (loaded once)."""
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
        files, _ = image_set_paths(self.budget.test_set, self.data_root)
        limit = self.budget.test_images
        return len(files) if limit is None else min(limit, len(files))

    def train_dir(self, arch: str, target: str, noise: str) -> Path:
        return self.out / "train" / f"{arch}-{target}-{slug(noise)}"

    def is_trained(self, arch: str, target: str, noise: str) -> bool:
        run_dir = self.train_dir(arch, target, noise)
        return (run_dir / "done.json").exists() and (run_dir / "best.pt").exists()

    def trained(self, arch: str, target: str, noise: str) -> Path:
        """The run folder of a finished training, training (or resuming) it if needed."""
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
                self.budget.train_config(arch, target, noise),
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
            write_json(done, record)
            log.info("trained %s in %s", run_dir.name, format_duration(record["train_seconds"]))
        return run_dir

    def in_training_elsewhere(self, arch: str, target: str, noise: str) -> bool:
        """Whether another live process holds the lock of this network's training."""
        run_dir = self.train_dir(arch, target, noise)
        return held_elsewhere(run_dir.with_name(run_dir.name + ".lock"))

    def train_all(
        self, noises: Sequence[str] = TABLE1_NOISES, networks: Sequence[tuple] = TRAINED
    ) -> None:
        """Train the four networks of Table 1 (or ``networks``, (arch, target) pairs) for
        each noise.

        A network that another live process is training is left to it (an experiment
        that needs it waits for it then), so several processes running ``train`` share
        the networks and none of them idles; it is trained here if its process stops.
        """
        cells = [(a, t, n) for n in noises for a, t in networks]
        todo = [cell for cell in cells if not self.is_trained(*cell)]
        log.info("training: %d of %d networks to train", len(todo), len(cells))
        progress = Progress("training", every=0.0, unit="networks")
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

    def evaluate(self, experiment: str, images, noises, methods: dict) -> list[CellResult]:
        """The cells of ``methods`` × ``noises`` × ``images`` in ``<experiment>/results.csv``
        (cached cells are read, not recomputed, unless made with other shipped weights)."""
        self.forget_stale(methods)
        return evaluate(
            images,
            [parse_noise(n) for n in noises],
            methods,
            csv_path=self.out / experiment / "results.csv",
            seed=self.budget.seed,
            progress=self.progress,
            on_cell=Progress(f"{experiment} {', '.join(noises)}"),
            shared=True,
        )

    def forget_stale(self, methods) -> list[str]:
        """Drop the cached cells of shipped models whose weights (or way of running them)
        changed since they were computed, from every experiment's table and the figures'
        (``weights.json`` records the digest each method's cells were made with; a folder
        without a record takes today's). Returns the methods forgotten."""
        record_file = self.out / "weights.json"
        record = json.loads(record_file.read_text(encoding="utf-8")) if record_file.exists() else {}
        before = dict(record)
        forgotten = []
        for key in methods:
            models = REGISTRY[key].shipped if key in REGISTRY else ()
            if not models:
                continue
            digest = model_digest(*models)
            if record.get(key, digest) != digest:
                for table in (
                    *self.out.glob("*/results.csv"),
                    self.out / "figures" / "figures.csv",
                ):
                    drop_csv_rows(table, "method", {key})
                forgotten.append(key)
                log.warning("%s: new weights for '%s': its cells are computed again", self.out, key)
            record[key] = digest
        if record != before:  # written once per change, not on every call
            write_json(record_file, record)
        return forgotten

    def method(self, experiment: str, key: str, noise: str) -> Callable:
        """The denoiser ``(noisy, noise) -> image`` behind a row of an experiment's CSV.

        A trained network is trained (or its missing weights trained again) only when the
        denoiser is first called, so cached cells never cause a training.
        """
        if experiment == "sensitivity":
            depth, ratio = parse_sensitivity_name(key)
            config = replace(self.budget.sensitivity, layers=depth, loss_ratio=ratio)
            options = {"preset": config, "seed": self.budget.seed, **self.runtime}
            return NoiseAwareDenoiser("zeroshot", options)
        if key == "zeroshot":
            options = {"preset": self.budget.zeroshot, "seed": self.budget.seed, **self.runtime}
            return NoiseAwareDenoiser("zeroshot", options)
        arch, _, target = key.partition("_")
        if (arch, target) in TRAINED:
            return _TrainedDenoiser(self, arch, target, noise)
        if key not in REGISTRY:
            raise N2NError(f"no method '{key}' in {experiment}")
        return NoiseAwareDenoiser(key, dict(self.runtime))

    def write_report(self) -> Path:
        """RESULTS.md from the files in the folder (cells not yet computed show as '–')."""
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
