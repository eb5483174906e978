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
from .errors import N2NError
from .files import refuse_others_files
from .image_io import read_header, read_image, write_image
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


DEMO_FILES = ("clean.png", "noisy.png", "denoised.png", "comparison.png")
DEMO_MARK = ".n2n-demo"  # says the folder's files of those names are the demo's own


def check_size(size: int) -> None:
    """Refuse a crop ``size`` the demo's 512×512 photo does not have."""
    if not 8 <= size <= 512:
        raise N2NError(f"`size`: the demo's image is a crop of a 512×512 photo: 8-512, got {size}")


def _astronaut(size: int) -> np.ndarray:
    """The centre ``size``×``size`` of scikit-image's astronaut (512×512 RGB, bundled)."""
    from skimage.data import astronaut

    image = astronaut()
    top, left = (image.shape[0] - size) // 2, (image.shape[1] - size) // 2
    return np.ascontiguousarray(image[top : top + size, left : left + size])


def _demo_folder(folder: Path) -> bool:
    """Whether ``folder``'s files of :data:`DEMO_FILES` are an earlier demo's: its mark,
    or (a folder of a version before the mark) the astronaut as ``clean.png``."""
    if (folder / DEMO_MARK).is_file():
        return True
    try:
        header = read_header(folder / "clean.png")  # a user's 100-megapixel photo: not read
        if not (header.width == header.height <= 512 and header.channels == 3):
            return False
        clean = read_image(folder / "clean.png")
    except N2NError:
        return False
    return clean.dtype == np.uint8 and np.array_equal(clean, _astronaut(header.width))


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
    device: str | None = None,
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
    device : str or None
        Where the networks run (``"cpu"``, ``"cuda"``, ``"auto"``...; default: the CPU).
    """
    check_size(size)
    folder = Path(folder)
    if not _demo_folder(folder):
        refuse_others_files(
            folder, DEMO_FILES, "an earlier demo's output", "choose another output folder"
        )
    folder.mkdir(parents=True, exist_ok=True)
    clean = _astronaut(size)
    noisy = add_noise(clean, Gaussian(sigma), seed=seed or 0, channel_axis=-1)
    fn = make_denoiser(
        method, preset=preset, iterations=iterations, seed=seed, progress=progress, device=device
    )
    start = time.perf_counter()
    denoised = fn(noisy)
    seconds = time.perf_counter() - start
    mark = "n2n demo wrote " + ", ".join(DEMO_FILES) + "\n"
    (folder / DEMO_MARK).write_text(mark, encoding="utf-8")
    comparison = side_by_side([clean, noisy, denoised])
    for name, image in zip(DEMO_FILES, [clean, noisy, denoised, comparison], strict=True):
        write_image(folder / name, image, overwrite=True)
    return DemoResult(
        folder=folder,
        psnr_noisy=psnr(noisy, clean, data_range=255),
        psnr_denoised=psnr(denoised, clean, data_range=255),
        seconds=seconds,
    )
