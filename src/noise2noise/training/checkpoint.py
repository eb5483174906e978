"""The checkpoint format: weights with the configuration that built them, saved
atomically, loaded without running code and checked before any network is built."""

from __future__ import annotations

import functools
import hashlib
import os
from dataclasses import asdict
from pathlib import Path

import torch

from ..errors import N2NError
from ..files import write_atomically
from ..models import build_model
from ..weights import weights_path
from .configuration import CHECKPOINT_FORMAT, TrainConfig

PRETRAINED_PREFIX = "pretrained:"


class CheckpointError(N2NError):
    """A file that is not a checkpoint of this project."""


def save_checkpoint(
    path: Path,
    model: torch.nn.Module | dict[str, torch.Tensor],
    config: TrainConfig,
    channels: int,
    **extra,
) -> None:
    """Atomically save weights (a model's, or a state dict) with the configuration that
    built them."""
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": 1,
        "config": asdict(config),
        "channels": channels,
        "model": model if isinstance(model, dict) else model.state_dict(),
        **extra,
    }
    write_atomically(path, lambda tmp: torch.save(payload, tmp))


def checkpoint_file(path: str | os.PathLike) -> Path:
    """The file a checkpoint path means: a run folder's ``best.pt``, or the path itself."""
    path = Path(path)
    return path / "best.pt" if path.is_dir() else path


def load_checkpoint(path: str | os.PathLike) -> dict:
    """Load a checkpoint without executing code from the file (``weights_only=True``).

    ``path`` may be a run folder (its ``best.pt`` is used) or a ``.pt`` file.

    Raises
    ------
    CheckpointError
        Missing, unreadable, or not written by this project.
    """
    path = checkpoint_file(path)
    if not path.is_file():
        raise CheckpointError(f"{path}: no such checkpoint (train one with 'n2n train')")
    with open(path, "rb") as f:
        head = f.read(2)
    if head != b"PK" and head[:1] != b"\x80":  # a zip archive, or a pickle (legacy format)
        raise CheckpointError(f"{path}: not a noise2noise checkpoint (not a PyTorch file)")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # pickle, zip and torch errors alike
        raise CheckpointError(
            f"{path}: not a noise2noise checkpoint ({_load_reason(exc)})"
        ) from exc
    if not isinstance(payload, dict) or payload.get("format") != CHECKPOINT_FORMAT:
        raise CheckpointError(f"{path}: not a noise2noise checkpoint")
    payload["config"] = _checked_config(path, payload)
    _check_state(path, payload)
    return payload


def _load_reason(exc: Exception) -> str:
    """Why ``torch.load`` refused a file, in a few words and never cut mid-word."""
    text = str(exc).strip()
    if "Weights only load failed" in text or "weights_only" in text:
        return "it holds Python objects besides weights, which are not loaded (they could run code)"
    first = text.splitlines()[0] if text else type(exc).__name__
    return first if len(first) <= 120 else first[:120].rsplit(" ", 1)[0] + " ..."


def _checked_config(path: Path, payload: dict) -> TrainConfig:
    """The checkpoint's configuration, checked as strictly as one given to ``n2n train``."""
    config, channels = payload.get("config"), payload.get("channels")
    if not isinstance(config, dict):
        raise CheckpointError(f"{path}: the checkpoint has no training configuration")
    if not isinstance(channels, int) or isinstance(channels, bool) or channels not in (1, 3):
        raise CheckpointError(f"{path}: bad field 'channels' ({channels!r}; 1 or 3)")
    try:
        return TrainConfig.from_dict(config)
    except (ValueError, TypeError) as exc:
        raise CheckpointError(f"{path}: bad configuration in the checkpoint ({exc})") from None


def _check_state(path: Path, payload: dict) -> None:
    """The weights must have exactly the names and shapes of the network the
    configuration describes; it is built on the ``meta`` device, which allocates nothing."""
    state = payload.get("model")
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        raise CheckpointError(f"{path}: the checkpoint's weights are not a state dict")
    config = payload["config"]
    with torch.device("meta"):
        expected = build_model(config.arch, payload["channels"], **config.model_options())
    shapes = {k: tuple(v.shape) for k, v in expected.state_dict().items()}
    missing = sorted(set(shapes) - set(state))
    extra = sorted(set(state) - set(shapes))
    if missing or extra:
        name, kind = (missing[0], "missing") if missing else (extra[0], "unexpected")
        raise CheckpointError(
            f"{path}: weights do not match the {config.arch} the configuration describes "
            f"({kind} tensor '{name}')"
        )
    for key, shape in shapes.items():
        if tuple(state[key].shape) != shape:
            raise CheckpointError(
                f"{path}: weights do not match the {config.arch} the configuration describes "
                f"(tensor '{key}' has shape {tuple(state[key].shape)}, expected {shape})"
            )
        if state[key].is_floating_point() and not torch.isfinite(state[key]).all():
            raise CheckpointError(f"{path}: tensor '{key}' holds NaN or infinite values")


def load_model(path: str | os.PathLike) -> tuple[torch.nn.Module, TrainConfig]:
    """The trained network (eval mode) and its configuration from a run folder or file.

    The checkpoint is checked (:func:`load_checkpoint`) before the network is built."""
    payload = load_checkpoint(path)
    config = payload["config"]
    model = build_model(config.arch, payload["channels"], **config.model_options())
    model.load_state_dict(payload["model"])
    return model.eval(), config


def initial_weights(config: TrainConfig, channels: int) -> tuple[dict[str, torch.Tensor], dict]:
    """The weights ``config.init`` names, checked to fit the network ``config`` builds for
    ``channels``-channel images (fine-tuning starts from them), and where they came from:
    ``{"init", "file", "sha256"}``, since a name such as ``pretrained:blind`` means
    whichever weights the installed version ships.

    Raises
    ------
    N2NError
        Unknown shipped model, unreadable checkpoint, or weights of another network.
    """
    init = config.init
    if init.startswith(PRETRAINED_PREFIX):
        path = weights_path(init[len(PRETRAINED_PREFIX) :], channels)
    else:
        path = checkpoint_file(init)
    payload = load_checkpoint(path)
    origin = {
        "init": init,
        "file": str(path.resolve()),
        "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
    }
    source = payload["config"]
    theirs = (source.arch, payload["channels"], source.model_options())
    ours = (config.arch, channels, config.model_options())
    if theirs != ours:
        raise N2NError(
            f"`init` weights {init} are a {_network(*theirs)}; the configuration builds a "
            f"{_network(*ours)} (set the network's size to theirs)"
        )
    weights = {k: v.float() if v.is_floating_point() else v for k, v in payload["model"].items()}
    return weights, origin


def _network(arch: str, channels: int, options: dict) -> str:
    sizes = ", ".join(f"{k} {v}" for k, v in options.items())
    return f"{arch} for {channels}-channel images ({sizes})"


def cached_model(path: str | os.PathLike) -> torch.nn.Module:
    """:func:`load_model`'s network, loaded once per process for as long as the file is
    unchanged (a folder run reads it once); at most four are kept."""
    return cached_model_and_config(path)[0]


def cached_model_and_config(path: str | os.PathLike) -> tuple[torch.nn.Module, TrainConfig]:
    """:func:`load_model`, cached as :func:`cached_model` is."""
    path = checkpoint_file(path)
    mtime = path.stat().st_mtime if path.exists() else 0.0
    return _cached(str(path.resolve()), mtime)


@functools.lru_cache(maxsize=4)
def _cached(path: str, mtime: float) -> tuple[torch.nn.Module, TrainConfig]:
    return load_model(path)
