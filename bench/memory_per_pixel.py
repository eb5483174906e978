"""Benchmark: peak memory of each method per pixel, the numbers behind the memory budget.

``n2n denoise`` refuses an image whose estimated peak memory exceeds what the machine has
(``noise2noise.budget``). The estimate is a fixed cost plus bytes per pixel per method;
this script measures both. For every method and image kind (8-bit gray, 8-bit RGB,
16-bit RGB) it denoises a synthetic noisy image at two sizes, each in a fresh process,
reads the peak resident memory (max RSS) of that process, and fits
``peak = fixed + bytes_per_value × values`` through the two points (values = pixels ×
channels).

    python bench/memory_per_pixel.py --out bench/results/memory_per_pixel

Writes ``<out>.csv`` and ``<out>.md``.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
from pathlib import Path

from _common import command, write_results

KINDS = {"gray8": (1, "uint8"), "rgb8": (3, "uint8"), "rgb16": (3, "uint16")}
CHILD = """
import json, resource, sys
import numpy as np
from noise2noise.denoisers import make_denoiser
method, side, channels, dtype = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rng = np.random.default_rng(0)
shape = (side, side) if channels == 1 else (side, side, channels)
top = 255 if dtype == "uint8" else 65535
image = rng.integers(0, top + 1, size=shape).astype(dtype)
options = {"preset": "fast"} if method == "zeroshot" else {}
if method == "zeroshot_paper":  # whole-image training: memory grows with the image
    method, options = "zeroshot", {"preset": "paper", "iterations": 3}
if method == "bm3d":
    options["sigma"] = 25.0
fn = make_denoiser(method, **options)
fn(image)
print(json.dumps(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024))
"""


def peak_bytes(method: str, side: int, channels: int, dtype: str) -> int:
    out = subprocess.run(
        [sys.executable, "-c", CHILD, method, str(side), str(channels), dtype],
        check=True,
        capture_output=True,
        text=True,
    )
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--methods", default="pretrained,real,zeroshot,zeroshot_paper,bm3d")
    parser.add_argument("--sides", default="768,1536", help="two image sides in pixels")
    parser.add_argument("--out", default="bench/results/memory_per_pixel")
    args = parser.parse_args()
    small, large = (int(s) for s in args.sides.split(","))
    rows = []
    for method in args.methods.split(","):
        for kind, (channels, dtype) in KINDS.items():
            if method == "bm3d" and kind == "rgb16":
                continue  # same code path as rgb8 after conversion to float
            a = peak_bytes(method, small, channels, dtype)
            b = peak_bytes(method, large, channels, dtype)
            values = (large * large - small * small) * channels
            per_value = (b - a) / values
            fixed = a - per_value * small * small * channels
            rows.append(
                {
                    "method": method,
                    "kind": kind,
                    "side_small": small,
                    "side_large": large,
                    "peak_small_mb": round(a / 2**20),
                    "peak_large_mb": round(b / 2**20),
                    "bytes_per_value": round(per_value, 1),
                    "fixed_mb": round(fixed / 2**20),
                }
            )
            print(rows[-1], flush=True)
    md = [
        "# Peak memory per pixel",
        "",
        f"Made by `{command()}` "
        f"({platform.machine()}, peak RSS of a fresh process per run). "
        "`bytes_per_value` is the slope of peak memory over pixels × channels between the "
        "two sizes, `fixed_mb` the intercept (Python, torch, the model).",
        "",
        "| method | kind | peak MB (small) | peak MB (large) | bytes per value | fixed MB |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        md.append(
            f"| {r['method']} | {r['kind']} | {r['peak_small_mb']} ({r['side_small']}²) | "
            f"{r['peak_large_mb']} ({r['side_large']}²) | {r['bytes_per_value']} | "
            f"{r['fixed_mb']} |"
        )
    write_results(Path(args.out), rows, md)


if __name__ == "__main__":
    main()
