"""Where the shipped blind model is weakest: low noise, against CBM3D told the true sigma.

Two kinds of images the model never trained on: the held-out validation images of
bsds432 (the training run's own 5 % split, 192×192 centre crops) and the colour photos
bundled with scikit-image (coffee, chelsea, astronaut, rocket; JPEG-derived, with smooth
areas), both at whole size up to 512×512. Gaussian noise, 8-bit noisy inputs, seeded;
the same inputs for both methods.

    python bench/low_noise.py --data ../shared/data/bsds432 --out bench/results/low_noise

Writes ``<out>.csv`` (per image) and ``<out>.md``.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
from _common import write_results
from skimage import data as skdata

from noise2noise import add_noise, denoise, psnr, read_image
from noise2noise.baselines import denoise_bm3d
from noise2noise.datasets import center_crop
from noise2noise.image_io import list_images
from noise2noise.training import split_indices

SIGMAS = (5, 10, 15, 25)
BUNDLED = ("coffee", "chelsea", "astronaut", "rocket")


def images(bsds: str) -> list[tuple[str, str, np.ndarray]]:
    files = list_images(bsds)
    _, val = split_indices(len(files), 0.05, 0)  # the shipped runs' held-out split
    out = [("bsds432 held-out", files[i].stem, center_crop(read_image(files[i]), 192)) for i in val]
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
        for sigma in SIGMAS:
            noisy = add_noise(clean, f"gaussian:{sigma}", seed=sigma, channel_axis=-1)
            noisy = (np.round(np.clip(noisy, 0, 1) * 255) / 255).astype(np.float32)
            ours = denoise(noisy, channel_axis=-1)
            cbm3d = np.clip(denoise_bm3d(noisy, sigma=sigma, channel_axis=-1), 0, 1)
            rows.append(
                {
                    "set": group,
                    "image": name,
                    "sigma": sigma,
                    "noisy": round(psnr(noisy, clean), 3),
                    "pretrained": round(psnr(ours, clean), 3),
                    "cbm3d": round(psnr(cbm3d, clean), 3),
                }
            )
            print(rows[-1], flush=True)
    lines = [
        "# The blind model at low noise, against CBM3D",
        "",
        "```sh",
        "python " + " ".join(sys.argv),
        "```",
        "",
        "Gaussian noise, 8-bit noisy inputs; CBM3D is told the true sigma, the shipped "
        "model (`noise2noise.denoise`, defaults) nothing. Mean PSNR per set; per image in "
        "the CSV.",
        "",
        "| set | images | sigma | noisy | pretrained | CBM3D | pretrained − CBM3D |",
        "|---|---|---|---|---|---|---|",
    ]
    for group in dict.fromkeys(r["set"] for r in rows):
        for sigma in SIGMAS:
            part = [r for r in rows if r["set"] == group and r["sigma"] == sigma]
            mean = {
                k: float(np.mean([r[k] for r in part])) for k in ("noisy", "pretrained", "cbm3d")
            }
            lines.append(
                f"| {group} | {len(part)} | {sigma} | {mean['noisy']:.2f} | "
                f"{mean['pretrained']:.2f} | {mean['cbm3d']:.2f} | "
                f"{mean['pretrained'] - mean['cbm3d']:+.2f} |"
            )
    lines += [
        "",
        "Per scikit-image photo:",
        "",
        "| image | sigma | pretrained − CBM3D |",
        "|---|---|---|",
    ]
    lines += [
        f"| {r['image']} | {r['sigma']} | {r['pretrained'] - r['cbm3d']:+.2f} |"
        for r in rows
        if r["set"] == "scikit-image"
    ]
    write_results(args.out, rows, lines)
    return 0


if __name__ == "__main__":
    sys.exit(main())
