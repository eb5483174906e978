"""Zero-Shot Noise2Noise (ZS-N2N): denoise one image with no training data.

Mansour & Heckel, "Zero-Shot Noise2Noise: Efficient Image Denoising without any Data",
CVPR 2023. From the noisy image y two half-resolution images D1(y), D2(y) are made by
fixed stride-2 kernels; their noise is (nearly) independent while their content is (nearly)
the same, so a small network f that predicts the noise can be trained Noise2Noise-style
between them. The denoised image is ``clip(y - f(y), 0, 1)`` (eq. 4).

Layers of this module:

- ``losses``: :func:`pair_downsample`, :func:`residual_loss`, :func:`consistency_loss`:
  pure tensor functions, each one equation of the paper.
- ``configuration``: :class:`ZeroShotConfig` and :data:`PRESETS`, the hyperparameters.
- ``fit``: :func:`fit_zeroshot` (training; :func:`start_fit`, the same one step at a
  time) and :func:`apply_zeroshot` (inference, tiled).
- ``batched``: the networks of many images trained in the same steps (for GPUs).
- ``interleaved``: many single-image fits, their steps interleaved on CUDA streams (for
  GPUs: what folders use, the faster of the two on an H200,
  ``bench/results/zeroshot_folder_variants.md``).
- here: :func:`denoise_zeroshot`, numpy in, numpy out, for users.
"""

from __future__ import annotations

import numpy as np
import torch

from ..convert import image_to_tensor, one_value, tensor_to_image
from ..tta import tta_transforms
from ..units import scales_other_units
from .batched import denoise_zeroshot_batch, fit_zeroshot_batch
from .configuration import (
    DEFAULT_PRESET,
    MIN_SIZE,
    PRESETS,
    RETIRED,
    ZeroShotConfig,
    get_preset,
)
from .fit import apply_zeroshot, fit_zeroshot, image_result, image_tensor, start_fit
from .interleaved import denoise_zeroshot_interleaved
from .losses import consistency_loss, pair_downsample, residual_loss, zeroshot_loss

__all__ = [
    "pair_downsample",
    "residual_loss",
    "consistency_loss",
    "zeroshot_loss",
    "ZeroShotConfig",
    "PRESETS",
    "DEFAULT_PRESET",
    "RETIRED",
    "get_preset",
    "fit_zeroshot",
    "fit_zeroshot_batch",
    "denoise_zeroshot_batch",
    "start_fit",
    "denoise_zeroshot_interleaved",
    "apply_zeroshot",
    "tta_transforms",
    "denoise_zeroshot",
    "downsampled_pair",
    "MIN_SIZE",
]


@scales_other_units
def denoise_zeroshot(
    image: np.ndarray,
    *,
    preset: str | ZeroShotConfig = DEFAULT_PRESET,
    iterations: int | None = None,
    seed: int = 0,
    channel_axis: int | None = None,
    progress: bool = False,
    device: torch.device | str | None = "cpu",
) -> np.ndarray:
    """Denoise one image with Zero-Shot Noise2Noise; no training data needed.

    Parameters
    ----------
    image : ndarray
        H×W, or H×W×C with ``channel_axis=-1`` (any C: all channels are denoised, so
        split off an alpha channel first); uint8, uint16 or float in [0, 1] (float data
        in other units are scaled into it and back, with a note: :mod:`noise2noise.units`).
        At least 8×8.
    preset : str or ZeroShotConfig
        ``"fast"`` (default: seconds per image, any size), ``"paper"`` (Mansour &
        Heckel's settings: 2000 full-image steps), ``"report"``, or a configuration.
    iterations : int, optional
        Override the preset's number of steps; its learning-rate schedule scales with it.
    seed : int
        The same seed gives the same output.
    channel_axis : int or None
        Axis of the channels; None for a 2-D grayscale image.
    progress : bool
        Show a progress bar.
    device : torch.device or str
        ``"cpu"`` (default), ``"cuda"``, ``"mps"`` or ``"auto"``: where to train and apply
        the network. The same seed gives the same crops and initialisation on every device;
        results agree up to floating-point rounding.

    Returns
    -------
    ndarray with the shape and dtype of ``image``.

    Notes
    -----
    A dim image (brightest pixel below half the range, as 12-bit data stored in 16 bits)
    is stretched to the full range for denoising and scaled back.

    The network (3×3 conv, 3×3 conv, 1×1 conv, 48 channels, LeakyReLU 0.2: 22,275
    parameters for RGB) predicts the noise. The ``paper`` preset trains it on the whole image
    with the residual loss plus the consistency loss between the two downsampled images; the
    default ``fast`` preset uses the residual loss alone on random crops, so its cost does
    not grow with the image size. See :mod:`noise2noise.zeroshot`.

    References
    ----------
    .. [1] Y. Mansour and R. Heckel, "Zero-Shot Noise2Noise: Efficient Image Denoising
       without any Data", CVPR 2023.

    Examples
    --------
    >>> import numpy as np
    >>> from noise2noise import add_noise, denoise_zeroshot
    >>> rng = np.random.default_rng(0)
    >>> clean = np.tile(np.linspace(0, 1, 32, dtype=np.float32), (32, 1))
    >>> noisy = add_noise(clean, "gaussian:25", seed=0)
    >>> out = denoise_zeroshot(noisy, iterations=20, seed=0)
    >>> out.shape, out.dtype
    ((32, 32), dtype('float32'))
    """
    config = get_preset(preset, steps=iterations)
    image = np.asarray(image)
    y, gain = image_tensor(image, channel_axis)  # dim images stretched, see image_tensor
    if one_value(image):
        return image.copy()
    model = fit_zeroshot(y, config, seed=seed, progress=progress, device=device)
    return image_result(model, y, gain, config, image, channel_axis)


def downsampled_pair(
    image: np.ndarray, *, channel_axis: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """The two half-resolution images ZS-N2N trains on (:func:`pair_downsample`), as
    float32 arrays in [0, 1] with the layout of ``image`` (for figures and inspection).

    Examples
    --------
    >>> import numpy as np
    >>> d1, d2 = downsampled_pair(np.zeros((8, 6, 3), np.uint8), channel_axis=-1)
    >>> d1.shape, d1.dtype
    ((4, 3, 3), dtype('float32'))
    """
    image = np.asarray(image)
    with torch.no_grad():
        halves = pair_downsample(image_to_tensor(image, channel_axis=channel_axis))
    like = np.zeros((0,) * image.ndim, np.float32)  # the layout of image, float output
    d1, d2 = (tensor_to_image(h, like, channel_axis=channel_axis) for h in halves)
    return d1, d2
