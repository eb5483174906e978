"""Pretrained blind denoisers shipped inside the package: no download, no noise level.

Each model is a :class:`~noise2noise.models.ResUNet` trained by ``n2n train`` with noisy
targets only (Noise2Noise); the weights are package data (``noise2noise/weights``, half
precision), loaded with ``torch.load(weights_only=True)``. What each was trained on, with
which command, and how it measures: ``docs/models.md``.

``PRETRAINED`` (defined in :mod:`noise2noise.weights`, beside the files) is the one table
of shipped models: a name, what it is for, and a weights file per channel count (1:
grayscale, 3: RGB).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from .convert import dim_gain, image_to_tensor, one_value, pad_to_multiple, tensor_to_image
from .errors import N2NError, Note, warn_user
from .estimate import choose_model, describe_choice
from .progress import progress_bar
from .residual import shrink_residual
from .runtime import inference_autocast, resolve_device
from .tiling import apply_tiled, tile_count
from .training import TrainConfig, load_checkpoint, load_model, save_checkpoint
from .training.checkpoint import cached_model_and_config
from .tta import TTA_ORDER, average_dihedral, tta_transforms
from .units import scales_other_units
from .weights import DEFAULT_MODEL, MARGIN, PRETRAINED, PretrainedModel, weights_path

__all__ = [
    "PRETRAINED",
    "PretrainedModel",
    "denoise",
    "denoise_auto",
    "load_pretrained",
    "export_weights",
    "pixel_shuffle_apply",
]


TILE = 512
# Flip/rotation averaging: 4 transforms up to 3 megapixels, 2 up to 6, none above, so a
# 12-megapixel photo stays within a minute on 2 cores (gain per count:
# bench/results/pretrained_tta.md).
TTA_BUDGET, TTA_MOST = 12.0, 4


def load_pretrained(name: str = DEFAULT_MODEL, channels: int = 3) -> torch.nn.Module:
    """The shipped network (float32, eval mode, on the CPU).

    Loaded once per process and kept (at most four), so a folder run reads each file once.

    Raises
    ------
    N2NError
        Unknown name, or the weights file is missing or not a checkpoint of this project.
    """
    return _load(name, channels)[0]


def _load(name: str, channels: int) -> tuple[torch.nn.Module, TrainConfig]:
    """The shipped network and the configuration it was trained with (cached)."""
    path = weights_path(name, channels)
    if not path.is_file():
        raise N2NError(
            f"pretrained weights {path.name} are not installed with this package "
            "(reinstall noise2noise, or use `method='zeroshot'`)"
        )
    return cached_model_and_config(path)  # half-precision weights: float32 parameters


@scales_other_units
def denoise(
    image: np.ndarray,
    *,
    channel_axis: int | None = None,
    model: str = DEFAULT_MODEL,
    device: str | torch.device | None = "cpu",
    tile: int = TILE,
    tta: bool | int = True,
    peak: float | None = None,
    shrink: bool | None = None,
    progress: bool = False,
) -> np.ndarray:
    """Denoise an image with a shipped pretrained network: no training, no noise level.

    Parameters
    ----------
    image : ndarray
        H×W (grayscale) or with a channel axis of 1 or 3 channels (other counts are
        denoised channel by channel with the grayscale model); uint8, uint16 or float in
        [0, 1] (float data in other units are scaled into it and back, with a note:
        :mod:`noise2noise.units`). Any size: large images are processed in tiles, so
        memory stays bounded.
    channel_axis : int or None
        Axis of the channels; None for a 2-D grayscale image.
    model : str
        A key of :data:`PRETRAINED`: ``"blind"`` (default; synthetic Gaussian/Poisson-like
        noise, microscopy, scans) or ``"real"`` (camera photos); or ``"auto"``: ``"real"``
        where the image's noise is correlated between neighbouring pixels, as in camera
        photos, else ``"blind"`` (:func:`noise2noise.estimate.choose_model`).
    device : str or torch.device
        ``"cpu"`` (default), ``"cuda"``, ``"mps"`` or ``"auto"``.
    tile : int
        Tile side in pixels (each tile gets 64 pixels of context on every side).
    tta : bool or int
        Average over flips/rotations: 4 of them up to 3 megapixels, 2 up to 6, none above
        (each costs one more pass of the network); an int gives the count (1, 2, 4 or 8).
    peak : float or None
        The brightest value of the whole image in [0, 1] units, when ``image`` is a part
        of it (chunked processing), so that every part is scaled alike; None: this
        image's own.
    shrink : bool or None
        Put back the part of what the network removed that exceeds the image's own noise
        (:func:`noise2noise.residual.shrink_residual`): the texture a blind network takes
        for noise in a photo with little noise. None (default): as the model is shipped to
        run (``PRETRAINED[model].shrink``: ``blind`` does, ``real`` does not).
    progress : bool
        Show the tiles done, for an image of more than one tile.

    Returns
    -------
    ndarray with the shape and dtype of ``image``.

    Notes
    -----
    The ``"real"`` model, in colour, is a network trained (with noisy targets only) on
    synthetic noise like that of camera JPEGs: luma grain and colour blotches, correlated
    between neighbouring pixels (:func:`noise2noise.camera.photo_noise`); it runs twice,
    the second time on the first pass's output. On grayscale it runs the blind gray
    network on the four 2×2 pixel-shuffled sub-images, where such noise is nearly
    independent, twice (the second time on the grid shifted by one pixel), then once more
    on the reassembled result. Measured in ``bench/results/real_noise.md``.

    A dim image (brightest pixel below half the range, as 12-bit data in 16 bits) is
    stretched to the full range for denoising and scaled back, as for ZS-N2N.

    The network runs in bf16 on CUDA and on a CPU with bf16 in hardware (AVX-512 BF16 or
    AMX: about twice as fast there, PSNR within 0.01 dB; environment variable
    ``N2N_CPU_BF16=0`` keeps float32, :func:`noise2noise.runtime.inference_autocast`).

    Examples
    --------
    >>> import numpy as np
    >>> from noise2noise import add_noise, denoise, psnr
    >>> clean = np.tile(np.linspace(0, 1, 64, dtype=np.float32), (64, 1))
    >>> noisy = add_noise(clean, "gaussian:25", seed=0)
    >>> out = denoise(noisy)
    >>> out.shape, out.dtype, psnr(out, clean) > psnr(noisy, clean) + 5
    ((64, 64), dtype('float32'), True)
    """
    image = np.asarray(image)
    if not 0 <= tta <= len(TTA_ORDER) or tile < 1:  # tta=100 divided the sum of 8 by 100
        raise N2NError(
            f"tta must be True, False or a count of 1 to {len(TTA_ORDER)} flips/rotations, "
            f"and tile at least 1 pixel; got tta={tta!r}, tile={tile!r}"
        )
    if model == "auto":
        model, _ = choose_model(image, channel_axis=channel_axis)
    x = image_to_tensor(image, channel_axis=channel_axis)  # (1, C, H, W)
    if one_value(image):
        return image.copy()
    dev = resolve_device(device)
    channels = x.shape[1]
    peak = float(x.max()) if peak is None else peak
    gain = dim_gain(peak)
    net, config = _load(model, 3 if channels == 3 else 1)  # else gray, channel by channel
    # A network trained on clipped 8-bit inputs only gets float data outside [0, 1]
    # (unclipped synthetic noise, the `float` rows of bench/results/pretrained.md) clipped
    # first, which did better than feeding it as is; one trained on a share of unclipped
    # float inputs (`float_share`) sees them as they are. The output is in [0, 1] anyway.
    if config.float_share == 0:
        x = x.clamp(0.0, 1.0 / gain)
    n = transforms_for(x.shape[-2] * x.shape[-1]) if tta is True else max(int(tta), 1)
    planes = [x] if channels == 3 else [x[:, c : c + 1] for c in range(channels)]
    spec = PRETRAINED[model]
    total = len(planes) * _tiles(spec, planes[0].shape, tile)
    large = tile_count(x.shape[-2], x.shape[-1], tile) > 1  # else seconds at most: no bar
    bar = progress_bar(total=total, unit="tile", desc="denoising", show=progress and large)
    with bar:
        out = torch.cat([_run(net, p * gain, dev, tile, spec, n, bar.update) for p in planes], 1)
    if spec.shrink if shrink is None else shrink:
        out = _shrink(x * gain, out)
    return tensor_to_image(out / gain, image, channel_axis=channel_axis)


def _shrink(noisy: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
    """:func:`~noise2noise.residual.shrink_residual` on (1, C, H, W) tensors."""
    hwc = lambda t: t[0].permute(1, 2, 0).numpy()  # noqa: E731
    kept = shrink_residual(hwc(noisy.float()), hwc(out))
    return torch.from_numpy(np.ascontiguousarray(kept.transpose(2, 0, 1)))[None]


@scales_other_units
def denoise_auto(
    image: np.ndarray,
    *,
    channel_axis: int | None = None,
    device: str | None = "cpu",
    progress: bool = False,
) -> np.ndarray:
    """The shipped model that suits the image's noise (:func:`~noise2noise.estimate.
    choose_model`: ``real`` for noise correlated between neighbouring pixels, as in camera
    photos, else the blind model of ``pretrained``); the choice is said as a
    :class:`~noise2noise.errors.Note`, which file runs print."""
    model, estimate = choose_model(image, channel_axis=channel_axis)
    warn_user(Note(describe_choice(model, estimate)))
    return denoise(image, channel_axis=channel_axis, model=model, device=device, progress=progress)


def transforms_for(pixels: int) -> int:
    """How many flips/rotations :func:`denoise` averages for an image of ``pixels``."""
    return tta_transforms(pixels, TTA_BUDGET, most=TTA_MOST)


def pixel_shuffle_apply(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, stride: int, shift: int = 0
) -> torch.Tensor:
    """``fn`` applied to the ``stride``² pixel-shuffled sub-images of ``x`` (1, C, H, W),
    reassembled: sub-image (i, j) holds the pixels ``x[..., i::stride, j::stride]``.

    Neighbouring pixels of a sub-image are ``stride`` pixels apart in ``x``, so noise that
    is correlated over a short distance (demosaicing, JPEG) is nearly white there
    (Zhou et al. 2020, "When AWGN-based denoiser meets real noises").
    """
    h, w = x.shape[-2:]
    if shift:  # the grid of sub-images moved by `shift` pixels down and right
        mode = "reflect" if shift < min(h, w) else "replicate"  # reflection needs room
        x = F.pad(x, (shift, 0, shift, 0), mode=mode)
    x, _ = pad_to_multiple(x, stride)
    c = x.shape[1]
    sub = F.pixel_unshuffle(x, stride)  # (1, C·s², H/s, W/s), channel-major
    hs, ws = sub.shape[-2:]
    sub = sub.view(c, stride * stride, hs, ws).transpose(0, 1)  # (s², C, H/s, W/s)
    out = fn(sub.contiguous())
    out = out.transpose(0, 1).reshape(1, c * stride * stride, hs, ws)
    return F.pixel_shuffle(out, stride)[..., shift : shift + h, shift : shift + w]


@torch.no_grad()
def _run(
    net: torch.nn.Module,
    x: torch.Tensor,
    device: torch.device,
    tile: int,
    spec: PretrainedModel,
    transforms: int = 1,
    on_tile: Callable[[], None] | None = None,
) -> torch.Tensor:
    # Channels-last: the layout oneDNN's and cuDNN's fastest convolutions use (a 640-pixel
    # tile on this project's 2-core CPU: 0.34 s -> 0.24 s, the same output within 1e-6).
    net = net.to(device, memory_format=torch.channels_last)

    def once(t: torch.Tensor) -> torch.Tensor:
        t = t.to(device).contiguous(memory_format=torch.channels_last)
        with inference_autocast(device):
            return net(t).float().cpu().contiguous()

    def fn(t: torch.Tensor) -> torch.Tensor:
        return average_dihedral(once, t, transforms)

    def tiled(t: torch.Tensor) -> torch.Tensor:  # the network over any size, in tiles
        return apply_tiled(fn, t, tile=tile, margin=MARGIN, on_tile=on_tile)

    # Each pass is tiled on its own, the shuffled ones on the sub-images, with the
    # network's margin: tiling the passes together needed the context of all of them
    # (spec.context, 324 pixels for `real` on grayscale) around every tile, 5 times the
    # work of a 512-pixel tile on a 12-megapixel photo (bench/results/real_large.md). An
    # image of at most one tile gets exactly the same computation either way.
    stride = spec.shuffle_for(x.shape[1])
    for shift in _passes(spec, x.shape[1]):
        x = tiled(x) if shift is None else pixel_shuffle_apply(tiled, x, stride, shift=shift)
        x = x.clamp(0.0, 1.0)
    return x


def _passes(spec: PretrainedModel, channels: int) -> list[int | None]:
    """The passes :func:`_run` makes over an image of ``channels``: the grid shift of each
    pass on pixel-shuffled sub-images, then None for each pass on the whole image."""
    shuffled = spec.shuffle_passes if spec.shuffle_for(channels) > 1 else 0
    return [k % 2 for k in range(shuffled)] + [None] * spec.passes_for(channels)


def _tiles(spec: PretrainedModel, shape: tuple[int, ...], tile: int) -> int:
    """The tiles :func:`_run` goes through for one plane of ``shape`` (1, C, H, W): a
    shuffled pass tiles sub-images of the (shifted, padded) plane ``stride`` times smaller."""
    c, h, w = shape[1:]
    s = spec.shuffle_for(c)
    return sum(
        tile_count(h, w, tile)
        if shift is None
        else tile_count(-(-(h + shift) // s), -(-(w + shift) // s), tile)
        for shift in _passes(spec, c)
    )


def export_weights(checkpoint: str | Path, target: str | Path) -> Path:
    """Write the weights of a training checkpoint in half precision, for shipping.

    The configuration travels with them, so the file alone rebuilds the network.
    """
    payload = load_checkpoint(checkpoint)
    net, config = load_model(checkpoint)
    target = Path(target)
    save_checkpoint(target, net.half(), config, payload["channels"], epoch=payload.get("epoch"))
    return target
