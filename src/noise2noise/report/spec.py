"""What the report's experiments consist of: data only.

The noises of each experiment, the rows of Table 1 with the report's own values, the
sensitivity grid, and the names of cells in the CSVs. Nothing here computes; the
experiments (:mod:`.experiments`), the report (:mod:`.results_md`) and the command line
read these tables.
"""

from __future__ import annotations

import math

from ..errors import N2NError

__all__ = [
    "EXPERIMENTS",
    "TABLE1_NOISES",
    "TABLE1_ROWS",
    "TRAINED",
    "UNTRAINED",
    "REPORT_TABLE1",
    "CONVERGENCE_NOISES",
    "SENSITIVITY_NOISES",
    "SENSITIVITY_LAYERS",
    "SENSITIVITY_RATIOS",
    "FIGURE_NOISES",
    "VERIFY_TOLERANCE",
    "slug",
    "sensitivity_name",
    "parse_sensitivity_name",
]

EXPERIMENTS = ("train", "table1", "convergence", "sensitivity", "figures")
TABLE1_NOISES = (
    "gaussian:25",
    "gaussian:50",
    "gaussian:75",
    "poisson:15",
    "poisson:20",
    "poisson:25",
)
# Row key, the report's label. Trained rows are "<arch>_<target>"; the others are names
# of methods in noise2noise.methods.REGISTRY.
TABLE1_ROWS = (
    ("noisy", "Noise level"),
    ("cnn_clean", "Simple CNN (clean)"),
    ("unet_clean", "N2C (UNet)"),
    ("cnn_noisy", "Simple CNN (noisy)"),
    ("unet_noisy", "N2N (UNet)"),
    ("zeroshot", "Zero-shot N2N"),
    ("bm3d", "BM3D"),
    ("ansc", "ANSC"),
    ("pretrained", "Pretrained N2N (ours, shipped)"),
)
TRAINED = (("cnn", "clean"), ("unet", "clean"), ("cnn", "noisy"), ("unet", "noisy"))
# The rows that need no training: methods of noise2noise.methods.REGISTRY by name.
UNTRAINED = tuple(k for k, _ in TABLE1_ROWS[1:] if k.partition("_")[::2] not in TRAINED)
# The report's Table 1 (mean PSNR in dB over its 50 test images), for comparison only.
REPORT_TABLE1: dict[str, tuple[float | None, ...]] = {
    "noisy": (20.45, 14.88, 12.01, 16.08, 17.25, 18.16),
    "cnn_clean": (28.16, 24.45, 22.24, 25.41, 26.01, 26.50),
    "unet_clean": (27.37, 25.05, 24.19, 25.22, 26.36, 26.36),
    "cnn_noisy": (27.30, 23.60, 21.34, 24.66, 25.52, 25.98),
    "unet_noisy": (27.55, 24.20, 22.54, 24.73, 25.68, 26.41),
    "zeroshot": (28.40, 24.21, 21.50, 25.20, 26.13, 26.78),
    "bm3d": (28.09, 24.87, 22.88, None, None, None),
    "ansc": (None, None, None, 22.13, 22.23, 22.29),
    "pretrained": (None,) * 6,  # not in the report: the blind model this package ships
}
CONVERGENCE_NOISES = ("gaussian:25", "gaussian:50")
SENSITIVITY_NOISES = ("gaussian:25", "poisson:25")
SENSITIVITY_LAYERS = (2, 3, 4)
SENSITIVITY_RATIOS = (0.5, 1.0, 2.0, 10.0, math.inf)
FIGURE_NOISES = ("gaussian:25", "poisson:25")
# A recomputed cell agrees with the cached one when its PSNR is this close (dB): seeded
# noise and training make the same numbers up to thread-count rounding.
VERIFY_TOLERANCE = 0.1


def slug(noise: str) -> str:
    """``"gaussian:25"`` -> ``"gaussian25"`` (for folder names)."""
    return noise.replace(":", "")


def sensitivity_name(layers: int, ratio: float) -> str:
    """The CSV name of a sensitivity configuration: (3, inf) -> ``"L3_rinf"``."""
    return f"L{layers}_r{'inf' if math.isinf(ratio) else f'{ratio:g}'}"


def parse_sensitivity_name(name: str) -> tuple[int, float]:
    """``"L3_rinf"`` -> (3, inf)."""
    depth, _, ratio = name.partition("_r")
    try:
        return int(depth.removeprefix("L")), float(ratio)
    except ValueError:
        raise N2NError(f"not a sensitivity configuration: '{name}'") from None
