"""What `n2n train --data`'s check for noisy images measures on clean and noisy sets.

`--data` takes clean images and adds the noise; noisy photos given to it train a network
for the sum of their noise and the added one. The check (``training.api._say_if_noisy``)
warns where the median of ``estimate_sigma`` over the first 20 images is above
``NOISY_DATA_SIGMA``. This script measures that estimate, per image, on the clean sets,
on the same images with synthetic noise stored as 8-bit files, and on real noisy photos
(rni15, the ``_real`` shots of polyu_canon; the ``_mean`` references are their averages)::

    python bench/noisy_data_check.py --data-root ../shared/data --out bench/results/noisy_data_check
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
from _common import stored_8bit, titled_table, write_results

from noise2noise import add_noise, estimate_sigma
from noise2noise.convert import as_float
from noise2noise.image_io import list_images, read_image
from noise2noise.training.api import NOISY_DATA_SIGMA

CHECKED = 20  # the images the check measures (its first 20)


def sets(root: Path, limit: int) -> list[tuple[str, list[Path], str | None]]:
    """(name, files, synthetic noise or None) of every measured set."""
    polyu = list_images(root / "polyu_canon")
    clean = {name: list_images(root / name)[:limit] for name in ("bsds432", "cbsd68", "kodak24")}
    out = [(name, files, None) for name, files in clean.items()]
    out += [(f"bsds432 + gaussian:{s}", clean["bsds432"], f"gaussian:{s}") for s in (5, 10, 15, 25)]
    out += [("bsds432 + poisson:60", clean["bsds432"], "poisson:60")]
    out += [
        ("polyu_canon mean", [f for f in polyu if f.stem.endswith("_mean")][:limit], None),
        ("polyu_canon real", [f for f in polyu if f.stem.endswith("_real")][:limit], None),
        ("rni15", list_images(root / "rni15")[:limit], None),
    ]
    return out


def sigma_of(path: Path, noise: str | None, seed: int) -> float:
    image = as_float(read_image(path))
    if noise is not None:
        axis = -1 if image.ndim == 3 else None
        image = stored_8bit(add_noise(image, noise, seed=seed, channel_axis=axis))
    return estimate_sigma(image, channel_axis=-1 if image.ndim == 3 else None)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default="../shared/data")
    ap.add_argument("--limit", type=int, default=40, help="images per set (first N)")
    ap.add_argument("--out", default="bench/results/noisy_data_check")
    args = ap.parse_args()
    rows = []
    for name, files, noise in sets(Path(args.data_root), args.limit):
        tic = time.perf_counter()
        sigmas = [sigma_of(f, noise, seed=i) for i, f in enumerate(files)]
        checked = float(np.median(sigmas[:CHECKED]))
        rows.append(
            {
                "set": name,
                "images": len(sigmas),
                "median": f"{np.median(sigmas):.1f}",
                "p90": f"{np.percentile(sigmas, 90):.1f}",
                "max": f"{max(sigmas):.1f}",
                "check_median": f"{checked:.1f}",
                "warns": "yes" if checked > NOISY_DATA_SIGMA else "no",
            }
        )
        print(rows[-1], f"{time.perf_counter() - tic:.0f} s", flush=True)
    markdown = titled_table(
        "The noisy-data check of `n2n train --data`",
        "Noise sigma (0-255 scale) as `noise2noise.estimate_sigma` measures it, per image "
        f"(the first {args.limit} of each set); 'check' is what the check computes, the median "
        f"of its first {CHECKED}, and 'warns' whether that is above `NOISY_DATA_SIGMA` "
        f"= {NOISY_DATA_SIGMA:g}. Synthetic noise was stored as 8-bit files store it.",
        ["set", "images", "median", "90th percentile", "most", "check", "warns"],
        rows,
        ["set", "images", "median", "p90", "max", "check_median", "warns"],
    )
    write_results(args.out, rows, markdown)


if __name__ == "__main__":
    main()
