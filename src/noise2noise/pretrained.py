"""Pretrained blind denoisers shipped inside the package: no download, no noise level.

Each model is a :class:`~noise2noise.models.ResUNet` trained by ``n2n train`` with noisy
targets only (Noise2Noise); the weights are package data (``noise2noise/weights``, half
precision), loaded with ``torch.load(weights_only=True)``. What each was trained on, with
which command, and how it measures: ``docs/models.md``.

``PRETRAINED`` is the one table of shipped models: a name, what it is for, and a weights
file per channel count (1: grayscale, 3: RGB).
"""

from __future__ import annotations

import functools
from dataclasses import asdict, dataclass
from importlib import resources
from pathlib import Path

import numpy as np
import torch

from .convert import image_to_tensor, tensor_to_image
from .errors import N2NError
from .models import build_model
from .runtime import autocast, resolve_device
from .tiling import apply_tiled

__all__ = ["PRETRAINED", "PretrainedModel", "denoise", "load_pretrained", "export_weights"]


@dataclass(frozen=True)
class PretrainedModel:
    """A shipped model: its purpose and its weights file per channel count."""

    description: str
    files: dict[int, str]


PRETRAINED: dict[str, PretrainedModel] = {
    "blind": PretrainedModel(
        "synthetic Gaussian (sigma 0-75) and Poisson (peak 5-120) noise, any level",
        {3: "blind_rgb.pt", 1: "blind_gray.pt"},
    ),
    "real": PretrainedModel(
        "real camera photos (half its training crops had synthetic camera noise)",
        {3: "real_rgb.pt", 1: "blind_gray.pt"},
    ),
}
DEFAULT_MODEL = "blind"
TILE, MARGIN = 512, 64  # the margin covers the network's receptive field in practice


def weights_path(name: str, channels: int) -> Path:
    """The packaged weights file of model ``name`` for ``channels``-channel images."""
    model = PRETRAINED.get(name)
    if model is None:
        raise N2NError(f"unknown pretrained model '{name}' (choose from {', '.join(PRETRAINED)})")
    return Path(str(resources.files("noise2noise") / "weights" / model.files[channels]))


@functools.lru_cache(maxsize=4)
def _load(path: str) -> torch.nn.Module:
    from .training import load_checkpoint

    payload = load_checkpoint(path)
    config = payload["config"]
    net = build_model(config.arch, payload["channels"], **config.model_options())
    net.load_state_dict({k: v.float() for k, v in payload["model"].items()})
    return net.eval()


def load_pretrained(name: str = DEFAULT_MODEL, channels: int = 3) -> torch.nn.Module:
    """The shipped network (float32, eval mode, on the CPU).

    Loaded once per process and kept (at most four), so a folder run reads each file once.

    Raises
    ------
    N2NError
        Unknown name, or the weights file is missing or not a checkpoint of this project.
    """
    path = weights_path(name, channels)
    if not path.is_file():
        raise N2NError(
            f"pretrained weights {path.name} are not installed with this package "
            "(reinstall noise2noise, or use --method zeroshot)"
        )
    return _load(str(path))


def denoise(
    image: np.ndarray,
    *,
    channel_axis: int | None = None,
    model: str = DEFAULT_MODEL,
    device: str | torch.device | None = "cpu",
    tile: int = TILE,
) -> np.ndarray:
    """Denoise an image with a shipped pretrained network: no training, no noise level.

    Parameters
    ----------
    image : ndarray
        H×W (grayscale) or with a channel axis of 1 or 3 channels (other counts are
        denoised channel by channel with the grayscale model); uint8, uint16 or float in
        [0, 1]. Any size: large images are processed in tiles, so memory stays bounded.
    channel_axis : int or None
        Axis of the channels; None for a 2-D grayscale image.
    model : str
        A key of :data:`PRETRAINED`: ``"blind"`` (default; synthetic Gaussian/Poisson-like
        noise, microscopy, scans) or ``"real"`` (camera photos).
    device : str or torch.device
        ``"cpu"`` (default), ``"cuda"``, ``"mps"`` or ``"auto"``.
    tile : int
        Tile side in pixels (each tile gets 64 pixels of context on every side).

    Returns
    -------
    ndarray with the shape and dtype of ``image``.

    Notes
    -----
    A dim image (brightest pixel below half the range, as 12-bit data in 16 bits) is
    stretched to the full range for denoising and scaled back, as for ZS-N2N.

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
    x = image_to_tensor(image, channel_axis=channel_axis)  # (1, C, H, W)
    dev = resolve_device(device)
    channels = x.shape[1]
    peak = float(x.max())
    gain = 1.0 / peak if 0.0 < peak < 0.5 else 1.0
    if channels == 3:
        out = _run(load_pretrained(model, 3), x * gain, dev, tile)
    else:  # grayscale, or channel by channel
        net = load_pretrained(model, 1)
        planes = [_run(net, x[:, c : c + 1] * gain, dev, tile) for c in range(channels)]
        out = torch.cat(planes, dim=1)
    return tensor_to_image(out / gain, image, channel_axis=channel_axis)


@torch.no_grad()
def _run(net: torch.nn.Module, x: torch.Tensor, device: torch.device, tile: int) -> torch.Tensor:
    net = net.to(device)

    def fn(t: torch.Tensor) -> torch.Tensor:
        with autocast(device):
            return net(t.to(device)).float().cpu()

    return apply_tiled(fn, x, tile=tile, margin=MARGIN).clamp(0.0, 1.0)


def export_weights(checkpoint: str | Path, target: str | Path) -> Path:
    """Write the weights of a training checkpoint in half precision, for shipping.

    The configuration travels with them, so the file alone rebuilds the network.
    """
    from .training import CHECKPOINT_FORMAT, load_checkpoint

    payload = load_checkpoint(checkpoint)
    half = {k: v.half() if v.is_floating_point() else v for k, v in payload["model"].items()}
    target = Path(target)
    torch.save(
        {
            "format": CHECKPOINT_FORMAT,
            "version": 1,
            "config": asdict(payload["config"]),
            "channels": payload["channels"],
            "model": half,
            "epoch": payload.get("epoch"),
        },
        target,
    )
    return target
