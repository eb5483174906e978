"""Image quality metrics and the report's summary statistic.

Pure functions: PSNR on numpy arrays or tensors, SSIM through scikit-image, and
"mean ± 2·std" over a set of per-image values.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import torch

from .errors import N2NError

__all__ = ["psnr", "ssim", "mean_2std", "format_mean_2std"]


def _as_numpy(a) -> np.ndarray:
    if isinstance(a, torch.Tensor):
        return a.detach().cpu().numpy()
    return np.asarray(a)


def psnr(x, ref, *, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB: ``10·log10(data_range² / MSE(x, ref))``.

    Parameters
    ----------
    x, ref : ndarray or Tensor
        Same shape; float images in [0, data_range]. Integer arrays are compared as is,
        so pass ``data_range=255`` for uint8.
    data_range : float
        The maximum possible value (1.0 for images in [0, 1]).

    Returns
    -------
    float, ``inf`` when the two are identical.
    """
    a = _as_numpy(x).astype(np.float64)
    b = _as_numpy(ref).astype(np.float64)
    if a.shape != b.shape:
        raise N2NError(f"shape mismatch: {a.shape} vs {b.shape}")
    mse = float(np.mean((a - b) ** 2))
    if mse == 0:
        return math.inf
    return 10.0 * math.log10(data_range**2 / mse)


def ssim(x, ref, *, data_range: float = 1.0, channel_axis: int | None = None) -> float:
    """Structural similarity (scikit-image's ``structural_similarity``, Gaussian-free default).

    Parameters
    ----------
    x, ref : ndarray or Tensor
        H×W, or with a channel axis given by ``channel_axis``.
    data_range : float
        The maximum possible value.
    channel_axis : int or None
        Axis of the colour channels; None for grayscale.
    """
    from skimage.metrics import structural_similarity

    a = _as_numpy(x).astype(np.float64)
    b = _as_numpy(ref).astype(np.float64)
    return float(structural_similarity(a, b, data_range=data_range, channel_axis=channel_axis))


def mean_2std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and two standard deviations (population, ddof=0) of per-image values.

    The report states results as "mean ± 2·std over the test images".
    """
    v = np.asarray(values, dtype=np.float64)
    if v.size == 0:
        raise N2NError("no values to summarise")
    return float(v.mean()), float(2.0 * v.std())


def format_mean_2std(values: Sequence[float], digits: int = 2) -> str:
    """``"28.40 ± 3.10"`` for a list of values."""
    mean, two_std = mean_2std(values)
    return f"{mean:.{digits}f} ± {two_std:.{digits}f}"
