"""Synthetic camera noise: a clean sRGB image taken back to a raw sensor image, given shot
and read noise there, and developed again.

The noise of a real photograph is made on the sensor (shot noise, whose variance grows with
the signal, and read noise), one colour per pixel behind a Bayer mosaic, and then
demosaiced, white-balanced and tone-mapped. So it arrives correlated between neighbouring
pixels and channels and strongest in the shadows, unlike white Gaussian noise. This module
follows the "unprocessing" recipe of Brooks et al. (CVPR 2019), simplified: gamma 2.2
instead of the sRGB curve and a tone curve, no colour-correction matrix, bilinear
demosaicing and no JPEG. :func:`photo_noise` models instead the noise that is left in a
developed JPEG, from its measured statistics. Every function works on a batch
(B, 3, H, W) in [0, 1], on any device, with one set of camera parameters per image.

References
----------
.. [1] T. Brooks, B. Mildenhall, T. Xue, J. Chen, D. Sharlet and J. T. Barron,
   "Unprocessing Images for Learned Raw Denoising", CVPR 2019.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F

from .errors import N2NError

__all__ = [
    "CameraParams",
    "sample_camera_params",
    "camera_noise",
    "mosaic",
    "demosaic",
    "PhotoParams",
    "sample_photo_params",
    "photo_noise",
]

GAMMA = 2.2
# Brooks et al., section 3.3: log read variance = 2.18 log shot gain + 1.20 + N(0, 0.26).
READ_SLOPE, READ_INTERCEPT, READ_SPREAD = 2.18, 1.20, 0.26
SHOT_RANGE = (1e-4, 1.2e-2)  # their shot-noise gains, log-uniform
RED_GAIN, BLUE_GAIN = (1.9, 2.4), (1.5, 1.9)  # their white-balance gains, uniform


@dataclass(frozen=True)
class CameraParams:
    """Per-image camera parameters, each a (B,) tensor.

    ``shot`` and ``read`` give the raw noise variance ``shot * raw + read``; ``red`` and
    ``blue`` are the white-balance gains the camera applies to its red and blue pixels.
    """

    shot: torch.Tensor
    read: torch.Tensor
    red: torch.Tensor
    blue: torch.Tensor


def sample_camera_params(
    count: int, generator: torch.Generator, *, shot_range: tuple[float, float] = SHOT_RANGE
) -> CameraParams:
    """Random camera parameters for ``count`` images, on the generator's device."""
    dev = generator.device
    u = torch.rand(3, count, generator=generator, device=dev, dtype=torch.float64)
    log_lo, log_hi = math.log(shot_range[0]), math.log(shot_range[1])
    log_shot = log_lo + (log_hi - log_lo) * u[0]
    spread = READ_SPREAD * torch.randn(count, generator=generator, device=dev, dtype=torch.float64)
    log_read = READ_SLOPE * log_shot + READ_INTERCEPT + spread
    return CameraParams(
        shot=log_shot.exp().float(),
        read=log_read.exp().float(),
        red=(RED_GAIN[0] + (RED_GAIN[1] - RED_GAIN[0]) * u[1]).float(),
        blue=(BLUE_GAIN[0] + (BLUE_GAIN[1] - BLUE_GAIN[0]) * u[2]).float(),
    )


def _bayer_masks(h: int, w: int, device) -> torch.Tensor:
    """(3, H, W) masks of the R, G and B sites of an RGGB mosaic."""
    rows = torch.arange(h, device=device)[:, None] % 2
    cols = torch.arange(w, device=device)[None, :] % 2
    red = (rows == 0) & (cols == 0)
    blue = (rows == 1) & (cols == 1)
    return torch.stack([red, ~(red | blue), blue]).float()


def mosaic(rgb: torch.Tensor) -> torch.Tensor:
    """(B, 3, H, W) -> (B, 1, H, W): the one colour an RGGB sensor records at each pixel."""
    masks = _bayer_masks(*rgb.shape[-2:], rgb.device)
    return (rgb * masks).sum(dim=1, keepdim=True)


_RB_KERNEL = torch.tensor([[1.0, 2.0, 1.0], [2.0, 4.0, 2.0], [1.0, 2.0, 1.0]]) / 4
_G_KERNEL = torch.tensor([[0.0, 1.0, 0.0], [1.0, 4.0, 1.0], [0.0, 1.0, 0.0]]) / 4


