"""Evaluate denoisers on clean images with synthetic noise: PSNR/SSIM tables, resumable.

Every method sees the identical noisy image: the noise of each (image, noise) cell is
seeded from the run seed, the image name and the noise name, not from the order of work,
so an interrupted run that resumes makes the same noisy images. Each finished cell is
appended to the per-image CSV at once; a re-run skips the cells already there.
"""

from __future__ import annotations

import csv
import json
import logging
import math
import os
import time
from collections.abc import Callable, Sequence
from contextlib import ExitStack, nullcontext
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .config import changed_fields
from .convert import image_to_tensor
from .datasets import load_image_set
from .denoisers import NoiseAwareDenoiser
from .errors import N2NError
from .files import refuse_others_files
from .locks import try_claim
from .methods import check_method
from .metrics import psnr, ssim
from .noise import Gaussian, Poisson, noise_seed, parse_noise
from .progress import progress_bar
from .summary import summarise, write_summary

__all__ = [
    "CellResult",
    "noise_seed",
    "make_noisy",
    "read_results",
    "evaluate",
    "summarise",
    "write_summary",
    "run_evaluation",
]

log = logging.getLogger(__name__)

FIELDS = ("image", "noise", "method", "psnr", "ssim", "seconds")
NOISY = "noisy"  # the row of the unprocessed noisy input ("Noise level" in the report)


@dataclass(frozen=True)
class CellResult:
    """One (image, noise, method) measurement."""

    image: str
    noise: str
    method: str
    psnr: float
    ssim: float
    seconds: float

    def row(self) -> dict:
        return {
            "image": self.image,
            "noise": self.noise,
            "method": self.method,
            "psnr": f"{self.psnr:.4f}",
            "ssim": f"{self.ssim:.5f}",
            "seconds": f"{self.seconds:.3f}",
        }


def make_noisy(
    clean: np.ndarray, noise: Gaussian | Poisson, *, seed: int, image_name: str
) -> tuple[np.ndarray, np.ndarray]:
    """(clean, noisy) as float32 H×W×C in [0, 1]; noise seeded by :func:`noise_seed`."""
    axis = -1 if clean.ndim == 3 else None
    x = image_to_tensor(clean, channel_axis=axis)  # (1, C, H, W) in [0, 1]
    y = noise(x, generator=noise_seed(seed, image_name, noise.name))
    to_hwc = lambda t: np.ascontiguousarray(t[0].numpy().transpose(1, 2, 0))  # noqa: E731
    return to_hwc(x), to_hwc(y)


def read_results(path: str | os.PathLike) -> list[CellResult]:
    """The cells of a per-image results CSV (empty if the file does not exist)."""
    path = Path(path)
    if not path.exists():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        return [
            CellResult(
                r["image"],
                r["noise"],
                r["method"],
                float(r["psnr"]),
                float(r["ssim"]),
                float(r["seconds"]),
            )
            for r in csv.DictReader(f)
        ]


# Seconds between reads of a shared CSV for the cells other processes finished (progress).
REREAD_SECONDS = 1.0


