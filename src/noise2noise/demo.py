"""The built-in example: noise a sample image that ships with scikit-image, denoise it.

Nothing is downloaded: ``skimage.data.astronaut`` is bundled with scikit-image.
"""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .denoisers import make_denoiser
from .image_io import write_image
from .methods import DEFAULT_METHOD
from .metrics import psnr
from .noise import Gaussian, add_noise

__all__ = ["DemoResult", "run_demo", "side_by_side"]


@dataclass(frozen=True)
class DemoResult:
    """Where the demo wrote its images and what it measured."""

    folder: Path
    psnr_noisy: float
    psnr_denoised: float
    seconds: float


def side_by_side(images: list[np.ndarray], gap: int = 8) -> np.ndarray:
    """Concatenate H×W×3 uint8 images horizontally with white gaps between them."""
    h = images[0].shape[0]
    spacer = np.full((h, gap, 3), 255, dtype=np.uint8)
    parts = []
    for i, image in enumerate(images):
        parts += [spacer, image] if i else [image]
    return np.concatenate(parts, axis=1)


def run_demo(
    folder: str | os.PathLike = "demo-output",
    *,
    sigma: float = 25.0,
    method: str = DEFAULT_METHOD,
    preset: str | None = None,
    iterations: int | None = None,
    seed: int | None = None,
    size: int = 512,
    progress: bool = False,
) -> DemoResult:
    """Add Gaussian noise to scikit-image's astronaut, denoise it, save PNGs.

    Writes ``clean.png``, ``noisy.png``, ``denoised.png`` and ``comparison.png``
    (clean | noisy | denoised) into ``folder``, replacing the demo's own earlier outputs.

    Parameters
    ----------
    folder : path-like
        Output folder (created).
    sigma : float
        Gaussian noise level on the 0-255 scale.
    method : str
        A method of :data:`noise2noise.METHODS`; the default is the shipped pretrained model.
    preset, iterations, seed
        For ``method="zeroshot"``: as for :func:`noise2noise.denoise_zeroshot` (the seed
        of the noise is ``seed`` or 0).
    size : int
        Side of the centre crop taken from the 512×512 sample (512: the whole image).
    progress : bool
        Show a progress bar.
    """
    from skimage.data import astronaut

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    clean = astronaut()  # (512, 512, 3) uint8, bundled with scikit-image
    top = (clean.shape[0] - size) // 2
    left = (clean.shape[1] - size) // 2
    clean = np.ascontiguousarray(clean[top : top + size, left : left + size])
    noisy = add_noise(clean, Gaussian(sigma), seed=seed or 0, channel_axis=-1)
    fn = make_denoiser(method, preset=preset, iterations=iterations, seed=seed, progress=progress)
    start = time.perf_counter()
    denoised = fn(noisy)
    seconds = time.perf_counter() - start
    for name, image in [("clean", clean), ("noisy", noisy), ("denoised", denoised)]:
        write_image(folder / f"{name}.png", image, overwrite=True)
    write_image(folder / "comparison.png", side_by_side([clean, noisy, denoised]), overwrite=True)
    return DemoResult(
        folder=folder,
        psnr_noisy=psnr(noisy, clean, data_range=255),
        psnr_denoised=psnr(denoised, clean, data_range=255),
        seconds=seconds,
    )