def demosaic(raw: torch.Tensor) -> torch.Tensor:
    """(B, 1, H, W) RGGB mosaic -> (B, 3, H, W) by bilinear interpolation.

    Reflect padding keeps the mosaic's parity at the border (row -1 mirrors row 1, an odd
    row like it), so border pixels are interpolated from sites of the right colour.
    """
    masks = _bayer_masks(*raw.shape[-2:], raw.device)
    sparse = F.pad(raw * masks, (1, 1, 1, 1), mode="reflect")  # (B, 3, H+2, W+2)
    kernels = torch.stack([_RB_KERNEL, _G_KERNEL, _RB_KERNEL])[:, None].to(raw)
    return F.conv2d(sparse, kernels, groups=3)


def camera_noise(
    clean: torch.Tensor,
    params: CameraParams,
    *,
    generator: torch.Generator | None = None,
    clip: bool = True,
) -> torch.Tensor:
    """A noisy photograph of ``clean`` (B, 3, H, W) in [0, 1], as a camera would make it.

    sRGB -> linear (gamma 2.2) -> undo white balance -> RGGB mosaic -> shot and read noise
    -> bilinear demosaic -> white balance -> gamma. Only the noise goes through the
    pipeline's interpolation: the result is ``clean`` plus the difference between the
    developed noisy and the developed noise-free raw image, so the noise is correlated as
    in a photo while the image itself is not blurred by the demosaicing (a network trained
    on such pairs must not learn to blur).

    Parameters
    ----------
    clean : Tensor
        (B, 3, H, W) in [0, 1].
    params : CameraParams
        One set per image, from :func:`sample_camera_params`.
    generator : torch.Generator, optional
        On ``clean``'s device.
    clip : bool
        Clip the result to [0, 1] as a stored photo is (default). False keeps the raw
        values, and the gamma is applied to the magnitude with the sign kept, so that the
        noise of a Noise2Noise target is zero-mean up to the curvature of the gamma.

    Returns
    -------
    Tensor (B, 3, H, W); in [0, 1] when ``clip``.
    """
    if clean.shape[1] != 3:
        raise N2NError(f"camera noise needs RGB images, got {clean.shape[1]} channel(s)")
    dev = clean.device

    def per_image(v: torch.Tensor) -> torch.Tensor:
        return v.to(dev)[:, None, None, None]

    red = per_image(params.red)
    gains = torch.cat([red, torch.ones_like(red), per_image(params.blue)], dim=1)  # (B, 3, 1, 1)
    raw = mosaic(clean.clamp(0.0, 1.0) ** GAMMA / gains)  # (B, 1, H, W)
    variance = per_image(params.shot) * raw + per_image(params.read)
    noise = torch.randn(raw.shape, generator=generator, device=dev, dtype=raw.dtype)

    def develop(r: torch.Tensor) -> torch.Tensor:
        rgb = demosaic(r) * gains  # (B, 3, H, W)
        return rgb.sign() * rgb.abs() ** (1.0 / GAMMA)

    noisy = clean + develop(raw + variance.sqrt() * noise) - develop(raw)
    return noisy.clamp(0.0, 1.0) if clip else noisy


# ----------------------------------------------------------------------------------------
# The noise of a developed camera JPEG, as a statistical model.
#
# What reaches a user is not raw noise: the camera demosaics it, reduces it (chroma much more
# than luma) and compresses it. What is left is luma grain a pixel or two wide plus colour
# blotches several pixels wide. In the first 20 `polyu_canon` pairs (the tuning
# split; `bench/results/photo_noise_stats.md`, 10th-90th percentiles) the luma noise's
# correlation with the next pixel is 0.62-0.79 (0.23-0.56 two pixels away), the colour
# difference's (R - G) 0.91-0.92 (0.80-0.85, and 0.28-0.49 six pixels away), and the colour
# difference is 0.7-1.1 times as strong as the luma. :func:`camera_noise` above makes nearly
# the opposite: colour 2.4 times the luma, correlation gone two pixels away. The ranges
# below cover the measured values with room for other cameras.

PHOTO_LUMA = (1.0, 15.0)  # luma noise std at mid-grey, 0-255 scale, log-uniform
PHOTO_CHROMA = (0.1, 0.8)  # std of Cb and Cr noise relative to the luma's, uniform
PHOTO_FINE = (0.4, 1.2)  # width (Gaussian sigma, pixels) of the fine luma grain
PHOTO_COARSE = (1.5, 4.0)  # width of the colour blotches and the coarse luma part
PHOTO_SHARE = (0.0, 0.5)  # share of the luma variance that is coarse
PHOTO_SLOPE = (-0.5, 0.5)  # noise std changes by up to this share from grey to black/white
_WIDEST = 12  # kernel half-width: 3 sigma of the widest blotch


