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
    reassembled result (see :func:`noise2noise.pretrained.denoise`, Notes), except for the
    channel counts in ``direct``, whose network was trained on the noise it is for and
    runs on the image as it is, ``direct_passes`` times (each pass on the previous one's
    output). ``shrink``: what the network removed beyond the image's own noise level is
    partly put back (:func:`noise2noise.residual.shrink_residual`).
    """

    description: str
    files: dict[int, str]
    pixel_shuffle: int = 1
    shuffle_passes: int = 1
    shrink: bool = False
    direct: tuple[int, ...] = ()
    direct_passes: int = 1

    def shuffle_for(self, channels: int) -> int:
        """The pixel-shuffle stride for images of ``channels`` channels (1: none)."""
        return 1 if channels in self.direct else self.pixel_shuffle

    def passes_for(self, channels: int) -> int:
        """How many times the network runs on images of ``channels`` channels after the
        shuffled passes (each time on the previous output)."""
        return self.direct_passes if channels in self.direct else 1

    def context(self, channels: int) -> int:
        """Pixels of context each tile (or chunk) of a ``channels``-channel image needs on
        every side: the network's margin, widened by every shuffled pass, which sees
        ``pixel_shuffle`` times farther."""
        stride = self.shuffle_for(channels)
        if stride == 1:
            return MARGIN * self.passes_for(channels)
        return MARGIN * (self.shuffle_passes * stride + 1) + 2 * self.shuffle_passes


PRETRAINED: dict[str, PretrainedModel] = {
    # Shrinking: -0.01 to +0.01 dB on held-out bsds432 at every level and kind, up to
    # +4.1 dB on a finely textured photo at sigma 5 (bench/results/low_noise.md).
    "blind": PretrainedModel(
        "synthetic Gaussian (sigma 0-75) and Poisson (peak 5-120) noise, any level",
        {3: "blind_rgb.pt", 1: "blind_gray.pt"},
        shrink=True,
    ),
    # In colour: a network trained on the correlated noise of camera JPEGs (synthesised:
    # noise2noise.camera.photo_noise), run twice (the second pass on the first's output):
    # +0.13 dB over once on the first 20 polyu_canon pairs, the only ones tuned on
    # (bench/results/real_tune_photo.md, which reports the other 35 apart). On grayscale,
    # which it was not trained for: the blind gray network on 2x2 pixel-shuffled
    # sub-images (where camera noise is nearly white), twice (the second time on the grid
    # shifted by one pixel), then refined. No shrinking: camera noise is not the same from
    # pixel to pixel, which the shrinking's noise level assumes (-0.03 dB on those pairs
    # with version 0.6's method).
    "real": PretrainedModel(
        "camera photos: a network trained on the correlated noise of camera JPEGs",
        {3: "real_rgb.pt", 1: "blind_gray.pt"},
        pixel_shuffle=2,
        shuffle_passes=2,
        direct=(3,),
        direct_passes=2,
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
