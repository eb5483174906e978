"""An OME-Zarr output's reduced-resolution levels, made from its denoised full-resolution
level once every chunk is done.

An OME-Zarr image holds its pixels at several resolutions (a pyramid) so that a viewer
(napari, OMERO, QuPath, Neuroglancer) shows a large image zoomed out without reading all
of it. An output holding only the full resolution opens in such a viewer as an array that
must be read whole to be shown whole. Each level is made from the one above it by block
averages over the input's own factors (2 in Y and X, mostly), its edges repeated where a
side does not divide, in the level's own sample type (integers rounded), and listed with
the input's coordinate transformations.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import Note, warn_user
from ..image_io import as_stored
from ..progress import progress_bar
from .cluster import zarr


def with_levels(attrs: dict, count: int) -> dict:
    """OME attributes (0.4 at the top, 0.5 under "ome") with the first ``count`` levels
    of their first multiscale, their paths "0", "1"...; the other multiscales dropped."""

    def first(multiscales):
        ms = dict(multiscales[0])
        datasets = [dict(d, path=str(i)) for i, d in enumerate(ms["datasets"][:count])]
        return [dict(ms, datasets=datasets)]

    attrs = dict(attrs)
    if "multiscales" in attrs:
        attrs["multiscales"] = first(attrs["multiscales"])
    else:
        attrs["ome"] = dict(attrs["ome"], multiscales=first(attrs["ome"]["multiscales"]))
    return attrs


def level_shapes(group, multiscale: dict) -> list[tuple[int, ...]]:
    """The shape of each level of an OME-Zarr ``group``'s ``multiscale``, in its order."""
    return [tuple(group[d["path"]].shape) for d in multiscale["datasets"]]


def _factors(upper: tuple[int, ...], lower: tuple[int, ...]) -> tuple[int, ...] | None:
    """Whole factors that take ``upper`` to ``lower`` (each side divided, then rounded
    up or down), or None where there are none."""
    factors = []
    for big, small in zip(upper, lower, strict=True):
        factor = max(1, round(big / max(small, 1)))
        if not (big // factor <= small <= -(-big // factor)):
            return None
        factors.append(factor)
    return tuple(factors)


def _reduce(x, factors: tuple[int, ...], shape: tuple[int, ...], dtype: np.dtype):
    """The dask array ``x`` averaged over blocks of ``factors``, cut to ``shape``."""
    import dask.array as da

    pad = [(0, -n % f) for n, f in zip(x.shape, factors, strict=True)]
    if any(p for _, p in pad):
        x = da.pad(x, pad, mode="edge")
    # blocks averaged within each chunk: chunks of whole blocks (dask's do not divide)
    x = x.rechunk(tuple(max(c[0] // f, 1) * f for c, f in zip(x.chunks, factors, strict=True)))
    axes = dict(enumerate(factors))
    mean = da.coarsen(np.mean, x.astype(np.float32), axes, trim_excess=False)
    mean = mean[tuple(slice(0, n) for n in shape)]
    return mean.map_blocks(as_stored, dtype, dtype=dtype)


def _fill(level, upper, factors: tuple[int, ...], client=None) -> None:
    """Write into the zarr array ``level`` the zarr array ``upper`` averaged over blocks of
    ``factors``, on ``client``'s cluster or in threads here."""
    import dask.array as da

    reduced = _reduce(da.from_zarr(upper), factors, tuple(level.shape), level.dtype)
    # one task per stored chunk: two writing parts of one would overwrite each other
    stored = da.store(reduced.rechunk(level.chunks), level, lock=False, compute=False)
    if client is not None:
        client.compute(stored).result()
    else:
        stored.compute(scheduler="threads")


def reduced_level(upper, shape: tuple[int, ...], path: Path):
    """The zarr array ``upper`` reduced to ``shape`` by block averages, as a new zarr
    array at ``path`` (chunked as ``upper``); None where no whole factors make it."""
    factors = _factors(tuple(upper.shape), shape)
    if factors is None:
        return None
    chunks = tuple(min(c, n) for c, n in zip(upper.chunks, shape, strict=True))
    level = zarr.create_array(
        str(path), shape=shape, chunks=chunks, dtype=upper.dtype, fill_value=0
    )
    _fill(level, upper, factors)
    return level


def write_levels(target: Path, ome: dict, client=None, progress: bool = True) -> int:
    """Make levels 1, 2... of the output group ``target`` as the input's shapes
    (``ome["shapes"]``) say, each from the one above it, and list them in its attributes.
    Returns the number of levels written (0 for an input of one level); a level whose
    shape no whole factors make is left out with the ones below it, said in a note."""
    shapes = ome.get("shapes") or []
    group = zarr.open_group(str(target), mode="r+")
    top = group["0"]
    written = 0
    for index in progress_bar(range(1, len(shapes)), unit="level", show=progress):
        upper = group[str(index - 1)]
        shape = shapes[index]
        factors = _factors(tuple(upper.shape), shape)
        if factors is None:
            warn_user(
                f"level {index} of the input ({'×'.join(map(str, shape))}) is not a whole "
                f"reduction of level {index - 1}: the output holds levels 0 to {index - 1}",
                Note,
            )
            break
        chunks = tuple(min(c, n) for c, n in zip(top.chunks, shape, strict=True))
        if str(index) in group:
            del group[str(index)]  # a level an interrupted run left half made
        level = group.create_array(
            str(index), shape=shape, chunks=chunks, dtype=top.dtype, fill_value=0
        )
        _fill(level, upper, factors, client)
        written = index
    if written:  # only the list of levels: the run's own record stays
        key = "multiscales" if "multiscales" in ome["attrs"] else "ome"
        group.attrs.update({key: with_levels(ome["attrs"], written + 1)[key]})
    return written