def evaluate(
    images: Sequence[tuple[str, np.ndarray]],
    noises: Sequence[Gaussian | Poisson],
    methods: dict[str, Callable[[np.ndarray, Gaussian | Poisson], np.ndarray | None]],
    *,
    csv_path: str | os.PathLike,
    seed: int = 0,
    progress: bool = True,
    on_cell: Callable[[int, int], None] | None = None,
    shared: bool = False,
    group_size: int = 32,
    poll: float = 5.0,
) -> list[CellResult]:
    """Run every method on every noisy image, appending each result to ``csv_path``.

    Parameters
    ----------
    images : sequence of (name, clean image)
        Clean images (H×W or H×W×C; any dtype :func:`noise2noise.read_image` returns).
    noises : sequence of noise models
    methods : dict
        name -> ``fn(noisy, noise)`` taking a float32 H×W×C image in [0, 1] and the noise
        model, returning the denoised image, or None where the method does not apply
        (such cells are left out).
    csv_path : path-like
        Per-image results; cells already in it are skipped (resume).
    seed : int
        Run seed for the noise.
    progress : bool
        Show a progress bar with an ETA (off a terminal a line a minute, unless on_cell).
    on_cell : callable, optional
        Called as ``on_cell(done, total)`` after each cell computed in this call: of the
        ``total`` cells missing at the start, ``done`` are now in the CSV, those other
        processes wrote included (``shared``), so a rate from it is the whole folder's.
    shared : bool
        Let several processes fill the same CSV at once: each (image, noise) is claimed
        with a lock file in ``<csv folder>/locks/``, one that another live process holds
        is left to the end and done once that process lets go of it (it may have computed
        other methods), and the CSV is read again before each claimed one is computed; so
        the call returns with every cell of ``methods`` in the CSV.
    group_size : int
        Images per call of a method with a batched form (a ``batched`` attribute, as
        :class:`~noise2noise.denoisers.NoiseAwareDenoiser` has for ZS-N2N on a GPU:
        ``batched(noisy_images, noise) -> outputs or None``); each of their cells gets an
        equal share of the call's seconds.
    poll : float
        Seconds between looks at the cells other processes hold (``shared``).

    Returns
    -------
    All results in the CSV after the run, earlier ones and other processes' included.
    """
    csv_path = Path(csv_path)
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    results = read_results(csv_path)
    done = _cells(results)
    names = [NOISY, *methods]
    todo = [
        (n, noise)
        for n in images
        for noise in noises
        if any((n[0], noise.name, m) not in done for m in names)
    ]
    wanted = {(n[0], noise.name, m) for n, noise in todo for m in names} - done
    total = len(wanted)
    bar = progress_bar(total=len(todo) * len(names), unit="cell", show=progress, lines=not on_cell)
    try:  # "x": of two processes starting together, one writes the header
        with open(csv_path, "x", newline="", encoding="utf-8") as f:
            csv.DictWriter(f, fieldnames=FIELDS).writeheader()
    except FileExistsError:
        pass
    # Methods with a batched form (ZS-N2N on a GPU) get a whole group of images of one
    # noise in one call; the others, and every method on the CPU, one image at a time.
    batched = {m: many for m, fn in methods.items() if (many := getattr(fn, "batched", None))}
    finished: set = set()  # of wanted, by this process or (shared) by others
    last_read = [-math.inf]  # when the CSV was last read for them

    def grouped(cells: list) -> list[list]:  # per noise, at most group_size images
        if not batched:
            return [[cell] for cell in cells]
        by_noise = [[cell for cell in cells if cell[1].name == n.name] for n in noises]
        return [c[i : i + group_size] for c in by_noise for i in range(0, len(c), group_size)]

    def compute(mine: list, done: set, writer, f) -> None:  # the cells whose lock we hold
        noisy_of = {
            (name, noise.name): make_noisy(image, noise, seed=seed, image_name=name)
            for (name, image), noise in mine
        }
        ready = _run_batched(batched, mine, noisy_of, done)
        for (name, _), noise in mine:
            clean, noisy = noisy_of[(name, noise.name)]
            for method in names:
                bar.update()
                if (name, noise.name, method) in done:
                    continue
                bar.set_postfix_str(f"{name} {noise.name} {method}")
                tic = time.perf_counter()
                if method == NOISY:
                    out, seconds = noisy, 0.0
                elif (name, noise.name, method) in ready:
                    out, seconds = ready[(name, noise.name, method)]
                else:
                    try:
                        out = methods[method](noisy, noise)
                    except N2NError as exc:  # which cell: the message speaks of "this image"
                        raise N2NError(f"{name}, {noise.name}, {method}: {exc}") from None
                    seconds = time.perf_counter() - tic
                finished.add((name, noise.name, method))
                if out is not None:  # None: the method does not apply to this noise
                    out = np.clip(out, 0.0, 1.0)
                    cell = CellResult(
                        name,
                        noise.name,
                        method,
                        psnr(out, clean),
                        ssim(out, clean, channel_axis=-1),
                        seconds,
                    )
                    writer.writerow(cell.row())
                    f.flush()  # an interrupted run loses at most the cell in progress
                    results.append(cell)
                if on_cell is not None:
                    if shared and time.perf_counter() - last_read[0] >= REREAD_SECONDS:  # others'
                        finished.update(_cells(read_results(csv_path)) & wanted)
                        last_read[0] = time.perf_counter()
                    on_cell(len(finished), total)

    # A cell another process holds is left to the end, then done once it lets go of it:
    # that process may be computing other methods than ours (another row of a table).
    pending, waited = grouped(todo), False
    while pending:
        elsewhere = []
        with open(csv_path, "a", newline="", encoding="utf-8") as f:
            writer = csv.DictWriter(f, fieldnames=FIELDS)
            for cells in pending:
                with ExitStack() as held:
                    ours = [held.enter_context(_claim(c, csv_path, shared)) for c in cells]
                    mine = [c for c, got in zip(cells, ours, strict=True) if got]
                    elsewhere += [c for c, got in zip(cells, ours, strict=True) if not got]
                    if shared and mine:  # some may have been computed since we read the CSV
                        done = _cells(read_results(csv_path))
                        finished |= done & wanted
                    compute(mine, done, writer, f)
        if len(elsewhere) == sum(map(len, pending)):  # none free yet: wait
            if not waited:
                log.info("waiting for %d cells other processes are computing", len(elsewhere))
                waited = True
            time.sleep(poll)
        pending = grouped(elsewhere)
    bar.close()
    return read_results(csv_path) if shared else results


def _cells(results: Sequence[CellResult]) -> set[tuple[str, str, str]]:
    """The (image, noise, method) cells of ``results``."""
    return {(r.image, r.noise, r.method) for r in results}


def _claim(cell, csv_path: Path, shared: bool):
    """Hold an (image, noise) cell's lock when shared; False if another process has it."""
    if not shared:
        return nullcontext(True)
    (name, _), noise = cell
    return try_claim(csv_path.parent / "locks" / f"{name}-{noise.name.replace(':', '')}.lock")


