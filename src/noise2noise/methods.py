"""Denoising methods by name: the one table that the command line and evaluations use.

Every method is a function ``(image, *, channel_axis, **options) -> image`` on numpy arrays,
preserving shape and dtype; :func:`denoise_image` runs one on an image as read from a file,
passing an alpha channel through untouched. The objects that callers hold (a picklable
denoiser for files, one told the noise for evaluations) are in :mod:`noise2noise.denoisers`.
"""

from __future__ import annotations

import difflib
import functools
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from .baselines import bm3d_module, denoise_ansc, denoise_bm3d
from .errors import N2NError
from .image_io import apply_to_colour
from .noise import Gaussian, Poisson
from .pretrained import denoise, denoise_auto
from .training import denoise_with_model, load_checkpoint
from .zeroshot import denoise_zeroshot, denoise_zeroshot_interleaved

__all__ = [
    "METHODS",
    "REGISTRY",
    "Method",
    "RUNTIME_OPTIONS",
    "check_method",
    "check_options",
    "resolve_method",
    "describe_methods",
    "options_for_noise",
    "denoise_image",
]


def _no_noise_options(noise: Gaussian | Poisson) -> dict:
    return {}  # blind methods: told nothing


def _gaussian_sigma(noise: Gaussian | Poisson) -> dict | None:
    return {"sigma": noise.sigma} if isinstance(noise, Gaussian) else None


def _poisson_peak(noise: Gaussian | Poisson) -> dict | None:
    return {"peak": noise.peak} if isinstance(noise, Poisson) else None


@dataclass(frozen=True)
class Method:
    """One denoising method: everything the command line, file runs, the memory budget
    and evaluations need to know about it. Adding a method is adding one record.

    Parameters
    ----------
    function : ``(image, *, channel_axis, **options) -> image``
    options : the keyword options it takes (any other is an error)
    bytes_per_pixel : peak memory per pixel beyond the fixed cost of the process
        (``bench/results/memory_per_pixel.md``, rounded up), for the memory budget of file
        runs (:mod:`noise2noise.memory`)
    summary : what it is for, in a few words (the ``--method`` help)
    required : options it cannot run without
    noise_options : in evaluations, where the noise is known: the options that tell the
        method the true noise (BM3D its sigma), or None where the method does not apply
    scale_float : float data outside [0, 1] are scaled into range and back (not for
        Poisson counts, which must stay counts)
    batched : the method for many images at once, where that is faster on a GPU:
        ``(images, *, channel_axis, **options) -> images``
    shipped : the shipped models (:data:`noise2noise.weights.PRETRAINED`) it runs, if
        any: cached results of the method are stale when their weights change
    check_installed : raises :class:`~noise2noise.errors.MissingDependency` where an
        optional package the method needs is not installed (before any work starts)
    """

    function: Callable[..., np.ndarray]
    options: tuple[str, ...]
    bytes_per_pixel: float
    summary: str
    required: tuple[str, ...] = ()
    noise_options: Callable[[Gaussian | Poisson], dict | None] = _no_noise_options
    scale_float: bool = True
    batched: Callable[..., list[np.ndarray]] | None = None
    shipped: tuple[str, ...] = ()
    check_installed: Callable[[], object] | None = None


# bytes_per_pixel: the largest over gray, RGB and 16-bit of the measured bytes per value
# times the channels (bench/results/memory_per_pixel.md: pretrained 100 gray / 108 RGB16,
# zeroshot 172 / 209, bm3d 589 / 977; real, with its three passes of version 0.3,
# bench/results/memory_per_pixel_real.md: 124 gray / 278 RGB16, and up to 419 in an
# earlier run of the same command: RSS slopes are noisy), with headroom. Per pixel, not
# per value: the networks' activations do not depend on the image's channel count.
# `model` is tiled like `pretrained` without flip averaging.
REGISTRY: dict[str, Method] = {
    "auto": Method(
        denoise_auto,
        ("device", "progress"),
        512,  # the larger of the two it may run
        "real where the noise is correlated as in camera photos, else pretrained; default",
        shipped=("blind", "real"),
    ),
    "pretrained": Method(
        denoise,
        ("device", "progress"),
        128,
        "the shipped network, for synthetic-like noise",
        shipped=("blind",),
    ),
    "real": Method(
        functools.partial(denoise, model="real"),
        ("device", "progress"),
        512,
        "the shipped network for noisy camera photos (grain, colour blotches)",
        shipped=("real",),
    ),
    "zeroshot": Method(
        denoise_zeroshot,
        ("preset", "iterations", "seed", "progress", "device"),
        256,
        "ZS-N2N: trains a small network on the image itself",
        # On a GPU one-image fits interleaved on CUDA streams beat the networks stacked
        # as grouped convolutions: 50 images of 256x256 at `paper` in a projected 57 s
        # against 121 s on an H200 (bench/results/zeroshot_folder_variants.md).
        batched=denoise_zeroshot_interleaved,
    ),
    "bm3d": Method(
        denoise_bm3d,
        ("sigma",),  # on the 0-255 scale, estimated when None
        1024,
        "Gaussian noise",
        noise_options=_gaussian_sigma,
        check_installed=bm3d_module,
    ),
    "ansc": Method(
        denoise_ansc,
        ("peak", "inverse"),
        1024,
        "Poisson noise, given its peak",
        required=("peak",),
        noise_options=_poisson_peak,
        scale_float=False,
        check_installed=bm3d_module,
    ),
    "model": Method(
        denoise_with_model,
        ("model", "device"),
        128,
        "model:RUN_DIR, a network trained with 'n2n train'",
    ),
}
# bench/results/memory_per_pixel.md, zeroshot_paper: 1638 per pixel gray, 1713 RGB.
WHOLE_IMAGE_ZEROSHOT_BYTES = 2048
METHODS: dict[str, Callable[..., np.ndarray]] = {k: m.function for k, m in REGISTRY.items()}
DEFAULT_METHOD = "auto"
# Run-time settings every method accepts and only some use (never part of a result).
RUNTIME_OPTIONS = ("progress", "device")


