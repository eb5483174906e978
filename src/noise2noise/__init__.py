"""noise2noise: image denoising when no clean image exists.

Numpy in, numpy out (H×W or H×W×C; uint8, uint16 or float in [0, 1]), dtype and shape
preserved. Tensor-level pieces live in the submodules: :mod:`noise2noise.zeroshot`,
:mod:`noise2noise.models`, :mod:`noise2noise.noise`, :mod:`noise2noise.metrics`.
"""

from .image_io import ImageFileError, read_image, write_image
from .metrics import mean_2std, psnr, ssim
from .models import MODELS, SimpleCNN, UNet
from .noise import NOISE_MODELS, Gaussian, Poisson, add_noise, parse_noise
from .zeroshot import PRESETS, ZeroShotConfig, denoise_zeroshot, pair_downsample

__version__ = "0.1.0"

__all__ = [
    "denoise_zeroshot",
    "add_noise",
    "psnr",
    "ssim",
    "mean_2std",
    "read_image",
    "write_image",
    "ImageFileError",
    "Gaussian",
    "Poisson",
    "NOISE_MODELS",
    "parse_noise",
    "ZeroShotConfig",
    "PRESETS",
    "pair_downsample",
    "SimpleCNN",
    "UNet",
    "MODELS",
]
