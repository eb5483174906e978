"""Noise models: Gaussian (sigma on the 0-255 scale) and Poisson (peak photon count).

A noise model is a small object with explicit parameters. Calling it on a tensor in [0, 1]
returns a noisy tensor; all randomness comes from the ``generator`` or ``seed`` you pass, so
the same seed always gives the same noise.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from .convert import image_to_tensor, tensor_to_image

__all__ = ["Gaussian", "Poisson", "NOISE_MODELS", "parse_noise", "add_noise", "make_generator"]


def make_generator(seed: int | torch.Generator | None) -> torch.Generator:
    """A CPU ``torch.Generator`` from an int seed, or the generator itself.

    ``None`` is refused on purpose: every random draw in this package is seeded.
    """
    if isinstance(seed, torch.Generator):
        return seed
    if seed is None:
        raise ValueError("a seed is required (an int or a torch.Generator)")
    return torch.Generator().manual_seed(int(seed))


def _check_range(x: torch.Tensor, name: str) -> None:
    lo, hi = float(x.min()), float(x.max())
    if lo < -1e-6 or hi > 1 + 1e-6:
        raise ValueError(
            f"{name} noise expects a clean image in [0, 1], got values in [{lo:.3g}, {hi:.3g}]: "
            "divide 8-bit data by 255 (or use noise2noise.add_noise on the uint8 array)"
        )


@dataclass(frozen=True)
class Gaussian:
    """Additive white Gaussian noise: ``y = x + sigma/255 * n``, n ~ N(0, 1).

    Parameters
    ----------
    sigma : float
        Standard deviation on the 0-255 scale (the report uses 25, 50, 75).
    clip : bool
        Clip the result to [0, 1] (default), as an image file would store it.
    """

    sigma: float
    clip: bool = True

    def __post_init__(self):
        if not self.sigma > 0:
            raise ValueError(f"Gaussian sigma must be > 0 (0-255 scale), got {self.sigma}")

    @property
    def name(self) -> str:
        return f"gaussian:{self.sigma:g}"

    def __call__(self, x: torch.Tensor, *, generator: torch.Generator | int = 0) -> torch.Tensor:
        """Noisy version of ``x`` (any shape, values in [0, 1])."""
        _check_range(x, "Gaussian")
        n = torch.randn(x.shape, generator=make_generator(generator), dtype=x.dtype)
        y = x + (self.sigma / 255.0) * n
        return y.clamp(0.0, 1.0) if self.clip else y


@dataclass(frozen=True)
class Poisson:
    """Poisson (shot) noise at a peak photon count: ``y = Poisson(peak * x) / peak``.

    Parameters
    ----------
    peak : float
        Expected count of a white pixel (the report uses 15, 20, 25); lower is noisier.
    clip : bool
        Clip the result to [0, 1] (default). Without clipping, y can exceed 1.
    """

    peak: float
    clip: bool = True

    def __post_init__(self):
        if not self.peak > 0:
            raise ValueError(f"Poisson peak must be > 0, got {self.peak}")

    @property
    def name(self) -> str:
        return f"poisson:{self.peak:g}"

    def __call__(self, x: torch.Tensor, *, generator: torch.Generator | int = 0) -> torch.Tensor:
        """Noisy version of ``x`` (any shape, values in [0, 1])."""
        _check_range(x, "Poisson")
        rate = (self.peak * x.clamp(min=0.0)).to(torch.float64)
        y = (torch.poisson(rate, generator=make_generator(generator)) / self.peak).to(x.dtype)
        return y.clamp(0.0, 1.0) if self.clip else y


NOISE_MODELS: dict[str, type] = {"gaussian": Gaussian, "poisson": Poisson}


def parse_noise(spec: str, *, clip: bool = True) -> Gaussian | Poisson:
    """Build a noise model from ``"gaussian:25"`` or ``"poisson:15"``."""
    name, _, value = spec.partition(":")
    cls = NOISE_MODELS.get(name.strip().lower())
    if cls is None or not value:
        raise ValueError(
            f"bad noise '{spec}': write gaussian:SIGMA (0-255 scale) or poisson:PEAK, "
            "e.g. gaussian:25"
        )
    try:
        level = float(value)
    except ValueError:
        raise ValueError(f"bad noise level in '{spec}': '{value}' is not a number") from None
    return cls(level, clip=clip)


def add_noise(
    image: np.ndarray,
    noise: Gaussian | Poisson | str,
    *,
    seed: int | torch.Generator = 0,
    channel_axis: int | None = None,
) -> np.ndarray:
    """Add noise to a numpy image, keeping its shape and dtype.

    Parameters
    ----------
    image : ndarray
        H×W, or with a channel axis (give ``channel_axis``); uint8, uint16 or float in [0, 1].
    noise : Gaussian, Poisson or str
        A noise model or a spec such as ``"gaussian:25"``.
    seed : int or torch.Generator
        Source of randomness; the same seed gives the same noise.
    channel_axis : int or None
        Axis of the colour channels, None for a 2-D grayscale image.

    Returns
    -------
    ndarray, same shape and dtype as ``image``. Integer outputs are rounded, so the
    stored noise is quantised as in a real file.

    Examples
    --------
    >>> import numpy as np
    >>> from noise2noise import add_noise
    >>> clean = np.full((8, 8), 128, dtype=np.uint8)
    >>> noisy = add_noise(clean, "gaussian:25", seed=0)
    >>> noisy.dtype, noisy.shape
    (dtype('uint8'), (8, 8))
    """
    model = parse_noise(noise) if isinstance(noise, str) else noise
    x = image_to_tensor(image, channel_axis=channel_axis)
    y = model(x, generator=seed)
    # Float images keep unclipped values when the model does not clip; integers are clipped.
    return tensor_to_image(y, image, channel_axis=channel_axis)
