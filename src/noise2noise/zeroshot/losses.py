"""The paper's equations as pure tensor functions: the pair downsampler (D1, D2), the
residual loss (eq. 1), the consistency loss (eq. 2) and their sum (eq. 3)."""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

__all__ = ["pair_downsample", "residual_loss", "consistency_loss", "zeroshot_loss"]


def pair_downsample(x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The ZS-N2N pair downsampler: two half-resolution images of ``x``.

    A stride-2 depthwise convolution with the fixed kernels [[0.5, 0], [0, 0.5]] (D1, the
    mean of each 2×2 block's main diagonal) and [[0, 0.5], [0.5, 0]] (D2, its
    anti-diagonal), applied to every channel separately.

    Parameters
    ----------
    x : Tensor
        (B, C, H, W); H and W even (an odd last row/column is ignored).

    Returns
    -------
    (D1(x), D2(x)), each (B, C, H//2, W//2).
    """
    c = x.shape[1]
    both = F.conv2d(x, _pair_kernels(c, x.dtype, x.device), stride=2, groups=c)  # (B, 2C, …)
    return both[:, 0::2], both[:, 1::2]


_KERNELS: dict[tuple, torch.Tensor] = {}


def _pair_kernels(c: int, dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """(2C, 1, 2, 2) weights of D1 and D2 for C channels (channel k -> outputs 2k, 2k+1),
    made once per device: building them from a Python list at every step is a copy from
    the host that makes a GPU wait for the CPU at every step."""
    key = (c, dtype, str(device))
    if key not in _KERNELS:
        with torch.inference_mode(False), torch.no_grad():  # usable by autograd later
            kernels = torch.tensor([[[0.5, 0.0], [0.0, 0.5]], [[0.0, 0.5], [0.5, 0.0]]])
            _KERNELS[key] = kernels.repeat(c, 1, 1)[:, None].to(device=device, dtype=dtype)
    return _KERNELS[key]


def residual_loss(
    y1: torch.Tensor, y2: torch.Tensor, noise1: torch.Tensor, noise2: torch.Tensor
) -> torch.Tensor:
    """Symmetric residual loss (eq. 1 of the paper).

    ``1/2 (‖y1 − f(y1) − y2‖² + ‖y2 − f(y2) − y1‖²)`` with ``noise_i = f(y_i)`` and ‖·‖²
    the mean squared error: each half-image, once denoised, should predict the other.
    """
    return 0.5 * (F.mse_loss(y1 - noise1, y2) + F.mse_loss(y2 - noise2, y1))


def consistency_loss(
    y1: torch.Tensor,
    y2: torch.Tensor,
    noise1: torch.Tensor,
    noise2: torch.Tensor,
    denoised1: torch.Tensor,
    denoised2: torch.Tensor,
) -> torch.Tensor:
    """Symmetric consistency loss (eq. 2 of the paper).

    ``1/2 (‖y1 − f(y1) − D1(y − f(y))‖² + ‖y2 − f(y2) − D2(y − f(y))‖²)`` with
    ``denoised_i = D_i(y − f(y))``: denoising then downsampling should agree with
    downsampling then denoising.
    """
    return 0.5 * (F.mse_loss(y1 - noise1, denoised1) + F.mse_loss(y2 - noise2, denoised2))


def zeroshot_loss(model: torch.nn.Module, y: torch.Tensor, *, ratio: float = 1.0) -> torch.Tensor:
    """Training loss for noisy images ``y`` (B, C, H, W), H and W even.

    ``residual + consistency / ratio`` (eq. 3 of the paper with ratio 1); ``ratio=inf``
    drops the consistency term, which also skips the full-resolution forward pass.
    """
    y1, y2 = pair_downsample(y)  # (B, C, H/2, W/2) each
    noise1, noise2 = model(torch.cat([y1, y2])).chunk(2)  # one pass for both halves
    loss = residual_loss(y1, y2, noise1, noise2)
    if math.isfinite(ratio):
        denoised1, denoised2 = pair_downsample(y - model(y))
        loss = loss + consistency_loss(y1, y2, noise1, noise2, denoised1, denoised2) / ratio
    return loss
