"""Training and inference from files: images from folders or named sets, a run from
the command line's options, and denoising with a trained run."""

from __future__ import annotations

import logging
import os
from collections import Counter
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

from ..baselines import estimate_sigma
from ..comparison import pair_by_name
from ..convert import (
    float_span,
    image_to_tensor,
    luminance,
    one_value,
    tensor_to_image,
    to_unit_range,
)
from ..datasets import image_set_paths
from ..errors import N2NError, Note, warn_user
from ..image_io import ImageFileError, describe_shape, list_images, read_image, split_alpha
from ..noise import (
    NoiseMixture,
    as_mixture,
    parse_noise,
    parse_training_noise,
)
from ..runtime import resolve_device
from ..tiling import apply_tiled
from ..units import scales_other_units
from .checkpoint import cached_model
from .configuration import TrainConfig
from .loop import check_run_dir, train
from .pairs import MixturePairs, RealPairs, SyntheticPairs, _as_hwc

log = logging.getLogger(__name__)


def load_training_images(
    files: Sequence[Path],
    *,
    crop: int,
    channels: int | None = None,
    strict: bool = False,
    scale_float: bool = True,
    grayscale: bool = False,
) -> tuple[list[np.ndarray], list[str]]:
    """Read training images, leaving out those that cannot serve (with a reason each).

    Unreadable files, images smaller than ``crop`` and images whose channel count differs
    from the set's (``channels``; default: the count most of the images have, colour on a
    tie) are skipped, or with ``strict`` stop the run. An alpha channel is dropped;
    ``grayscale`` takes the luminance of colour images, so that gray and colour images
    serve alike. Float data outside [0, 1] (in physical units) are scaled into it, as
    ``n2n denoise`` scales them, with a warning (unless ``scale_float`` is False: the
    captures of a scene are scaled alike, later).

    Returns
    -------
    (images, problems): the usable H×W×C arrays and one message per skipped file.
    """
    read, problems = [], []
    for f in files:
        try:
            image = _as_hwc(split_alpha(read_image(f))[0])
            if grayscale and image.shape[2] == 3:
                image = _as_hwc(luminance(image))
            if scale_float and (span := _float_span_of([image])):
                image = _scaled(image, span, f)
            if min(image.shape[:2]) < crop:
                raise N2NError(
                    f"{f}: {image.shape[1]}×{image.shape[0]} is smaller than "
                    f"the {crop}×{crop} training crop"
                )
        except (ImageFileError, ValueError) as exc:
            _skip(exc, problems, strict)
            continue
        read.append((f, image))
    hint = "" if grayscale else "; `grayscale=True` trains on the luminance of all"
    kept = _of_the_sets_channels(read, channels, problems, strict, hint)
    return [image for (_, image), keep in zip(read, kept, strict=True) if keep], problems


def _of_the_sets_channels(
    read: list[tuple[Path, np.ndarray]],
    channels: int | None,
    problems: list[str],
    strict: bool,
    hint: str = "",
) -> list[bool]:
    """Whether each (file, H×W×C image) of ``read`` has the set's channel count:
    ``channels``, by default the most common count (colour on a tie), not the first
    file's, so that which of a folder's images are left out does not depend on how they
    are named. The others are skipped, said (:func:`_skip`)."""
    counts = Counter(image.shape[2] for _, image in read)
    channels = channels or max(counts, key=lambda c: (counts[c], c), default=None)
    kept = []
    for f, image in read:
        kept.append(image.shape[2] == channels)
        if not kept[-1]:
            message = (
                f"{f}: {_kinds(image.shape[2], 1)} among {counts[channels]} "
                f"{_kinds(channels, counts[channels])}{hint}"
            )
            _skip(N2NError(message), problems, strict)
    return kept


def _kinds(channels: int, n: int) -> str:
    """'gray image', 'colour images', '2-channel image'... for a message."""
    kind = {1: "gray", 3: "colour"}.get(channels, f"{channels}-channel")
    return f"{kind} image{'' if n == 1 else 's'}"


