"""noise2noise: image denoising when no clean image exists.

Numpy in, numpy out (H×W or H×W×C; uint8, uint16 or float in [0, 1]), dtype and shape
preserved. :func:`denoise` uses the pretrained network shipped inside the package;
:func:`denoise_dask` denoises a Dask array larger than memory, chunk by chunk.
Tensor-level pieces live in the submodules: :mod:`noise2noise.zeroshot`,
:mod:`noise2noise.models`, :mod:`noise2noise.noise`, :mod:`noise2noise.metrics`,
:mod:`noise2noise.training`.
"""

from .baselines import denoise_ansc, denoise_bm3d, estimate_sigma
from .chunked import denoise_dask  # imports Dask only when called
from .comparison import compare_images
from .errors import N2NError
from .estimate import choose_model, estimate_noise
from .evaluation import evaluate, run_evaluation
from .image_io import ImageFileError, read_image, read_metadata, write_image
from .methods import METHODS, denoise_image
from .metrics import mean_2std, psnr, ssim
from .models import MODELS, SimpleCNN, UNet
from .noise import NOISE_MODELS, Gaussian, Poisson, add_noise, parse_noise
from .pretrained import PRETRAINED, denoise
from .training import TrainConfig, denoise_with_model, run_training, train
from .zeroshot import PRESETS, ZeroShotConfig, denoise_zeroshot, pair_downsample

__version__ = "0.24.0"

__all__ = [
    "denoise",
    "PRETRAINED",
    "denoise_zeroshot",
    "denoise_dask",
    "denoise_bm3d",
    "denoise_ansc",
    "denoise_with_model",
    "denoise_image",
    "estimate_sigma",
    "estimate_noise",
    "choose_model",
    "add_noise",
    "psnr",
    "ssim",
    "mean_2std",
    "compare_images",
    "read_image",
    "write_image",
    "read_metadata",
    "ImageFileError",
    "N2NError",
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
    "METHODS",
    "TrainConfig",
    "train",
    "run_training",
    "evaluate",
    "run_evaluation",
]
