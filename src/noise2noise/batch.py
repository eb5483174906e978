"""Process image files and folders: output naming, per-file errors, workers and progress.

One bad file never stops a folder run: each file gets a :class:`FileResult`, and the
caller decides how to report them. Inputs are never overwritten, existing outputs only
with ``overwrite=True``, and outputs are written atomically.
"""

from __future__ import annotations

import multiprocessing
import os
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .image_io import (
    IMAGE_EXTENSIONS,
    ImageFileError,
    is_stack,
    list_images,
    read_image,
    read_stack,
    require_tiff_target,
    write_image,
    write_stack,
)

__all__ = ["FileResult", "plan_outputs", "process_file", "process_files"]


@dataclass(frozen=True)
class FileResult:
    """What happened to one input file."""

    source: Path
    target: Path
    seconds: float
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None


def plan_outputs(
    inputs: Sequence[str | os.PathLike], output: str | os.PathLike
) -> list[tuple[Path, Path]]:
    """Pair every input file with its output path.

    One input file and an output that is not an existing folder: the output is a file.
    Otherwise (a folder input, several inputs, or an existing output folder) the output is
    a folder and each result keeps its input's file name.

    Raises
    ------
    ValueError
        No inputs, a folder without images, a missing input, a name clash in the output
        folder, or an output that would overwrite an input.
    """
    if not inputs:
        raise ValueError("no input given")
    output = Path(output)
    sources: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = list_images(item)
            if not found:
                raise ValueError(
                    f"{item}: folder contains no images ({', '.join(IMAGE_EXTENSIONS)})"
                )
            sources.extend(found)
        else:
            sources.append(item)  # missing or bad files are reported per file
    single_file = len(inputs) == 1 and not Path(inputs[0]).is_dir() and not output.is_dir()
    if single_file:
        if output.suffix.lower() not in IMAGE_EXTENSIONS:  # said now, not after the work
            raise ValueError(
                f"{output}: cannot write format '{output.suffix}' "
                f"(supported: {', '.join(IMAGE_EXTENSIONS)})"
            )
        pairs = [(sources[0], output)]
    else:
        if output.exists() and not output.is_dir():
            raise ValueError(f"{output}: output must be a folder when there are several inputs")
        pairs = [(src, output / src.name) for src in sources]
        names = [dst for _, dst in pairs]
        if len(set(names)) != len(names):
            raise ValueError("two inputs have the same file name; give them separate runs")
    resolved_inputs = {src.resolve() for src in sources}
    for _, dst in pairs:
        if dst.resolve() in resolved_inputs:
            raise ValueError(f"{dst}: output would overwrite an input; choose another output")
    return pairs


@dataclass(frozen=True)
class NoiseAdder:
    """``image -> noisy image`` for files; each plane of a stack gets its own noise."""

    noise: object
    seed: int = 0
    takes_plane = True  # process_file passes the plane index of a stack

    def __call__(self, image: np.ndarray, plane: int = 0) -> np.ndarray:
        from .image_io import apply_to_colour
        from .noise import add_noise

        return apply_to_colour(add_noise, image, noise=self.noise, seed=self.seed + 7919 * plane)


def _plane_progress(planes: np.ndarray, source: Path):
    from tqdm.auto import tqdm

    return tqdm(planes, desc=source.name, unit="plane", leave=False, disable=None)


def process_file(
    source: Path, target: Path, fn: Callable[[np.ndarray], np.ndarray], *, overwrite: bool = False
) -> FileResult:
    """Read ``source``, apply ``fn``, write ``target``; errors become ``FileResult.error``."""
    start = time.perf_counter()
    try:
        if target.exists() and not overwrite:
            raise ImageFileError(target, "already exists (use --overwrite to replace it)")
        if is_stack(source):  # z-stacks, time series, channels: each plane on its own
            planes, layout = read_stack(source)
            require_tiff_target(target)
            per_plane = getattr(fn, "takes_plane", False)
            result = np.stack(
                [
                    fn(plane, plane=i) if per_plane else fn(plane)
                    for i, plane in enumerate(_plane_progress(planes, source))
                ]
            )
            write_stack(target, result, layout, overwrite=overwrite)
        else:
            image = read_image(source)
            result = fn(image)
            write_image(target, result, overwrite=overwrite)
    except ImageFileError as exc:
        return FileResult(source, target, time.perf_counter() - start, str(exc))
    except (ValueError, TypeError, MemoryError) as exc:  # the method refused this image
        return FileResult(source, target, time.perf_counter() - start, f"{source}: {exc}")
    return FileResult(source, target, time.perf_counter() - start)


def die_with_parent() -> None:
    """Have the kernel end this process when its parent dies (Linux; elsewhere nothing).

    A worker process otherwise outlives a parent that is killed (not interrupted) and keeps
    a core busy until its task is done.
    """
    import ctypes
    import signal
    import sys

    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _init_worker() -> None:
    import torch

    die_with_parent()
    torch.set_num_threads(1)  # one single-threaded worker per core beats shared threads


def process_files(
    pairs: Sequence[tuple[Path, Path]],
    fn: Callable[[np.ndarray], np.ndarray],
    *,
    overwrite: bool = False,
    workers: int = 1,
    progress: bool = True,
) -> list[FileResult]:
    """Apply ``fn`` to every (source, target) pair, with a progress bar and an ETA.

    Parameters
    ----------
    pairs : sequence of (Path, Path)
        From :func:`plan_outputs`.
    fn : callable
        Picklable (a module-level function or ``functools.partial``) when ``workers > 1``.
    overwrite : bool
        Replace existing outputs.
    workers : int
        Processes; each uses one thread. 1 runs in this process with torch's own threads.
    progress : bool
        Show a progress bar.

    Returns
    -------
    list of FileResult, in the order of ``pairs``.
    """
    from tqdm.auto import tqdm

    for _, target in pairs:
        target.parent.mkdir(parents=True, exist_ok=True)
    # disable=None: no bar when stderr is not a terminal (CI logs, pipes).
    bar = tqdm(
        total=len(pairs), unit="image", disable=None if progress and len(pairs) > 1 else True
    )
    results: dict[int, FileResult] = {}
    if workers <= 1:
        for i, (src, dst) in enumerate(pairs):
            bar.set_postfix_str(src.name)
            results[i] = process_file(src, dst, fn, overwrite=overwrite)
            bar.update()
    else:
        # "spawn": a forked child of a process whose OpenMP threads are running can hang.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(workers, mp_context=context, initializer=_init_worker) as pool:
            futures = {
                pool.submit(process_file, src, dst, fn, overwrite=overwrite): i
                for i, (src, dst) in enumerate(pairs)
            }
            for future in as_completed(futures):
                results[futures[future]] = future.result()
                bar.update()
    bar.close()
    return [results[i] for i in range(len(pairs))]
