"""What writing a denoised image as HEIC or AVIF costs, by encoder speed setting.

`n2n denoise IMG_0042.HEIC` writes `IMG_0042_denoised.HEIC` (and an AVIF an AVIF) at
quality 95 with full-resolution colour. The encoders' default speed settings were slow on
a 12-megapixel photo (x265's `medium` preset 7 s on 2 idle cores, 22 s beside two busy
processes; JPEG 0.1 s). This measures, per setting (each saved through Pillow at quality 95
with 4:4:4 colour, as `noise2noise.write_image` saves): the PSNR change of a denoised
image's round trip (against the clean image; held-out bsds432 images, Gaussian 25, the
shipped model, as `bench/jpeg_quality.py`), the bits per pixel, and the seconds to write
one 12-megapixel image (a held-out image resized to 4000×3000).

    python bench/phone_formats.py --data ../shared/data/bsds432 --out bench/results/phone_formats

Writes ``<out>.csv`` (per image and setting) and ``<out>.md``. Needs pillow-heif (the
`heif` extra) and a Pillow built with AVIF.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import pillow_heif
from _common import group_rows, held_out, titled_table, write_results
from PIL import Image

from noise2noise import add_noise, denoise, psnr, read_image

# (format, label, Pillow save options); every one at quality 95 with 4:4:4 colour
SETTINGS = (
    ("JPEG", "4:4:4 (reference)", {"subsampling": 0}),
    ("HEIC", "x265 medium (its default)", {"chroma": 444}),
    ("HEIC", "x265 ultrafast", {"chroma": 444, "enc_params": {"preset": "ultrafast"}}),
    ("AVIF", "speed 6 (Pillow's default)", {"subsampling": "4:4:4", "speed": 6}),
    ("AVIF", "speed 8", {"subsampling": "4:4:4", "speed": 8}),
)
EXTENSIONS = {"JPEG": ".jpg", "HEIC": ".heic", "AVIF": ".avif"}


def save(image: np.ndarray, fmt: str, options: dict, folder: Path) -> Path:
    path = folder / f"out{EXTENSIONS[fmt]}"
    options = {k: dict(v) if isinstance(v, dict) else v for k, v in options.items()}
    Image.fromarray(image).save(path, quality=95, **options)
    return path


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--data", required=True, help="the bsds432 folder")
    ap.add_argument("--out", required=True, help="results path without extension")
    ap.add_argument("--limit", type=int, default=8, help="held-out images for the PSNR")
    args = ap.parse_args()
    pillow_heif.register_heif_opener()
    val = held_out(args.data)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for n, path in enumerate(val[: args.limit]):
            clean = read_image(path)
            out = denoise(add_noise(clean, "gaussian:25", seed=n, channel_axis=-1), channel_axis=-1)
            before = psnr(out, clean, data_range=255)
            for fmt, label, options in SETTINGS:
                path = save(out, fmt, options, Path(tmp))
                after = psnr(read_image(path), clean, data_range=255)
                rows.append(
                    {
                        "image": path.stem,
                        "format": fmt,
                        "setting": label,
                        "loss_db": round(after - before, 3),
                        "bits_per_pixel": round(8 * path.stat().st_size / out[..., 0].size, 3),
                    }
                )
            print(f"{n + 1}/{args.limit} {path.name}", flush=True)
        big = np.asarray(Image.fromarray(read_image(val[0])).resize((4000, 3000)))
        seconds = {}
        for fmt, label, options in SETTINGS:
            tic = time.perf_counter()
            save(big, fmt, options, Path(tmp))
            seconds[label] = time.perf_counter() - tic
            print(f"{fmt} {label}: {seconds[label]:.1f} s for 12 MP", flush=True)
    summary = []
    for (fmt, label), group in group_rows(rows, lambda r: (r["format"], r["setting"])).items():
        summary.append(
            {
                "format": fmt,
                "setting": label,
                "loss": f"{np.mean([r['loss_db'] for r in group]):+.3f}",
                "worst": f"{min(r['loss_db'] for r in group):+.3f}",
                "bpp": f"{np.mean([r['bits_per_pixel'] for r in group]):.2f}",
                "seconds": f"{seconds[label]:.1f}",
            }
        )
    markdown = titled_table(
        "Writing a denoised image as HEIC or AVIF",
        f"Quality 95, 4:4:4 colour. PSNR change of the round trip: {args.limit} held-out "
        "bsds432 images, Gaussian 25, the shipped model. Seconds: one 12-megapixel image "
        "(a held-out image resized to 4000×3000) on this machine.",
        ["format", "setting", "mean PSNR change (dB)", "worst", "bits/pixel", "s / 12 MP"],
        summary,
        ["format", "setting", "loss", "worst", "bpp", "seconds"],
    )
    write_results(args.out, rows, markdown)
    print("\n".join(markdown))


if __name__ == "__main__":
    main()
