"""Process image files and folders: output naming, per-file errors, workers and progress.

One bad file never stops a folder run: each file gets a :class:`FileResult`, and the
caller decides how to report them. Inputs are never overwritten, existing outputs only
with ``overwrite=True``, and outputs are written atomically.
"""

from __future__ import annotations

import ctypes
import dataclasses
import multiprocessing
import os
import signal
import sys
import time
import warnings
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from .errors import N2NError
from .files import partial_files
from .image_io import (
    IMAGE_EXTENSIONS,
    ConversionWarning,
    ImageFileError,
    apply_to_colour,
    list_images,
    read_header,
    read_image,
    read_stack,
    require_tiff_target,
    write_image,
    write_stack,
)
from .memory import Limits, check_memory
from .noise import add_noise

__all__ = [
    "FileResult",
    "RunInterrupted",
    "plan_outputs",
    "process_file",
    "process_files",
    "complete_output",
    "split_existing",
    "progress_bar",
    "make_folders",
    "remove_empty",
    "remove_partials",
]


@dataclass(frozen=True)
class FileResult:
    """What happened to one input file: an error, notes (a change of format or depth
    said on the way), or ``skipped`` when its output already existed."""

    source: Path
    target: Path
    seconds: float
    error: str | None = None
    notes: tuple[str, ...] = ()
    skipped: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


class RunInterrupted(KeyboardInterrupt):
    """Ctrl-C or SIGTERM during a file run: queued files were cancelled, workers stopped
    and partial outputs removed; ``results`` holds the files that were finished."""

    def __init__(self, results: list[FileResult], total: int, exit_code: int = 130):
        super().__init__()
        self.results = results
        self.total = total
        self.exit_code = exit_code


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
        raise N2NError("no input given")
    output = Path(output)
    sources: list[Path] = []
    for item in map(Path, inputs):
        if item.is_dir():
            found = list_images(item)
            if not found:
                raise N2NError(f"{item}: folder contains no images ({', '.join(IMAGE_EXTENSIONS)})")
            sources.extend(found)
        else:
            sources.append(item)  # missing or bad files are reported per file
    single_file = len(inputs) == 1 and not Path(inputs[0]).is_dir() and not output.is_dir()
    if single_file:
        if output.suffix.lower() not in IMAGE_EXTENSIONS:  # said now, not after the work
            raise N2NError(
                f"{output}: cannot write format '{output.suffix}' "
                f"(supported: {', '.join(IMAGE_EXTENSIONS)})"
            )
        pairs = [(sources[0], output)]
    else:
        if output.exists() and not output.is_dir():
            raise N2NError(f"{output}: output must be a folder when there are several inputs")
        pairs = [(src, output / src.name) for src in sources]
        names = [dst for _, dst in pairs]
        if len(set(names)) != len(names):
            raise N2NError("two inputs have the same file name; give them separate runs")
    resolved_inputs = {src.resolve() for src in sources}
    for _, dst in pairs:
        if dst.resolve() in resolved_inputs:
            raise N2NError(f"{dst}: output would overwrite an input; choose another output")
    for folder in dict.fromkeys(dst.parent for _, dst in pairs):
        _check_writable(folder)
    return pairs


def _check_writable(folder: Path) -> None:
    """Fail now, not after the work, when ``folder`` cannot be made or written."""
    existing = next((f for f in (folder, *folder.parents) if f.exists()), None)
    if existing is None:
        return
    if not existing.is_dir():
        raise N2NError(f"{folder}: cannot create it, {existing} is a file")
    if not os.access(existing, os.W_OK | os.X_OK):
        raise N2NError(f"{folder}: no permission to write in {existing}")


@dataclass(frozen=True)
class NoiseAdder:
    """``image -> noisy image`` for files; each plane of a stack gets its own noise."""

    noise: object
    seed: int = 0
    takes_plane = True  # process_file passes the plane index of a stack

    def __call__(self, image: np.ndarray, plane: int = 0) -> np.ndarray:
        return apply_to_colour(add_noise, image, noise=self.noise, seed=self.seed + 7919 * plane)


