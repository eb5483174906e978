"""Zarr arrays (v2/v3, OME-Zarr, BigTIFF through tifffile) denoised chunk by chunk on a
Dask cluster, each chunk marked done when written, so a run resumes."""

from __future__ import annotations

import functools
import itertools
import math
import shutil
import time
import uuid
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..batch import RunInterrupted
from ..chunked import (
    DEFAULT_CHUNK,
    ChunkPlan,
    _block_function,
    array_levels,
    array_samples,
    check_chunking,
    fit_for_array,
    method_for_array,
    plan_axes,
    whole_array_settings,
)
from ..config import changed_fields, to_dict
from ..convert import from_unit_range, to_unit_range
from ..errors import N2NError, Note, warn_user
from ..files import write_atomically
from ..image_io import IMAGE_EXTENSIONS, as_stored, convert_samples, is_tiff, stored_type
from ..image_io.tiff import MappedTiff, chunked_axes, tiff_alpha
from ..image_io.tiff_storage import main_series
from ..models import SimpleCNN
from ..progress import progress_bar
from .cluster import Cluster, _require, _set_threads, distributed, zarr
from .levels import level_shapes, with_levels, write_levels

MARKS = ".n2n-chunks"  # folder of per-chunk done marks inside the output store


@dataclass(frozen=True)
class ZarrJob:
    """What a chunked run does; written into the output's attributes, so that a
    ``resume`` with other settings is refused."""

    method: str
    chunk: int
    overlap: int
    axes: str
    preset: str | None = None
    seed: int = 0


def _ome(attrs: dict) -> dict | None:
    """The first OME-NGFF multiscale of a group's attributes (v0.4, or v0.5 under "ome")."""
    multiscales = attrs.get("multiscales") or attrs.get("ome", {}).get("multiscales")
    return multiscales[0] if multiscales else None


def _is_tiff(path: Path) -> bool:
    return is_tiff(path)


def _tiff_array(path: Path):
    """A (Big)TIFF's pixels as an array: memory-mapped where it is uncompressed and
    contiguous (ImageJ's and many microscopes' way: tifffile's zarr interface gives such a
    file as one chunk, so that every task read the whole image), else through tifffile's
    zarr interface (a pyramidal TIFF: its full-resolution level)."""
    import tifffile

    if (mapped := MappedTiff.open(path)) is not None:
        return mapped
    with tifffile.TiffFile(path) as tif:  # its store reopens the file (as imread's does)
        store = tif.aszarr(series=tif.series.index(main_series(tif)))  # not a thumbnail
    node = zarr.open(store, mode="r")
    return node["0"] if isinstance(node, zarr.Group) else node


def open_source(path: Path):
    """(array, axes letters or None, OME attributes or None) of an input: a zarr array,
    an OME-Zarr image (its full-resolution level), or a (Big)TIFF: memory-mapped where
    it is uncompressed and contiguous, else read through tifffile's zarr interface."""
    _require()
    if _is_tiff(path):
        axes = chunked_axes(path)  # planar RGB (SYX): colour, not three gray planes
        array = _tiff_array(path)
        return array, axes if len(axes) == array.ndim else None, None
    if not path.exists():
        raise N2NError(f"{path}: no such zarr store")
    if path.is_file() and path.suffix.lower() in IMAGE_EXTENSIONS:  # a photo into .zarr
        raise N2NError(
            f"{path}: a chunked run (into .zarr) reads a zarr store or a TIFF; denoise "
            f"a {path.suffix} file into an image file (-o OUT{path.suffix.lower()})"
        )
    try:
        node = zarr.open(str(path), mode="r")
    except Exception as exc:
        raise N2NError(f"{path}: not a readable zarr store ({exc})") from None
    if isinstance(node, zarr.Array):
        return node, None, None
    attrs = dict(node.attrs)
    multiscale = _ome(attrs)
    if multiscale is None:
        raise N2NError(f"{path}: a zarr group without OME multiscales: give the array's path")
    axes = multiscale.get("axes")
    letters = None
    if axes:
        names = [a["name"] if isinstance(a, dict) else a for a in axes]
        letters = "".join("C" if n == "c" else n.upper() if n in "yx" else "P" for n in names)
    # What the output group copies: the attributes, its levels' shapes, the format.
    shapes = level_shapes(node, multiscale)
    ome = {"attrs": attrs, "format": node.metadata.zarr_format, "shapes": shapes}
    return node[multiscale["datasets"][0]["path"]], letters, ome