def _skip(exc: Exception, problems: list[str], strict: bool) -> None:
    """Note a training image left out, or with ``strict`` stop on it."""
    if strict:
        raise N2NError(f"{exc} (stopping: `strict=True`)") from exc
    problems.append(str(exc))
    log.warning("skipped %s", exc)


def _float_span_of(images: list[np.ndarray]) -> tuple[float, float] | None:
    """The range float ``images`` are scaled from into [0, 1] (None: in it, or integers)."""
    floats = [i for i in images if i.dtype.kind == "f"]
    if not floats:
        return None
    return float_span(min(float(i.min()) for i in floats), max(float(i.max()) for i in floats))


def _scaled(image: np.ndarray, span: tuple[float, float], name) -> np.ndarray:
    """A float training image in physical units on [0, 1], as n2n denoise scales them."""
    log.warning("%s: float values span [%.4g, %.4g]: scaled into [0, 1] for training", name, *span)
    return to_unit_range(image, span)


def run_training(
    config: TrainConfig,
    run_dir: str | os.PathLike,
    *,
    data: str | os.PathLike | None = None,
    pairs: tuple[str | os.PathLike, str | os.PathLike] | None = None,
    clean: str | os.PathLike | None = None,
    data_root: str | os.PathLike | None = None,
    limit: int | None = None,
    resume: bool = False,
    strict: bool = False,
    progress: bool = True,
    device: str | torch.device | None = None,
) -> list[dict]:
    """Train from a folder (or set name) of clean images, or from two folders of noisy pairs.

    Parameters
    ----------
    config : TrainConfig
    run_dir : path-like
    data : folder or set name of clean images (synthetic noise ``config.noise``)
    pairs : (folder A, folder B) of noisy captures with matching file names
    clean : folder of clean references for ``pairs`` (PSNR reporting only)
    data_root : where named sets live
    limit : use only the first N images
    resume, strict, progress, device : see :func:`train` and :func:`load_training_images`

    Returns
    -------
    The history, one dict per epoch.
    """
    if (data is None) == (pairs is None):
        raise N2NError("give either clean images (`data`) or noisy pairs (`pairs`), not both")
    check_run_dir(run_dir, resume)  # before the images are read, which can take a while
    if data is not None:
        files, _ = image_set_paths(data, data_root)
        images, _ = load_training_images(
            files[:limit], crop=config.crop, strict=strict, grayscale=config.grayscale
        )
        if not images:
            raise N2NError(f"{data}: no usable training images")
        _say_if_noisy(images, data)
        noise = parse_training_noise(config.noise)
        if config.quantise_input or isinstance(noise, NoiseMixture):
            dataset = MixturePairs(
                images,
                as_mixture(config.noise),
                config.target,
                clip_target=config.clip_target,
                quantise_input=config.quantise_input,
                float_share=config.float_share,
            )
        else:
            if config.float_share > 0:
                raise N2NError("float_share needs a noise mixture or quantised inputs")
            target_noise = parse_noise(config.noise, clip=config.clip_target)
            dataset = SyntheticPairs(images, noise, config.target, target_noise)
    else:
        if config.target != "noisy":
            raise N2NError("noisy pairs have no clean target: use `target='noisy'`")
        if not config.clip_target:
            raise N2NError("unclipped targets need synthetic noise (`data`), not real pairs")
        folder_a, folder_b = map(Path, pairs)
        if folder_a.resolve() == folder_b.resolve():
            raise N2NError(f"{folder_a}: given twice: {_TWO_SHOTS}")
        scenes = _scenes(folder_a, folder_b, Path(clean) if clean else None, limit, strict)
        loaded = _load_scenes(scenes, folder_a, config, strict)
        dataset = RealPairs(loaded[0], loaded[1], loaded[2] if clean else None)
    return train(dataset, config, run_dir, resume=resume, progress=progress, device=device)