def _plane_progress(planes: np.ndarray, source: Path):
    from tqdm.auto import tqdm

    return tqdm(planes, desc=source.name, unit="plane", leave=False, disable=None)


def _bytes_per_pixel(fn) -> float:
    return getattr(fn, "bytes_per_pixel", _DEFAULT_BYTES_PER_PIXEL)


# For a function that does not say what it needs (add-noise: a float copy, float64 for
# Poisson draws and the result).
_DEFAULT_BYTES_PER_PIXEL = 128.0


def process_file(
    source: Path,
    target: Path,
    fn: Callable[[np.ndarray], np.ndarray],
    *,
    overwrite: bool = False,
    limits: Limits | None = None,
) -> FileResult:
    """Read ``source``, apply ``fn``, write ``target``; errors become ``FileResult.error``.

    The file's header is read first, and an image above ``limits`` is refused before it
    is decoded (:mod:`noise2noise.memory`). Every exception of the reading, the method or
    the writing becomes the file's error, so one file never ends a folder run; warnings
    of kind :class:`~noise2noise.image_io.ConversionWarning` become its notes.
    """
    start = time.perf_counter()
    limits = limits or Limits()
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ConversionWarning)
        try:
            error = None
            _process(source, target, fn, overwrite, limits)
        except ImageFileError as exc:
            error = str(exc)
        except N2NError as exc:  # the method refused this image
            error = f"{source}: {exc}"
        except MemoryError:
            error = f"{source}: out of memory while processing it"
        except Exception as exc:  # noqa: BLE001 - any failure is this file's, not the run's
            error = f"{source}: failed with {type(exc).__name__}: {_first_line(exc)}"
    notes, others = [], []
    for w in caught:
        (notes if issubclass(w.category, ConversionWarning) else others).append(w)
    for w in others:  # not ours to collect: shown as they would have been
        warnings.warn_explicit(w.message, w.category, w.filename, w.lineno)
    unique = tuple(dict.fromkeys(str(w.message) for w in notes))
    return FileResult(source, target, time.perf_counter() - start, error, unique)


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else "no message"


def _process(source: Path, target: Path, fn, overwrite: bool, limits: Limits) -> None:
    if target.exists() and not overwrite:
        raise ImageFileError(target, "already exists (use `overwrite=True` to replace it)")
    header = read_header(source)
    check_memory(header, _bytes_per_pixel(fn), limits)
    if header.planes > 1:  # z-stacks, time series, channels: each plane on its own
        planes, layout = read_stack(source, max_megapixels=None)
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
        image = read_image(source, max_megapixels=None)  # checked above
        result = fn(image)
        write_image(target, result, overwrite=overwrite)


def die_with_parent() -> None:
    """Have the kernel end this process when its parent dies (Linux; elsewhere nothing).

    A worker process otherwise outlives a parent that is killed (not interrupted) and keeps
    a core busy until its task is done.
    """
    if not sys.platform.startswith("linux"):
        return
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # 1 = PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _init_worker(threads: int) -> None:
    die_with_parent()
    # The parent alone decides what Ctrl-C does (cancel, stop the workers, clean up).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    torch.set_num_threads(threads)  # one single-threaded worker per core beats shared threads


def complete_output(target: Path) -> bool:
    """True for an existing output that a run may skip: outputs are written to a temporary
    file and renamed, so one that exists under its name and has a readable header is
    whole."""
    try:
        read_header(target)
    except ImageFileError:
        return False
    return True


