"""Tune ZS-N2N configurations on crops of the TRAINING images (bsds432), never on test images.

Every configuration sees the same noisy 256×256 centre crops (every 50th bsds432 image);
prints mean PSNR and seconds per image. Configurations are presets or JSON objects of
``ZeroShotConfig`` fields with a "name":

    python bench/zeroshot_tune.py --limit 4 --noise gaussian:25 --threads 1 paper fast \
        '{"name": "R1000", "steps": 1000, "lr": 2e-3, "lr_milestones": [0.5, 0.75],
          "crop": 32, "batch": 8, "loss_ratio": Infinity}'
"""

from __future__ import annotations

import argparse
import json
import time

import numpy as np
import torch

from noise2noise.datasets import center_crop, image_set_paths
from noise2noise.evaluation import make_noisy
from noise2noise.image_io import read_image
from noise2noise.metrics import psnr
from noise2noise.noise import parse_noise
from noise2noise.zeroshot import PRESETS, ZeroShotConfig, apply_zeroshot, fit_zeroshot


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("configs", nargs="+", help="preset names or JSON configurations")
    parser.add_argument("--limit", type=int, default=4)
    parser.add_argument("--every", type=int, default=50, help="take every N-th image")
    parser.add_argument("--noise", action="append", default=None)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--data-root", default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    files, _ = image_set_paths("bsds432", args.data_root)
    images = [(f.stem, center_crop(read_image(f), 256)) for f in files[:: args.every]]
    images = images[: args.limit]
    for spec in args.configs:
        if spec in PRESETS:
            name, config = spec, PRESETS[spec]
        else:
            fields = json.loads(spec)
            name = fields.pop("name", spec)
            if "lr_milestones" in fields:
                fields["lr_milestones"] = tuple(fields["lr_milestones"])
            config = ZeroShotConfig(**fields)
        for noise_spec in args.noise or ["gaussian:25"]:
            noise = parse_noise(noise_spec)
            scores, seconds = [], []
            for image_name, image in images:
                clean, noisy = make_noisy(image, noise, seed=0, image_name=image_name)
                x = torch.from_numpy(clean).permute(2, 0, 1)[None]
                y = torch.from_numpy(noisy).permute(2, 0, 1)[None]
                start = time.perf_counter()
                out = apply_zeroshot(fit_zeroshot(y, config), y, tta=config.tta)
                seconds.append(time.perf_counter() - start)
                scores.append(psnr(out, x))
            print(
                f"{noise_spec} {name}: PSNR {np.mean(scores):.3f} "
                f"({', '.join(f'{s:.2f}' for s in scores)}), {np.mean(seconds):.1f} s/image",
                flush=True,
            )


if __name__ == "__main__":
    main()
