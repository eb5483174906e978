"""Many files: a pool of worker processes that survives a worker dying (the files in
flight are rerun alone), progress, and interrupts (Ctrl-C, SIGTERM)."""

from __future__ import annotations

import contextlib
import ctypes
import dataclasses
import functools
import multiprocessing
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from multiprocessing import resource_tracker
from pathlib import Path

import numpy as np
import torch

from ..machine import usable_cpus
from ..memory import Limits
from ..progress import progress_bar
from .file_task import FileResult, as_result, process_file, read_single_image, write_output
from .outputs import (
    make_folders,
    remove_empty,
    remove_orphans,
    remove_partials,
    split_existing,
    written_unseen,
)
from .stops import DiskFull, RunInterrupted


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


@contextlib.contextmanager
def born_deaf_to_sigint():
    """Worker processes started inside hold Ctrl-C blocked from birth (a blocked signal
    stays blocked across fork and exec, until :func:`_init_worker` ignores it, which also
    drops one already pending). Ignoring it only in the initializer came too late: a
    terminal's Ctrl-C, sent to the whole process group while a worker was still importing,
    printed that worker's KeyboardInterrupt traceback.

    The calling thread blocks SIGINT only while it starts a process (milliseconds) and is
    not deaf meanwhile: a Ctrl-C in that window stays pending and is delivered as the block
    is lifted. (Setting SIG_IGN in the parent instead, as before, threw such a Ctrl-C away:
    the run went on to the end.) A thread the pool starts inside, its manager, inherits the
    block, so processes it starts later are born with it too. SIGHUP, which a closing
    terminal sends the whole group, is held the same way. Where threads cannot block
    signals (Windows), nothing is done."""
    if not hasattr(signal, "pthread_sigmask"):
        yield
        return
    deaf = {signal.SIGINT, signal.SIGHUP}  # SIGHUP too: a closed terminal sends it
    previous = signal.pthread_sigmask(signal.SIG_BLOCK, deaf)
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, previous)


def _init_worker(threads: int) -> None:
    die_with_parent()
    # The parent alone decides what Ctrl-C does (cancel, stop the workers, clean up); a
    # worker is born with it blocked (`born_deaf_to_sigint`), except where it cannot be,
    # and ignores it from here on: a Ctrl-C pending since its birth is dropped.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if hasattr(signal, "SIGHUP"):  # a closed terminal: the parent stops and cleans up too
        signal.signal(signal.SIGHUP, signal.SIG_IGN)
    torch.set_num_threads(threads)  # one single-threaded worker per core beats shared threads
    # A worker's progress bars (on a terminal) need no lock shared between processes;
    # tqdm's own is a semaphore that the pool's ending of the worker would leak.
    from tqdm import tqdm

    tqdm.set_lock(threading.RLock())


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
    group: int = 32,
    quality: int | None = None,
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
    group : int
        For a function that denoises many images at once on a GPU (its ``batched``
        attribute, see :class:`noise2noise.denoisers.FileDenoiser`): images per batch. Such
        runs stay in this process, which holds the GPU.
    quality : int or None
        Quality of lossy outputs, 1-100 (None: the default; a lossless WebP's WebP output
        then lossless).

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
    before: set[int] = set()
    started = time.time_ns()
    try:
        make_folders(pairs, created)
        remove_orphans(pairs)
        results, todo = split_existing(pairs, skip_existing=skip_existing, overwrite=overwrite)
        before = {i for i in todo if pairs[i][1].exists()}  # outputs to overwrite
        bar = progress_bar(total=len(todo), unit="image", show=progress and len(todo) > 1)
        run = _Run(pairs, fn, overwrite, limits or Limits(), bar, results, quality)
        run.made = {pairs[i][1] for i in todo if i not in before}
        if not todo:  # every output settled already: no worker to start
            pass
        elif getattr(fn, "batched", None) is not None and len(todo) > 1:
            run.together(todo, group)  # on a GPU: many images in one process, at once
        elif isolate if isolate is not None else workers > 1:
            run.in_workers(todo, max(workers, 1))
        else:
            run.here(todo)
    except (KeyboardInterrupt, DiskFull) as exc:
        remove_partials([pairs[i][1] for i in todo if i not in results])
        stale = written_unseen(pairs, todo, results, before, started)
        remove_empty(created)
        if bar is not None:
            with contextlib.suppress(OSError):  # after SIGHUP its terminal is gone
                bar.close()
        raise RunInterrupted.after(exc, results, len(pairs), stale) from None
    bar.close()
    remove_empty(created)  # every file failed: no empty output folder stays behind
    return [results[i] for i in range(len(pairs))]