def process_files(
    pairs: Sequence[tuple[Path, Path]],
    fn: Callable[[np.ndarray], np.ndarray],
    *,
    overwrite: bool = False,
    skip_existing: bool = False,
    workers: int = 1,
    isolate: bool | None = None,
    limits: Limits | None = None,
    progress: bool = True,
) -> list[FileResult]:
    """Apply ``fn`` to every (source, target) pair, with a progress bar and an ETA.

    Parameters
    ----------
    pairs : sequence of (Path, Path)
        From :func:`plan_outputs`.
    fn : callable
        Picklable (a module-level function, a dataclass or ``functools.partial``) when
        files run in worker processes.
    overwrite : bool
        Replace existing outputs.
    skip_existing : bool
        Leave outputs that already exist and are complete (a run that was interrupted
        continues where it stopped).
    workers : int
        Worker processes, each with ``cores // workers`` threads.
    isolate : bool or None
        Run the files in worker processes even with one worker, so that a file that
        crashes its process (out of memory, killed) becomes that file's error and the run
        goes on; None (default) isolates when ``workers > 1``.
    limits : Limits or None
        Pixel and memory limits checked before each file is decoded.
    progress : bool
        Show a progress bar.

    Returns
    -------
    list of FileResult, in the order of ``pairs``.

    Raises
    ------
    RunInterrupted
        On Ctrl-C (or SIGTERM turned into it by the caller): queued files are cancelled,
        workers stopped, partial outputs removed; the exception holds what finished.
    """
    created: list[Path] = []
    results: dict[int, FileResult] = {}
    todo: list[int] = []
    bar = None
    try:
        make_folders(pairs, created)
        results, todo = split_existing(pairs, skip_existing=skip_existing, overwrite=overwrite)
        bar = progress_bar(len(todo), "image", progress)
        run = _Run(pairs, fn, overwrite, limits or Limits(), bar, results)
        if isolate if isolate is not None else workers > 1:
            run.in_workers(todo, max(workers, 1))
        else:
            run.here(todo)
    except KeyboardInterrupt as exc:
        if bar is not None:
            bar.close()
        remove_partials([pairs[i][1] for i in todo if i not in results])
        remove_empty(created)
        finished = [results[i] for i in sorted(results)]
        code = getattr(exc, "exit_code", 130)  # 143 for SIGTERM
        raise RunInterrupted(finished, len(pairs), code) from None
    bar.close()
    remove_empty(created)  # every file failed: no empty output folder stays behind
    return [results[i] for i in range(len(pairs))]


def split_existing(
    pairs: Sequence[tuple[Path, Path]], *, skip_existing: bool, overwrite: bool
) -> tuple[dict[int, FileResult], list[int]]:
    """(results of the pairs skipped because their output exists and is complete, the
    indices of the pairs to process)."""
    results, todo = {}, []
    for i, (src, dst) in enumerate(pairs):
        if skip_existing and not overwrite and dst.exists() and complete_output(dst):
            results[i] = FileResult(src, dst, 0.0, skipped=True)
        else:
            todo.append(i)
    return results, todo


def progress_bar(total: int, unit: str, show: bool):
    """A tqdm bar, shown only for more than one item and when stderr is a terminal."""
    from tqdm.auto import tqdm

    return tqdm(total=total, unit=unit, disable=None if show and total > 1 else True)


def make_folders(pairs: Sequence[tuple[Path, Path]], created: list[Path]) -> None:
    """Create the output folders, recording in ``created`` (before making them, so that
    an interrupt in between still finds them) those that did not exist."""
    for folder in dict.fromkeys(dst.parent for _, dst in pairs):
        created.extend(f for f in [folder, *folder.parents] if not f.exists())
        folder.mkdir(parents=True, exist_ok=True)


def remove_empty(folders: list[Path]) -> None:
    """Remove the folders of ``folders`` that are empty, deepest first."""
    for folder in sorted(set(folders), key=lambda f: len(f.parts), reverse=True):
        try:
            folder.rmdir()  # only if empty
        except OSError:
            pass


def remove_partials(targets: list[Path]) -> None:
    """Delete the temporary files of outputs whose writer was stopped mid-write."""
    for target in targets:
        for tmp in partial_files(target):
            tmp.unlink(missing_ok=True)


