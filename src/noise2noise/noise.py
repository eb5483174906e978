"""Noise models: Gaussian (sigma on the 0-255 scale) and Poisson (peak photon count).

A noise model is a small object with explicit parameters. Calling it on a tensor in [0, 1]
returns a noisy tensor; all randomness comes from the ``generator`` or ``seed`` you pass, so
the same seed always gives the same noise.
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np
import torch

from .camera import (
    CameraParams,
    PhotoParams,
    camera_noise,
    photo_noise,
    sample_camera_params,
    sample_photo_params,
)
from .convert import image_to_tensor, tensor_to_image
from .errors import N2NError

__all__ = [
    "Gaussian",
    "Poisson",
    "NOISE_MODELS",
    "parse_noise",
    "add_noise",
    "make_generator",
    "NoiseMixture",
    "parse_training_noise",
    "as_mixture",
    "quantise",
]


def noise_seed(seed: int, image_name: str, noise_name: str) -> int:
    """A seed that depends only on the run seed, the image name and the noise: the
    noise of an evaluation's cell, and of ``n2n add-noise`` on a file of that name."""
    return zlib.crc32(f"{seed}|{image_name}|{noise_name}".encode())


def make_generator(seed: int | torch.Generator | None) -> torch.Generator:
    """A CPU ``torch.Generator`` from an int seed, or the generator itself.

    ``None`` is refused on purpose: every random draw in this package is seeded.
    """
    if isinstance(seed, torch.Generator):
        return seed
    if seed is None:
        raise N2NError("a seed is required (an int or a torch.Generator)")
    return torch.Generator().manual_seed(int(seed))


def _check_range(x: torch.Tensor, name: str) -> None:
    lo, hi = torch.aminmax(x)  # one pass, and one wait for a GPU instead of two
    lo, hi = float(lo), float(hi)
    if lo < -1e-6 or hi > 1 + 1e-6:
        raise N2NError(
            f"{name} noise expects a clean image in [0, 1], got values in [{lo:.3g}, {hi:.3g}]: "
            "divide 8-bit data by 255 (or use noise2noise.add_noise on the uint8 array)"
        )


MAX_PEAK = 1e9
# Above this (0-255 scale) nothing of the image is left: such a sigma is a typo.
MAX_SIGMA = 1000.0


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
        if not 0 < self.sigma <= MAX_SIGMA:
            raise N2NError(
                f"Gaussian sigma must be in (0, {MAX_SIGMA:g}] (0-255 scale), got {self.sigma}"
            )

    @property
    def name(self) -> str:
        return f"gaussian:{self.sigma:g}"

    def __call__(self, x: torch.Tensor, *, generator: torch.Generator | int = 0) -> torch.Tensor:
        """Noisy version of ``x`` (any shape, values in [0, 1])."""
        _check_range(x, "Gaussian")
        g = make_generator(generator)
        n = torch.randn(x.shape, generator=g, dtype=x.dtype, device=x.device)
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
        # Above MAX_PEAK the noise is far below one 16-bit level, and float64 counts
        # lose their meaning: such a peak is a typo, not an experiment.
        if not 0 < self.peak <= MAX_PEAK:
            raise N2NError(f"Poisson peak must be in (0, {MAX_PEAK:g}], got {self.peak}")

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
        raise N2NError(
            f"bad noise '{spec}': write gaussian:SIGMA (0-255 scale) or poisson:PEAK, "
            "e.g. gaussian:25"
        )
    try:
        level = float(value)
    except ValueError:
        raise N2NError(f"bad noise level in '{spec}': '{value}' is not a number") from None
    try:
        return cls(level, clip=clip)
    except ValueError as exc:
        raise N2NError(f"bad noise '{spec}': {exc}") from None


MIXTURE_KINDS = ("gaussian", "poisson", "camera", "photo")


@dataclass(frozen=True)
class MixtureDraw:
    """The noise parameters drawn for a batch: a component index and a level per image
    (Gaussian sigma or Poisson peak; unused for camera and photo noise), camera parameters
    and, when the mixture has photo noise, its parameters."""

    kind: torch.Tensor
    level: torch.Tensor
    camera: CameraParams
    photo: PhotoParams | None = None