@dataclass
class _Run:
    """The files of one :func:`process_files` call, in this process or in workers."""

    pairs: Sequence[tuple[Path, Path]]
    fn: Callable
    overwrite: bool
    limits: Limits
    bar: object
    results: dict[int, FileResult]
    quality: int | None = None
    made: set[Path] = dataclasses.field(default_factory=set)  # outputs absent at the start

    def _options(self, overwrite: bool | None = None) -> dict:
        """The options of process_file for this run (``overwrite``: this file's own)."""
        overwrite = self.overwrite if overwrite is None else overwrite
        return {"overwrite": overwrite, "limits": self.limits, "quality": self.quality}

    def _done(self, i: int, result: FileResult) -> None:
        self.results[i] = result
        self.bar.update()
        DiskFull.check(result)

    def here(self, todo: list[int]) -> None:
        for i in todo:
            src, dst = self.pairs[i]
            self.bar.set_postfix_str(src.name)
            self._done(i, process_file(src, dst, self.fn, **self._options()))

    def together(self, todo: list[int], group: int) -> None:
        """Read up to ``group`` files, denoise them in one call of ``fn.batched``, write
        each; a file that cannot join (a stack, float data outside [0, 1]) runs alone.
        Every file still gets its own result, errors and notes."""
        for start in range(0, len(todo), group):
            images = {}
            for i in todo[start : start + group]:
                src, dst = self.pairs[i]
                read, image = self._read(i)
                if read.error is not None:
                    self._done(i, read)
                elif image is None:  # a stack: plane by plane, the one-image way
                    result = process_file(src, dst, self.fn, **self._options())
                    self._done(i, result)
                elif not self.fn.fits_batch(image):  # alone, without reading it again
                    self._after_read(i, read, lambda i=i, x=image: self._write(i, self.fn(x)))
                else:
                    images[i] = (image, read)
            if images:
                self._write_together(images)

    def _read(self, i: int) -> tuple[FileResult, np.ndarray | None]:
        src, dst = self.pairs[i]
        box = []
        args = (src, dst, self.fn, self.overwrite, self.limits)
        read = as_result(src, dst, lambda: box.append(read_single_image(*args)))
        return read, box[0] if box else None

    def _write_together(self, images: dict) -> None:
        order = list(images)
        self.bar.set_postfix_str(f"{len(order)} images together")
        tic = time.perf_counter()
        try:
            outs = self.fn.batched([images[i][0] for i in order])
        except Exception as exc:  # noqa: BLE001 - the batch failed: each file says so
            for i in order:
                self._after_read(i, images[i][1], functools.partial(_raise, exc))
            return
        share = (time.perf_counter() - tic) / len(order)
        for i, out in zip(order, outs, strict=True):
            work = functools.partial(self._write, i, out)
            self._after_read(i, images[i][1], work, share)

    def _write(self, i: int, image: np.ndarray) -> None:
        write_output(*self.pairs[i], image, self.overwrite, self.quality)

    def _after_read(self, i: int, read: FileResult, work: Callable, seconds: float = 0.0):
        """Record file ``i`` once ``work`` (its method and writing) has run: the time and
        notes of its reading joined to those of the work."""
        done = as_result(*self.pairs[i], work)
        self._done(
            i,
            dataclasses.replace(
                done,
                seconds=done.seconds + read.seconds + seconds,
                notes=tuple(dict.fromkeys(read.notes + done.notes)),
            ),
        )

    def in_workers(self, todo: list[int], workers: int) -> None:
        """At most ``workers`` files in flight, so that when a worker dies the files it
        may have been processing are known. Those are run again one at a time in a fresh
        pool; the one that kills its worker alone gets the error, the others their
        results."""
        threads = max(usable_cpus() // workers, 1)
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
                in_flight = [future.index for future in running]
                done, _ = wait(running, return_when=FIRST_COMPLETED)
                suspects, broken = self._collect(done, running)
                if broken:
                    # A dead worker breaks the whole pool: the other files in flight end
                    # with a result or as suspects too.
                    suspects += self._collect(wait(running)[0], running)[0]
                    _stop(pool)
                    # The pool kills its other workers too, perhaps in the middle of
                    # writing an output: no writer is left, so their temporary files go.
                    remove_partials([self.pairs[i][1] for i in in_flight])
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
        with born_deaf_to_sigint():  # submitting may start a worker process
            future = pool.submit(process_file, src, dst, self.fn, **self._options(overwrite))
        future.index = i
        return future

    @staticmethod
    def _pool(workers: int, threads: int) -> ProcessPoolExecutor:
        # "spawn": a forked child of a process whose OpenMP threads are running can hang.
        context = multiprocessing.get_context("spawn")
        with born_deaf_to_sigint():
            # The helper process that tracks the pool's semaphores, started here at the
            # latest, must outlive a SIGHUP (it ignores only SIGINT and SIGTERM itself):
            # killed, a new one is started that prints a KeyError for each of them.
            resource_tracker.ensure_running()
        return ProcessPoolExecutor(
            workers, mp_context=context, initializer=_init_worker, initargs=(threads,)
        )


def _raise(exc: BaseException) -> None:
    raise exc


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