def _run_batched(batched: dict, mine: list, noisy_of: dict, done: set) -> dict:
    """(image, noise, method) -> (output, seconds) for the methods with a batched form,
    one call per noise over the images of ``mine`` whose cell is not done yet."""
    ready = {}
    for method, many in batched.items():
        for noise in {noise.name: noise for _, noise in mine}.values():
            todo = [
                name
                for (name, _), n in mine
                if n.name == noise.name and (name, noise.name, method) not in done
            ]
            if not todo:
                continue
            tic = time.perf_counter()
            outs = many([noisy_of[(name, noise.name)][1] for name in todo], noise)
            share = (time.perf_counter() - tic) / len(todo)
            for i, name in enumerate(todo):  # None: the method does not apply to this noise
                ready[(name, noise.name, method)] = (None if outs is None else outs[i], share)
    return ready


_EVAL_FILES = ("config.json", "results.csv", "summary.md", "summary.csv")


def _refuse_foreign(out_dir: Path) -> None:
    """Refuse a folder whose files of the names an evaluation writes are not an earlier
    evaluation's (an `out_dir` of ~/Documents replaced a user's summary.md)."""
    config_file = out_dir / "config.json"
    try:
        ours = isinstance(json.loads(config_file.read_text(encoding="utf-8")).get("noises"), list)
    except (OSError, ValueError, AttributeError):
        ours = False
    if not ours:
        refuse_others_files(
            out_dir, _EVAL_FILES, "an earlier evaluation's", "use another `out_dir`"
        )


def run_evaluation(
    image_specs: Sequence[str],
    noise_specs: Sequence[str],
    method_names: Sequence[str],
    out_dir: str | os.PathLike,
    *,
    crop: int | None = 256,
    limit: int | None = None,
    seed: int = 0,
    data_root: str | os.PathLike | None = None,
    method_options: dict | None = None,
    command: str | None = None,
    progress: bool = True,
    device: str | None = None,
) -> tuple[list[CellResult], Path]:
    """Load images, evaluate methods under each noise, write per-image CSV and summaries.

    Parameters
    ----------
    image_specs : folders or set names (see :data:`noise2noise.datasets.NAMED_SETS`)
    noise_specs : e.g. ``["gaussian:25", "poisson:25"]``
    method_names : keys of :data:`noise2noise.methods.METHODS`
    out_dir : folder for ``results.csv``, ``summary.csv``, ``summary.md``, ``config.json``
    crop, limit, seed, data_root : see :func:`noise2noise.datasets.load_image_set`
    method_options : options for the methods (e.g. ``preset`` for ZS-N2N)
    command : the command line, recorded in the summary
    device : where the methods that can run on a device do (run-time setting: not written
        into ``config.json``, so a folder started on the CPU continues on a GPU)

    Returns
    -------
    (results, path of summary.md), of this run's images (``results.csv`` keeps all).
    """
    noises = [parse_noise(s) for s in noise_specs]
    for name in method_names:
        check_method(name)
    images = load_image_set(list(image_specs), crop=crop, limit=limit, data_root=data_root)
    out_dir = Path(out_dir)
    _refuse_foreign(out_dir)
    new_dir = not out_dir.exists()
    out_dir.mkdir(parents=True, exist_ok=True)
    config = {
        "images": list(image_specs),
        "noises": [n.name for n in noises],
        "methods": list(method_names),
        "crop": crop,
        "limit": limit,
        "seed": seed,
        "method_options": method_options or {},
        "image_names": [n for n, _ in images],
    }
    config_file = out_dir / "config.json"
    if config_file.exists():  # resuming: the cells already there must mean the same thing
        old = json.loads(config_file.read_text(encoding="utf-8"))
        keys = ("crop", "seed", "method_options")
        changed = changed_fields({k: old.get(k) for k in keys}, {k: config[k] for k in keys})
        if changed:
            raise N2NError(
                f"{out_dir} holds results made with other {', '.join(changed)}: "
                "use another `out_dir`"
            )
    new_config = not config_file.exists()
    config_file.write_text(json.dumps(config, indent=2) + "\n", encoding="utf-8")
    runtime = {"device": device} if device is not None else {}
    methods = {
        m: NoiseAwareDenoiser(m, {**(method_options or {}), **runtime}) for m in method_names
    }
    csv_path = out_dir / "results.csv"
    try:
        results = evaluate(images, noises, methods, csv_path=csv_path, seed=seed, progress=progress)
    except BaseException:
        # Nothing measured: leave nothing behind, so a corrected re-run starts afresh.
        if new_config and not csv_path.exists():
            config_file.unlink(missing_ok=True)
            if new_dir and not any(out_dir.iterdir()):
                out_dir.rmdir()
        raise
    # Of this run's images: means of others (an earlier run's) are not comparable.
    names = set(config["image_names"])
    results = [r for r in results if r.image in names]
    _, md = write_summary(results, out_dir, command=command)
    return results, md
