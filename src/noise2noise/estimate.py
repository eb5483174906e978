"""What an image's noise looks like, from the image alone: its level and how much it is
correlated between neighbouring pixels; and which shipped model suits it.

Synthetic Gaussian or Poisson noise, and the shot noise of microscopes and scanners, is
independent from pixel to pixel. A camera's is not: demosaicing, sharpening and JPEG
spread each pixel's noise over its neighbours (``noise2noise.camera``). The two need
different models (``blind`` and ``real``, :data:`noise2noise.weights.PRETRAINED`), and
the correlation tells them apart.

The measurement uses the flattest 8×8 patches of the image, where the image itself is
nearly a plane and what is left is mostly noise: each patch less its least-squares plane,
the ratio of the covariance of horizontally and vertically neighbouring pixels to the
variance, pooled over the flattest tenth of the patches and over the channels. Patches
that touch black or white (clipped: no noise left) or vary less than one 8-bit level
(flat areas of a clean image, where rounding is all there is) are left out.

Calibrated on synthesised noise of 108 training images only (``bench/auto_method.py``,
``bench/results/auto_method.md``): white noise of sigma 5 and above measured at most 0.29
(median 0.02 at sigma 5, below 0 from sigma 10), synthetic camera noise a median of 0.39,
0.51 once saved as JPEG, 96 % of it above :data:`CORRELATED`. Heavy noise that clips most
patches (Poisson peak 5, Gaussian sigma 75) leaves nothing to measure: the blind model.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .convert import _move_channels, as_float, dim_gain

__all__ = [
    "NoiseEstimate",
    "estimate_noise",
    "choose_model",
    "describe_choice",
    "method_chosen",
    "CORRELATED",
    "METHOD_OF",
]

PATCH = 8
SHARE = 0.1  # of the usable patches, the flattest this share is measured
FLOOR = 1.0  # least residual variance of a usable patch, in 8-bit levels squared
MOST_PATCHES = 65536  # per channel; larger images are measured on a regular subset
# Above this neighbour correlation the noise is camera-like (`real`), below it white
# (`blind`): above all white noise of sigma >= 5 (at most 0.29) and below 96 % of the
# synthetic camera noise on bsds432 (bench/results/auto_method.md).
CORRELATED = 0.3
# The `--method` that runs each model ``choose_model`` may pick.
METHOD_OF = {"blind": "pretrained", "real": "real"}


@dataclass(frozen=True)
class NoiseEstimate:
    """The noise of an image as :func:`estimate_noise` measures it.

    Attributes
    ----------
    sigma : float
        Noise standard deviation in the flattest patches, on the 0-255 scale (of the
        image brightened as the denoisers see it when it is dim); NaN when no patch was
        usable. Signal-dependent noise is weaker there than on average: a lower bound.
    correlation : float
        Correlation of the noise of neighbouring pixels: about 0 for independent noise,
        0.3-0.7 for camera noise; NaN when no patch was usable.
    patches : int
        How many patches were measured.
    """

    sigma: float
    correlation: float
    patches: int

    @property
    def correlated(self) -> bool:
        """Camera-like noise: correlation above :data:`CORRELATED`."""
        return bool(self.correlation > CORRELATED)


def estimate_noise(image: np.ndarray, *, channel_axis: int | None = None) -> NoiseEstimate:
    """Measure the level and the neighbour correlation of an image's noise.

    Parameters
    ----------
    image : ndarray
        H×W, or with a channel axis; uint8, uint16 or float in [0, 1].
    channel_axis : int or None
        Axis of the channels; None for a 2-D grayscale image.

    Returns
    -------
    NoiseEstimate

    Examples
    --------
    >>> import numpy as np
    >>> from noise2noise import add_noise
    >>> flat = np.full((128, 128), 0.5, np.float32)
    >>> estimate_noise(add_noise(flat, "gaussian:20", seed=0)).correlation < 0.1
    True
    """
    x = _move_channels(np.asarray(image), channel_axis)  # said as for the denoisers
    h, w = (x.shape[0] // PATCH) * PATCH, (x.shape[1] // PATCH) * PATCH
    if h == 0 or w == 0:
        return NoiseEstimate(math.nan, math.nan, 0)
    grid = x[:h, :w].reshape(h // PATCH, PATCH, w // PATCH, PATCH, x.shape[2])
    step = max(1, math.ceil(math.sqrt(grid.shape[0] * grid.shape[2] / MOST_PATCHES)))
    grid = grid[::step, :, ::step]  # a view: only the measured patches are converted
    patches = np.moveaxis(grid, (1, 3), (3, 4)).reshape(-1, PATCH * PATCH)
    values = as_float(patches).astype(np.float64)
    values *= 255.0 * dim_gain(float(values.max()) if values.size else 1.0)
    return _measure(values)


def _measure(values: np.ndarray) -> NoiseEstimate:
    """The estimate from (N, PATCH²) patches on the 0-255 scale."""
    yy, xx = np.mgrid[0:PATCH, 0:PATCH]
    basis = np.stack([np.ones(PATCH * PATCH), yy.ravel(), xx.ravel()], axis=1)
    plane = basis @ np.linalg.pinv(basis)  # projection onto planes
    residual = (values - values @ plane.T).reshape(-1, PATCH, PATCH)
    variance = (residual**2).mean(axis=(1, 2))
    across = (residual[:, :, 1:] * residual[:, :, :-1]).mean(axis=(1, 2))
    down = (residual[:, 1:, :] * residual[:, :-1, :]).mean(axis=(1, 2))
    usable = (values.min(axis=1) > 0.5) & (values.max(axis=1) < 254.5) & (variance > FLOOR)
    if usable.sum() < 8:
        return NoiseEstimate(math.nan, math.nan, int(usable.sum()))
    variance, across, down = variance[usable], across[usable], down[usable]
    flattest = np.argsort(variance)[: max(8, int(len(variance) * SHARE))]
    correlation = (across[flattest] + down[flattest]).sum() / (2 * variance[flattest].sum())
    dof = PATCH * PATCH / (PATCH * PATCH - 3)  # the plane took 3 degrees of freedom
    sigma = math.sqrt(float(np.median(variance[flattest])) * dof)
    return NoiseEstimate(sigma, float(correlation), len(flattest))


def choose_model(
    image: np.ndarray, *, channel_axis: int | None = None
) -> tuple[str, NoiseEstimate]:
    """The shipped model for this image's noise: ``"real"`` where it is correlated between
    neighbouring pixels (camera photos), else ``"blind"``; and the estimate it is based on.
    An image with no usable flat patch gets ``"blind"``."""
    estimate = estimate_noise(image, channel_axis=channel_axis)
    return ("real" if estimate.correlated else "blind"), estimate


AUTO_CHOSE = "auto chose "


def describe_choice(model: str, estimate: NoiseEstimate) -> str:
    """What ``auto`` says about its choice: the method it runs and why."""
    chosen = METHOD_OF[model]
    if math.isnan(estimate.correlation):
        return f"{AUTO_CHOSE}{chosen} (no noise to measure: image too small, noise-free or clipped)"
    kind = "correlated, as in camera photos" if model == "real" else "independent"
    return f"{AUTO_CHOSE}{chosen} (noise {kind}: neighbour correlation {estimate.correlation:.2f})"


def method_chosen(note: str) -> str | None:
    """The method a note of :func:`describe_choice` names; None for any other note."""
    return note[len(AUTO_CHOSE) :].split(" ", 1)[0] if note.startswith(AUTO_CHOSE) else None
