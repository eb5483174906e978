"""Noise2Noise and Noise2Clean training: one loop for every model and every target.

Lehtinen et al. 2018: with zero-mean noise and an L2 loss, training against a second noisy
image of the same scene has the same minimiser as training against the clean image, since
E‖f(x̂) − (y + n)‖² = E‖f(x̂) − y‖² + E‖n‖² when n is independent of the input. So the loss
is MSE, and the only difference between N2N and N2C is which target the sampler hands over.

A run folder holds ``config.json``, ``weights.pt`` (last epoch), ``best.pt`` (best
validation loss), ``state.pt`` (what ``--resume`` needs), ``history.csv`` and
``history.png``. Every epoch draws its crops and noise from a generator seeded by
(seed, epoch), so a resumed run ends exactly where an uninterrupted one would.

The package's modules, one concept each:

- :mod:`~noise2noise.training.configuration`: ``TrainConfig`` and the presets;
- :mod:`~noise2noise.training.pairs`: the pair sources the loop draws batches from;
- :mod:`~noise2noise.training.checkpoint`: the checkpoint format, saved atomically and
  checked before any network is built;
- :mod:`~noise2noise.training.loop`: ``train``, the loop and its run folder;
- :mod:`~noise2noise.training.api`: training from files and inference with a run.
"""

from .api import denoise_with_model, load_training_images, run_training
from .checkpoint import CheckpointError, load_checkpoint, load_model, save_checkpoint
from .configuration import (
    CHECKPOINT_FORMAT,
    MAX_DEPTH,
    MAX_WIDTH,
    TRAIN_PRESETS,
    TrainConfig,
    train_preset,
)
from .loop import HISTORY_FIELDS, read_history, train
from .pairs import MixturePairs, RealPairs, SyntheticPairs, split_indices

__all__ = [
    "TrainConfig",
    "TRAIN_PRESETS",
    "train_preset",
    "SyntheticPairs",
    "RealPairs",
    "MixturePairs",
    "split_indices",
    "train",
    "save_checkpoint",
    "load_checkpoint",
    "CheckpointError",
    "load_model",
    "load_training_images",
    "run_training",
    "denoise_with_model",
    "read_history",
    "HISTORY_FIELDS",
    "CHECKPOINT_FORMAT",
    "MAX_WIDTH",
    "MAX_DEPTH",
]
