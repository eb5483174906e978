"""A chunked run's zarr array written out as a TIFF, tile by tile: a slide or a stack too
large for memory denoised into a TIFF (Fiji, QuPath and most viewers read TIFF; a zarr
store needs plugins), never more than one tile of it in memory.

The output keeps the input TIFF's planes (pages), samples (gray, RGB, alpha), sample type,
resolution, colour profile and OME-XML; it is tiled (256×256), compressed with Deflate and
a predictor where the input was compressed, a BigTIFF where it needs to be. A slide's
reduced-resolution levels (its pyramid, which a viewer reads to show it zoomed out) are
made again from the denoised image, each from the one above it by block averages
(:mod:`.levels`), in a zarr store beside the run's, and written after it. A planar RGB
input is written with its samples together (the same pixels). An ImageJ file is written
in ImageJ's own layout, which has no tiles, plane by plane, with its calibration (unit,
z-spacing, frame interval).
"""

from __future__ import annotations

import itertools
import shutil
from dataclasses import replace
from pathlib import Path

import numpy as np

from ..errors import Note, warn_user
from ..files import write_atomically
from ..image_io import read_metadata
from ..image_io.tiff import chunked_axes, tiff_alpha, tiff_options
from ..image_io.tiff_exif import exif_caption
from ..image_io.tiff_storage import compression_options, main_series
from ..progress import progress_bar
from .cluster import zarr
from .levels import reduced_level

TILE = 256  # a multiple of 16, as TIFF tiles must be


def zarr_to_tiff(store: Path, target: Path, source: Path, *, progress: bool = True) -> Path:
    """Write the zarr array at ``store`` (a chunked run's output for the TIFF ``source``,
    same shape) as the TIFF ``target``, atomically, stored as ``source`` was."""
    import tifffile

    array = zarr.open_array(str(store), mode="r")
    axes = chunked_axes(source)  # Y, X, C (samples), P (planes): the array's dimensions
    if len(axes) != array.ndim:  # as the run took them (open_source did the same)
        axes = dict(array.attrs)["n2n"]["axes"]
    planes = [i for i, a in enumerate(axes) if a == "P"]
    y, x = axes.index("Y"), axes.index("X")
    samples = axes.index("C") if "C" in axes else None
    height, width = array.shape[y], array.shape[x]
    count = array.shape[samples] if samples is not None else 1
    lead = tuple(array.shape[i] for i in planes)
    shape = (*lead, height, width, *((count,) if samples is not None else ()))
    meta = read_metadata(source)
    if meta.imagej and array.dtype in _IMAGEJ_TYPES:  # ImageJ's own layout: planes
        return write_atomically(target, lambda tmp: _write_imagej(tmp, array, source, meta))
    if meta.imagej:
        warn_user(
            f"a chunked TIFF output of {array.dtype} is not an ImageJ file (ImageJ takes "
            "8 or 16 bits or float32): its unit, z-spacing and frame interval are not "
            "written (the pixel size is)",
            Note,
        )
    alpha = tiff_alpha(source) and count in (2, 4)
    colour = count == 3 or (count == 4 and alpha)
    options = {
        "photometric": "rgb" if colour else "minisblack",
        "tile": (TILE, TILE),
        "metadata": None,
        **compression_options(meta.storage),
        **tiff_options(meta),  # profile, resolution, OME-XML
    }
    if meta.exif and meta.ome is None and (caption := exif_caption(meta.exif)):
        options["description"] = caption  # a slide's: its scanner's pixel size, say
    if extra := count - (3 if colour else 1):  # alpha, or a micrograph's other channels
        kinds = ["unspecified"] * extra
        options["extrasamples"] = [*kinds[:-1], "unassalpha"] if alpha else kinds
    levels = _levels(store, array, axes, meta.storage, lead, progress)
    sizes = [(height, width), *((lv.shape[y], lv.shape[x]) for lv in levels)]
    grids = [(range(0, h, TILE), range(0, w, TILE)) for h, w in sizes]
    planes_count = int(np.prod(lead, dtype=np.int64))
    total = sum(planes_count * len(r) * len(c) for r, c in grids)
    bar = progress_bar(total=total, unit="tile", desc="TIFF", show=progress and total > 1)

    def tiles(source_array, grid):
        for plane in itertools.product(*(range(n) for n in lead)):
            for top, left in itertools.product(*grid):
                tile = _tile(source_array, axes, plane, top, left)
                bar.update()  # tifffile asks for no more after the last
                yield tile

    writer = {k: options.pop(k) for k in ("ome", "imagej") if k in options}  # the file's
    big = sum(int(np.prod(a.shape)) for a in [array, *levels]) * array.dtype.itemsize
    big = big > 2**32 - 2**25  # as tifffile.imwrite decides, the levels counted

    def write(tmp: Path) -> None:
        level = {k: v for k, v in options.items() if k in ("photometric", "extrasamples")}
        level |= {"tile": (TILE, TILE), **compression_options(meta.storage)}
        subifds = {"subifds": len(levels)} if levels and meta.storage.subifds else {}
        with bar, tifffile.TiffWriter(tmp, bigtiff=big, **writer) as tif:
            tif.write(tiles(array, grids[0]), shape=shape, dtype=array.dtype, **options,
                      **subifds)  # fmt: skip
            for reduced, grid, (h, w) in zip(levels, grids[1:], sizes[1:], strict=True):
                size = (h, w, *((count,) if samples is not None else ()))
                tif.write(tiles(reduced, grid), shape=size, dtype=array.dtype, subfiletype=1,
                          **level)  # fmt: skip

    try:
        return write_atomically(target, write)
    finally:
        if levels:
            shutil.rmtree(_levels_folder(store), ignore_errors=True)


