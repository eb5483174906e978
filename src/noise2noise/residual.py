"""Keeping what a blind denoiser removed beyond the image's own noise.

A blind network is not told the noise level. On a photo with little noise and fine
texture or compression artefacts it takes part of the texture for noise and removes it
(the shipped model changes some clean photos by 37 dB, `bench/results/low_noise.md`).
What it removes, ``noisy - denoised``, should look like the noise: where its local energy
is well above what the noise alone has at that brightness, the excess is image content,
and only a share of it is removed. The noise level is measured from the residual itself,
per brightness (so Poisson-like noise, whose variance grows with the signal, is handled
too): the median local energy of the residual among pixels of similar brightness, most
of which are noise only. Where the residual is noise-like, nothing changes.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["shrink_residual", "noise_level_function", "box_mean"]

RATIO = 1.5  # residual energy up to this multiple of the noise's is removed in full
# The residual's local energy is measured over a square holding at least this many values
# (5×5 in colour, 9×9 in grayscale): fewer make the energy of pure noise vary so much that
# noise is taken for texture (5×5 in grayscale: -0.07 dB at Gaussian 25 on bsds432).
WINDOW_VALUES = 75
QUANTILE = 0.5  # the noise's energy at a brightness: this quantile of the local energies
BINS = 12  # brightness groups of equal pixel count
SAMPLES = 1 << 20  # at most this many pixels measure the noise level function


def noise_level_function(
    brightness: np.ndarray, energy: np.ndarray, *, quantile: float = QUANTILE, bins: int = BINS
) -> np.ndarray:
    """The residual's typical local energy at each pixel's brightness.

    Pixels are sorted by ``brightness`` into ``bins`` groups of equal count; each group's
    ``quantile`` of ``energy`` is the level at its median brightness, and levels are
    interpolated (held constant beyond the outer groups). Returns an array like
    ``brightness``.
    """
    flat_b, flat_e = brightness.ravel(), energy.ravel()
    step = max(1, flat_b.size // SAMPLES)
    sample_b, sample_e = flat_b[::step], flat_e[::step]
    bins = max(1, min(bins, sample_b.size // 64))
    groups = np.array_split(np.argsort(sample_b, kind="stable"), bins)
    centres = np.array([np.median(sample_b[g]) for g in groups])
    levels = np.array([np.quantile(sample_e[g], quantile) for g in groups])
    return np.interp(brightness, centres, levels).astype(energy.dtype)


def shrink_residual(
    noisy: np.ndarray,
    denoised: np.ndarray,
    *,
    ratio: float = RATIO,
    window: int | None = None,
    quantile: float = QUANTILE,
) -> np.ndarray:
    """``denoised`` with the part of the removed residual that exceeds the noise put back.

    Parameters
    ----------
    noisy, denoised : ndarray
        H×W×C float arrays of the same shape (C may be 1).
    ratio : float
        Local residual energy up to ``ratio`` times the noise's is removed in full; above
        it, the residual is scaled by ``ratio · noise energy / local energy``.
    window : int or None
        Side of the square window of the local energy; None: the smallest odd side whose
        window holds :data:`WINDOW_VALUES` values over the channels.
    quantile : float
        Which quantile of the local energies at a brightness is the noise's.

    Returns
    -------
    ndarray like ``denoised``: ``noisy - gain · (noisy - denoised)``, gain in [0, 1].
    """
    if window is None:
        side = math.ceil(math.sqrt(WINDOW_VALUES / noisy.shape[-1]))
        window = side + 1 - side % 2
    residual = noisy - denoised
    energy = box_mean((residual * residual).mean(axis=-1), window)
    expected = noise_level_function(denoised.mean(axis=-1), energy, quantile=quantile)
    gain = np.minimum(1.0, ratio * expected / np.maximum(energy, 1e-12))
    return (noisy - gain[..., None] * residual).astype(denoised.dtype)


def box_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean of each ``window`` × ``window`` square of a 2-D array, centred on each value.

    Beyond the edges the array is mirrored with its edge value repeated (d c b a | a b c d),
    as ``scipy.ndimage.uniform_filter(values, window, mode="reflect")`` does, which this
    replaces: importing scipy.ndimage cost every ``n2n denoise`` 0.3 s. ``window`` is odd;
    returns an array of the shape and dtype of ``values``.
    """
    return _column_mean(_column_mean(values, window).T, window).T


def _column_mean(values: np.ndarray, window: int) -> np.ndarray:
    """Mean over ``window`` rows centred on each row, edges mirrored as in :func:`box_mean`."""
    radius, rows = window // 2, values.shape[0]
    padded = np.pad(values, [(radius, radius), (0, 0)], mode="symmetric")
    total = padded[:rows].copy()
    for k in range(1, window):  # window <= 9 here: a few whole-row additions
        total += padded[k : k + rows]
    total /= np.asarray(window, dtype=values.dtype)
    return total
