"""Beyond one machine: file runs and zarr arrays on a Dask cluster.

Two kinds of work go to Dask, both as plain tasks so that Dask's scheduler does the rest
(placement, retries on another worker when one dies, a dashboard):

- **folders**: one task per file, each the same :func:`noise2noise.batch.process_file` a
  local run makes, writing its output atomically on shared storage;
- **arrays larger than memory** (zarr v2/v3 arrays, OME-Zarr images, BigTIFF through
  tifffile's zarr interface): one task per output chunk, which reads that chunk of the
  input plus an overlap, denoises it (:mod:`noise2noise.chunked`), writes the chunk of a
  zarr output and then marks it done. ``resume`` skips chunks marked done; a chunk a
  killed worker left half-written has no mark and is written again whole.

Dask and zarr are optional (``pip install noise2noise[distributed]``); nothing imports
this package unless ``--scheduler``, a zarr path or a chunked TIFF run is given. Modules:
``cluster`` (connecting, the optional imports), ``folders``, ``arrays``, ``levels`` (an
OME-Zarr output's pyramid), ``tiff_out`` (a chunked run written out as a TIFF).
"""

from .arrays import ZarrJob, denoise_zarr
from .cluster import Cluster, connect
from .folders import process_files_dask

__all__ = ["Cluster", "connect", "process_files_dask", "ZarrJob", "denoise_zarr"]
