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
        a = a.detach().cpu()
        return (a.float() if a.dtype in (torch.bfloat16, torch.float16) else a).numpy()
    return np.asarray(a)


def _pair(x, ref, data_range: float | None) -> tuple[np.ndarray, np.ndarray, float]:
    """Both images as float64, and the data range: given, else that of their dtype
    (integer: its largest value, 255 for uint8; float: 1.0), as scikit-image infers it."""
    a, b = _as_numpy(x), _as_numpy(ref)
    if a.shape != b.shape:
        raise N2NError(f"shape mismatch: {a.shape} vs {b.shape}")
    if data_range is None:
        kinds = {a.dtype.kind in "iub", b.dtype.kind in "iub"}
        if len(kinds) == 2 or (True in kinds and a.dtype != b.dtype):
            raise N2NError(
                f"images of different types ({a.dtype} and {b.dtype}): convert one to the "
                "other's scale (for example both to float in [0, 1]) or give data_range"
            )
        data_range = float(np.iinfo(b.dtype).max) if b.dtype.kind in "iu" else 1.0
    return a.astype(np.float64), b.astype(np.float64), data_range


def psnr(x, ref, *, data_range: float | None = None) -> float:
    """Peak signal-to-noise ratio in dB: ``10·log10(data_range² / MSE(x, ref))``.

    Parameters
    ----------
    x, ref : ndarray or Tensor
        Same shape and type: integer images (uint8, uint16) or float images in
        [0, data_range].
    data_range : float, optional
        The maximum possible value; default: that of the images' type (255 for uint8,
        65535 for uint16, 1.0 for float). Integer and float images together need it.

    Returns
    -------
    float, ``inf`` when the two are identical.
    """
    a, b, data_range = _pair(x, ref, data_range)
    mse = float(np.mean((a - b) ** 2))
    if mse == 0:
        return math.inf
    return 10.0 * math.log10(data_range**2 / mse)


SSIM_WINDOW = 7  # scikit-image's default window side


def ssim(x, ref, *, data_range: float | None = None, channel_axis: int | None = None) -> float:
    """Structural similarity (scikit-image's ``structural_similarity``, Gaussian-free default).

    Parameters
    ----------
    x, ref : ndarray or Tensor
        H×W, or with a channel axis given by ``channel_axis``; same shape and type.
    data_range : float, optional
        The maximum possible value; default: that of the images' type, as for :func:`psnr`.
    channel_axis : int or None
        Axis of the colour channels; None for grayscale.
    """
    from skimage.metrics import structural_similarity

    a, b, data_range = _pair(x, ref, data_range)
    axes = [n for i, n in enumerate(a.shape) if channel_axis is None or i != channel_axis % a.ndim]
    if min(axes, default=0) < SSIM_WINDOW:  # scikit-image: 'pass win_size explicitly'
        colour = channel_axis is None and a.ndim == 3 and a.shape[-1] <= 4
        raise N2NError(
            f"SSIM needs images of at least {SSIM_WINDOW} pixels a side (its window), got an "
            f"array of shape {a.shape}"
            + ("; a colour image: pass channel_axis=-1" if colour else "")
        )
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