@dataclass(frozen=True)
class NoiseMixture:
    """Noise of a random kind and level per image, for training blind denoisers.

    Written as components separated by ``|``, each picked with equal probability per
    image: ``gaussian:LO-HI`` (sigma uniform in [LO, HI] on the 0-255 scale, LO may be 0),
    ``poisson:LO-HI`` (peak log-uniform in [LO, HI]), single values (``gaussian:25``) and
    ``camera`` (synthetic raw camera noise, :func:`noise2noise.camera.camera_noise`) and
    ``photo`` (the correlated noise of a developed camera JPEG,
    :func:`noise2noise.camera.photo_noise`). A component listed twice
    is drawn twice as often: ``camera|gaussian:0-75|camera|poisson:5-120`` is half camera.

    A Noise2Noise pair draws the parameters once (:meth:`sample`) and applies them twice
    with independent noise (:meth:`apply`), so input and target carry the same kind and
    level of noise.
    """

    spec: str
    components: tuple[tuple[str, float, float], ...]

    def sample(self, count: int, generator: torch.Generator) -> MixtureDraw:
        """Kinds and levels for ``count`` images, on the generator's device."""
        dev = generator.device
        kind = torch.randint(0, len(self.components), (count,), generator=generator, device=dev)
        u = torch.rand(count, generator=generator, device=dev, dtype=torch.float64)
        table = torch.tensor([c[1:] for c in self.components], dtype=torch.float64, device=dev)
        lo, hi = table[kind, 0], table[kind, 1]
        poisson = torch.tensor([c[0] == "poisson" for c in self.components], device=dev)[kind]
        # Poisson peaks are drawn log-uniformly: noise strength goes as 1/sqrt(peak).
        log_lo, log_hi = lo.clamp(min=1e-12).log(), hi.clamp(min=1e-12).log()
        level = torch.where(poisson, (log_lo + u * (log_hi - log_lo)).exp(), lo + u * (hi - lo))
        camera = sample_camera_params(count, generator)
        # Drawn only when used, so mixtures without it keep their random streams.
        photo = sample_photo_params(count, generator) if self._has("photo") else None
        return MixtureDraw(kind, level.float(), camera, photo)

    def _has(self, name: str) -> bool:
        return any(c[0] == name for c in self.components)

    def apply(
        self,
        clean: torch.Tensor,
        draw: MixtureDraw,
        *,
        generator: torch.Generator | None = None,
        clip: bool = True,
    ) -> torch.Tensor:
        """Noisy version of ``clean`` (B, C, H, W) in [0, 1] with the drawn parameters.

        ``generator`` and ``draw`` must live on ``clean``'s device. Each kind in the
        mixture is computed for the whole batch and selected per image, so nothing waits
        for the device (no data-dependent shapes). Camera noise needs C = 3.
        """
        dev = clean.device
        level = draw.level[:, None, None, None]
        kind = draw.kind[:, None, None, None]
        out = clean
        for name in sorted({c[0] for c in self.components}):
            if name == "gaussian":
                n = torch.randn(clean.shape, generator=generator, device=dev, dtype=clean.dtype)
                y = clean + level / 255.0 * n
            elif name == "poisson":
                peak = level.clamp(min=1e-3)
                y = torch.poisson(peak * clean.clamp(min=0.0), generator=generator) / peak
            elif name == "photo":
                y = clean + photo_noise(clean, draw.photo, generator=generator)
            else:
                y = camera_noise(clean, draw.camera, generator=generator, clip=False)
            chosen = [i for i, c in enumerate(self.components) if c[0] == name]
            mask = torch.isin(kind, torch.tensor(chosen, device=dev))
            out = torch.where(mask, y, out)
        return out.clamp(0.0, 1.0) if clip else out


def _parse_component(part: str, spec: str) -> tuple[str, float, float]:
    name, _, value = part.strip().partition(":")
    name = name.strip().lower()
    if name not in MIXTURE_KINDS:
        raise N2NError(
            f"bad noise '{spec}': '{part}' is not gaussian:LO-HI, poisson:LO-HI, camera or photo"
        )
    if name in ("camera", "photo"):
        if value:
            raise N2NError(f"bad noise '{spec}': {name} takes no level")
        return name, 0.0, 0.0
    try:
        bounds = [float(v) for v in value.split("-")]
    except ValueError:
        raise N2NError(f"bad noise level in '{spec}': '{value}' is not LO-HI") from None
    lo, hi = bounds[0], bounds[-1]
    finite = all(math.isfinite(b) for b in bounds)
    if len(bounds) > 2 or not finite or lo > hi or lo < 0 or (name == "poisson" and lo <= 0):
        raise N2NError(
            f"bad noise level in '{spec}': '{value}' (need 0 <= LO <= HI, finite; "
            "a Poisson peak > 0)"
        )
    return name, lo, hi


def parse_training_noise(spec: str) -> Gaussian | Poisson | NoiseMixture:
    """A fixed noise (``"gaussian:25"``) or a :class:`NoiseMixture` (``"gaussian:0-75|camera"``)."""
    name, _, value = spec.partition(":")
    if "|" not in spec and "-" not in value and name.strip().lower() not in ("camera", "photo"):
        return parse_noise(spec)
    parts = tuple(_parse_component(p, spec) for p in spec.split("|"))
    return NoiseMixture(spec, parts)


def as_mixture(spec: str) -> NoiseMixture:
    """Any training noise spec as a :class:`NoiseMixture` (a fixed noise: one component)."""
    noise = parse_training_noise(spec)
    if isinstance(noise, NoiseMixture):
        return noise
    return NoiseMixture(spec, (_parse_component(spec, spec),))


def quantise(x: torch.Tensor, levels: int = 255) -> torch.Tensor:
    """Round values in [0, 1] to ``levels`` steps, as an 8-bit image file stores them."""
    return torch.round(x * levels) / levels


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
    x = image_to_tensor(image, channel_axis=channel_axis, finite=False)  # NaN stays NaN
    y = model(x, generator=seed)
    # Float images keep unclipped values when the model does not clip; integers are clipped.
    return tensor_to_image(y, image, channel_axis=channel_axis)
