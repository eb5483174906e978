"""Does weighting each crop's loss by its noise level help a blind network at low noise?

Trains nothing: evaluates run folders or checkpoints of ``n2n train --preset blind``
(with and without ``--level-weight P``, made beforehand with the commands in the results
file) on the held-out validation images of bsds432 (the run's own 5 % split, seed 0:
never test images), centre crops, at fixed noise levels with 8-bit noisy inputs; the
shipped model as a reference.

    python bench/level_weighting.py --runs /tmp/ft/plain /tmp/ft/weighted \
        --data ../shared/data/bsds432 --out bench/results/level_weighting

Writes ``<out>.csv`` and ``<out>.md``.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from _common import stored_8bit, write_results

from noise2noise import add_noise, denoise, parse_noise, psnr, read_image
from noise2noise.image_io import list_images
from noise2noise.training import denoise_with_model, load_checkpoint, split_indices

NOISES = ("gaussian:5", "gaussian:15", "gaussian:25", "gaussian:50", "poisson:15")


def _without_command(argv: list[str]) -> list[str]:
    """The command line less ``--command TEXT`` (printed on its own line)."""
    out, skip = [], False
    for word in argv:
        if skip:
            skip = False
        elif word == "--command":
            skip = True
        else:
            out.append(word)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--runs", nargs="+", required=True, type=Path)
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--crop", type=int, default=192)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--command", default="", help="the training commands, for the record")
    ap.add_argument(
        "--float", action="store_true", help="unclipped float noisy inputs instead of 8-bit"
    )
    args = ap.parse_args(argv)
    files = list_images(args.data)
    config = load_checkpoint(args.runs[0])["config"]
    _, val = split_indices(len(files), config.val_fraction, config.seed)
    images = []
    for i in val:
        im = read_image(files[i])
        h, w = im.shape[:2]
        c = args.crop
        images.append(im[(h - c) // 2 : (h + c) // 2, (w - c) // 2 : (w + c) // 2])
    methods = {
        r.name: (lambda x, r=r: denoise_with_model(x, model=r, channel_axis=-1)) for r in args.runs
    }
    methods["shipped blind"] = lambda x: denoise(x, channel_axis=-1, tta=1)
    rows = []
    for noise in NOISES:
        scores = {m: [] for m in ["noisy", *methods]}
        for k, im in enumerate(images):
            clean = im.astype(np.float32) / 255
            if args.float:  # the literature's protocol: values outside [0, 1] kept
                noisy = add_noise(clean, parse_noise(noise, clip=False), seed=k, channel_axis=-1)
            else:
                noisy = add_noise(clean, noise, seed=k, channel_axis=-1)
                noisy = stored_8bit(noisy)
            scores["noisy"].append(psnr(noisy, clean))
            for name, fn in methods.items():
                scores[name].append(psnr(fn(noisy), clean))
        for name, values in scores.items():
            rows.append(
                {
                    "noise": noise,
                    "method": name,
                    "images": len(values),
                    "psnr": round(float(np.mean(values)), 3),
                }
            )
            print(rows[-1], flush=True)
    names = list(methods)
    lines = [
        "# Level-weighted loss for the blind network",
        "",
        "```sh",
        *([args.command] if args.command else []),
        "python " + " ".join(_without_command(sys.argv)),
        "```",
        "",
        f"Mean PSNR on the {len(images)} held-out bsds432 validation images "
        f"({args.crop}×{args.crop} centre crops), "
        f"{'unclipped float' if args.float else '8-bit'} noisy inputs, no flip averaging.",
        "",
        "| noise | noisy | " + " | ".join(names) + " |",
        "|---|---|" + "---|" * len(names),
    ]
    for noise in NOISES:
        cell = {r["method"]: r["psnr"] for r in rows if r["noise"] == noise}
        lines.append(
            f"| {noise} | {cell['noisy']:.2f} | "
            + " | ".join(f"{cell[n]:.2f}" for n in names)
            + " |"
        )
    write_results(args.out, rows, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