def _say_stored_chunks(stored: tuple, axes: str, chunk: int) -> None:
    """A note where the input is stored in chunks much larger than a task's region:
    each task then reads (and decompresses) whole stored chunks, most of it unused."""
    area = math.prod(n for n, a in zip(stored, axes, strict=True) if a in "YX")
    if area > 4 * chunk * chunk:
        shape = "×".join(str(n) for n, a in zip(stored, axes, strict=True) if a in "YX")
        warn_user(
            f"stored in chunks of {shape} pixels: every task of `chunk` {chunk} reads whole "
            "ones, most of it unused (slow, and memory as for the stored chunk); a larger "
            "`chunk` or a rechunked copy of the input is faster",
            Note,
        )


def _chunk_regions(shape, axes: str, chunk: int):
    """Output chunks in array coordinates: one plane, all channels, chunk×chunk pixels."""
    ranges = []
    for n, a in zip(shape, axes, strict=True):
        if a == "C":
            ranges.append([slice(0, n)])
        elif a in "YX":
            ranges.append([slice(s, min(s + chunk, n)) for s in range(0, n, chunk)])
        else:
            ranges.append([slice(i, i + 1) for i in range(n)])
    return list(itertools.product(*ranges))


def _key(region) -> str:
    return ".".join(str(s.start) for s in region)


def _denoise_chunk(
    source, target: str, marks: str, region, job: ZarrJob, peak, span, transforms, model, threads
):
    """One task: read ``region`` plus the overlap from ``source``, denoise, write the chunk
    into ``target``, then mark it done (the mark is written last, so a chunk without a mark
    is redone whole). ``model``: the saved ZS-N2N network's path, or None; ``span``:
    the range float data are scaled from into [0, 1] and back (None: as they are)."""
    _set_threads(threads)
    if isinstance(source, str):
        path = Path(source)  # a TIFF's colours and axes were checked once, before the tasks
        source = _tiff_array(path) if _is_tiff(path) else open_source(path)[0]
    axes = job.axes
    expanded, inner = [], []
    for s, a, n in zip(region, axes, source.shape, strict=True):
        if a in "YX":
            lo, hi = max(s.start - job.overlap, 0), min(s.stop + job.overlap, n)
            expanded.append(slice(lo, hi))
            inner.append(slice(s.start - lo, s.stop - lo))
        else:
            expanded.append(s)
            inner.append(slice(None))
    block = to_unit_range(convert_samples(np.asarray(source[tuple(expanded)])), span)
    order = ChunkPlan(axes).order()  # the plan's axes, decided before the tasks
    net = _zeroshot_network(model) if model else None
    fn = _block_function(job.method, "C" in axes, peak, transforms, net, "cpu")
    out = from_unit_range(fn(block.transpose(order)).transpose(np.argsort(order)), span)
    z = zarr.open_array(target, mode="r+")
    z[tuple(region)] = as_stored(out[tuple(inner)], z.dtype)
    Path(marks, _key(region)).touch()
    return out[tuple(inner)].size


