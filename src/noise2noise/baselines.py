"""Classical baselines: BM3D for Gaussian noise, Anscombe + BM3D ("ANSC") for Poisson noise.

BM3D comes from the optional ``bm3d`` package (non-commercial licence), imported only when
used. The variance-stabilising Anscombe transform turns Poisson counts into data with
noise of standard deviation close to 1, which a Gaussian denoiser can handle; its exact
unbiased inverse (Mäkitalo & Foi 2011) maps the denoised values back without the bias
that the plain algebraic inverse has at low counts.
"""

from __future__ import annotations

import math
import warnings

import numpy as np

from .convert import _move_channels, as_float, check_finite, from_float
from .errors import MissingDependency, N2NError, Note, warn_user
from .units import scales_other_units

__all__ = [
    "anscombe",
    "inverse_anscombe_algebraic",
    "inverse_anscombe_unbiased",
    "estimate_sigma",
    "denoise_bm3d",
    "denoise_ansc",
]


class SigmaNote(Note):
    """BM3D's noise sigma, estimated because none was given; the planes of a stack say
    theirs in one note (:meth:`for_planes`)."""

    def __init__(self, sigma: float):
        super().__init__(f"BM3D: noise sigma not given, estimated {sigma:.2f} (0-255 scale)")
        self.sigma = sigma

    @staticmethod
    def for_planes(notes: list[SigmaNote]) -> str:
        """One note for the planes of a stack."""
        sigmas = [n.sigma for n in notes]
        if len({round(s, 2) for s in sigmas}) == 1:
            return str(notes[0])
        return (
            f"BM3D: noise sigma not given, estimated for each of {len(notes)} planes: "
            f"{min(sigmas):.2f} to {max(sigmas):.2f} (0-255 scale)"
        )


INSTALL_BM3D = "pip install 'noise2noise[bm3d]'  (or: pip install bm3d)"

# Below this value the closed-form unbiased inverse reaches 0 (a count of zero).
_ANSCOMBE_OF_ZERO = 2.0 * math.sqrt(3.0 / 8.0)


def anscombe(z: np.ndarray) -> np.ndarray:
    """Anscombe transform ``2·sqrt(z + 3/8)`` of Poisson counts ``z``: noise std ≈ 1."""
    return 2.0 * np.sqrt(np.maximum(z, 0.0) + 3.0 / 8.0)


def inverse_anscombe_algebraic(d: np.ndarray) -> np.ndarray:
    """Plain algebraic inverse ``(d/2)² − 3/8``; biased at low counts (kept for comparison)."""
    return np.maximum((d / 2.0) ** 2 - 3.0 / 8.0, 0.0)


def inverse_anscombe_unbiased(d: np.ndarray) -> np.ndarray:
    """Closed-form approximation of the exact unbiased inverse Anscombe transform.

    ``1/4 d² + 1/4 sqrt(3/2) d⁻¹ − 11/8 d⁻² + 5/8 sqrt(3/2) d⁻³ − 1/8``
    (Mäkitalo & Foi 2011, eq. 4), which maps E[anscombe(z)] back to E[z] = λ for
    z ~ Poisson(λ). It is 0 at ``d = 2·sqrt(3/8)`` (the transform of z = 0); smaller
    values also map to 0.

    References
    ----------
    .. [1] M. Mäkitalo and A. Foi, "A closed-form approximation of the exact unbiased
       inverse of the Anscombe variance-stabilizing transformation", IEEE TIP 20(9), 2011.
    """
    d = np.asarray(d, dtype=np.float64)
    safe = np.maximum(d, _ANSCOMBE_OF_ZERO)
    s = math.sqrt(1.5)
    value = 0.25 * safe**2 + 0.25 * s / safe - 11.0 / 8.0 / safe**2 + 0.625 * s / safe**3 - 0.125
    return np.where(d <= _ANSCOMBE_OF_ZERO, 0.0, np.maximum(value, 0.0))


def bm3d_module():
    """The optional ``bm3d`` package; :class:`MissingDependency` where it is not installed."""
    try:
        import bm3d
    except ImportError as exc:
        raise MissingDependency(f"BM3D is not installed: {INSTALL_BM3D}") from exc
    return bm3d


def estimate_sigma(image: np.ndarray, *, channel_axis: int | None = None) -> float:
    """Gaussian noise level on the 0-255 scale, estimated from the image (wavelet MAD).

    Uses scikit-image's ``estimate_sigma`` on the image scaled to [0, 1]; 0 for an image
    without any variation (where that gives NaN). A 3-D array needs ``channel_axis``, as
    for the denoisers (scikit-image took a colour image for a volume, with a warning).
    """
    from skimage.restoration import estimate_sigma as _estimate

    x = as_float(_move_channels(np.asarray(image), channel_axis))
    with warnings.catch_warnings():  # numpy's "mean of empty slice" etc.: a flat image
        warnings.simplefilter("ignore", RuntimeWarning)
        value = float(_estimate(x, channel_axis=-1, average_sigmas=True))
    if math.isnan(value) and np.isfinite(x).all():
        value = 0.0
    return value * 255.0


