"""Where the shipped blind model is weakest: low noise, against CBM3D told the true sigma,
and what putting back the residual beyond the noise (``shrink``) changes there.

Two kinds of images the model never trained on: the held-out validation images of
bsds432 (the training run's own 5 % split, 192×192 centre crops) and the colour photos
bundled with scikit-image (coffee, chelsea, astronaut, rocket; JPEG-derived, with smooth
areas), at most 512×512 (centre crops). Gaussian and Poisson noise, 8-bit noisy inputs,
seeded; the same inputs for every method. The shipped model runs as shipped
(``noise2noise.denoise``) and without its residual shrinking (``shrink=False``); the
shrinking's settings were chosen as the strongest that lose nothing on the bsds432 rows.

    python bench/low_noise.py --data ../shared/data/bsds432 --out bench/results/low_noise

Writes ``<out>.csv`` (per image) and ``<out>.md``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from _common import command, held_out, stored_8bit, write_results
from skimage import data as skdata

from noise2noise import add_noise, denoise, psnr, read_image
from noise2noise.baselines import denoise_ansc, denoise_bm3d
from noise2noise.datasets import center_crop

NOISES = ("gaussian:5", "gaussian:10", "gaussian:15", "gaussian:25", "gaussian:50", "poisson:25")
BUNDLED = ("coffee", "chelsea", "astronaut", "rocket")


def images(bsds: str) -> list[tuple[str, str, np.ndarray]]:
    val = held_out(bsds)  # the shipped runs' held-out split
    out = [("bsds432 held-out", f.stem, center_crop(read_image(f), 192)) for f in val]
    out += [("scikit-image", n, center_crop(getattr(skdata, n)(), 512)) for n in BUNDLED]
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="the bsds432 folder")
    ap.add_argument("--out", required=True)
    args = ap.parse_args(argv)
    rows = []
    for group, name, image in images(args.data):
        clean = image.astype(np.float32) / 255
        for noise in NOISES:
            kind, level = noise.split(":")
            noisy = add_noise(clean, noise, seed=int(level), channel_axis=-1)
            noisy = stored_8bit(noisy)
            plain = denoise(noisy, channel_axis=-1, shrink=False)
            ours = denoise(noisy, channel_axis=-1)
            if kind == "gaussian":
                classical = denoise_bm3d(noisy, sigma=float(level), channel_axis=-1)
            else:
                classical = denoise_ansc(noisy, peak=float(level), channel_axis=-1)
            rows.append(
                {
                    "set": group,
                    "image": name,
                    "noise": noise,
                    "noisy": round(psnr(noisy, clean), 3),
                    "no_shrink": round(psnr(plain, clean), 3),
                    "pretrained": round(psnr(ours, clean), 3),
                    "classical": round(psnr(np.clip(classical, 0, 1), clean), 3),
                }
            )
            print(rows[-1], flush=True)
    lines = [
        "# The blind model at low noise, against CBM3D",
        "",
        "```sh",
        command(),
        "```",
        "",
        "8-bit noisy inputs; CBM3D is told the true sigma, ANSC the true peak, the shipped "
        "model (`noise2noise.denoise`, defaults) nothing. Mean PSNR per set; per image in "
        "the CSV.",
        "",
        "| set | images | noise | noisy | pretrained, no shrink | pretrained | shrink gain "
        "| CBM3D / ANSC | pretrained − classical |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    keys = ("noisy", "no_shrink", "pretrained", "classical")
    for group in dict.fromkeys(r["set"] for r in rows):
        for noise in NOISES:
            part = [r for r in rows if r["set"] == group and r["noise"] == noise]
            m = {k: float(np.mean([r[k] for r in part])) for k in keys}
            lines.append(
                f"| {group} | {len(part)} | {noise} | {m['noisy']:.2f} | {m['no_shrink']:.2f} | "
                f"{m['pretrained']:.2f} | {m['pretrained'] - m['no_shrink']:+.2f} | "
                f"{m['classical']:.2f} | {m['pretrained'] - m['classical']:+.2f} |"
            )
    lines += [
        "",
        "Per scikit-image photo:",
        "",
        "| image | noise | shrink gain | pretrained − classical |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {r['image']} | {r['noise']} | {r['pretrained'] - r['no_shrink']:+.2f} | "
        f"{r['pretrained'] - r['classical']:+.2f} |"
        for r in rows
        if r["set"] == "scikit-image"
    ]
    write_results(args.out, rows, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