def denoise_zarr(
    source: Path,
    target: Path,
    method: str = "pretrained",
    *,
    cluster: Cluster | None = None,
    axes: str | None = None,
    chunk: int = 1024,
    overlap: int | None = None,
    preset: str | None = None,
    seed: int = 0,
    resume: bool = False,
    overwrite: bool = False,
    progress: bool = True,
) -> dict:
    """Denoise a zarr array (or OME-Zarr image, or BigTIFF) into a zarr array, chunk by
    chunk, on ``cluster`` (None: in this process, one chunk at a time).

    Returns a summary: chunks done, skipped (resume), seconds, the overlap and the method
    run (``auto`` says which model it chose for the array).
    """
    _require()
    chunk = chunk or DEFAULT_CHUNK
    check_chunking(method, chunk)
    if target.suffix.lower() != ".zarr":
        raise N2NError(f"{target}: a chunked run writes a zarr store: name it OUT.zarr")
    if target.resolve() == source.resolve():
        raise N2NError(f"{target}: output would overwrite the input; choose another output")
    array, ome_axes, ome = open_source(source)
    plan = plan_axes(array.shape, axes or ome_axes, alpha=_is_tiff(source) and tiff_alpha(source))
    import dask.array as da

    if isinstance(array, MappedTiff):  # blocks for the scan of its levels
        chunks = da.core.normalize_chunks("auto", array.shape, limit="32MiB", dtype=array.dtype)
        lazy = array_samples(da.from_array(array, chunks=chunks), source)
    else:
        lazy = array_samples(da.from_zarr(array), source)
        _say_stored_chunks(array.chunks, plan.axes, chunk)
    # Read here (the source may not travel: a TIFF store holds a lock), once.
    try:
        peak, span = array_levels(lazy, scheduler="threads", progress=progress)
    except N2NError as exc:  # NaN: which array
        raise N2NError(f"{source}: {exc}") from None
    lazy = to_unit_range(lazy, span)  # float data in physical units: on [0, 1]
    if method == "auto":  # chosen once for the whole array, before any chunk
        method = method_for_array(lazy.transpose(plan.order()), "C" in plan.axes, seed)
    h, w = array.shape[plan.axes.index("Y")], array.shape[plan.axes.index("X")]
    bands = array.shape[plan.axes.index("C")] if "C" in plan.axes else 1
    config, transforms, depth = whole_array_settings(method, h * w, preset, overlap, bands)
    job = ZarrJob(method, chunk, depth, plan.axes, preset, seed)
    done = _prepare_target(target, array, job, ome, resume=resume, overwrite=overwrite)
    regions = _chunk_regions(array.shape, plan.axes, chunk)
    todo = [] if done is None else [r for r in regions if _key(r) not in done]
    model = None
    if config is not None:
        # Trained once, here, and saved in the output store: every task (and a resumed
        # run) loads the same network from shared storage, which survives any worker.
        model = str(Path(target, ZEROSHOT_FILE))
        if todo and not Path(model).is_file():
            net = fit_for_array(lazy.transpose(plan.order()), "C" in plan.axes, config, peak, seed)
            _save_zeroshot(net, config, model)
    out_array, marks = _array_path(target, ome), str(Path(target, MARKS))
    client = cluster.client if cluster is not None else None
    threads = cluster.threads if cluster is not None else None
    src = str(source) if client is not None else array
    start = time.perf_counter()
    bar = progress_bar(total=len(todo), unit="chunk", show=progress and len(todo) > 1)
    try:
        if client is None:
            for region in todo:
                _denoise_chunk(
                    src, out_array, marks, region, job, peak, span, transforms, model, threads
                )
                bar.update()
        else:
            run = uuid.uuid4().hex  # task keys unique to this run: Dask shares results by key
            futures = [
                client.submit(
                    _denoise_chunk,
                    src,
                    out_array,
                    marks,
                    region,
                    job,
                    peak,
                    span,
                    transforms,
                    model,
                    threads,
                    key=f"n2n-chunk-{run}-{_key(region)}",
                    pure=False,
                )
                for region in todo
            ]
            for future in distributed.as_completed(futures):
                future.result()
                bar.update()
    except KeyboardInterrupt as exc:
        if client is not None:
            client.cancel(futures)
        code = getattr(exc, "exit_code", 130)
        finished = sum(1 for _ in Path(marks).iterdir())  # by earlier runs too
        raise RunInterrupted([], len(regions), code, unit="chunk", done=finished) from None
    finally:
        bar.close()
    if ome is not None and done is not None:  # the input's reduced levels, from the result
        write_levels(target, ome, client, progress)
    seconds = time.perf_counter() - start
    _finish_target(target)
    return {
        "chunks": len(regions),
        "done": len(todo),
        "skipped": len(regions) - len(todo),
        "seconds": seconds,
        "overlap": job.overlap,
        "method": method,
    }


