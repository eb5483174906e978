"""Training the ZS-N2N network on one noisy image (:func:`fit_zeroshot`) and applying it
(:func:`apply_zeroshot`, tiled, optionally averaged over flips and rotations)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

import numpy as np
import torch

from ..convert import dim_gain, image_to_tensor, pad_to_multiple, tensor_to_image
from ..errors import N2NError
from ..graphs import TrainStep, make_adam, set_learning_rate
from ..models import SimpleCNN
from ..noise import make_generator
from ..progress import progress_bar
from ..runtime import resolve_device
from ..tiling import apply_tiled
from ..tta import average_dihedral, tta_transforms
from .configuration import DEFAULT_PRESET, MIN_SIZE, ZeroShotConfig, get_preset
from .losses import zeroshot_loss

__all__ = ["fit_zeroshot", "apply_zeroshot"]


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


def _offsets_for_steps(
    y: torch.Tensor, size: int, count: int, steps: int, generator: torch.Generator, stride: int
) -> torch.Tensor:
    """(steps, count, 2) crop offsets of every step, drawn up front in the order a step at a
    time would draw them: moved to a GPU once, they spare it a wait for the host per step."""
    return torch.stack(
        [_crop_offsets(y, size, count, generator, stride=stride) for _ in range(steps)]
    )


def _gather_crops(images: torch.Tensor, offsets: torch.Tensor, size: int) -> torch.Tensor:
    """Crops of ``images`` (N, C, H, W) at ``offsets`` (N, B, 2) on their device, as
    (N, B, C, size, size) (sides above H or W cut to them), in one indexing operation."""
    n, _, h, w = images.shape
    ch, cw = min(size, h), min(size, w)
    rows = offsets[..., 0, None] + torch.arange(ch, device=offsets.device)  # (N, B, ch)
    cols = offsets[..., 1, None] + torch.arange(cw, device=offsets.device)  # (N, B, cw)
    which = torch.arange(n, device=offsets.device)[:, None, None, None]
    hwc = images.permute(0, 2, 3, 1)
    crops = hwc[which, rows[..., :, None], cols[..., None, :]]  # (N, B, ch, cw, C)
    return crops.permute(0, 1, 4, 2, 3).contiguous()


def rate_changes(config: ZeroShotConfig) -> dict[int, float]:
    """{step: learning rate from that step on}: the schedule of ``torch.optim.lr_scheduler.
    MultiStepLR`` stepped after every step (the rate times ``lr_gamma`` from each
    milestone), set by the loop only where it changes, so no step waits for the device."""
    rate, changes = config.lr, {}
    for m in sorted({round(m * config.steps) for m in config.lr_milestones}):
        if m < config.steps:  # a milestone 0 applies from the start, as in MultiStepLR
            rate = rate * config.lr_gamma
            changes[m] = rate
    return changes


def run_steps(
    loss_of: Callable[..., torch.Tensor],
    params: Iterable[torch.Tensor],
    config: ZeroShotConfig,
    offsets: torch.Tensor | None,
    steps: Iterable[int],
    device: torch.device,
) -> None:
    """The Adam steps of a ZS-N2N fit (one network or many): ``loss_of(offsets[step])``
    (no argument for whole-image training, ``offsets`` None), each step a
    :class:`~noise2noise.graphs.TrainStep`, the learning rate set at the milestones."""
    for _ in iter_steps(loss_of, params, config, offsets, steps, device):
        pass


def iter_steps(
    loss_of: Callable[..., torch.Tensor],
    params: Iterable[torch.Tensor],
    config: ZeroShotConfig,
    offsets: torch.Tensor | None,
    steps: Iterable[int],
    device: torch.device,
) -> Iterator[int]:
    """:func:`run_steps` one step at a time: yields each step's number once it is queued,
    so that a caller can interleave the steps of several fits (:mod:`.interleaved`)."""
    optimizer = make_adam(params, config.lr, device)
    rates = rate_changes(config)
    train_step = TrainStep(loss_of, optimizer)
    for step in steps:
        if step in rates:
            set_learning_rate(optimizer, rates[step])
        train_step(*(() if offsets is None else (offsets[step],)))
        yield step


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
    model, loss_of, offsets = _prepare(noisy, config, seed, device)
    steps = progress_bar(
        range(config.steps), desc="ZS-N2N", unit="step", leave=False, show=progress
    )
    run_steps(loss_of, model.parameters(), config, offsets, steps, device)
    return model.eval()


def start_fit(
    noisy: torch.Tensor,
    config: ZeroShotConfig,
    *,
    seed: int = 0,
    device: torch.device | str | None = "cpu",
) -> tuple[SimpleCNN, Iterator[int]]:
    """:func:`fit_zeroshot` one step at a time: the network, and an iterator that queues
    its next training step each time it is advanced (:func:`iter_steps`). Once the
    iterator is exhausted the network is trained as ``fit_zeroshot`` trains it; put it in
    eval mode before use."""
    device = resolve_device(device)
    model, loss_of, offsets = _prepare(noisy, config, seed, device)
    steps = iter_steps(loss_of, model.parameters(), config, offsets, range(config.steps), device)
    return model, steps


def _prepare(noisy: torch.Tensor, config: ZeroShotConfig, seed: int, device: torch.device):
    """The seeded network (in train mode, on ``device``), its loss of a step's crop
    offsets, and the offsets of every step (None for whole-image training)."""
    y, _ = pad_to_multiple(noisy.to(device), 2)
    with torch.random.fork_rng(devices=[]):  # seeded init without touching global state
        torch.manual_seed(seed)
        model = SimpleCNN(noisy.shape[1], width=config.width, layers=config.layers)
    model.to(device)
    generator = make_generator(seed)
    offsets = None
    if config.crop is not None:
        stride = 1 if config.odd_offsets else 2
        offsets = _offsets_for_steps(y, config.crop, config.batch, config.steps, generator, stride)
        offsets = offsets.to(device)

    def loss_of(*where: torch.Tensor) -> torch.Tensor:  # where: this step's crop offsets
        batch = y if config.crop is None else _gather_crops(y, where[0][None], config.crop)[0]
        return zeroshot_loss(model, batch, ratio=config.loss_ratio)

    return model.train(), loss_of, offsets


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


def image_tensor(image: np.ndarray, channel_axis: int | None) -> tuple[torch.Tensor, float]:
    """A user's image as the (1, C, H, W) tensor ZS-N2N trains on, and its gain.

    Dim data (e.g. 12-bit microscopy in a 16-bit container) would leave the network a
    sliver of [0, 1] to work in, so it is stretched to the full range by the gain
    (:func:`noise2noise.convert.dim_gain`; 1 for an image whose brightest pixel is above
    half the range) and scaled back by :func:`image_result`.

    Raises
    ------
    N2NError
        The image is smaller than :data:`MIN_SIZE` on a side.
    """
    y = image_to_tensor(image, channel_axis=channel_axis)
    h, w = y.shape[-2:]
    if h < MIN_SIZE or w < MIN_SIZE:
        raise N2NError(f"image is {w}×{h} pixels; ZS-N2N needs at least {MIN_SIZE}×{MIN_SIZE}")
    gain = dim_gain(float(y.max()))
    return y * gain, gain


def image_result(
    model: SimpleCNN,
    y: torch.Tensor,
    gain: float,
    config: ZeroShotConfig,
    like: np.ndarray,
    channel_axis: int | None,
) -> np.ndarray:
    """The trained ``model`` applied to ``y`` from :func:`image_tensor` (with the
    configuration's flip averaging and tiles), as an array shaped like ``like``."""
    y = y.to(next(model.parameters()).device)
    out = apply_zeroshot(model, y, tta=config.tta, tta_budget=config.tta_budget, tile=config.tile)
    return tensor_to_image(out / gain, like, channel_axis=channel_axis)