def _load_scenes(
    scenes: list[list[Path]], folder_a: Path, config: TrainConfig, strict: bool
) -> list[list[np.ndarray]]:
    """The images of ``scenes``, one list per folder (A, B, clean), a scene left out
    (said) where one of its files cannot serve: unreadable, smaller than the crop, of
    another size than its pair, or of another channel count than most scenes; with
    ``strict`` the run stops there instead."""
    read, problems = [], []
    for files in scenes:
        try:
            images = _scene(files, folder_a, config)
        except (ImageFileError, ValueError) as exc:
            _skip(exc, problems, strict)
            continue
        if np.array_equal(images[0], images[1]):  # a copy: the folders are wrong
            raise N2NError(f"{files[1]}: the same pixels as in {folder_a}: {_TWO_SHOTS}")
        read.append((files, images))
    firsts = [(files[0], images[0]) for files, images in read]  # a scene's: its A shot's
    kept = _of_the_sets_channels(firsts, None, problems, strict)
    kept = [images for (_, images), keep in zip(read, kept, strict=True) if keep]
    if not kept:
        raise N2NError(f"{folder_a}: no usable pairs ({'; '.join(problems[:3])})")
    return [list(images) for images in zip(*kept, strict=True)]


def _scene(files: list[Path], folder_a: Path, config: TrainConfig) -> list[np.ndarray]:
    """The images of one scene (captures in A and B, a clean reference), checked to be
    of one size, float data scaled alike (one range for the scene)."""
    images = load_training_images(
        files, crop=config.crop, strict=True, scale_float=False, grayscale=config.grayscale
    )[0]
    first, *others = images
    for path, other in zip(files[1:], others, strict=True):
        if _as_hwc(other).shape != _as_hwc(first).shape:
            raise N2NError(
                f"{path}: {describe_shape(other.shape)}, its pair in {folder_a} "
                f"{describe_shape(first.shape)}: the images of a scene must match"
            )
    if span := _float_span_of(images):
        images = [
            _scaled(i, span, f) if i.dtype.kind == "f" else i
            for i, f in zip(images, files, strict=True)
        ]
    return images


def _scenes(
    folder_a: Path, folder_b: Path, clean: Path | None, limit: int | None, strict: bool = False
) -> list[list[Path]]:
    """The files of each scene, [capture in ``folder_a``, in ``folder_b`` (, clean
    reference)], paired by name, extension aside (``a.png`` with ``a.tif``), for the
    first ``limit`` images of ``folder_a``; images of either folder without a pair are
    said and left out (with ``strict``, one of ``folder_a`` stops the run)."""
    first = set(list_images(folder_a)[:limit])
    pairs, alone_a = pair_by_name(folder_a, folder_b)
    if missing := [a.name for a in alone_a if a in first]:
        if strict:
            raise N2NError(
                f"{folder_b}: no match for {', '.join(missing[:5])} (stopping: `strict=True`)"
            )
        log.warning(
            "%s: %d image%s without a pair in %s left out (%s)", folder_a, len(missing),
            "" if len(missing) == 1 else "s", folder_b, ", ".join(missing[:5]),
        )  # fmt: skip
    pairs = [(a, b) for a, b in pairs if a in first]
    if limit is None and (alone := sorted({*list_images(folder_b)} - {b for _, b in pairs})):
        log.warning(
            "%s: %d image%s without a pair in %s left out (%s)", folder_b, len(alone),
            "" if len(alone) == 1 else "s", folder_a, ", ".join(p.name for p in alone[:5]),
        )  # fmt: skip
    if clean is None:
        return [[a, b] for a, b in pairs]
    references = dict(pair_by_name(folder_a, clean)[0])
    if missing := [a.name for a, _ in pairs if a not in references]:
        raise N2NError(f"{clean}: no clean reference for {', '.join(missing[:5])}")
    return [[a, b, references[a]] for a, b in pairs]