ZEROSHOT_FILE = ".n2n-zeroshot.pt"  # the ZS-N2N network of a zarr run, in its output store


def _save_zeroshot(net, config, path: str) -> None:
    """Save a ZS-N2N network atomically, with what rebuilds it."""

    payload = {
        "state": net.state_dict(),
        "channels": net.out.out_channels,
        "width": config.width,
        "layers": config.layers,
    }
    write_atomically(path, lambda tmp: torch.save(payload, tmp))


@functools.lru_cache(maxsize=2)
def _zeroshot_network(path: str):

    payload = torch.load(path, map_location="cpu", weights_only=True)
    net = SimpleCNN(payload["channels"], width=payload["width"], layers=payload["layers"])
    net.load_state_dict(payload["state"])
    return net.eval()


def _array_path(target: Path, ome: dict | None) -> str:
    return str(target / "0") if ome is not None else str(target)


def _prepare_target(
    target: Path, array, job: ZarrJob, ome, *, resume: bool, overwrite: bool
) -> set[str] | None:
    """Create the output store, or check it for a resume: same shape and type as the
    input, chunks as the tasks write them, the job in its attributes. Returns the chunks
    already done (None: all of them, the store is complete)."""
    settings = to_dict(job)
    shape = array.shape  # in the input's sample type (a CT's int16 too); 1-bit as 8-bit
    dtype = stored_type(array.dtype) or convert_samples(np.zeros(0, array.dtype)).dtype
    chunks = tuple(
        n if a == "C" else min(job.chunk, n) if a in "YX" else 1
        for n, a in zip(shape, job.axes, strict=True)
    )
    if target.exists():
        if resume:
            try:
                old = dict(zarr.open(str(target), mode="r").attrs).get("n2n")
            except Exception:
                old = None
            if old is None:
                raise N2NError(f"{target}: not written by n2n denoise; cannot resume it")
            changed = changed_fields({k: old.get(k) for k in settings}, settings)
            if changed:
                raise N2NError(
                    f"{target}: made with other {', '.join(changed)}; cannot resume it "
                    "(use the same settings, or `overwrite=True`)"
                )
            if old.get("complete"):
                return None
            return {p.name for p in Path(target, MARKS).iterdir()}
        if not overwrite:
            raise N2NError(f"{target}: already exists (use `overwrite=True`, or `resume=True`)")
        shutil.rmtree(target)
    record = {"n2n": {**settings, "complete": False}}
    if ome is not None:
        group = zarr.open_group(str(target), mode="w", zarr_format=ome["format"])
        group.attrs.update({**with_levels(ome["attrs"], 1), **record})
        group.create_array("0", shape=shape, chunks=chunks, dtype=dtype, fill_value=0)
    else:
        z = zarr.open_array(
            str(target),
            mode="w",
            shape=shape,
            chunks=chunks,
            dtype=dtype,
            fill_value=0,
            # a MappedTiff: 2, as from tifffile's zarr interface
            zarr_format=getattr(getattr(array, "metadata", None), "zarr_format", 2),
        )
        z.attrs.update(record)
    Path(target, MARKS).mkdir()
    return set()


def _finish_target(target: Path) -> None:
    node = zarr.open(str(target), mode="r+")
    record = dict(node.attrs)["n2n"]
    node.attrs.update({"n2n": {**record, "complete": True}})
    shutil.rmtree(Path(target, MARKS), ignore_errors=True)
    Path(target, ZEROSHOT_FILE).unlink(missing_ok=True)
