"""Zero-Shot Noise2Noise (ZS-N2N): denoise one image with no training data.

Mansour & Heckel, "Zero-Shot Noise2Noise: Efficient Image Denoising without any Data",
CVPR 2023. From the noisy image y two half-resolution images D1(y), D2(y) are made by
fixed stride-2 kernels; their noise is (nearly) independent while their content is (nearly)
the same, so a small network f that predicts the noise can be trained Noise2Noise-style
between them. The denoised image is ``clip(y - f(y), 0, 1)`` (eq. 4).

Layers of this module:

- :func:`pair_downsample`, :func:`residual_loss`, :func:`consistency_loss`: pure tensor
  functions, each one equation of the paper.
- :class:`ZeroShotConfig` and :data:`PRESETS`: the hyperparameters, named.
- :func:`fit_zeroshot` (training) and :func:`apply_zeroshot` (inference, tiled).
- :func:`denoise_zeroshot`: numpy in, numpy out, for users.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

import numpy as np
import torch
import torch.nn.functional as F

from .config import ConfigError, check_types, from_dict, raise_for_invalid, to_dict
from .convert import dim_gain, image_to_tensor, pad_to_multiple, tensor_to_image
from .errors import N2NError
from .models import SimpleCNN
from .noise import make_generator
from .runtime import resolve_device
from .tiling import apply_tiled
from .tta import _dihedral, average_dihedral, tta_transforms  # noqa: F401 (re-exported)

__all__ = [
    "pair_downsample",
    "residual_loss",
    "consistency_loss",
    "zeroshot_loss",
    "ZeroShotConfig",
    "PRESETS",
    "get_preset",
    "fit_zeroshot",
    "apply_zeroshot",
    "tta_transforms",
    "denoise_zeroshot",
    "downsampled_pair",
    "MIN_SIZE",
]

MIN_SIZE = 8  # smaller images leave the 2×-downsampled pair too little to learn from


# ------------------------------------------------------------------ the paper's equations


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
    kernels = x.new_tensor([[[0.5, 0.0], [0.0, 0.5]], [[0.0, 0.5], [0.5, 0.0]]])  # (2, 2, 2)
    weight = kernels.repeat(c, 1, 1)[:, None]  # (2C, 1, 2, 2): channel k -> outputs 2k, 2k+1
    both = F.conv2d(x, weight, stride=2, groups=c)  # (B, 2C, H/2, W/2)
    return both[:, 0::2], both[:, 1::2]


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


# ------------------------------------------------------------------ configuration


@dataclass(frozen=True)
class ZeroShotConfig:
    """Hyperparameters of ZS-N2N. The defaults are the paper's (its released code).

    Parameters
    ----------
    steps : int
        Adam steps (paper: 2000).
    lr : float
        Initial learning rate (paper: 1e-3).
    lr_milestones : tuple of float
        Fractions of ``steps`` at which the learning rate is multiplied by ``lr_gamma``;
        fractions, so that changing ``steps`` scales the schedule (paper: 1500/2000).
    lr_gamma : float
        Learning-rate factor at each milestone (paper: 0.5).
    layers : int
        Convolution layers L of the network (paper: 3).
    width : int
        Hidden channels (paper: 48).
    loss_ratio : float
        Weight ratio residual/consistency (paper: 1; ``inf`` = residual loss only).
    crop : int or None
        Train on random crops of this even size instead of the whole image (None: whole
        image, as in the paper). Makes the cost of a step independent of the image size.
    batch : int
        Crops per step (ignored without ``crop``).
    tta : bool
        Average the output over the 8 flips/rotations of the image.
    tta_budget : float or None
        With ``tta``: the megapixels × transforms that averaging may spend, so that it
        stays cheap on large images. An image of P megapixels gets the most of 8, 4 or 2
        transforms with P × n ≤ ``tta_budget``, else none (None: always 8).
    tile : int
        Inference tile size; memory is bounded by the tile, the result is unchanged.
    odd_offsets : bool
        With ``crop``: crops may also start at odd coordinates, so the downsampler pairs
        the pixels of all four 2×2 blockings of the image instead of the one the whole
        image has: four times as many distinct half-image pairs to learn from.

    Two switches were tried on crops and removed in version 0.3 because they lost
    (bsds432 crops, Gaussian 25, against ``fast`` of version 0.2 at 28.60 dB,
    ``bench/results/zeroshot_tune.csv``): leaving the border pixels out of the loss
    (``valid_loss``: 28.25 dB) and keeping the weights with the lowest loss on held-out
    crops (``select_best``: 28.51 dB). Files that name them switched off still load
    (:data:`RETIRED`).
    """

    steps: int = 2000
    lr: float = 1e-3
    lr_milestones: tuple[float, ...] = (0.75,)
    lr_gamma: float = 0.5
    layers: int = 3
    width: int = 48
    loss_ratio: float = 1.0
    crop: int | None = None
    batch: int = 1
    tta: bool = False
    tta_budget: float | None = None
    tile: int = 1024
    odd_offsets: bool = False

    def __post_init__(self):
        check_types(self, "ZS-N2N configuration")
        checks = {
            "steps": self.steps >= 1,
            "lr": self.lr > 0,
            "lr_milestones": all(0 < m <= 1 for m in self.lr_milestones),
            "lr_gamma": self.lr_gamma > 0,
            "layers": self.layers >= 2,
            "width": self.width >= 1,
            "loss_ratio": self.loss_ratio > 0,
            "crop": self.crop is None or (self.crop >= MIN_SIZE and self.crop % 2 == 0),
            "batch": self.batch >= 1,
            "tile": self.tile >= 16,
            "tta_budget": self.tta_budget is None or self.tta_budget > 0,
        }
        raise_for_invalid(self, checks, "ZS-N2N configuration")

    def with_steps(self, steps: int) -> ZeroShotConfig:
        """The same configuration with another number of steps (schedule scales with it)."""
        return replace(self, steps=steps)

    def to_dict(self) -> dict:
        """JSON-ready (:func:`noise2noise.config.to_dict`)."""
        return to_dict(self)

    @classmethod
    def from_dict(cls, data: dict) -> ZeroShotConfig:
        """The inverse of :meth:`to_dict`, strict (:func:`noise2noise.config.from_dict`);
        fields removed since (:data:`RETIRED`) are accepted at the value that meant off."""
        if isinstance(data, dict):
            retired = {k: v for k, v in data.items() if k in RETIRED}
            on = [f"{k}={v!r}" for k, v in retired.items() if v != RETIRED[k]]
            if on:
                raise ConfigError(
                    f"ZS-N2N configuration uses {', '.join(on)}, removed in version 0.3"
                )
            data = {k: v for k, v in data.items() if k not in RETIRED}
        return from_dict(cls, data, kind="ZS-N2N configuration")


# Fields of earlier versions and the value at which they did nothing.
RETIRED = {"valid_loss": False, "select_best": False}


PRESETS: dict[str, ZeroShotConfig] = {
    # Mansour & Heckel's released code: 2000 full-image steps, lr halved at step 1500.
    "paper": ZeroShotConfig(),
    # The report, section 3.2: 3000 steps, lr halved every 1000 steps.
    "report": ZeroShotConfig(steps=3000, lr_milestones=(1 / 3, 2 / 3)),
    # Ours, tuned on 256×256 crops of bsds432 training images (never on test images;
    # bench/results/zeroshot_tune*.md): the paper's network, but each step sees 8 random
    # 32×32 crops instead of the whole image, so a step costs the same for any image size,
    # and the residual loss alone (ratio inf), which skips the full-resolution pass. The
    # paper's lr 1e-3 beat 2e-3 (version 0.1) at all three tuned noises (+0.07 dB at
    # Gaussian 25, +0.37 at Gaussian 50, +0.20 at Poisson 25). On top of that, crops at
    # odd offsets plus averaging over the 8 flips/rotations gained +0.31, +0.47 and +0.36;
    # the averaging is cut to 4, 2 or 1 transforms on images above 3 megapixels so that it
    # costs at most ~24 megapixel-passes (a 12 MP photo gets 2). See the README for the
    # benchmark on test images.
    "fast": ZeroShotConfig(
        steps=1500,
        lr=1e-3,
        lr_milestones=(0.5, 0.75),
        crop=32,
        batch=8,
        loss_ratio=math.inf,
        odd_offsets=True,
        tta=True,
        tta_budget=24.0,
    ),
}
DEFAULT_PRESET = "fast"


def get_preset(preset: str | ZeroShotConfig) -> ZeroShotConfig:
    """Look a preset up by name (a ZeroShotConfig is returned as is)."""
    if isinstance(preset, ZeroShotConfig):
        return preset
    try:
        return PRESETS[preset]
    except KeyError:
        raise N2NError(
            f"unknown ZS-N2N preset '{preset}' (choose from {', '.join(PRESETS)})"
        ) from None


# ------------------------------------------------------------------ training and inference


def _crop_offsets(
    y: torch.Tensor, size: int, count: int, generator: torch.Generator, *, stride: int = 2
) -> torch.Tensor:
    """(count, 2) random (top, left) offsets of ``size`` crops in ``y`` (…, H, W), multiples
    of ``stride`` (2: the pixel pairs of the whole image's downsampling)."""
    h, w = y.shape[-2:]
    tops = stride * torch.randint(
        0, (h - min(size, h)) // stride + 1, (count,), generator=generator
    )
    lefts = stride * torch.randint(
        0, (w - min(size, w)) // stride + 1, (count,), generator=generator
    )
    return torch.stack([tops, lefts], dim=1)


def _cut(y: torch.Tensor, offsets: torch.Tensor, size: int) -> torch.Tensor:
    ch, cw = min(size, y.shape[-2]), min(size, y.shape[-1])
    return torch.cat([y[..., t : t + ch, s : s + cw] for t, s in offsets.tolist()])


def _random_crops(
    y: torch.Tensor, size: int, count: int, generator: torch.Generator, stride: int = 2
) -> torch.Tensor:
    """``count`` crops of ``y`` (1, C, H, W), at offsets that are multiples of ``stride``
    (2: even, so D1/D2 pair the same pixels as on the whole image)."""
    return _cut(y, _crop_offsets(y, size, count, generator, stride=stride), size)


def fit_zeroshot(
    noisy: torch.Tensor,
    config: ZeroShotConfig | str = DEFAULT_PRESET,
    *,
    seed: int = 0,
    progress: bool = False,
    device: torch.device | str | None = "cpu",
) -> SimpleCNN:
    """Train the ZS-N2N network on one noisy image.

    Parameters
    ----------
    noisy : Tensor
        (1, C, H, W) in [0, 1]; odd sizes are reflect-padded to even for the downsampler.
    config : ZeroShotConfig or str
        Hyperparameters or a preset name.
    seed : int
        Seeds the network initialisation and the crop positions.
    progress : bool
        Show a progress bar over the steps.
    device : torch.device or str
        Where to train (run-time setting); crops and initialisation come from CPU
        generators, so the seed means the same on every device.

    Returns
    -------
    The trained :class:`~noise2noise.models.SimpleCNN`, in eval mode, on ``device``; it
    predicts the noise.
    """
    config = get_preset(config)
    device = resolve_device(device)
    y, _ = pad_to_multiple(noisy.to(device), 2)
    with torch.random.fork_rng(devices=[]):  # seeded init without touching global state
        torch.manual_seed(seed)
        model = SimpleCNN(noisy.shape[1], width=config.width, layers=config.layers)
    model.to(device)
    generator = make_generator(seed)
    optimizer = torch.optim.Adam(model.parameters(), lr=config.lr)
    milestones = sorted({round(m * config.steps) for m in config.lr_milestones})
    scheduler = torch.optim.lr_scheduler.MultiStepLR(optimizer, milestones, config.lr_gamma)
    steps = range(config.steps)
    if progress:
        from tqdm.auto import tqdm

        steps = tqdm(steps, desc="ZS-N2N", unit="step", leave=False, disable=None)
    stride = 1 if config.odd_offsets else 2
    model.train()
    for _ in steps:
        if config.crop is None:
            batch = y
        else:
            batch = _random_crops(y, config.crop, config.batch, generator, stride=stride)
        loss = zeroshot_loss(model, batch, ratio=config.loss_ratio)
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer.step()
        scheduler.step()
    return model.eval()


@torch.no_grad()
def apply_zeroshot(
    model: SimpleCNN,
    noisy: torch.Tensor,
    *,
    tta: bool = False,
    tta_budget: float | None = None,
    tile: int = 1024,
    transforms: int | None = None,
) -> torch.Tensor:
    """Denoise with a trained ZS-N2N network: ``clip(y − f(y), 0, 1)`` (eq. 4).

    Parameters
    ----------
    model : SimpleCNN
        Returned by :func:`fit_zeroshot`.
    noisy : Tensor
        (B, C, H, W) in [0, 1], any size.
    tta : bool
        Average the predicted noise over the 8 flips/rotations.
    tta_budget : float or None
        Limit on megapixels × transforms; see :func:`tta_transforms`.
    tile : int
        Process in tiles of this size (exact: the margin covers the receptive field).
    transforms : int or None
        With ``tta``: this many flips/rotations whatever the size (for the chunks of a
        larger image, which must all get the count of the whole).

    Returns
    -------
    Tensor (B, C, H, W) in [0, 1].
    """
    n = tta_transforms(noisy[..., 0, :, :].numel(), tta_budget) if tta else 1
    if tta and transforms is not None:
        n = transforms

    def predict_noise(y: torch.Tensor) -> torch.Tensor:
        return average_dihedral(model, y, n)

    noise = apply_tiled(predict_noise, noisy, tile=tile, margin=model.receptive_radius)
    return (noisy - noise).clamp(0.0, 1.0)


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
        split off an alpha channel first); uint8, uint16 or float in [0, 1]. At least 8×8.
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
    config = get_preset(preset)
    if iterations is not None:
        config = config.with_steps(iterations)
    image = np.asarray(image)
    y = image_to_tensor(image, channel_axis=channel_axis)
    h, w = y.shape[-2:]
    if h < MIN_SIZE or w < MIN_SIZE:
        raise N2NError(f"image is {w}×{h} pixels; ZS-N2N needs at least {MIN_SIZE}×{MIN_SIZE}")
    # Dim data (e.g. 12-bit microscopy in a 16-bit container) would leave the network a
    # sliver of [0, 1] to work in; stretch it to the full range and back. Images whose
    # brightest pixel is above half the range are processed exactly as they are.
    peak = float(y.max())
    gain = dim_gain(peak)
    model = fit_zeroshot(y * gain, config, seed=seed, progress=progress, device=device)
    y = y.to(next(model.parameters()).device)
    out = apply_zeroshot(
        model, y * gain, tta=config.tta, tta_budget=config.tta_budget, tile=config.tile
    )
    return tensor_to_image(out / gain, image, channel_axis=channel_axis)


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
