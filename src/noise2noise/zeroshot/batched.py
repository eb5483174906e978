"""ZS-N2N for many images at once: one network per image, all trained in the same steps.

On a GPU one small image leaves the device nearly idle (a step of the paper's network
costs about the same on 256×256 as on 768×512), so a folder is faster when the networks
of many images train together. Here the N networks' weights are stacked
(``torch.func.stack_module_state``) and run as grouped convolutions: the N images' crops
are laid side by side as N groups of channels, and every convolution has N groups, so
each network sees only its own image, in one kernel per layer for all N. The loss is the
sum of the N losses, whose gradient for network i is the gradient of its own loss (the
mean over all N groups is their sum divided by N), and Adam updates every weight
separately; so with the same seed each network gets the same initialisation, the same
crops and the same updates as :func:`~.fit.fit_zeroshot` gives it alone, up to
floating-point rounding (``tests/test_zeroshot.py`` checks a batch of 3 against 3 single
runs).
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch.func import stack_module_state

from ..convert import one_value, pad_to_multiple
from ..errors import N2NError
from ..models import SimpleCNN
from ..noise import make_generator
from ..progress import progress_bar
from ..runtime import resolve_device
from .configuration import DEFAULT_PRESET, ZeroShotConfig, get_preset
from .fit import _gather_crops, _offsets_for_steps, image_result, image_tensor, run_steps
from .losses import zeroshot_loss

__all__ = ["fit_zeroshot_batch", "denoise_zeroshot_batch", "group_key"]


def group_key(shape: Sequence[int], config: ZeroShotConfig) -> tuple[int, ...]:
    """Images whose networks can train in one batch share this key: the channel count and
    the shape of what a step sees (a crop, or the whole even-padded image)."""
    c, h, w = shape[-3], shape[-2] + shape[-2] % 2, shape[-1] + shape[-1] % 2
    if config.crop is None:
        return (c, h, w)
    return (c, min(config.crop, h), min(config.crop, w))


def fit_zeroshot_batch(
    noisy: Sequence[torch.Tensor],
    config: ZeroShotConfig | str = DEFAULT_PRESET,
    *,
    seed: int = 0,
    progress: bool = False,
    device: torch.device | str | None = "cpu",
) -> list[SimpleCNN]:
    """Train one ZS-N2N network per image, all in the same steps.

    Parameters
    ----------
    noisy : sequence of Tensor
        Each (1, C, H, W) in [0, 1], all with the same :func:`group_key`.
    config : ZeroShotConfig or str
    seed : int
        Every network is seeded with it, as a single-image run of each would be.
    progress : bool
        Show a progress bar over the steps.
    device : torch.device or str

    Returns
    -------
    The trained networks, in the order of ``noisy``, in eval mode on ``device``.

    Raises
    ------
    N2NError
        The images need different batches (see :func:`group_key`).
    """
    config = get_preset(config)
    device = resolve_device(device)
    if not noisy:
        return []
    keys = {group_key(y.shape, config) for y in noisy}
    if len(keys) > 1:
        raise N2NError(f"images of {len(keys)} kinds cannot train in one batch: group them")
    ys = [pad_to_multiple(y.to(device), 2)[0] for y in noisy]
    channels = ys[0].shape[1]
    models = []
    for _ in ys:
        with torch.random.fork_rng(devices=[]):  # as fit_zeroshot initialises each
            torch.manual_seed(seed)
            models.append(SimpleCNN(channels, width=config.width, layers=config.layers))
    params, _ = stack_module_state(models)
    params = {k: v.detach().to(device).requires_grad_() for k, v in params.items()}
    n = len(ys)

    def net(x: torch.Tensor) -> torch.Tensor:  # (B, N·C, H, W): the N networks at once
        return _grouped_forward(params, x, n, config.layers, models[0].negative_slope)

    offsets = None
    if config.crop is None:
        whole = torch.cat(ys, dim=1)  # (1, N·C, H, W): one shape in a group
    else:  # each image its own generator, as alone; stacked, padded to the largest
        stride = 1 if config.odd_offsets else 2
        offsets = torch.stack(
            [
                _offsets_for_steps(
                    y, config.crop, config.batch, config.steps, make_generator(seed), stride
                )
                for y in ys
            ],
            dim=1,
        ).to(device)  # (steps, N, batch, 2)
        h, w = max(y.shape[-2] for y in ys), max(y.shape[-1] for y in ys)
        images = ys[0].new_zeros(len(ys), channels, h, w)
        for i, y in enumerate(ys):  # crops never reach the padding: offsets are each image's
            images[i, :, : y.shape[-2], : y.shape[-1]] = y[0]
    steps = progress_bar(
        range(config.steps), desc=f"ZS-N2N ×{len(ys)}", unit="step", leave=False, show=progress
    )

    def loss_of(*where: torch.Tensor) -> torch.Tensor:  # where: this step's crop offsets
        if config.crop is None:
            batch = whole
        else:  # (N, batch, C, c, c) -> (batch, N·C, c, c): image i in channel group i
            crops = _gather_crops(images, where[0], config.crop).transpose(0, 1)
            batch = crops.reshape(config.batch, -1, *crops.shape[-2:])
        # N times the mean over the N groups: the sum of the N networks' own losses
        return n * zeroshot_loss(net, batch, ratio=config.loss_ratio)

    run_steps(loss_of, params.values(), config, offsets, steps, device)
    for i, model in enumerate(models):
        model.load_state_dict({k: v[i].detach() for k, v in params.items()})
        model.to(device).eval()
    return models


def _grouped_forward(
    params: dict[str, torch.Tensor], x: torch.Tensor, n: int, layers: int, slope: float
) -> torch.Tensor:
    """:class:`~noise2noise.models.SimpleCNN`'s forward pass for N networks whose weights
    are stacked in ``params`` (``stack_module_state`` of N of them), on ``x`` (B, N·C, H, W)
    holding network i's input in channel group i: every convolution with N groups."""
    y = x
    for i in range(layers - 1):
        weight, bias = params[f"hidden.{i}.weight"], params[f"hidden.{i}.bias"]
        y = F.conv2d(y, weight.flatten(0, 1), bias.flatten(), padding=1, groups=n)
        y = F.leaky_relu(y, slope)
    weight, bias = params["out.weight"], params["out.bias"]
    return F.conv2d(y, weight.flatten(0, 1), bias.flatten(), groups=n)