BM3D_BLOCK = 8  # the side of the bm3d package's blocks


def _bm3d_float(x: np.ndarray, sigma: float, channel_axis: int | None) -> np.ndarray:
    """BM3D on float data with noise std ``sigma`` in the data's units; colour via CBM3D."""
    h, w = x.shape if channel_axis is None else np.delete(x.shape, channel_axis % x.ndim)
    # 8×8 exactly crashes the process (bm3d 4.0.3: segmentation fault), below it raises
    if x.size == 0 or min(h, w) < BM3D_BLOCK or max(h, w) == BM3D_BLOCK:
        raise N2NError(
            f"BM3D needs an image larger than {BM3D_BLOCK}×{BM3D_BLOCK} pixels (its blocks), "
            f"got an array of shape {x.shape}"
        )
    bm3d = bm3d_module()
    if channel_axis is None:
        return np.asarray(bm3d.bm3d(x, sigma_psd=sigma), dtype=np.float32)
    hwc = np.moveaxis(x, channel_axis, -1)
    if hwc.shape[-1] == 3:
        out = bm3d.bm3d_rgb(hwc, sigma_psd=sigma)
    else:  # not RGB: each channel on its own
        out = np.stack([bm3d.bm3d(hwc[..., c], sigma_psd=sigma) for c in range(hwc.shape[-1])], -1)
    return np.moveaxis(np.asarray(out, dtype=np.float32), -1, channel_axis)


@scales_other_units
def denoise_bm3d(
    image: np.ndarray, *, sigma: float | None = None, channel_axis: int | None = None
) -> np.ndarray:
    """Denoise Gaussian noise with BM3D (CBM3D for RGB images).

    Parameters
    ----------
    image : ndarray
        H×W, or with a channel axis; uint8, uint16 or float in [0, 1] (float data in
        other units are scaled into it and back, with a note: :mod:`noise2noise.units`).
    sigma : float, optional
        Noise standard deviation on the 0-255 scale (of 1 in the image's units).
        Estimated from the image when omitted (said in a :class:`SigmaNote`).
    channel_axis : int or None
        Axis of the colour channels; None for grayscale.

    Returns
    -------
    ndarray with the shape and dtype of ``image``.

    Notes
    -----
    Needs the optional ``bm3d`` package: ``pip install 'noise2noise[bm3d]'``.
    """
    image = np.asarray(image)
    check_finite(image)
    bm3d_module()  # missing: said before a sigma is estimated for nothing
    if sigma is None:
        sigma = estimate_sigma(image, channel_axis=channel_axis)
        warn_user(SigmaNote(sigma))
        if not sigma > 0:
            raise N2NError(
                f"BM3D: no noise found to estimate its sigma from (estimated {sigma:.3g}): "
                "a flat image? Give `sigma` (0-255 scale) if it has noise"
            )
    if not sigma > 0:
        raise N2NError(f"BM3D needs sigma > 0 (0-255 scale), got {sigma}")
    out = _bm3d_float(as_float(image), sigma / 255.0, channel_axis)
    return from_float(np.clip(out, 0.0, 1.0), image.dtype)


def denoise_ansc(
    image: np.ndarray,
    *,
    peak: float,
    channel_axis: int | None = None,
    inverse: str = "unbiased",
) -> np.ndarray:
    """Denoise Poisson noise: Anscombe transform, BM3D with sigma 1, inverse, divide by peak.

    Parameters
    ----------
    image : ndarray
        Noisy image ``y = Poisson(peak·x)/peak``; uint8, uint16 or float in [0, 1].
    peak : float
        The peak count λ of the noise.
    channel_axis : int or None
        Axis of the colour channels; None for grayscale.
    inverse : {"unbiased", "algebraic"}
        Which inverse transform to apply after denoising.

    Returns
    -------
    ndarray with the shape and dtype of ``image``.
    """
    if not peak > 0:
        raise N2NError(f"ANSC needs the Poisson peak > 0, got {peak}")
    inverses = {"unbiased": inverse_anscombe_unbiased, "algebraic": inverse_anscombe_algebraic}
    if inverse not in inverses:
        raise N2NError(f"inverse must be one of {', '.join(inverses)}, got '{inverse}'")
    image = np.asarray(image)
    check_finite(image)
    counts = as_float(image).astype(np.float64) * peak
    stabilised = anscombe(counts)  # noise std ≈ 1 in these units
    denoised = _bm3d_float(stabilised, 1.0, channel_axis)
    out = inverses[inverse](denoised.astype(np.float64)) / peak
    return from_float(np.clip(out, 0.0, 1.0).astype(np.float32), image.dtype)