@dataclass
class _Run:
    """The files of one :func:`process_files` call, in this process or in workers."""

    pairs: Sequence[tuple[Path, Path]]
    fn: Callable
    overwrite: bool
    limits: Limits
    bar: object
    results: dict[int, FileResult]
    made: set[Path] = dataclasses.field(default_factory=set)  # outputs absent at the start

    def _done(self, i: int, result: FileResult) -> None:
        self.results[i] = result
        self.bar.update()

    def here(self, todo: list[int]) -> None:
        for i in todo:
            src, dst = self.pairs[i]
            self.bar.set_postfix_str(src.name)
            self._done(
                i, process_file(src, dst, self.fn, overwrite=self.overwrite, limits=self.limits)
            )

    def in_workers(self, todo: list[int], workers: int) -> None:
        """At most ``workers`` files in flight, so that when a worker dies the files it
        may have been processing are known. Those are run again one at a time in a fresh
        pool; the one that kills its worker alone gets the error, the others their
        results."""
        threads = max((os.cpu_count() or 1) // workers, 1)
        self.made = {self.pairs[i][1] for i in todo if not self.pairs[i][1].exists()}
        queue, alone = deque(todo), deque()
        pool = self._pool(workers, threads)
        running: dict = {}
        try:
            while queue or alone or running:
                # A suspect runs by itself, so that a second crash names it.
                while alone and not running:
                    running[self._submit(pool, alone.popleft(), again=True)] = True
                # ...and nothing joins a suspect that is running by itself.
                alone_running = any(running.values())
                while queue and not alone and not alone_running and len(running) < workers:
                    running[self._submit(pool, queue.popleft())] = False
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                suspects, broken = self._collect(done, running)
                if broken:
                    # A dead worker breaks the whole pool: the other files in flight end
                    # with a result or as suspects too.
                    suspects += self._collect(wait(running)[0], running)[0]
                    _stop(pool)
                    pool = self._pool(workers, threads)
                    alone.extend(sorted(suspects))
        finally:
            _stop(pool)

    def _collect(self, done, running: dict) -> tuple[list[int], bool]:
        """Record the finished futures; return the files whose worker died and whether
        the pool broke (a file that was running alone when it died gets its error)."""
        suspects, broken = [], False
        for future in done:
            was_alone = running.pop(future)
            try:
                self._done(future.index, future.result())
            except BrokenProcessPool:
                broken = True
                if was_alone:
                    self._done(future.index, self._died(future.index))
                else:
                    suspects.append(future.index)
        return suspects, broken

    def _died(self, i: int) -> FileResult:
        src, dst = self.pairs[i]
        return FileResult(
            src,
            dst,
            0.0,
            f"{src}: the worker process died while processing it (out of memory or killed)",
        )

    def _submit(self, pool, i: int, again: bool = False):
        """Send file ``i`` to the pool. ``again``: its first worker died, possibly after
        writing the output (atomically, so whole); an output this run made is replaced."""
        src, dst = self.pairs[i]
        overwrite = self.overwrite or (again and dst in self.made)
        future = pool.submit(
            process_file, src, dst, self.fn, overwrite=overwrite, limits=self.limits
        )
        future.index = i
        return future

    @staticmethod
    def _pool(workers: int, threads: int) -> ProcessPoolExecutor:
        # "spawn": a forked child of a process whose OpenMP threads are running can hang.
        context = multiprocessing.get_context("spawn")
        return ProcessPoolExecutor(
            workers, mp_context=context, initializer=_init_worker, initargs=(threads,)
        )


def _stop(pool: ProcessPoolExecutor) -> None:
    """Cancel queued work and end the worker processes now, not after their current file
    (``shutdown`` alone waits for running tasks)."""
    processes = list(getattr(pool, "_processes", {}).values())  # no public handle in 3.11
    pool.shutdown(wait=False, cancel_futures=True)
    for process in processes:
        if process.is_alive():
            process.terminate()
    for process in processes:
        process.join(timeout=5)