def denoise_zeroshot_batch(
    images: Sequence[np.ndarray],
    *,
    preset: str | ZeroShotConfig = DEFAULT_PRESET,
    iterations: int | None = None,
    seed: int = 0,
    channel_axis: int | None = None,
    group_size: int = 32,
    progress: bool = False,
    device: torch.device | str | None = "cpu",
) -> list[np.ndarray]:
    """:func:`~noise2noise.zeroshot.denoise_zeroshot` for many images, their networks
    trained together (see the module docstring); each result is that of denoising the
    image alone with the same seed, up to floating-point rounding.

    Parameters
    ----------
    images : sequence of ndarray
        As for ``denoise_zeroshot`` (any sizes, dtypes and channel counts: images are
        grouped by :func:`group_key`, at most ``group_size`` networks per batch).
    preset, iterations, seed, channel_axis, progress, device
        As for ``denoise_zeroshot``.
    group_size : int
        Networks trained at once; memory grows with it.

    Returns
    -------
    list of ndarray, each with the shape and dtype of its image.
    """
    config = get_preset(preset, steps=iterations)
    images = [np.asarray(image) for image in images]
    prepared = [image_tensor(image, channel_axis) for image in images]  # (tensor, gain)
    tensors = [y for y, _ in prepared]
    gains = [gain for _, gain in prepared]
    groups: dict[tuple, list[int]] = {}
    for i, y in enumerate(tensors):
        groups.setdefault(group_key(y.shape, config), []).append(i)
    results: list[np.ndarray | None] = [None] * len(tensors)
    for members in groups.values():
        for i in [i for i in members if one_value(images[i])]:  # no noise: as it is
            results[i] = images[i].copy()
        members = [i for i in members if results[i] is None]
        for start in range(0, len(members), group_size):
            part = members[start : start + group_size]
            nets = fit_zeroshot_batch(
                [tensors[i] for i in part], config, seed=seed, progress=progress, device=device
            )
            for i, net in zip(part, nets, strict=True):
                results[i] = image_result(
                    net, tensors[i], gains[i], config, images[i], channel_axis
                )
    return results
