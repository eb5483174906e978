"""Conversions between user arrays (numpy, any dtype) and the network's tensors.

Users hand us H×W or H×W×C arrays of uint8, uint16 or float; inside, everything is a
float32 tensor of shape (B, C, H, W) with values in [0, 1]. These helpers are the only
place that knows both conventions, so every method preserves dtype and shape the same way.
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .errors import N2NError

__all__ = [
    "as_float",
    "from_float",
    "image_to_tensor",
    "check_finite",
    "tensor_to_image",
    "pad_to_multiple",
    "dim_gain",
    "luminance",
]

_INT_MAX = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}


def _int_max(dtype: np.dtype) -> float | None:
    """The largest value of an integer image ``dtype`` (either byte order: FITS data are
    big-endian), None for floats."""
    return _INT_MAX.get(np.dtype(dtype).newbyteorder("="))


def _check_dtype(dtype: np.dtype) -> None:
    if _int_max(dtype) is None and not np.issubdtype(dtype, np.floating):
        raise TypeError(f"unsupported image dtype {dtype}: use uint8, uint16 or float in [0, 1]")


# Float images are taken in [0, 1]; noise carries values a little beyond it (an unclipped
# noisy image), but data in other units (a TIFF in physical units) would come out clipped
# to nonsense. Refused when a hundredth of the values lies below or above these.
FLOAT_SPAN = (-2.0, 3.0)


def outside_float_range(image: np.ndarray) -> tuple[float, float] | None:
    """(min, max) of a float ``image`` whose values are not in [0, 1] units (more than a
    hundredth of them outside :data:`FLOAT_SPAN`), else None (NaN is checked elsewhere)."""
    if image.dtype.kind != "f" or image.size == 0:
        return None
    lo, hi = float(image.min()), float(image.max())
    if not (lo < FLOAT_SPAN[0] or hi > FLOAT_SPAN[1]):  # NaN: not here
        return None
    flat = image.reshape(-1)
    sample = flat[:: max(1, flat.size // 200_000)]
    p1, p99 = np.percentile(sample, [1, 99])
    return (lo, hi) if p1 < FLOAT_SPAN[0] or p99 > FLOAT_SPAN[1] else None


# Float data in [0, 1] units with unclipped noise on top (a noisy image as the literature
# makes them) leave [0, 1] by a few of the noise's standard deviations; data that leave it
# by more, in a thousandth of their values, are in other units (zero-centred or
# background-subtracted data): :func:`units_span` has them scaled into [0, 1] and back,
# where clipping them to it would lose what lies outside.
NOISE_REACH = 5.0  # noise standard deviations


def noise_std(image: np.ndarray) -> float:
    """The standard deviation of the pixel-independent noise of an H×W or H×W×C float
    ``image``: the median absolute finest diagonal Haar coefficient over 0.6745 (Donoho's
    estimate; edges barely move a median), on at most a million coefficients."""
    h, w = image.shape[0] // 2 * 2, image.shape[1] // 2 * 2
    x = image[:h, :w].astype(np.float32, copy=False)
    hh = (x[0::2, 0::2] - x[0::2, 1::2] - x[1::2, 0::2] + x[1::2, 1::2]).reshape(-1) / 2
    if hh.size == 0:
        return 0.0
    return float(np.median(np.abs(hh[:: max(1, hh.size // 1_000_000)]))) / 0.6745


def units_span(image: np.ndarray, channel_axis: int | None = None) -> tuple[float, float] | None:
    """The range float ``image`` is scaled from into [0, 1] for denoising, and back after
    (:func:`float_span`); None where it is in [0, 1] units: inside, or beyond only by what
    its noise carries (:data:`NOISE_REACH`), as an unclipped noisy image, which a
    denoiser takes as it is. Data far beyond (:func:`outside_float_range`) are scaled
    whatever their noise. Integers: None. NaN is checked elsewhere."""
    image = np.asarray(image)
    if image.dtype.kind != "f" or image.size == 0:
        return None
    lo, hi = float(image.min()), float(image.max())
    if lo >= 0.0 and hi <= 1.0:
        return None
    if outside_float_range(image):  # far beyond, whatever the noise
        return float_span(lo, hi)
    reach = NOISE_REACH * noise_std(_move_channels(image, channel_axis)) + 1 / 255
    flat = image.reshape(-1)
    sample = flat[:: max(1, flat.size // 1_000_000)]
    beyond = np.count_nonzero((sample < -reach) | (sample > 1.0 + reach))
    return float_span(lo, hi) if beyond > sample.size / 1000 else None


def float_range_message(span: tuple[float, float]) -> str:
    return (
        f"float values span [{span[0]:.4g}, {span[1]:.4g}]: float images are taken in "
        "[0, 1] (noise may go a little beyond); scale the data into it, for example "
        "(x - x.min()) / (x.max() - x.min()), and back after"
    )


def float_span(lo: float, hi: float) -> tuple[float, float] | None:
    """The range float data from ``lo`` to ``hi`` are scaled from into [0, 1] (and back)
    where they leave it, as data in physical units do: [min(lo, 0), max(hi, 1)]; None
    for data in [0, 1], taken as they are."""
    span = (min(lo, 0.0), max(hi, 1.0))
    return None if span == (0.0, 1.0) else span


def to_unit_range(x, span: tuple[float, float] | None):
    """``x`` (numpy or dask) scaled from ``span`` into [0, 1] (None: as it is)."""
    return x if span is None else ((x - span[0]) / (span[1] - span[0])).astype(x.dtype)


def from_unit_range(x, span: tuple[float, float] | None):
    """The inverse of :func:`to_unit_range`."""
    return x if span is None else (x * (span[1] - span[0]) + span[0]).astype(x.dtype)


def as_float(image: np.ndarray, dtype: np.dtype = np.float32) -> np.ndarray:
    """Return ``image`` as floats in [0, 1].

    Parameters
    ----------
    image : ndarray
        uint8 (scaled by 1/255), uint16 (scaled by 1/65535) or float (taken as is,
        expected in [0, 1]).
    dtype : dtype
        The float type of the result: float32 (default), or float64 where a measure
        must not round (:mod:`noise2noise.comparison`).

    Returns
    -------
    ndarray of ``dtype``, same shape.

    Raises
    ------
    N2NError
        Float data clearly in other units than [0, 1] (:func:`outside_float_range`),
        which every method would clip to nonsense.
    """
    image = np.asarray(image)
    _check_dtype(image.dtype)
    if top := _int_max(image.dtype):
        return image.astype(dtype) / np.dtype(dtype).type(top)
    if span := outside_float_range(image):
        raise N2NError(float_range_message(span))
    return image.astype(dtype, copy=False)


def from_float(image: np.ndarray, dtype: np.dtype) -> np.ndarray:
    """Convert a float image in [0, 1] back to ``dtype`` (rounding and clipping integers)."""
    dtype = np.dtype(dtype)
    _check_dtype(dtype)
    if top := _int_max(dtype):
        scaled = np.clip(image, 0.0, 1.0) * top
        return np.rint(scaled).astype(dtype)
    return image.astype(dtype, copy=False)


def _move_channels(image: np.ndarray, channel_axis: int | None) -> np.ndarray:
    """Return an H×W×C view of ``image`` (C=1 for a 2-D image)."""
    if image.ndim == 2:
        if channel_axis is not None:
            raise N2NError("a 2-D image has no channel axis: pass channel_axis=None")
        return image[:, :, None]
    if image.ndim == 3:
        if channel_axis is None:
            stack = image.shape[-1] > 4 and image.shape[0] > 4  # no axis of colour channels
            raise N2NError(
                f"got a 3-D array of shape {image.shape}: pass channel_axis=-1 for a colour "
                "image (H×W×C), or a 2-D array for a grayscale one"
                + ("; a stack of planes: denoise each plane" if stack else "")
            )
        return np.moveaxis(image, channel_axis, -1)
    many = "; a batch or stack of images: denoise each one" if image.ndim > 3 else ""
    raise N2NError(f"expected a 2-D or 3-D image, got an array of shape {image.shape}{many}")


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


def image_to_tensor(
    image: np.ndarray, *, channel_axis: int | None = None, finite: bool = True
) -> torch.Tensor:
    """Numpy image (H×W or with a channel axis) -> float32 tensor (1, C, H, W) in [0, 1].

    NaN and infinite values are refused (:func:`check_finite`) unless ``finite`` is False
    (adding noise, which keeps them where they are, unlike a network)."""
    image = np.asarray(image)
    if finite:
        check_finite(image)
    hwc = _move_channels(image, channel_axis)
    if hwc.size == 0:
        raise N2NError(f"the image is empty (an array of shape {image.shape})")
    chw = np.ascontiguousarray(as_float(hwc).transpose(2, 0, 1))
    if not chw.flags.writeable:  # a read-only array (memory-mapped file): torch warns
        chw = chw.copy()
    return torch.from_numpy(chw)[None]  # (1, C, H, W)


def tensor_to_image(
    tensor: torch.Tensor, like: np.ndarray, *, channel_axis: int | None = None
) -> np.ndarray:
    """Tensor (1, C, H, W) in [0, 1] -> array with the shape, layout and dtype of ``like``."""
    hwc = tensor[0].detach().cpu().numpy().transpose(1, 2, 0)  # (H, W, C)
    if like.ndim == 2:
        out = hwc[:, :, 0]
    else:
        out = np.moveaxis(hwc, -1, channel_axis)
    return from_float(np.ascontiguousarray(out), like.dtype)


def pad_to_multiple(x: torch.Tensor, multiple: int) -> tuple[torch.Tensor, tuple[int, int]]:
    """Reflect-pad the bottom and right of ``x`` (B, C, H, W) to multiples of ``multiple``.

    Returns the padded tensor and the original (H, W), so the caller can crop back with
    ``out[..., :h, :w]``. Reflection (not zeros) keeps the padded border statistically
    like the image, so it does not bias a self-supervised loss.
    """
    h, w = x.shape[-2:]
    ph, pw = (-h) % multiple, (-w) % multiple
    if ph or pw:
        # Reflection needs the pad to be smaller than the side: replicate for tiny images.
        mode = "reflect" if ph < h and pw < w else "replicate"
        x = F.pad(x, (0, pw, 0, ph), mode=mode)
    return x, (h, w)


def one_value(image: np.ndarray) -> bool:
    """Whether every value of ``image`` is the same, as in a blank plane of a stack: it has
    no noise, and the denoisers give it back as it is (the networks gave it their bias at
    black, up to 390 in 16 bits, or at white)."""
    return image.size > 0 and bool(image.min() == image.max())


def dim_gain(peak: float) -> float:
    """The stretch of a dim image: ``1 / peak`` when its brightest value (in [0, 1]
    units) is below half the range, as 12-bit data stored in 16 bits, else 1. Denoisers
    multiply by it before and divide after, so they work on the full range."""
    return 1.0 / peak if 0.0 < peak < 0.5 else 1.0


LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601, the weights of Pillow's "L" mode


def luminance(image: np.ndarray) -> np.ndarray:
    """The luminance of an H×W×3 image as an H×W image of the same dtype (BT.601 weights).
    A weighted sum: float data are taken in whatever units they are in (a training set's
    physical units are scaled into [0, 1] after, with the other captures of a scene)."""
    weights = np.asarray(LUMA, dtype=np.float32)
    if image.dtype.kind == "f":
        return (image.astype(np.float32, copy=False) @ weights).astype(image.dtype)
    return from_float(as_float(image) @ weights, image.dtype)
