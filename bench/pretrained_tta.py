"""Benchmark: what flip/rotation averaging adds to the pretrained model, per count.

For Kodak24 images (full size) with Gaussian noise (seeded as in ``n2n eval``), the PSNR
of the blind model averaged over 1, 2, 4 and 8 of the flips/rotations (in the order of
``noise2noise.tta.TTA_ORDER``), and the seconds each costs.

    python bench/pretrained_tta.py --images kodak24 --limit 6 --data-root ../shared/data \
        --out bench/results/pretrained_tta
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
from _common import command, write_results

from noise2noise.datasets import load_image_set
from noise2noise.evaluation import make_noisy
from noise2noise.metrics import psnr
from noise2noise.noise import parse_noise
from noise2noise.pretrained import load_pretrained
from noise2noise.tta import average_dihedral


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--images", default="kodak24")
    ap.add_argument("--limit", type=int, default=6)
    ap.add_argument("--noise", default="gaussian:25")
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", default="bench/results/pretrained_tta")
    args = ap.parse_args()
    net = load_pretrained("blind", 3)
    rows = []
    for name, image in load_image_set([args.images], limit=args.limit, data_root=args.data_root):
        clean, noisy = make_noisy(image, parse_noise(args.noise), seed=0, image_name=name)
        x = torch.from_numpy(noisy.transpose(2, 0, 1))[None]
        for n in (1, 2, 4, 8):
            tic = time.perf_counter()
            with torch.no_grad():
                out = average_dihedral(net, x, n).clamp(0, 1)[0].numpy().transpose(1, 2, 0)
            rows.append(
                {
                    "image": name,
                    "transforms": n,
                    "psnr": round(psnr(out, clean), 3),
                    "seconds": round(time.perf_counter() - tic, 2),
                }
            )
            print(rows[-1], flush=True)
    md = [
        "# Flip/rotation averaging of the pretrained model",
        "",
        f"`{command()}`",
        "",
        "| transforms | mean PSNR | gain over 1 | mean seconds |",
        "|---|---|---|---|",
    ]
    base = np.mean([r["psnr"] for r in rows if r["transforms"] == 1])
    for n in (1, 2, 4, 8):
        sel = [r for r in rows if r["transforms"] == n]
        mean = np.mean([r["psnr"] for r in sel])
        secs = np.mean([r["seconds"] for r in sel])
        md.append(f"| {n} | {mean:.3f} | {mean - base:+.3f} | {secs:.2f} |")
    write_results(args.out, rows, md)
    print("\n".join(md))


if __name__ == "__main__":
    main()