# `data` images whose median estimated noise is above this (sigma, 0-255 scale) are said to
# look noisy (bench/results/noisy_data_check.md): of the first 20 of the clean sets, median
# 2.5 at most; the same bsds432 images with Gaussian noise of sigma 10 stored as 8-bit
# files, 10.8. Real photos whose noise is mild or correlated between pixels (rni15: 5.5;
# polyu_canon's noisy shots: 0.6) look clean to it: it catches heavy, pixel-independent
# noise only.
NOISY_DATA_SIGMA = 10.0


def _say_if_noisy(images: Sequence[np.ndarray], data) -> None:
    """Warn where the clean images `data` takes look noisy (of its first 20): synthetic
    noise added to noisy photos trains a network for the sum, not for their noise."""
    sigmas = [estimate_sigma(i, channel_axis=-1) for i in images[:20]]
    if (median := float(np.median(sigmas))) > NOISY_DATA_SIGMA:
        log.warning(
            "%s: these images look noisy (median estimated noise sigma %.0f on the 0-255 "
            "scale): `data` takes clean images and adds `noise` to them; for noisy photos, "
            "train on two shots of each scene (`pairs`), or denoise each with "
            "`method='zeroshot'`",
            data,
            median,
        )


# Why a pair must be two shots: the target's noise must be independent of the input's.
_TWO_SHOTS = (
    "Noise2Noise needs two separate noisy shots of each scene (independent noise), one in "
    "each folder"
)


@scales_other_units
def denoise_with_model(
    image: np.ndarray,
    *,
    model: str | os.PathLike,
    channel_axis: int | None = None,
    tile: int = 512,
    device: str | torch.device | None = "cpu",
) -> np.ndarray:
    """Denoise with a network trained by :func:`train` (N2N or N2C), tiled for large images.

    Parameters
    ----------
    image : ndarray
        H×W or with a channel axis; uint8, uint16 or float in [0, 1]. Gray or RGB: a gray
        model denoises each colour of an RGB image as a gray image, an RGB model a gray
        image as a colourless photo (both said in a note).
    model : path-like
        A run folder (its ``best.pt``) or a checkpoint file.
    channel_axis : int or None
    tile : int
        Tile side; each tile gets 32 pixels of context on every side.
    device : str or torch.device
        Where to run the network (``"cpu"``, ``"cuda"``, ``"mps"``, ``"auto"``).

    Returns
    -------
    ndarray with the shape and dtype of ``image``.
    """
    net = cached_model(model)
    x = image_to_tensor(image, channel_axis=channel_axis)
    # Image channels: the input channels of the first convolution, unless the network
    # folds pixels into channels first (ResUNet) and says its channel count itself.
    expected = getattr(net, "channels", next(net.parameters()).shape[1])
    given = x.shape[1]
    if (given, expected) == (3, 1):  # a gray model on colour: each channel as gray
        warn_user("a gray model on a colour image: each colour denoised as a gray image", Note)
        x = x.transpose(0, 1)
    elif (given, expected) == (1, 3):  # a colour model on gray: as a neutral gray photo
        warn_user("a colour model on a gray image: denoised as a colourless photo", Note)
        x = x.expand(1, 3, *x.shape[2:])
    elif given != expected:
        raise N2NError(
            f"the model was trained on {expected}-channel images, this image has {given}"
        )
    if one_value(image):
        return image.copy()
    dev = resolve_device(device)
    net = net.to(dev)
    with torch.no_grad():
        out = apply_tiled(lambda t: net(t.to(dev)).cpu(), x, tile=tile, margin=32)
    out = out.clamp(0.0, 1.0)
    if given != expected:  # back to the image's own channels
        out = out.transpose(0, 1) if given == 3 else out.mean(dim=1, keepdim=True)
    return tensor_to_image(out, image, channel_axis=channel_axis)