@dataclass(frozen=True)
class PhotoParams:
    """Per-image parameters of :func:`photo_noise`, each a (B,) tensor (see ``PHOTO_*``)."""

    luma: torch.Tensor
    chroma: torch.Tensor
    fine: torch.Tensor
    coarse: torch.Tensor
    share: torch.Tensor
    slope: torch.Tensor


def sample_photo_params(count: int, generator: torch.Generator) -> PhotoParams:
    """Random parameters for ``count`` images, on the generator's device."""
    u = torch.rand(6, count, generator=generator, device=generator.device)

    def uniform(k: int, bounds: tuple[float, float]) -> torch.Tensor:
        return bounds[0] + (bounds[1] - bounds[0]) * u[k]

    lo, hi = math.log(PHOTO_LUMA[0]), math.log(PHOTO_LUMA[1])
    return PhotoParams(
        luma=(lo + (hi - lo) * u[0]).exp() / 255.0,
        chroma=uniform(1, PHOTO_CHROMA),
        fine=uniform(2, PHOTO_FINE),
        coarse=uniform(3, PHOTO_COARSE),
        share=uniform(4, PHOTO_SHARE),
        slope=uniform(5, PHOTO_SLOPE),
    )


def _coloured(white: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
    """White noise (B, C, H + 2R, W + 2R) blurred by a Gaussian of ``sigma`` (B,) pixels
    per image, cut to (B, C, H, W), scaled back to unit variance (no border effects: the
    blur only reads the margin of R = ``_WIDEST`` pixels)."""
    b, c, h, w = white.shape
    taps = torch.arange(-_WIDEST, _WIDEST + 1, device=white.device, dtype=white.dtype)
    kernel = torch.exp(-0.5 * (taps[None, :] / sigma[:, None].to(white)) ** 2)  # (B, K)
    kernel = kernel / kernel.square().sum(dim=1, keepdim=True).sqrt()  # unit output variance
    kernel = kernel.repeat_interleave(c, dim=0)  # (B*C, K): one per image and channel
    x = white.reshape(1, b * c, h, w)
    x = F.conv2d(x, kernel[:, None, None, :], groups=b * c)
    x = F.conv2d(x, kernel[:, None, :, None], groups=b * c)
    return x.reshape(b, c, h - 2 * _WIDEST, w - 2 * _WIDEST)


def photo_noise(
    clean: torch.Tensor, params: PhotoParams, *, generator: torch.Generator | None = None
) -> torch.Tensor:
    """Noise like that of a developed camera JPEG for ``clean`` (B, 3, H, W) in [0, 1];
    returns the noise (B, 3, H, W), zero-mean, to be added.

    Luma grain (fine, with a coarse share) and Cb/Cr blotches (coarse), each Gaussian noise
    blurred per image, mixed into RGB by the inverse of the JPEG YCbCr transform, and
    scaled with the brightness by ``slope``. Zero-mean given ``clean``, so two draws make a
    Noise2Noise pair whose target is unbiased.
    """
    if clean.shape[1] != 3:
        raise N2NError(f"photo noise needs RGB images, got {clean.shape[1]} channel(s)")
    b, _, h, w = clean.shape
    dev, pad = clean.device, 2 * _WIDEST

    def draw(channels: int, sigma: torch.Tensor) -> torch.Tensor:
        white = torch.randn(
            (b, channels, h + pad, w + pad), generator=generator, device=dev, dtype=clean.dtype
        )
        return _coloured(white, sigma.to(dev))

    def per_image(v: torch.Tensor) -> torch.Tensor:
        return v.to(dev, clean.dtype)[:, None, None, None]

    share = per_image(params.share)
    coarse = draw(3, params.coarse)  # luma's coarse part, Cb, Cr
    y = (1 - share).sqrt() * draw(1, params.fine) + share.sqrt() * coarse[:, :1]
    chroma = per_image(params.chroma)
    cb, cr = chroma * coarse[:, 1:2], chroma * coarse[:, 2:]
    rgb = torch.cat([y + 1.402 * cr, y - 0.344136 * cb - 0.714136 * cr, y + 1.772 * cb], dim=1)
    grey = clean.mean(dim=1, keepdim=True)
    scale = (1 + per_image(params.slope) * (2 * grey - 1)).clamp(min=0.1)
    return per_image(params.luma) * scale * rgb
