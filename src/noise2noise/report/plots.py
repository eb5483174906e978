"""Figures of the reproduction: convergence curves, the sensitivity chart, sample grids.

Plotting only: every function takes numbers or images that were computed elsewhere and
writes one PNG. matplotlib runs headless (Agg).
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from ..files import write_atomically

__all__ = ["plot_convergence", "plot_sensitivity", "plot_grid", "ratio_label"]


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _panel_row(count: int):
    """A figure with one 4.5-inch-wide panel per item, side by side: (figure, axes)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, max(1, count), figsize=(4.5 * max(1, count), 3.4))
    return fig, list(np.atleast_1d(axes))


def _finish(fig, path: str | os.PathLike, legend_axes=()) -> Path:
    for ax in legend_axes:
        ax.grid(alpha=0.3)
        if ax.get_legend_handles_labels()[0]:  # a panel with no complete line yet
            ax.legend()
    fig.tight_layout()
    path = write_atomically(path, lambda tmp: fig.savefig(tmp, dpi=110))  # folders are shared
    _pyplot().close(fig)
    return path


def ratio_label(ratio: float) -> str:
    """``0.5``, ``1``, ..., ``∞`` for the residual/consistency weight ratio."""
    return "∞" if math.isinf(ratio) else f"{ratio:g}"


def plot_convergence(
    curves: Mapping[str, Mapping[str, Sequence[tuple[int, float]]]],
    path: str | os.PathLike,
) -> Path:
    """Validation PSNR per epoch, one panel per noise, one line per training target.

    Parameters
    ----------
    curves : {noise name: {label: [(epoch, psnr), ...]}}
    path : the PNG to write
    """
    fig, axes = _panel_row(len(curves))
    for ax, (noise, lines) in zip(axes, curves.items(), strict=False):
        for label, points in lines.items():
            if points:
                epochs, values = zip(*points, strict=True)
                ax.plot(epochs, values, label=label)
        ax.set(title=noise, xlabel="epoch", ylabel="validation PSNR (dB)")
    return _finish(fig, path, axes[: len(curves)])


def plot_sensitivity(
    values: Mapping[str, Mapping[int, Mapping[float, float]]],
    path: str | os.PathLike,
) -> Path:
    """Mean PSNR over the loss-weight ratios, one line per depth L, one panel per noise.

    Parameters
    ----------
    values : {noise name: {layers: {ratio: mean psnr}}}; missing cells are left out
    path : the PNG to write
    """
    fig, axes = _panel_row(len(values))
    for ax, (noise, by_depth) in zip(axes, values.items(), strict=False):
        ratios = sorted({r for row in by_depth.values() for r in row})
        for depth, row in sorted(by_depth.items()):
            xs = [i for i, r in enumerate(ratios) if r in row]
            ax.plot(xs, [row[ratios[i]] for i in xs], marker="o", label=f"L = {depth}")
        ax.set_xticks(range(len(ratios)), [ratio_label(r) for r in ratios])
        ax.set(title=noise, xlabel="residual / consistency weight", ylabel="mean PSNR (dB)")
    return _finish(fig, path, axes[: len(values)])


def plot_grid(
    panels: Sequence[tuple[str, np.ndarray]],
    path: str | os.PathLike,
    *,
    columns: int = 4,
    size: float = 3.0,
) -> Path:
    """Images side by side with a title each (H×W×3 or H×W floats in [0, 1])."""
    plt = _pyplot()
    rows = math.ceil(len(panels) / columns)
    cols = min(columns, len(panels))
    fig, axes = plt.subplots(rows, cols, figsize=(size * cols, size * rows + 0.3), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, (title, image) in zip(axes.flat, panels, strict=False):
        image = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
        if image.ndim == 3 and image.shape[2] == 1:
            image = image[:, :, 0]
        ax.imshow(image, cmap="gray" if image.ndim == 2 else None, vmin=0, vmax=1)
        ax.set_title(title, fontsize=9)
    return _finish(fig, path)
