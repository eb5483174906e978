"""Images measured against references: PSNR and SSIM of result files (denoised, or noisy
for a baseline) against reference files, one pair or folders paired by file name.

For a user with a reference (a clean original, or the average of many shots of a still
scene, as the PolyU dataset makes them), this says by how much a method brought the image
closer to it, with the same PSNR and SSIM as ``n2n eval`` and the report.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .convert import as_float, float_span, outside_float_range, to_unit_range
from .errors import N2NError
from .image_io import (
    ImageFileError,
    StackPlanes,
    describe_shape,
    is_stack,
    list_images,
    read_image,
    split_alpha,
)
from .metrics import psnr, ssim
from .progress import progress_bar

__all__ = ["compare_images", "compare_stacks", "pair_by_name", "compare_files", "Comparison"]

SSIM_SIDE = 7  # scikit-image's SSIM window: smaller images get no SSIM


@dataclass(frozen=True)
class Comparison:
    """One result file measured against its reference."""

    result: Path
    reference: Path
    psnr: float
    ssim: float


def compare_images(image: np.ndarray, reference: np.ndarray) -> tuple[float, float]:
    """PSNR (dB) and SSIM of ``image`` against ``reference``.

    Parameters
    ----------
    image, reference : ndarray
        As :func:`noise2noise.read_image` returns them: H×W or H×W×C with C = 1..4 (the
        last of 2 or 4 channels is alpha, left out), uint8, uint16 or float in [0, 1].
        Each is put on [0, 1] by its own type's range, so an 8-bit result can be measured
        against a 16-bit reference; float data in other units (physical units) are both
        put on [0, 1] by the reference's range (PSNR is then on that range).

    Returns
    -------
    (psnr, ssim) : tuple of float
        PSNR is ``inf`` for identical images; SSIM is NaN for an image smaller than
        7×7 (its window).

    Raises
    ------
    N2NError
        The two differ in size or in their number of colour channels.
    """
    a, b = _matched(image, reference)
    return psnr(a, b, data_range=1.0), _ssim(a, b)


def compare_stacks(result: str | os.PathLike, reference: str | os.PathLike) -> tuple[float, float]:
    """PSNR (dB) and SSIM of a TIFF stack against a reference stack, read plane by plane
    (a stack larger than memory is measured too): the PSNR of the mean squared error over
    every plane, and the mean of the planes' SSIM. Planes as in :func:`compare_images`.

    Raises
    ------
    N2NError
        A file that is not a stack, or stacks that differ in planes or in plane size.
    """
    with StackPlanes(result) as planes, StackPlanes(reference) as truths:
        if len(planes) != len(truths):
            raise N2NError(f"{len(planes)} planes and its reference {len(truths)}: they must match")
        errors, qualities = [], []
        for i in range(len(planes)):
            a, b = _matched(planes[i], truths[i])
            errors.append(float(np.mean((a - b) ** 2)))
            qualities.append(_ssim(a, b))
    error = float(np.mean(errors))
    return (math.inf if error == 0 else -10 * math.log10(error)), float(np.mean(qualities))


def pair_by_name(
    results: str | os.PathLike,
    references: str | os.PathLike,
    *,
    rename: tuple[str, str] | None = None,
) -> tuple[list[tuple[Path, Path]], list[Path]]:
    """The (result, reference) pairs to measure, and the results without a reference.

    Two files make one pair. Two folders pair each image of ``results`` with the image of
    ``references`` of the same name, extension aside (``a.png`` with ``a.tif``). With
    ``rename = (old, new)`` only the results whose name holds ``old`` are measured, each
    against the reference named with ``new`` in its place: ``("_real", "_mean")`` pairs
    ``x_real.JPG`` with ``x_mean.JPG``, as in a dataset of noisy shots and averages
    (the two folders can then be the same).

    Raises
    ------
    N2NError
        A missing path, a file with a folder, folders with no name in common, or a
        result with references of its name in several formats, none in its own.
    """
    results, references = Path(results), Path(references)
    for path in (results, references):
        if not path.exists():
            raise N2NError(f"{path}: no such file or folder")
    if results.is_dir() != references.is_dir():
        raise N2NError(f"{results} and {references}: give two files or two folders")
    if not results.is_dir():
        if rename:
            raise N2NError(f"{results}: `rename` pairs the images of folders; two files are a pair")
        return [(results, references)], []
    by_stem: dict[str, list[Path]] = {}
    for p in list_images(references):
        by_stem.setdefault(p.stem, []).append(p)
    old, new = rename or ("", "")
    wanted = {p: p.stem.replace(old, new) for p in list_images(results) if old in p.stem}
    pairs = [(p, _reference_of(p, by_stem[stem])) for p, stem in wanted.items() if stem in by_stem]
    unmatched = [p for p, stem in wanted.items() if stem not in by_stem]
    if not pairs:
        same = f"with '{old}' in its name has one with '{new}'" if rename else "has the same name"
        raise N2NError(f"{results} and {references}: no image {same} in both folders")
    return pairs, unmatched


def _reference_of(result: Path, candidates: list[Path]) -> Path:
    """The one reference of ``result`` among those of its name: the only one, or the one
    with its extension too; several others cannot be told apart."""
    if len(candidates) == 1:
        return candidates[0]
    same = [c for c in candidates if c.suffix.lower() == result.suffix.lower()]
    if len(same) == 1:
        return same[0]
    names = " and ".join(c.name for c in candidates)
    raise N2NError(
        f"{candidates[0].parent}: {names} could each be the reference of {result.name}: "
        "keep one there, or compare the files one by one"
    )


def compare_files(
    pairs: Sequence[tuple[Path, Path]], *, progress: bool = False
) -> list[Comparison]:
    """Read and measure every (result, reference) pair of :func:`pair_by_name`
    (``progress``: a progress bar over the pairs).

    Raises
    ------
    N2NError
        A file that cannot be read, or a pair that does not match (named in the message).
    """
    measured = []
    for result, reference in progress_bar(pairs, unit="image", show=progress and len(pairs) > 1):
        measured.append(Comparison(result, reference, *_compare_pair(result, reference)))
    return measured


def _compare_pair(result: Path, reference: Path) -> tuple[float, float]:
    """PSNR and SSIM of two image files or two stacks; a mismatch names ``result``."""
    stack, reference_stack = is_stack(result), is_stack(reference)
    if stack != reference_stack:
        one, other = (result, reference) if stack else (reference, result)
        raise N2NError(f"{one} is a stack and {other} a single image: they must match")
    if not stack:
        image, truth = read_image(result), read_image(reference)
    try:
        return compare_stacks(result, reference) if stack else compare_images(image, truth)
    except ImageFileError:
        raise  # names its file already
    except N2NError as exc:
        raise N2NError(f"{result}: {exc}") from None


def _matched(image: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both on [0, 1] without alpha, gray as H×W; an error where their sizes or colour
    channels differ."""
    a, b = _on_unit_range(*(split_alpha(np.asarray(x))[0] for x in (image, reference)))
    if a.shape != b.shape:
        raise N2NError(
            f"the image is {describe_shape(a.shape)} and its reference {describe_shape(b.shape)}: "
            "they must match"
        )
    colour = a.ndim == 3 and a.shape[-1] > 1
    return tuple(x[..., 0] if x.ndim == 3 and not colour else x for x in (a, b))


def _on_unit_range(image: np.ndarray, reference: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Both as float64 on [0, 1]: each by its own type's range (:func:`as_float`), or, where
    the reference is float data in other units (a TIFF in physical units), both by the
    reference's range (stretched to hold [0, 1]), as ``n2n denoise`` scales such data."""
    extremes = outside_float_range(reference)
    if not extremes:
        return as_float(image, np.float64), as_float(reference, np.float64)
    if image.dtype.kind != "f":
        raise N2NError(
            f"the reference holds float data in other units than [0, 1] and the image is "
            f"{image.dtype}: compare two float images (or two of the same type)"
        )
    span = float_span(*extremes)
    return tuple(to_unit_range(x.astype(np.float64), span) for x in (image, reference))


def _ssim(a: np.ndarray, b: np.ndarray) -> float:
    """SSIM of two images from :func:`_matched`; NaN under the 7×7 window."""
    if min(a.shape[:2]) < SSIM_SIDE:
        return math.nan
    return ssim(a, b, data_range=1.0, channel_axis=-1 if a.ndim == 3 else None)
