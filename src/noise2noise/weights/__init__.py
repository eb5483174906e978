"""The shipped models: what each is for, its weights file per channel count, and where the
files are (this folder, installed as package data). Data only, so that both inference
(:mod:`noise2noise.pretrained`) and training (``init="pretrained:blind"``, fine-tuning a
shipped model) can find them without importing each other."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from ..errors import N2NError

__all__ = [
    "PRETRAINED",
    "PretrainedModel",
    "DEFAULT_MODEL",
    "MARGIN",
    "weights_path",
    "model_digest",
]

MARGIN = 64  # pixels of context that cover the blind network's receptive field in practice


@dataclass(frozen=True)
class PretrainedModel:
    """A shipped model: its purpose, its weights file per channel count, and how it is run.

    ``pixel_shuffle`` > 1 runs the network first on the ``s``×``s`` pixel-shuffled
    sub-images of the input (``shuffle_passes`` times, each pass on the previous one's
    output, every other pass on the grid shifted by one pixel) and then once more on the
    reassembled result (see :func:`noise2noise.pretrained.denoise`, Notes). ``shrink``:
    what the network removed beyond the image's own noise level is partly put back
    (:func:`noise2noise.residual.shrink_residual`).
    """

    description: str
    files: dict[int, str]
    pixel_shuffle: int = 1
    shuffle_passes: int = 1
    shrink: bool = False

    @property
    def context(self) -> int:
        """Pixels of context each tile (or chunk) needs on every side: the blind network's
        margin, widened by every shuffled pass, which sees ``pixel_shuffle`` times farther."""
        if self.pixel_shuffle == 1:
            return MARGIN
        return MARGIN * (self.shuffle_passes * self.pixel_shuffle + 1) + 2 * self.shuffle_passes


PRETRAINED: dict[str, PretrainedModel] = {
    # Shrinking: -0.01 to +0.01 dB on held-out bsds432 at every level and kind, up to
    # +4.1 dB on a finely textured photo at sigma 5 (bench/results/low_noise.md).
    "blind": PretrainedModel(
        "synthetic Gaussian (sigma 0-75) and Poisson (peak 5-120) noise, any level",
        {3: "blind_rgb.pt", 1: "blind_gray.pt"},
        shrink=True,
    ),
    # Two shuffled passes (the second on the grid shifted by one pixel) beat one by
    # +0.14 dB on the first 20 polyu_canon pairs, the only ones tuned on
    # (bench/results/real_tune.md, which also reports the other 35). In colour it runs the
    # blind network as trained with plain MSE: the level-weighted one of blind_rgb.pt,
    # better at low synthetic noise, leaves more camera noise (-0.34 dB on those 20 pairs).
    # No shrinking: -0.03 dB on those pairs (camera noise is not the same from pixel to
    # pixel, which the shrinking's noise level assumes).
    "real": PretrainedModel(
        "camera photos: the blind model twice on 2x2 pixel-shuffled sub-images, then refined",
        {3: "blind_rgb_mse.pt", 1: "blind_gray.pt"},
        pixel_shuffle=2,
        shuffle_passes=2,
    ),
}
DEFAULT_MODEL = "blind"


def weights_path(name: str, channels: int) -> Path:
    """The packaged weights file of model ``name`` for ``channels``-channel images."""
    model = PRETRAINED.get(name)
    if model is None:
        raise N2NError(f"unknown pretrained model '{name}' (choose from {', '.join(PRETRAINED)})")
    return Path(str(resources.files("noise2noise") / "weights" / model.files[channels]))


def model_digest(*names: str) -> str:
    """sha256 over the weights files of the models ``names``, in that order and each in
    channel order, and over how each is run (its :class:`PretrainedModel` record): what a
    cache of results made with them must match (new weights or a new way of running them
    make old results stale)."""
    digest = hashlib.sha256()
    for name in names:
        digest.update(repr(PRETRAINED[name]).encode())
        for channels in sorted(PRETRAINED[name].files):
            path = weights_path(name, channels)
            digest.update(path.read_bytes() if path.is_file() else b"missing")
    return digest.hexdigest()