def _lookup(method: str) -> Callable[..., np.ndarray]:
    try:
        return METHODS[method]
    except KeyError:
        near = difflib.get_close_matches(method.lower(), METHODS, n=1, cutoff=0.6)
        hint = f"did you mean '{near[0]}'? " if near else ""
        raise N2NError(
            f"unknown method '{method}' ({hint}choose from {', '.join(METHODS)})"
        ) from None


def resolve_method(method: str, options: dict) -> tuple[str, dict]:
    """Split a ``"model:RUN_DIR"`` spec, check the name, keep the options the method takes."""
    if method.startswith("model:"):
        if not (path := method.split(":", 1)[1]):
            raise N2NError("method 'model:' names no run folder: give model:RUN_DIR")
        method, options = "model", {**options, "model": path}
    _lookup(method)
    return method, {
        k: v for k, v in options.items() if k in REGISTRY[method].options and v is not None
    }


def check_options(method: str, options: dict) -> None:
    """Refuse an option ``method`` does not use (None values: not given), saying those it
    takes; the run-time settings (:data:`RUNTIME_OPTIONS`) pass, only some methods use them."""
    name = "model" if method.startswith("model:") else method
    _lookup(name)
    unused = [
        k
        for k, v in options.items()
        if v is not None and k not in REGISTRY[name].options and k not in RUNTIME_OPTIONS
    ]
    if unused:  # parameters in backticks: the command line names its options
        takes = [f"`{k}`" for k in REGISTRY[name].options if k != "progress"]
        raise N2NError(
            f"method '{name}' does not use {', '.join(f'`{k}`' for k in unused)} "
            f"(it takes {', '.join(takes) if takes else 'no options'})"
        )


def describe_methods() -> str:
    """``name (summary), ...`` of every method, for help texts."""
    return ", ".join(
        m.summary if name == "model" else f"{name} ({m.summary})" for name, m in REGISTRY.items()
    )


def check_method(method: str) -> None:
    """Fail now on an unknown method name, a ``model:`` path that is not a checkpoint, or
    a method whose optional package is not installed (not once per image or cell)."""
    method, kept = resolve_method(method, {})
    if method == "model":
        load_checkpoint(kept["model"])  # a bad path fails now, not once per image
    if (check := REGISTRY[method].check_installed) is not None:
        check()


def options_for_noise(method: str, noise: Gaussian | Poisson) -> dict | None:
    """The options that tell ``method`` the known noise (BM3D its sigma, ANSC its peak),
    or None where the method does not apply to that noise (:attr:`Method.noise_options`)."""
    return REGISTRY[resolve_method(method, {})[0]].noise_options(noise)


def denoise_image(
    image: np.ndarray, method: str = DEFAULT_METHOD, *, channel_axis: int | None = -1, **options
) -> np.ndarray:
    """Denoise an image as read from a file (H×W, or H×W×C with C = 1..4).

    With 2 or 4 channels the last one is alpha: only the colour channels are denoised.

    Parameters
    ----------
    image : ndarray
        As returned by :func:`noise2noise.read_image`.
    method : str
        A key of :data:`METHODS`, or ``"model:RUN_DIR"``; default ``"auto"``, as
        ``n2n denoise``: the shipped
        network for camera photos (``"real"``) or the one for other noise
        (``"pretrained"``), chosen from the image's noise.
    channel_axis : int or None
        Where the channels of a 3-D image are (default: last, as files are read); a 2-D
        image is grayscale whatever it says. None for a 3-D image is refused.
    **options
        Passed to the method (e.g. ``preset``, ``seed``).

    Returns
    -------
    ndarray with the shape and dtype of ``image``.
    """
    check_options(method, options)  # not a TypeError from inside the method
    method, options = resolve_method(method, options)
    image = np.asarray(image)
    if image.ndim != 3:
        return apply_to_colour(_lookup(method), image, **options)
    if channel_axis is None:
        raise N2NError(
            f"got a 3-D array of shape {image.shape} with channel_axis=None: give the axis "
            "of its colour channels, or pass a 2-D array for a grayscale image"
        )
    last = np.moveaxis(image, channel_axis, -1)
    out = apply_to_colour(_lookup(method), last, **options)
    return np.moveaxis(out, -1, channel_axis)
