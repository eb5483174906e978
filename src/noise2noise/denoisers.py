"""The denoisers that callers hold, made from a method of :mod:`noise2noise.methods` and its
options: :func:`make_denoiser` gives a picklable ``image -> image`` for image files (file
runs, worker processes, chunked arrays), checked and scaled so that nothing wrong comes out
silently; :class:`NoiseAwareDenoiser` is told the known noise, for evaluations. Both run
many images at once where the method has a batched form and runs on a GPU.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import numpy as np

from .convert import check_finite, to_unit_range, units_span
from .errors import N2NError, Note, warn_user
from .estimate import METHOD_OF, choose_model, describe_choice
from .image_io import merge_alpha, split_alpha
from .methods import (
    REGISTRY,
    WHOLE_IMAGE_ZEROSHOT_BYTES,
    check_method,
    check_options,
    denoise_image,
    options_for_noise,
    resolve_method,
)
from .noise import Gaussian, Poisson
from .runtime import resolve_device
from .units import scales_other_units
from .zeroshot import get_preset

__all__ = ["make_denoiser", "FileDenoiser", "NoiseAwareDenoiser", "blend"]


def make_denoiser(
    method: str, *, strength: float = 1.0, **options
) -> Callable[[np.ndarray], np.ndarray]:
    """A function ``image -> denoised image`` for images as read from files.

    Parameters
    ----------
    method : str
        A key of :data:`METHODS`, or ``"model:RUN_DIR"`` for a trained network.
    strength : float
        How much of what the method removes is taken away, 0-1: the output is
        ``image + strength * (denoised - image)``; below 1 a little of the noise stays, for
        a less smoothed look (photos).
    **options
        Options for the method; ``None`` values are dropped, so a caller can pass every
        flag it has. A non-None option the method does not use is an error, except the
        run-time settings ``progress`` and ``device``, which only some methods use.

    Returns
    -------
    A picklable callable (usable by worker processes).
    """
    check_method(method)
    if not 0 <= strength <= 1:
        raise N2NError(f"`strength` must be in [0, 1], got {strength}")
    check_options(method, options)
    method, kept = resolve_method(method, options)
    missing = [f"`{k}`" for k in REGISTRY[method].required if k not in kept]
    if missing:
        raise N2NError(f"method '{method}' cannot run without {', '.join(missing)}")
    return FileDenoiser(method, kept, strength)


@dataclass(frozen=True)
class FileDenoiser:
    """``image -> denoised image`` for an image as read from a file, made by
    :func:`make_denoiser`; picklable, so worker processes can run it.

    Before the method runs, the data are checked so that nothing wrong comes out silently:
    NaN or infinite values are an error, and float data outside [0, 1] (a TIFF in
    physical units) are scaled into [0, 1] and back, with a
    :class:`~noise2noise.image_io.ConversionWarning` saying so, rather than clipped. Methods
    told the noise level (BM3D's sigma is scaled with the data; ANSC's Poisson data are
    left as they are). With ``strength`` below 1 the result is moved back towards the
    input by that share (:func:`blend`).
    """

    method: str
    options: dict
    strength: float = 1.0

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
        return functools.partial(
            _denoise_many, REGISTRY[self.method].batched, self.options, strength=self.strength
        )

    def fits_batch(self, image: np.ndarray) -> bool:
        """Whether ``image`` can go into :attr:`batched` as it is (float data outside
        [0, 1], NaN included, take the one-image path with its checks and scaling)."""
        if image.dtype.kind != "f":
            return True
        return bool(np.isfinite(image).all() and image.min() >= 0 and image.max() <= 1)

    def for_stack(self, planes: Sequence[np.ndarray]) -> FileDenoiser:
        """For a stack: ``auto`` chooses one model for all planes, from the middle one."""
        if self.method != "auto":
            return self
        middle, _ = split_alpha(planes[len(planes) // 2])
        check_finite(middle)
        middle = to_unit_range(middle, self._float_span(middle))  # as planes will be denoised
        model, estimate = choose_model(middle, channel_axis=-1 if middle.ndim == 3 else None)
        note = f"{describe_choice(model, estimate)}, for every plane (measured on the middle one)"
        warn_user(Note(note))
        return replace(self, method=METHOD_OF[model])

    def _float_span(self, image: np.ndarray) -> tuple[float, float] | None:
        """Float data are scaled from this range into [0, 1] and back (None: as they are)."""
        if not REGISTRY[self.method].scale_float:
            return None
        return units_span(image, -1 if image.ndim == 3 else None)

    def __call__(self, image: np.ndarray) -> np.ndarray:
        if self.strength == 0:  # nothing taken away: no need to run the method
            return image.copy()
        return blend(image, self._denoise(image), self.strength)

    def _denoise(self, image: np.ndarray) -> np.ndarray:
        if not REGISTRY[self.method].scale_float:  # Poisson counts stay counts
            check_finite(image)
            return denoise_image(image, self.method, **self.options)
        axis = -1 if image.ndim == 3 else None
        return _scaled_denoise_image(image, self.method, channel_axis=axis, **self.options)


# A file's image in other units than [0, 1], scaled into it and back (its sigma with it),
# as the Python API's denoisers take it.
_scaled_denoise_image = scales_other_units(denoise_image)


def _batches(method: str, options: dict) -> bool:
    """Whether ``method`` with ``options`` denoises many images at once: it has a batched
    form and runs on a GPU (on the CPU, one image per worker process is faster)."""
    device = options.get("device")
    if REGISTRY[method].batched is None or device is None:
        return False
    return resolve_device(device).type != "cpu"


def blend(image: np.ndarray, denoised: np.ndarray, strength: float) -> np.ndarray:
    """``image + strength * (denoised - image)`` in ``image``'s dtype (integers rounded):
    how much of what was removed is taken away (1: ``denoised`` itself)."""
    if strength == 1:
        return denoised
    mixed = image.astype(np.float64) + strength * (denoised.astype(np.float64) - image)
    if image.dtype.kind in "ui":
        info = np.iinfo(image.dtype)
        mixed = np.clip(np.rint(mixed), info.min, info.max)
    return mixed.astype(image.dtype)


def _denoise_many(
    function, options: dict, images: list[np.ndarray], *, strength: float = 1.0
) -> list[np.ndarray]:
    """A batched method on images as read from files (alpha kept as it is)."""
    colours, alphas = zip(*(split_alpha(image) for image in images), strict=True)
    with_axis = [c[:, :, None] if c.ndim == 2 else c for c in colours]
    outs = function(with_axis, channel_axis=-1, **options)
    return [
        blend(image, merge_alpha(out[:, :, 0] if colour.ndim == 2 else out, alpha), strength)
        for out, colour, alpha, image in zip(outs, colours, alphas, images, strict=True)
    ]


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
        if not _batches(*resolve_method(self.method, self.options)):
            return None
        return functools.partial(_noise_aware_many, self.method, self.options)

    def __call__(self, noisy: np.ndarray, noise: Gaussian | Poisson) -> np.ndarray | None:
        extra = options_for_noise(self.method, noise)
        if extra is None:
            return None
        method, kept = resolve_method(self.method, {**self.options, **extra})
        return denoise_image(noisy, method, **kept)


def _noise_aware_many(
    method: str, options: dict, noisies: list[np.ndarray], noise: Gaussian | Poisson
) -> list[np.ndarray] | None:
    extra = options_for_noise(method, noise)
    if extra is None:
        return None
    name, kept = resolve_method(method, {**options, **extra})
    return _denoise_many(REGISTRY[name].batched, kept, noisies)
