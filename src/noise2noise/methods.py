"""Denoising methods by name: the one table that the command line and evaluations use.

Every method is a function ``(image, *, channel_axis, **options) -> image`` on numpy arrays,
preserving shape and dtype. :func:`make_denoiser` turns a method spec such as ``"bm3d"`` and
its options into a picklable one-argument function for image files, which passes an alpha
channel through untouched.
"""

from __future__ import annotations

import functools
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field, replace

import numpy as np

from .baselines import denoise_ansc, denoise_bm3d
from .errors import N2NError, Note
from .estimate import METHOD_OF, choose_model, describe_choice
from .image_io import ConversionWarning, apply_to_colour, merge_alpha, split_alpha
from .noise import Gaussian, Poisson
from .pretrained import denoise, denoise_auto
from .runtime import resolve_device
from .training import denoise_with_model, load_checkpoint
from .zeroshot import denoise_zeroshot, denoise_zeroshot_batch, get_preset

__all__ = [
    "METHODS",
    "REGISTRY",
    "Method",
    "FileDenoiser",
    "check_finite",
    "make_denoiser",
    "check_method",
    "describe_methods",
    "options_for_noise",
    "denoise_image",
    "NoiseAwareDenoiser",
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
        ("device",),
        512,  # the larger of the two it may run
        "real where the noise is correlated as in camera photos, else pretrained; default",
        shipped=("blind", "real"),
    ),
    "pretrained": Method(
        denoise,
        ("device",),
        128,
        "the shipped network, for synthetic-like noise",
        shipped=("blind",),
    ),
    "real": Method(
        functools.partial(denoise, model="real"),
        ("device",),
        512,
        "the shipped network for visibly noisy camera photos; it smooths clean ones",
        shipped=("real",),
    ),
    "zeroshot": Method(
        denoise_zeroshot,
        ("preset", "iterations", "seed", "progress", "device"),
        256,
        "ZS-N2N: trains a small network on the image itself",
        batched=denoise_zeroshot_batch,
    ),
    "bm3d": Method(
        denoise_bm3d,
        ("sigma",),  # on the 0-255 scale, estimated when None
        1024,
        "Gaussian noise",
        noise_options=_gaussian_sigma,
    ),
    "ansc": Method(
        denoise_ansc,
        ("peak", "inverse"),
        1024,
        "Poisson noise, given its peak",
        required=("peak",),
        noise_options=_poisson_peak,
        scale_float=False,
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
# Run-time settings: passed to the methods that use them, ignored by the others.
_RUNTIME = ("progress", "device")


def _lookup(method: str) -> Callable[..., np.ndarray]:
    try:
        return METHODS[method]
    except KeyError:
        raise N2NError(f"unknown method '{method}' (choose from {', '.join(METHODS)})") from None


def _resolve(method: str, options: dict) -> tuple[str, dict]:
    """Split a ``"model:RUN_DIR"`` spec, check the name, keep the options the method takes."""
    if method.startswith("model:"):
        method, options = "model", {**options, "model": method.split(":", 1)[1]}
    _lookup(method)
    return method, {
        k: v for k, v in options.items() if k in REGISTRY[method].options and v is not None
    }


def describe_methods() -> str:
    """``name (summary), ...`` of every method, for help texts."""
    return ", ".join(
        m.summary if name == "model" else f"{name} ({m.summary})" for name, m in REGISTRY.items()
    )


def check_method(method: str) -> None:
    """Fail now on an unknown method name or a ``model:`` path that is not a checkpoint."""
    method, kept = _resolve(method, {})
    if method == "model":
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
        if v is not None and k not in REGISTRY[name].options and k not in _RUNTIME
    ]
    if unused:
        takes = ", ".join(REGISTRY[name].options) or "no options"
        raise N2NError(f"method '{name}' does not use {', '.join(unused)} (it takes: {takes})")
    method, kept = _resolve(method, options)
    missing = [f"`{k}`" for k in REGISTRY[method].required if k not in kept]
    if missing:
        raise N2NError(f"method '{method}' cannot run without {', '.join(missing)}")
    return FileDenoiser(method, kept)


