"""Test-time augmentation: averaging a denoiser's output over flips and rotations.

A network's errors differ between the 8 flips/rotations of an image while the image
content does not, so averaging the 8 results (each transformed back) lowers the error.
The cost is one pass per transform, so callers limit the count by image size
(:func:`tta_transforms`). Used by ZS-N2N's ``fast`` preset and the pretrained models.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

__all__ = ["TTA_ORDER", "tta_transforms", "average_dihedral"]

# The 8 flips/rotations in the order TTA takes them: identity first, and the first 2 and
# first 4 already mix flips with rotations.
TTA_ORDER = (0, 5, 2, 7, 1, 4, 3, 6)


def tta_transforms(pixels: int, budget: float | None, *, most: int = 8) -> int:
    """How many of the 8 flips/rotations TTA averages for an image of ``pixels`` pixels.

    The largest of 8, 4, 2 (at most ``most``) whose total (megapixels × transforms) fits
    ``budget``, else 1 (no averaging); None means no limit.
    """
    counts = [n for n in (8, 4, 2) if n <= most]
    if budget is None:
        return counts[0] if counts else 1
    return next((n for n in counts if n * pixels / 1e6 <= budget), 1)


def _dihedral(x: torch.Tensor, k: int, inverse: bool = False) -> torch.Tensor:
    """The k-th of the 8 flips/rotations of (B, C, H, W), or its inverse."""
    if not inverse:
        x = torch.flip(x, (-1,)) if k >= 4 else x
        return torch.rot90(x, k % 4, (-2, -1))
    x = torch.rot90(x, -(k % 4), (-2, -1))
    return torch.flip(x, (-1,)) if k >= 4 else x


def average_dihedral(
    fn: Callable[[torch.Tensor], torch.Tensor], x: torch.Tensor, n: int
) -> torch.Tensor:
    """Mean of ``fn`` over the first ``n`` transforms of :data:`TTA_ORDER` (1: ``fn(x)``)."""
    if not 1 <= n <= len(TTA_ORDER):
        raise ValueError(f"{n} flips/rotations asked for: there are 1 to {len(TTA_ORDER)}")
    if n == 1:
        return fn(x)
    ks = TTA_ORDER[:n]
    return sum(_dihedral(fn(_dihedral(x, k)), k, inverse=True) for k in ks) / n
