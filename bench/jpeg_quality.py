"""What writing a denoised image as JPEG takes back, by quality and chroma subsampling.

`n2n denoise photo.jpg -o clean.jpg` re-encodes the denoised pixels. This measures the
PSNR (against the clean image) of the denoised output before encoding and after a JPEG
round trip through `noise2noise.write_image`, at Pillow's default (quality 75, 4:2:0
chroma) and at the qualities that version 0.11 chose between, with the file size. Images:
the held-out validation images of bsds432 (the training runs' 5 % split; no test image),
full size, 8-bit noisy inputs (Gaussian 15 and 25, seeded), denoised by the shipped model
(`noise2noise.denoise`).

    python bench/jpeg_quality.py --data ../shared/data/bsds432 --out bench/results/jpeg_quality

Writes ``<out>.csv`` (per image) and ``<out>.md``.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np
from _common import group_rows, held_out, titled_table, write_results
from PIL import Image

from noise2noise import add_noise, denoise, psnr, read_image

NOISES = ("gaussian:15", "gaussian:25")
# (label, quality, subsampling): Pillow's default, then what write_image can do
CHOICES = (
    ("Pillow default (75, 4:2:0)", 75, 2),
    ("90, 4:2:0", 90, 2),
    ("95, 4:2:0", 95, 2),
    ("95, 4:4:4 (write_image)", 95, 0),
    ("100, 4:4:4", 100, 0),
)


def round_trip(image: np.ndarray, quality: int, subsampling: int, folder: Path):
    path = folder / f"q{quality}s{subsampling}.jpg"
    Image.fromarray(image).save(path, quality=quality, subsampling=subsampling)
    return read_image(path), path.stat().st_size


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="the bsds432 folder")
    ap.add_argument("--out", required=True, help="results path without extension")
    ap.add_argument("--limit", type=int, default=0, help="first N held-out images only")
    args = ap.parse_args()
    val = held_out(args.data, args.limit)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, path in enumerate(val):
            clean = read_image(path)
            for noise in NOISES:
                noisy = add_noise(clean, noise, seed=n, channel_axis=-1)  # uint8, clipped
                out = denoise(noisy, channel_axis=-1)  # uint8, as the file would hold
                before = psnr(out, clean, data_range=255)
                for label, quality, sub in CHOICES:
                    back, size = round_trip(out, quality, sub, Path(tmp))
                    rows.append(
                        {
                            "image": path.stem,
                            "noise": noise,
                            "jpeg": label,
                            "denoised_psnr": round(before, 3),
                            "jpeg_psnr": round(psnr(back, clean, data_range=255), 3),
                            "loss_db": round(psnr(back, clean, data_range=255) - before, 3),
                            "bits_per_pixel": round(8 * size / out.shape[0] / out.shape[1], 3),
                        }
                    )
            print(f"{n + 1}/{len(val)} {path.name}", flush=True)
    summary = []
    for (noise, label), group in group_rows(rows, lambda r: (r["noise"], r["jpeg"])).items():

        def mean(key: str, group=group) -> float:
            return float(np.mean([r[key] for r in group]))

        summary.append(
            {
                "noise": noise,
                "jpeg": label,
                "denoised": f"{mean('denoised_psnr'):.2f}",
                "after": f"{mean('jpeg_psnr'):.2f}",
                "loss": f"{mean('loss_db'):+.2f}",
                "worst": f"{min(r['loss_db'] for r in group):+.2f}",
                "bpp": f"{mean('bits_per_pixel'):.2f}",
            }
        )
    markdown = titled_table(
        "Writing a denoised image as JPEG",
        f"{len(val)} held-out bsds432 images, full size, 8-bit noisy inputs, the shipped "
        "model; PSNR against the clean image before and after the JPEG round trip.",
        ["noise", "JPEG", "denoised PSNR", "after JPEG", "mean change", "worst", "bits/pixel"],
        summary,
        ["noise", "jpeg", "denoised", "after", "loss", "worst", "bpp"],
    )
    write_results(args.out, rows, markdown)
    print("\n".join(markdown))


if __name__ == "__main__":
    main()
