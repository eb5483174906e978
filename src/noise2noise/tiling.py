"""Apply a fully convolutional function to a large image tile by tile.

Memory then depends on the tile size, not the image size. Each tile is processed with a
margin of real neighbouring pixels that is cropped off again, so for a network whose
receptive radius is at most ``margin`` the result equals a single full-image pass exactly.
"""

from __future__ import annotations

from collections.abc import Callable

import torch

from .errors import N2NError

__all__ = ["apply_tiled", "tile_count"]


def apply_tiled(
    fn: Callable[[torch.Tensor], torch.Tensor],
    x: torch.Tensor,
    *,
    tile: int = 512,
    margin: int = 8,
    on_tile: Callable[[], None] | None = None,
) -> torch.Tensor:
    """``fn(x)`` computed in tiles of ``tile``×``tile`` pixels plus ``margin`` on each side.

    Parameters
    ----------
    fn : callable
        Maps (B, C, h, w) to (B, C', h, w); must be local (fully convolutional).
    x : Tensor
        (B, C, H, W).
    tile : int
        Side of the core region of each tile.
    margin : int
        Context pixels on each side, at least the receptive radius of ``fn``.
    on_tile : callable, optional
        Called after each tile (:func:`tile_count` of them), for progress.

    Returns
    -------
    Tensor (B, C', H, W).
    """
    if tile < 1 or margin < 0:
        raise N2NError(f"tile must be >= 1 and margin >= 0, got {tile} and {margin}")
    h, w = x.shape[-2:]
    if h <= tile and w <= tile:
        out = fn(x)
        if on_tile is not None:
            on_tile()
        return out
    out = None
    for top in range(0, h, tile):
        for left in range(0, w, tile):
            bottom, right = min(top + tile, h), min(left + tile, w)
            t0, l0 = max(top - margin, 0), max(left - margin, 0)
            t1, l1 = min(bottom + margin, h), min(right + margin, w)
            y = fn(x[..., t0:t1, l0:l1])  # (B, C', t1-t0, l1-l0)
            if out is None:
                out = x.new_empty((x.shape[0], y.shape[1], h, w))
            core = y[..., top - t0 : bottom - t0, left - l0 : right - l0]
            out[..., top:bottom, left:right] = core
            if on_tile is not None:
                on_tile()
    return out


def tile_count(height: int, width: int, tile: int) -> int:
    """How many tiles :func:`apply_tiled` cuts an image of this size into."""
    return -(-height // tile) * -(-width // tile)
