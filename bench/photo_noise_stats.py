"""How the noise of real camera JPEGs looks, and how the synthetic noises compare.

On the first ``--tune`` polyu_canon pairs (the issue allows tuning on at most the first
20; the others are never read here), the noise is ``real - mean`` less its per-channel
mean (the shot's brightness offset, which is not noise). For it and for the synthetic
noises of :mod:`noise2noise.camera` (``camera``: raw noise developed; ``photo``: the
statistical model of developed JPEG noise, random parameters per draw) on bsds432 crops:
the standard deviation of the luma noise (mean of R, G, B) and of the colour difference
(R - G), each one's correlation with the pixel 1, 2, 4 and 6 to the right, and their
ratio. Median over the images or draws, with the 10th-90th percentile range.

    python bench/photo_noise_stats.py --data-root ../shared/data \
        --out bench/results/photo_noise_stats

Writes ``<out>.csv`` (one row per image or draw) and ``<out>.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from _common import command, write_results

from noise2noise import read_image
from noise2noise.camera import camera_noise, photo_noise, sample_camera_params, sample_photo_params
from noise2noise.convert import image_to_tensor
from noise2noise.datasets import default_data_root
from noise2noise.image_io import list_images

LAGS = (1, 2, 4, 6)


def correlation(x: np.ndarray, lag: int) -> float:
    """Correlation of ``x`` (H, W, zero-mean) with itself ``lag`` pixels to the right."""
    return float((x[:, :-lag] * x[:, lag:]).mean() / x.var())


def stats(noise: np.ndarray) -> dict:
    """The row of one noise image (H, W, 3) on the 0-255 scale."""
    noise = noise - noise.mean(axis=(0, 1))
    luma, colour = noise.mean(axis=2), noise[..., 0] - noise[..., 1]
    row = {"luma_std": luma.std(), "colour_std": colour.std()}
    row["colour/luma"] = row["colour_std"] / row["luma_std"]
    for lag in LAGS:
        row[f"luma_r{lag}"] = correlation(luma, lag)
    for lag in LAGS:
        row[f"colour_r{lag}"] = correlation(colour, lag)
    return {k: round(float(v), 3) for k, v in row.items()}


def real_rows(root: Path, count: int) -> list[dict]:
    noisy = [f for f in list_images(root / "polyu_canon") if "_real." in f.name][:count]
    rows = []
    for f in noisy:
        mean = read_image(f.with_name(f.name.replace("_real.", "_mean."))).astype(np.float64)
        rows.append({"source": "polyu_canon", "image": f.name, **stats(read_image(f) - mean)})
    return rows


def synthetic_rows(root: Path, draws: int, size: int = 256) -> list[dict]:
    files = list_images(root / "bsds432")
    g = torch.Generator().manual_seed(0)
    rows = []
    for k in range(draws):
        image = read_image(files[k % len(files)])[:size, :size]
        clean = image_to_tensor(image, channel_axis=-1)
        made = {
            "camera": camera_noise(clean, sample_camera_params(1, g), generator=g, clip=False)
            - clean,
            "photo": photo_noise(clean, sample_photo_params(1, g), generator=g),
        }
        for source, noise in made.items():
            values = noise[0].permute(1, 2, 0).double().numpy() * 255
            rows.append({"source": source, "image": files[k % len(files)].name, **stats(values)})
    return rows


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", type=Path, default=Path("bench/results/photo_noise_stats"))
    ap.add_argument("--tune", type=int, default=20, help="polyu pairs read (at most 20)")
    ap.add_argument("--draws", type=int, default=60, help="synthetic draws of each kind")
    args = ap.parse_args()
    root = Path(args.data_root) if args.data_root else default_data_root()
    rows = real_rows(root, min(args.tune, 20)) + synthetic_rows(root, args.draws)
    fields = [k for k in rows[0] if k not in ("source", "image")]
    sources = list(dict.fromkeys(r["source"] for r in rows))
    lines = [
        "# The noise of real camera JPEGs against the synthetic noises",
        "",
        "```sh",
        command(),
        "```",
        "",
        "Noise of the first polyu_canon pairs (`real - mean`, less the shot's brightness "
        "offset) and of synthetic draws on bsds432 crops (256×256, random parameters each). "
        "Luma: mean of R, G, B; colour: R − G; `r1`...`r6`: correlation with the pixel 1...6 "
        "to the right. Median (10th–90th percentile).",
        "",
        "| statistic | " + " | ".join(sources) + " |",
        "|---|" + "---|" * len(sources),
    ]
    for field in fields:
        cells = []
        for source in sources:
            values = [r[field] for r in rows if r["source"] == source]
            lo, mid, hi = np.percentile(values, [10, 50, 90])
            cells.append(f"{mid:.2f} ({lo:.2f}–{hi:.2f})")
        lines.append(f"| {field} | " + " | ".join(cells) + " |")
    counts = {s: sum(r["source"] == s for r in rows) for s in sources}
    lines += ["", "Images or draws: " + ", ".join(f"{s} {n}" for s, n in counts.items()) + "."]
    write_results(args.out, rows, lines)


if __name__ == "__main__":
    main()
