"""Folder runs on a Dask cluster: one task per file, the same file task as a local run."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from pathlib import Path

from ..batch import (
    DiskFull,
    FileResult,
    RunInterrupted,
    make_folders,
    process_file,
    remove_empty,
    remove_partials,
    split_existing,
    written_unseen,
)
from ..memory import Limits
from ..progress import progress_bar
from .cluster import Cluster, _require, _set_threads, distributed


def _file_task(source, target, fn, overwrite, limits, threads, quality) -> FileResult:
    _set_threads(threads)
    return process_file(source, target, fn, overwrite=overwrite, limits=limits, quality=quality)


def process_files_dask(
    pairs: Sequence[tuple[Path, Path]],
    fn,
    cluster: Cluster,
    *,
    overwrite: bool = False,
    skip_existing: bool = False,
    limits: Limits | None = None,
    progress: bool = True,
    quality: int | None = None,
) -> list[FileResult]:
    """:func:`noise2noise.batch.process_files` with one Dask task per file.

    A task whose worker dies is run again on another worker by Dask (up to its
    ``allowed-failures``, then it is that file's error). A retried task may find the
    output its first worker wrote just before dying: outputs absent when the run started
    are this run's, so a retry replaces them; temporary files of killed writers are
    removed at the end.
    """
    _require()
    client = cluster.client
    created: list[Path] = []
    started = time.time_ns()
    make_folders(pairs, created)
    results, todo = split_existing(pairs, skip_existing=skip_existing, overwrite=overwrite)
    before = {i for i in todo if pairs[i][1].exists()}  # outputs to overwrite
    futures = {}
    run = uuid.uuid4().hex  # task keys unique to this run: Dask shares results by key
    for i in todo:
        src, dst = pairs[i]
        mine = overwrite or not dst.exists()
        future = client.submit(
            _file_task,
            *(src, dst, fn, mine, limits, cluster.threads, quality),
            key=f"n2n-file-{run}-{i}",
        )
        futures[future] = i
    bar = progress_bar(total=len(todo), unit="image", show=progress and len(todo) > 1)
    try:
        for future in distributed.as_completed(futures):
            i = futures[future]
            src, dst = pairs[i]
            try:
                results[i] = future.result()
            except Exception as exc:  # KilledWorker after repeated deaths, and the like
                reason = f"{type(exc).__name__}: {exc}".splitlines()[0]
                results[i] = FileResult(src, dst, 0.0, f"{src}: failed on the cluster ({reason})")
            bar.update()
            DiskFull.check(results[i])  # every later file would fail too, after its work
    except (KeyboardInterrupt, DiskFull) as exc:
        client.cancel(list(futures))
        remove_partials([dst for _, dst in pairs])
        stale = written_unseen(pairs, todo, results, before, started)
        remove_empty(created)
        raise RunInterrupted.after(exc, results, len(pairs), stale) from None
    finally:
        bar.close()
    remove_partials([dst for _, dst in pairs])
    remove_empty(created)  # every file failed: no empty output folder stays behind
    return [results[i] for i in range(len(pairs))]
