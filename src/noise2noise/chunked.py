"""Denoising arrays larger than memory, chunk by chunk with an overlap (Dask).

:func:`denoise_dask` takes a ``dask.array.Array`` and returns one (lazy in, lazy out):
every chunk is denoised with ``overlap`` pixels of its neighbours around it
(``dask.array.map_overlap``) and cropped back, so a worker holds one chunk, not the array.
Axes other than Y, X and channels (time, z, ...) are processed plane by plane.

What must be the same for every chunk is decided once for the whole array: the count of
flip/rotation averages (by the size of a whole plane), the dim-image stretch (by the
brightest value of the whole array), and for ZS-N2N the network itself, trained once on
random crops drawn from the whole array and then applied to every chunk. How close the
result is to denoising the whole image at once is measured in
``bench/results/distributed.md`` (ZS-N2N: exact up to rounding, its receptive field is 2
pixels; the pretrained network: its receptive field is larger than the overlap, as it is
larger than the tile margin of whole-image processing).

Dask is optional (``pip install noise2noise[distributed]``); it is imported only here.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass

import numpy as np
import torch

from .convert import (
    as_float,
    dim_gain,
    float_span,
    from_unit_range,
    image_to_tensor,
    tensor_to_image,
    to_unit_range,
)
from .errors import MissingDependency, N2NError, warn_user
from .estimate import METHOD_OF, choose_model
from .image_io import (
    ConversionWarning,
    ScalingNote,
    apply_to_colour,
    convert_samples,
    merge_alpha,
    sample_type,
    sample_type_note,
    split_alpha,
)
from .pretrained import PRETRAINED, transforms_for
from .pretrained import denoise as denoise_pretrained
from .progress import progress_bar
from .tta import tta_transforms
from .zeroshot import DEFAULT_PRESET, ZeroShotConfig, apply_zeroshot, fit_zeroshot, get_preset

__all__ = ["denoise_dask", "ChunkPlan", "plan_axes", "CHUNKED_METHODS"]

CHUNKED_METHODS = ("auto", "pretrained", "real", "zeroshot")
DEFAULT_CHUNK = 1024  # pixels per side of a chunk (even, for the real model's 2×2 shuffle)


def _dask():
    try:
        import dask.array as da  # optional dependency: the [distributed] extra
    except ImportError:
        raise MissingDependency(
            "chunked processing needs Dask: pip install 'noise2noise[distributed]'"
        ) from None
    return da


@dataclass(frozen=True)
class ChunkPlan:
    """Where the image axes of an array are: ``axes`` has one letter per dimension,
    Y and X required, C for channels (at most 4), anything else a plane axis."""

    axes: str

    def __post_init__(self):
        axes = self.axes
        if axes.count("Y") != 1 or axes.count("X") != 1 or axes.count("C") > 1:
            raise N2NError(f"axes '{axes}' must name Y and X once, and C at most once")

    def order(self) -> list[int]:
        """Dimensions reordered as (planes..., Y, X[, C])."""
        planes = [i for i, a in enumerate(self.axes) if a not in "YXC"]
        tail = [self.axes.index("Y"), self.axes.index("X")]
        if "C" in self.axes:
            tail.append(self.axes.index("C"))
        return planes + tail


def plan_axes(shape: tuple[int, ...], axes: str | None = None, *, alpha: bool = False) -> ChunkPlan:
    """The axes of an array: given, or guessed (YX; YXC, or planes then YXC, with 1-4
    trailing channels after two larger axes; otherwise planes then YX). Three channels are
    colour; two or four are planes, each denoised alone (an array's channels are a
    micrograph's far more often than gray or RGB and alpha, which would be left noisy),
    unless ``alpha`` says the last is alpha (a TIFF that marks it): then gray or RGB and
    alpha, the alpha passed through."""
    if axes is not None:
        axes = axes.upper()
        if len(axes) != len(shape):
            raise N2NError(f"axes '{axes}' do not fit an array of {len(shape)} dimensions")
        plan = ChunkPlan(axes)
    elif len(shape) == 2:
        plan = ChunkPlan("YX")
    elif len(shape) >= 3 and shape[-1] <= 4 < min(shape[-3:-1]):
        plan = ChunkPlan("P" * (len(shape) - 3) + "YXC")
    elif len(shape) >= 2:
        plan = ChunkPlan("P" * (len(shape) - 2) + "YX")
    else:
        raise N2NError(f"an array of shape {shape} is not an image")
    channels = shape[plan.axes.index("C")] if "C" in plan.axes else 0
    if channels > 4:
        raise N2NError(f"{channels} channels: at most 4 are supported")
    if channels in (2, 4) and not alpha:  # a micrograph's channels, not gray and alpha
        return ChunkPlan(plan.axes.replace("C", "P"))  # each denoised as its own plane
    return plan


def check_chunking(method: str, chunk: int) -> None:
    """Fail on a method that cannot run chunk by chunk, or a chunk size it cannot use."""
    if method not in CHUNKED_METHODS:
        raise N2NError(
            f"method '{method}' cannot run chunk by chunk (choose from "
            f"{', '.join(CHUNKED_METHODS)})"
        )
    if chunk < 64 or chunk % 2:
        raise N2NError(f"chunk must be even and at least 64 pixels, got {chunk}")


def array_samples(x, name: str | os.PathLike | None = None):
    """The dask array ``x`` in samples the denoisers take (:func:`~noise2noise.image_io.
    convert_samples`: 1-bit as 8-bit, integers other than uint8 and uint16 as float32 in
    their own units), the change said in a note, as for a TIFF; other types refused."""
    if sample_type(x.dtype) is None:
        where = f"{name}: " if name is not None else ""
        raise N2NError(f"{where}sample type {x.dtype} (use integers or floats)")
    if note := sample_type_note(x.dtype):
        warn_user(note, ConversionWarning)
    return convert_samples(x)


def array_levels(
    x, scheduler: str | None = None, progress: bool = False
) -> tuple[float, tuple[float, float] | None]:
    """The brightest value of the whole dask array ``x`` in [0, 1] units, and for float
    data outside [0, 1] (physical units) the span they are scaled from into [0, 1] for
    denoising and back (as ``n2n denoise`` scales a float TIFF; None otherwise, the peak
    then of the scaled data): one read, the scaling said in a note. With ``progress``, a
    bar over the blocks read (a large array's read takes minutes, before any chunk)."""
    da = _dask()
    from dask.callbacks import Callback

    show = progress and x.npartitions > 16
    with progress_bar(total=x.npartitions, unit="block", desc="scan", show=show) as bar:

        def count(key, result, dsk, state, worker_id):
            if isinstance(key, tuple) and key[0] == x.name:  # a block of x, not a sum
                bar.update()

        with Callback(posttask=count):
            lo, hi = da.compute(x.min(), x.max(), scheduler=scheduler)
    if x.dtype.kind != "f":
        return float(as_float(np.asarray([hi], dtype=x.dtype))[0]), None
    lo, hi = float(lo), float(hi)
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise N2NError("the array holds NaN or infinite values: replace them before denoising")
    span = float_span(lo, hi)
    if span is None:
        return hi, None
    warn_user(ScalingNote(span))
    return (hi - span[0]) / (span[1] - span[0]), span


def whole_array_settings(
    method: str, pixels: int, preset: str | None, overlap: int | None, channels: int = 1
) -> tuple[ZeroShotConfig | None, int, int]:
    """What is decided once for an array whose planes have ``pixels`` pixels (and
    ``channels`` channels): ZS-N2N's configuration (None for the pretrained models), the
    number of flip/rotation averages, and the overlap (given, or by default ZS-N2N's
    receptive radius, which makes chunks exact, or the pretrained model's tile context,
    :meth:`~noise2noise.pretrained.PretrainedModel.context`, wider where ``real`` runs
    shuffled passes, which see farther: on grayscale)."""
    if method == "zeroshot":
        config = get_preset(preset or DEFAULT_PRESET)
        transforms = tta_transforms(pixels, config.tta_budget) if config.tta else 1
        depth = config.layers - 1  # SimpleCNN's receptive radius
    else:
        config, transforms = None, transforms_for(pixels)
        depth = PRETRAINED["real" if method == "real" else "blind"].context(channels)
    depth = depth if overlap is None else int(overlap)
    if depth < 0 or depth % 2:
        raise N2NError(f"overlap must be even and >= 0, got {depth}")
    return config, transforms, depth


def fit_for_array(x, channels: bool, config: ZeroShotConfig, peak: float, seed: int, **kw):
    """ZS-N2N trained once for the whole array ``x`` (planes first, then Y, X[, C]), on
    a mosaic of random crops of it (:func:`_training_image`); ``kw`` goes to
    :func:`~noise2noise.zeroshot.fit_zeroshot` (``device``)."""
    mosaic = _training_image(x, channels, max(config.crop or 256, 256) * 2, seed)
    mosaic = split_alpha(mosaic)[0] if channels else mosaic  # its colours: alpha passes
    y = image_to_tensor(mosaic, channel_axis=-1 if channels else None)
    return fit_zeroshot(y * dim_gain(peak), config, seed=seed, **kw).cpu().eval()


def _training_image(x, channels: bool, size: int, seed: int) -> np.ndarray:
    """A 2×2 mosaic of random crops of ``size``/2 pixels from the whole array (planes
    first, then Y, X[, C]): ZS-N2N's training image, read without loading the array."""
    rng = np.random.default_rng(seed)
    n_lead = x.ndim - (3 if channels else 2)
    planes, (h, w) = x.shape[:n_lead], x.shape[n_lead : n_lead + 2]
    half = min(size // 2, h, w)
    half -= half % 2
    tiles = []
    for _ in range(4):
        index = tuple(int(rng.integers(n)) for n in planes)
        top, left = int(rng.integers(h - half + 1)), int(rng.integers(w - half + 1))
        region = index + (slice(top, top + half), slice(left, left + half))
        tiles.append(np.asarray(x[region].compute(scheduler="threads")))  # small: here
    rows = [np.concatenate(tiles[:2], axis=1), np.concatenate(tiles[2:], axis=1)]
    return np.concatenate(rows, axis=0)


def method_for_array(x, channels: bool, seed: int) -> str:
    """What ``auto`` runs on the whole array ``x`` (planes first, then Y, X[, C]):
    ``"real"`` or ``"pretrained"``, chosen once from the noise of a mosaic of four random
    crops of it (:func:`~noise2noise.estimate.choose_model`), the same for a resumed run."""
    sample = _training_image(x, channels, 512, seed)
    sample = split_alpha(sample)[0] if channels else sample
    model, _ = choose_model(sample, channel_axis=-1 if channels else None)
    return METHOD_OF[model]


def _block_function(method: str, channels: bool, peak: float, transforms: int, model, device):
    """The function applied to each overlapping block of shape (1..., Y, X[, C])."""

    def one_plane(image: np.ndarray) -> np.ndarray:
        axis = -1 if channels else None
        if method == "zeroshot":  # alpha (two or four channels here) passed through
            colour, alpha = split_alpha(image) if channels else (image, None)
            y = image_to_tensor(colour, channel_axis=axis)
            gain = dim_gain(peak)
            with torch.no_grad():
                out = apply_zeroshot(model, y * gain, tta=True, transforms=transforms)
            return merge_alpha(tensor_to_image(out / gain, colour, channel_axis=axis), alpha)
        name = "real" if method == "real" else "blind"
        if channels:
            return apply_to_colour(
                denoise_pretrained, image, model=name, tta=transforms, peak=peak, device=device
            )
        return denoise_pretrained(image, model=name, tta=transforms, peak=peak, device=device)

    def block_fn(block: np.ndarray) -> np.ndarray:
        lead = block.shape[: block.ndim - (3 if channels else 2)]
        flat = block.reshape((-1, *block.shape[len(lead) :]))
        return np.stack([one_plane(p) for p in flat]).reshape(block.shape)

    return block_fn


def denoise_dask(
    array,
    method: str = "pretrained",
    *,
    axes: str | None = None,
    chunk: int = DEFAULT_CHUNK,
    overlap: int | None = None,
    peak: float | None = None,
    preset: str | None = None,
    seed: int = 0,
    device: str = "cpu",
):
    """Denoise a ``dask.array.Array`` chunk by chunk; returns a lazy array like it.

    Parameters
    ----------
    array : dask.array.Array (or anything ``dask.array.asarray`` takes, e.g. a zarr array)
        uint8, uint16 or float; any number of dimensions with Y and X among them. Float
        data outside [0, 1] (physical units) are scaled into it and back, with a note.
    method : str
        ``"pretrained"`` (default), ``"real"``, ``"zeroshot"`` or ``"auto"`` (``real`` or
        ``pretrained``, chosen once for the whole array from the noise of a mosaic of four
        random crops of it, :func:`~noise2noise.estimate.choose_model`).
    axes : str or None
        One letter per dimension: Y, X, C (channels, at most 4), anything else is a plane
        axis processed plane by plane (``"TZYX"``, ``"CYX"``...). None: guessed
        (:func:`plan_axes`).
    chunk : int
        Side of the chunks (pixels) each task denoises; the array is rechunked to it, with
        one plane and all channels per chunk.
    overlap : int or None
        Pixels of context around each chunk; None: the method's receptive field (ZS-N2N,
        exact) or the pretrained models' tile margin (64, or 324 for ``real`` on grayscale).
    peak : float or None
        The brightest value of the whole array in [0, 1] units; None: computed (one read
        of the array) so that a dim array is stretched alike in every chunk.
    preset, seed : ZS-N2N's preset (None: the default) and seed; the network is trained
        once, here, on a mosaic of four random crops of the whole array.
    device : str
        Where each task computes (``"cpu"``, ``"cuda"``...).

    Returns
    -------
    dask.array.Array with the shape, dtype and chunks along the plane axes of ``array``.
    """
    da = _dask()
    check_chunking(method, chunk)
    x = array_samples(da.asarray(array))
    plan = plan_axes(x.shape, axes)
    order = plan.order()
    x = x.transpose(order)
    channels = "C" in plan.axes
    n_lead = x.ndim - (3 if channels else 2)
    chunks = (1,) * n_lead + (chunk, chunk) + ((x.shape[-1],) if channels else ())
    x = x.rechunk(chunks)
    h, w = x.shape[n_lead], x.shape[n_lead + 1]
    found, span = (None, None) if peak is not None and x.dtype.kind != "f" else array_levels(x)
    peak = found if peak is None else peak
    x = to_unit_range(x, span)  # float data in physical units: on [0, 1], lazily
    if method == "auto":  # one choice for every chunk: no seams between two models
        method = method_for_array(x, channels, seed)
    bands = x.shape[-1] if channels else 1
    config, transforms, depth = whole_array_settings(method, h * w, preset, overlap, bands)
    model = None
    if config is not None:
        model = fit_for_array(x, channels, config, peak, seed, device=device)
    fn = _block_function(method, channels, peak, transforms, model, device)
    # Context only across chunk borders (an axis in one chunk needs none), and at most the
    # axis itself: dask refuses a depth beyond the array.
    depths = {a: 0 if n <= chunk else min(depth, n) for a, n in ((n_lead, h), (n_lead + 1, w))}
    out = x.map_overlap(fn, depth=depths, boundary="none", dtype=x.dtype, trim=True)
    out = from_unit_range(out, span)
    inverse = np.argsort(order)
    return out.transpose(tuple(int(i) for i in inverse))
