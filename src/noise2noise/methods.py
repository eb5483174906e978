"""Denoising methods by name: the one table that the command line and evaluations use.

Every method is a function ``(image, *, channel_axis, **options) -> image`` on numpy arrays,
preserving shape and dtype. :func:`make_denoiser` turns a method spec such as ``"bm3d"`` and
its options into a picklable one-argument function for image files, which passes an alpha
channel through untouched.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .baselines import denoise_ansc, denoise_bm3d
from .errors import N2NError
from .image_io import apply_to_colour
from .noise import Gaussian, Poisson
from .pretrained import denoise
from .training import denoise_with_model
from .zeroshot import denoise_zeroshot

__all__ = [
    "METHODS",
    "make_denoiser",
    "check_method",
    "options_for_noise",
    "denoise_image",
    "NoiseAwareDenoiser",
]

METHODS: dict[str, Callable[..., np.ndarray]] = {
    "pretrained": denoise,  # the shipped blind model (synthetic-like noise): no options
    "real": functools.partial(denoise, model="real"),  # the shipped real-photo model
    "zeroshot": denoise_zeroshot,  # options: preset, iterations, seed
    "bm3d": denoise_bm3d,  # options: sigma (0-255 scale; estimated when None)
    "ansc": denoise_ansc,  # options: peak (required), inverse
    "model": denoise_with_model,  # options: model (a run folder of 'n2n train')
}
DEFAULT_METHOD = "pretrained"

# Which options each method accepts, so that one set of command-line flags can serve all.
_ACCEPTS: dict[str, tuple[str, ...]] = {
    "pretrained": ("device",),
    "real": ("device",),
    "zeroshot": ("preset", "iterations", "seed", "progress", "device"),
    "bm3d": ("sigma",),
    "ansc": ("peak", "inverse"),
    "model": ("model", "device"),
}
# Run-time settings: passed to the methods that use them, ignored by the others.
_RUNTIME = ("progress", "device")


def _lookup(method: str) -> Callable[..., np.ndarray]:
    try:
        return METHODS[method]
    except KeyError:
        raise ValueError(f"unknown method '{method}' (choose from {', '.join(METHODS)})") from None


def _resolve(method: str, options: dict) -> tuple[str, dict]:
    """Split a ``"model:RUN_DIR"`` spec, check the name, keep the options the method takes."""
    if method.startswith("model:"):
        method, options = "model", {**options, "model": method.split(":", 1)[1]}
    _lookup(method)
    return method, {k: v for k, v in options.items() if k in _ACCEPTS[method] and v is not None}


def check_method(method: str) -> None:
    """Fail now on an unknown method name or a ``model:`` path that is not a checkpoint."""
    method, kept = _resolve(method, {})
    if method == "model":
        from .training import load_checkpoint

        load_checkpoint(kept["model"])  # a bad path fails now, not once per image


def make_denoiser(method: str, **options) -> Callable[[np.ndarray], np.ndarray]:
    """A function ``image -> denoised image`` for images as read from files.

    Parameters
    ----------
    method : str
        A key of :data:`METHODS`, or ``"model:RUN_DIR"`` for a trained network.
    **options
        Options for the method; ``None`` values are dropped, so a caller can pass every
        flag it has. A non-None option the method does not use is an error, except the
        run-time settings ``progress`` and ``device``, which only some methods use.

    Returns
    -------
    A picklable callable (usable by worker processes).
    """
    check_method(method)
    name = "model" if method.startswith("model:") else method
    unused = [
        k
        for k, v in options.items()
        if v is not None and k not in _ACCEPTS[name] and k not in _RUNTIME
    ]
    if unused:
        takes = ", ".join(_ACCEPTS[name]) or "no options"
        raise N2NError(f"method '{name}' does not use {', '.join(unused)} (it takes: {takes})")
    method, kept = _resolve(method, options)
    if method == "ansc" and "peak" not in kept:
        raise ValueError("method 'ansc' needs the Poisson peak: give --peak")
    return functools.partial(denoise_image, method=method, **kept)


def options_for_noise(method: str, noise: Gaussian | Poisson) -> dict | None:
    """The noise parameters a baseline needs for a known noise, or None if it does not apply.

    BM3D is for Gaussian noise (given its sigma), ANSC for Poisson noise (given its peak);
    ZS-N2N needs nothing.
    """
    if method == "bm3d":
        return {"sigma": noise.sigma} if isinstance(noise, Gaussian) else None
    if method == "ansc":
        return {"peak": noise.peak} if isinstance(noise, Poisson) else None
    return {}


def denoise_image(image: np.ndarray, method: str = "zeroshot", **options) -> np.ndarray:
    """Denoise an image as read from a file (H×W or H×W×C, C = 1..4, last axis channels).

    With 2 or 4 channels the last one is alpha: only the colour channels are denoised.

    Parameters
    ----------
    image : ndarray
        As returned by :func:`noise2noise.read_image`.
    method : str
        A key of :data:`METHODS`.
    **options
        Passed to the method (e.g. ``preset``, ``seed``).

    Returns
    -------
    ndarray with the shape and dtype of ``image``.
    """
    return apply_to_colour(_lookup(method), image, **options)


@dataclass(frozen=True)
class NoiseAwareDenoiser:
    """A method for evaluations: called with the noisy image and the known noise model.

    Baselines get the true noise parameters (BM3D the sigma, ANSC the peak); a method that
    does not apply to the noise returns None.
    """

    method: str
    options: dict = field(default_factory=dict)

    def __call__(self, noisy: np.ndarray, noise: Gaussian | Poisson) -> np.ndarray | None:
        extra = options_for_noise(self.method, noise)
        if extra is None:
            return None
        method, kept = _resolve(self.method, {**self.options, **extra})
        return denoise_image(noisy, method, **kept)
