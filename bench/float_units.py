"""Float data beyond [0, 1]: taken as they are, or scaled into [0, 1] and back.

Since 0.20 ``noise2noise.convert.units_span`` tells unclipped noise (taken as it is: the
pretrained model clips it) from data in other units (scaled). Before, `n2n denoise`
scaled every float TIFF that left [0, 1], unclipped noisy images included, and the Python
API clipped everything within [-2, 3], zero-centred data included. This script measures
both on held-out bsds432 images (never trained on), the pretrained model without flip
averaging::

    python bench/float_units.py --data ../shared/data/bsds432 --out bench/results/float_units
"""

from __future__ import annotations

import argparse
import warnings

import numpy as np
from _common import held_out, titled_table, write_results

from noise2noise import add_noise, denoise, parse_noise, psnr
from noise2noise.convert import as_float, float_span, from_unit_range, to_unit_range, units_span
from noise2noise.image_io import read_image


def scaled(noisy: np.ndarray) -> np.ndarray:
    """The pretrained model on ``noisy`` scaled from its whole range into [0, 1] and back
    (what `n2n denoise` did to every float TIFF beyond [0, 1] before 0.20)."""
    span = float_span(float(noisy.min()), float(noisy.max()))
    return from_unit_range(denoise(to_unit_range(noisy, span), channel_axis=-1, tta=1), span)


def clipped(noisy: np.ndarray) -> np.ndarray:
    """The pretrained model on ``noisy`` clipped to [0, 1] (what the Python API did to
    any float data within [-2, 3] before 0.20)."""
    return denoise(np.clip(noisy, 0, 1), channel_axis=-1, tta=1)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", default="../shared/data/bsds432")
    ap.add_argument("--limit", type=int, default=8, help="held-out images (first N)")
    ap.add_argument("--out", default="bench/results/float_units")
    args = ap.parse_args()
    files = held_out(args.data, args.limit)
    cases = [  # (name, offset of the clean image, noise)
        ("unclipped gaussian:25", 0.0, "gaussian:25"),
        ("unclipped gaussian:50", 0.0, "gaussian:50"),
        ("zero-centred (x - 0.5) + gaussian:15", -0.5, "gaussian:15"),
    ]
    rows = []
    for name, offset, noise in cases:
        by = {"noisy": [], "clipped": [], "scaled": [], "denoise": []}
        said_scaled = 0
        for i, f in enumerate(files):
            clean = as_float(read_image(f))
            noisy = add_noise(clean, parse_noise(noise, clip=False), seed=i, channel_axis=-1)
            clean, noisy = clean + offset, noisy + offset
            said_scaled += units_span(noisy, -1) is not None
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")  # the scaling note of each image
                outs = {
                    "noisy": noisy,
                    "clipped": clipped(noisy),
                    "scaled": scaled(noisy),
                    "denoise": denoise(noisy, channel_axis=-1, tta=1),
                }
            for key, out in outs.items():
                by[key].append(psnr(out, clean, data_range=1.0))
        row = {"case": name, "images": len(files), "scaled_by_0_20": said_scaled}
        row.update({k: f"{np.mean(v):.2f}" for k, v in by.items()})
        rows.append(row)
        print(row, flush=True)
    markdown = titled_table(
        "Float data beyond [0, 1]: taken as they are (clipped) or scaled",
        "Mean PSNR (dB, data range 1) on held-out bsds432 images, the pretrained model "
        "without flip averaging. 'clipped': the noisy data clipped to [0, 1] first (the "
        "Python API before 0.20, for any float data within [-2, 3]); 'scaled': scaled from "
        "their range into [0, 1] and back (`n2n denoise` before 0.20, for any float TIFF "
        "beyond [0, 1]); 'denoise 0.20': `noise2noise.denoise` as it is now, which decides "
        "by `units_span` (the images it scaled are counted).",
        ["case", "images", "scaled by 0.20", "noisy", "clipped", "scaled", "denoise 0.20"],
        rows,
        ["case", "images", "scaled_by_0_20", "noisy", "clipped", "scaled", "denoise"],
    )
    write_results(args.out, rows, markdown)


if __name__ == "__main__":
    main()