@dataclass(frozen=True)
class FileDenoiser:
    """``image -> denoised image`` for an image as read from a file, made by
    :func:`make_denoiser`; picklable, so worker processes can run it.

    Before the method runs, the data are checked so that nothing wrong comes out silently:
    NaN or infinite values are an error, and float data outside [0, 1] (a TIFF in
    physical units) are scaled into [0, 1] and back, with a
    :class:`~noise2noise.image_io.ConversionWarning` saying so, rather than clipped. Methods
    told the noise level (BM3D's sigma is scaled with the data; ANSC's Poisson data are
    left as they are).
    """

    method: str
    options: dict

    @property
    def bytes_per_pixel(self) -> float:
        """Peak memory per pixel (the memory budget's estimate). ZS-N2N presets
        that train on the whole image (``paper``, ``report``) need far more than those
        that train on crops (measured per pixel: about 1700 against 210)."""
        if (
            self.method == "zeroshot"
            and get_preset(self.options.get("preset", "fast")).crop is None
        ):
            return WHOLE_IMAGE_ZEROSHOT_BYTES
        return REGISTRY[self.method].bytes_per_pixel

    @property
    def batched(self) -> Callable[[list[np.ndarray]], list[np.ndarray]] | None:
        """``images -> denoised images`` for many images at once, where the method has
        such a form and runs on a GPU (ZS-N2N: the networks train together); None
        otherwise. Only for images :meth:`fits_batch` accepts."""
        if not _batches(self.method, self.options):
            return None
        return functools.partial(_denoise_many, REGISTRY[self.method].batched, self.options)

    def fits_batch(self, image: np.ndarray) -> bool:
        """Whether ``image`` can go into :attr:`batched` as it is (float data outside
        [0, 1], NaN included, take the one-image path with its checks and scaling)."""
        if image.dtype.kind != "f":
            return True
        return bool(np.isfinite(image).all() and image.min() >= 0 and image.max() <= 1)

    def for_stack(self, planes: np.ndarray) -> FileDenoiser:
        """For a stack: ``auto`` chooses one model for all planes, from the middle one."""
        if self.method != "auto":
            return self
        middle, _ = split_alpha(planes[len(planes) // 2])
        check_finite(middle)
        lo, hi = self._float_range(middle)  # measured as the planes will be denoised
        middle = (middle - lo) / (hi - lo) if (lo, hi) != (0.0, 1.0) else middle
        model, estimate = choose_model(middle, channel_axis=-1 if middle.ndim == 3 else None)
        note = f"{describe_choice(model, estimate)}, for every plane (measured on the middle one)"
        warnings.warn(Note(note), stacklevel=2)
        return replace(self, method=METHOD_OF[model])

    def _float_range(self, image: np.ndarray) -> tuple[float, float]:
        """Float data are scaled from this range into [0, 1] and back ((0, 1): as they are)."""
        if image.dtype.kind != "f" or not REGISTRY[self.method].scale_float:
            return 0.0, 1.0
        return min(float(image.min()), 0.0), max(float(image.max()), 1.0)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        check_finite(image)
        options = dict(self.options)
        lo, hi = self._float_range(image)
        if (lo, hi) == (0.0, 1.0):
            return denoise_image(image, self.method, **options)
        warnings.warn(
            f"float values span [{lo:.4g}, {hi:.4g}]: scaled into [0, 1] for denoising and back",
            ConversionWarning,
            stacklevel=2,
        )
        if options.get("sigma") is not None:
            options["sigma"] = options["sigma"] / (hi - lo)
        scaled = ((image - lo) / (hi - lo)).astype(image.dtype)
        out = denoise_image(scaled, self.method, **options)
        return (out * (hi - lo) + lo).astype(image.dtype)


def _batches(method: str, options: dict) -> bool:
    """Whether ``method`` with ``options`` denoises many images at once: it has a batched
    form and runs on a GPU (on the CPU, one image per worker process is faster)."""
    device = options.get("device")
    if REGISTRY[method].batched is None or device is None:
        return False
    return resolve_device(device).type != "cpu"


def _denoise_many(function, options: dict, images: list[np.ndarray]) -> list[np.ndarray]:
    """A batched method on images as read from files (alpha kept as it is)."""
    colours, alphas = zip(*(split_alpha(image) for image in images), strict=True)
    with_axis = [c[:, :, None] if c.ndim == 2 else c for c in colours]
    outs = function(with_axis, channel_axis=-1, **options)
    return [
        merge_alpha(out[:, :, 0] if colour.ndim == 2 else out, alpha)
        for out, colour, alpha in zip(outs, colours, alphas, strict=True)
    ]


def check_finite(image: np.ndarray) -> None:
    """Refuse NaN and infinite values, which a network would spread over the whole image.

    Raises
    ------
    N2NError
        Saying how many values are not finite.
    """
    if image.dtype.kind == "f":
        bad = int(image.size - np.count_nonzero(np.isfinite(image)))
        if bad:
            raise N2NError(
                f"{bad} of {image.size} values are NaN or infinite; replace them (for "
                "example with the local median) before denoising"
            )


def options_for_noise(method: str, noise: Gaussian | Poisson) -> dict | None:
    """The options that tell ``method`` the known noise (BM3D its sigma, ANSC its peak),
    or None where the method does not apply to that noise (:attr:`Method.noise_options`)."""
    return REGISTRY[_resolve(method, {})[0]].noise_options(noise)


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

    @property
    def batched(self) -> Callable | None:
        """``(noisy images, noise) -> outputs or None`` for many images at once, where the
        method has such a form and runs on a GPU (ZS-N2N); None otherwise."""
        if not _batches(*_resolve(self.method, self.options)):
            return None
        return functools.partial(_noise_aware_many, self.method, self.options)

    def __call__(self, noisy: np.ndarray, noise: Gaussian | Poisson) -> np.ndarray | None:
        extra = options_for_noise(self.method, noise)
        if extra is None:
            return None
        method, kept = _resolve(self.method, {**self.options, **extra})
        return denoise_image(noisy, method, **kept)


def _noise_aware_many(
    method: str, options: dict, noisies: list[np.ndarray], noise: Gaussian | Poisson
) -> list[np.ndarray] | None:
    extra = options_for_noise(method, noise)
    if extra is None:
        return None
    name, kept = _resolve(method, {**options, **extra})
    return _denoise_many(REGISTRY[name].batched, kept, noisies)