def _levels_folder(store: Path) -> Path:
    return store.with_name(f"{store.name}.levels")


def _levels(store: Path, array, axes: str, storage, lead: tuple, progress: bool) -> list:
    """The reduced-resolution levels of a TIFF output, as zarr arrays beside ``store``
    (made from the denoised image, each from the one above it), as many of ``storage``'s
    as whole factors make; a stack's are left out, said."""
    if storage is None or not storage.levels:
        return []
    if lead:
        warn_user("the input's reduced-resolution levels are not written for a stack", Note)
        return []
    folder = _levels_folder(store)
    shutil.rmtree(folder, ignore_errors=True)  # what an interrupted run left
    levels, upper = [], array
    y, x = axes.index("Y"), axes.index("X")
    made = progress_bar(storage.levels, unit="level", desc="levels", show=progress)
    for index, (rows, columns) in enumerate(made, start=1):
        shape = tuple(
            rows if i == y else columns if i == x else n for i, n in enumerate(upper.shape)
        )
        reduced = reduced_level(upper, shape, folder / str(index))
        if reduced is None:
            warn_user(
                f"the input's reduced-resolution level {index} ({columns}×{rows}) is not a "
                f"whole reduction of the one above it: the output holds {index - 1} of them",
                Note,
            )
            break
        levels.append(reduced)
        upper = reduced
    return levels


_IMAGEJ_TYPES = (np.dtype(np.uint8), np.dtype(np.uint16), np.dtype(np.float32))


def _write_imagej(tmp: Path, array, source: Path, meta) -> None:
    """The array as an ImageJ file with the input's calibration, plane by plane (ImageJ's
    layout has no tiles: one plane in memory at a time)."""
    import tifffile

    with tifffile.TiffFile(source) as tif:
        axes = main_series(tif).axes  # ImageJ's order, TZCYXS, as the array's
    lead = array.shape[: axes.index("Y")]

    def planes():
        for index in np.ndindex(*lead):
            yield np.asarray(array[index])

    options = tiff_options(replace(meta, ome=None), axes)
    options |= compression_options(meta.storage)
    tifffile.imwrite(tmp, data=planes(), shape=array.shape, dtype=array.dtype, imagej=True,
                     **options)  # fmt: skip


def _tile(array, axes: str, plane: tuple[int, ...], top: int, left: int) -> np.ndarray:
    """One TILE × TILE tile (× samples) of ``plane``, zero-padded past the edges."""
    where, index = [], iter(plane)
    for a in axes:
        if a == "P":
            where.append(next(index))
        elif a == "Y":
            where.append(slice(top, top + TILE))
        elif a == "X":
            where.append(slice(left, left + TILE))
        else:
            where.append(slice(None))
    block = np.asarray(array[tuple(where)])
    kept = [a for a in axes if a != "P"]  # Y, X and C, in the array's order
    block = block.transpose([kept.index(a) for a in "YXC" if a in kept])
    pad = [(0, TILE - block.shape[0]), (0, TILE - block.shape[1])] + [(0, 0)] * (block.ndim - 2)
    return np.pad(block, pad)
