"""Where the ``real`` method should not be used: clean or lightly noisy photos.

``real`` runs a network trained on the correlated noise of camera JPEGs, which may take
fine detail or JPEG artefacts for such noise. This measures both shipped methods (and the
blind one without its residual shrinking, ``shrink=False``) on crops of bsds432 training
images with no noise (JPEG only), white Gaussian noise, and white noise that JPEG
compression made correlated.

    python bench/real_limits.py --data-root ../shared/data --out bench/results/real_limits

Writes ``<out>.csv`` (per image, case and method) and ``<out>.md``.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from _common import command, jpeg, write_results

from noise2noise import add_noise, denoise, psnr, read_image
from noise2noise.datasets import default_data_root
from noise2noise.image_io import list_images

CASES = {
    "clean, JPEG q90": lambda x, k: jpeg(x, 90),
    "Gaussian 5": lambda x, k: add_noise(x, "gaussian:5", seed=k, channel_axis=-1),
    "Gaussian 10, JPEG q95": lambda x, k: jpeg(
        add_noise(x, "gaussian:10", seed=k, channel_axis=-1), 95
    ),
    "Gaussian 25, JPEG q90": lambda x, k: jpeg(
        add_noise(x, "gaussian:25", seed=k, channel_axis=-1), 90
    ),
    "Gaussian 25, JPEG q75": lambda x, k: jpeg(
        add_noise(x, "gaussian:25", seed=k, channel_axis=-1), 75
    ),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", type=Path, default=Path("bench/results/real_limits"))
    ap.add_argument("--images", type=int, default=12, help="every 12th bsds432 image")
    ap.add_argument("--crop", type=int, default=256)
    args = ap.parse_args()
    root = Path(args.data_root) if args.data_root else default_data_root()
    files = list_images(root / "bsds432")[::12][: args.images]
    rows = []
    for k, f in enumerate(files):
        clean = read_image(f)[: args.crop, : args.crop]
        for case, make in CASES.items():
            noisy = make(clean, k)
            row = {"image": f.stem, "case": case, "noisy": psnr(noisy, clean, data_range=255)}
            runs = {
                "blind": dict(model="blind"),
                "blind_unshrunk": dict(model="blind", shrink=False),
                "real": dict(model="real"),
            }
            for column, options in runs.items():
                out = denoise(noisy, channel_axis=-1, **options)
                row[column] = round(psnr(out, clean, data_range=255), 3)
            row["noisy"] = round(row["noisy"], 3)
            rows.append(row)
            print(row, flush=True)
    lines = [
        "# `real` against the blind model on clean and lightly noisy photos",
        "",
        "```sh",
        command(),
        "```",
        "",
        f"{len(files)} crops of {args.crop}×{args.crop} of bsds432 training images; "
        "mean PSNR (dB) against the clean crop.",
        "",
        "| case | noisy | pretrained (blind) | blind without shrinking | real |",
        "|---|---|---|---|---|",
    ]
    columns = ("noisy", "blind", "blind_unshrunk", "real")
    for case in CASES:
        sel = [r for r in rows if r["case"] == case]
        mean = [np.mean([r[k] for r in sel]) for k in columns]
        lines.append(f"| {case} | " + " | ".join(f"{m:.2f}" for m in mean) + " |")
    write_results(args.out, rows, lines)


if __name__ == "__main__":
    main()
