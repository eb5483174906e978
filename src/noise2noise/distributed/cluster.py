"""Connecting to a Dask cluster (``local:N`` starts one here) and the optional imports."""

from __future__ import annotations

import socket
from dataclasses import dataclass

import torch

from ..errors import MissingDependency, N2NError
from ..machine import usable_cpus

try:  # optional dependencies: the [distributed] extra
    import dask
    import distributed
    import zarr
    from distributed.comm.addressing import get_address_host_port
except ImportError:  # pragma: no cover - said when used
    dask = distributed = zarr = get_address_host_port = None


TRIM = "distributed.nanny.pre-spawn-environ.MALLOC_TRIM_THRESHOLD_"


def _require() -> None:
    if distributed is None or zarr is None:
        raise MissingDependency(
            "Dask and zarr are needed for `scheduler` and zarr arrays: "
            "pip install 'noise2noise[distributed]'"
        )


@dataclass
class Cluster:
    """A connection to a Dask cluster from :func:`connect`.

    ``threads``: torch threads each task uses (a local cluster shares the cores out among
    its workers; None for a remote cluster, whose workers keep their own setting).
    """

    client: object
    threads: int | None = None
    local: object | None = None  # the LocalCluster this connection started

    def close(self) -> None:
        self.client.close()
        if self.local is not None:
            self.local.close()


def connect(
    scheduler: str, *, worker_memory: str | None = None, threads: int | None = None
) -> Cluster:
    """Connect to ``scheduler``: ``local:N`` starts a local cluster of N worker processes
    (each limited to ``worker_memory``, e.g. ``"2GB"``; default: the machine's memory
    shared out; ``threads`` torch threads each, default the cores shared out); anything
    else is the address (``tcp://host:8786``) of a running cluster (dask-jobqueue,
    Coiled...). Close it with ``.close()``."""
    _require()
    if worker_memory is not None:
        try:
            dask.utils.parse_bytes(worker_memory)
        except ValueError:  # a traceback from inside Dask's LocalCluster
            raise N2NError(f"`worker_memory` {worker_memory}: not a size (e.g. 2GB)") from None
    if scheduler.startswith("local:"):
        try:
            workers = int(scheduler.split(":", 1)[1])
        except ValueError:
            raise N2NError(f"`scheduler` {scheduler}: expected local:N, N a number") from None
        if workers < 1:
            raise N2NError(f"`scheduler` {scheduler}: N must be at least 1")
        # Dask starts its workers with MALLOC_TRIM_THRESHOLD_=65536, which makes every
        # large allocation of torch's a fresh mmap: twice the time per image here
        # (bench/results/distributed.md). Our tasks free what they allocate.
        with dask.config.set({TRIM: None}):
            local = distributed.LocalCluster(
                n_workers=workers,
                threads_per_worker=1,
                processes=True,
                memory_limit=worker_memory or "auto",
                dashboard_address=None,
            )
        threads = threads or max(usable_cpus() // workers, 1)
        return Cluster(distributed.Client(local), threads, local)
    # The address is checked before a Client is made for it: a Client that fails on it
    # ('nonsense': a traceback from inside Dask) stays the process's default client, and
    # every later Dask computation waits for it.
    try:
        host_port = None if scheduler.startswith("inproc://") else get_address_host_port(scheduler)
    except ValueError as exc:
        raise N2NError(
            f"`scheduler` {scheduler}: not the address of a Dask scheduler ({exc}); give "
            "HOST:PORT, tcp://HOST:PORT or local:N"
        ) from None
    # Dask tries a refused address again for its whole timeout (20 s for a mistyped port);
    # one try says it at once. Anything else (slow, filtered) is left to Dask's own.
    try:
        if host_port is not None:
            socket.create_connection(host_port, timeout=5).close()
    except ConnectionRefusedError:
        raise N2NError(
            f"cannot reach the Dask scheduler at {scheduler}: nothing listens at that port"
        ) from None
    except OSError:
        pass
    try:
        return Cluster(distributed.Client(scheduler, timeout="20s"), threads)
    except OSError as exc:
        raise N2NError(f"cannot reach the Dask scheduler at {scheduler} ({exc})") from None


def _set_threads(threads: int | None) -> None:
    """Dask's workers start with one OpenMP thread; a local cluster's tasks use their
    share of the cores."""
    if threads:
        torch.set_num_threads(threads)
