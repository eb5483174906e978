"""Benchmark: throughput of ``n2n denoise`` on a folder, one worker versus one per core.

Adds Gaussian noise (sigma 25) to the first N images of a set, writes them to a temporary
folder and runs the real command line on the folder, once with ``--workers 1`` and once
with the default (one single-threaded worker process per core), timing each:

    python bench/folder_run.py --images kodak24 --limit 12 --data-root ../shared/data \\
        --out bench/results/folder_run

Prints images per minute and writes ``<out>.csv`` and ``<out>.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import method_args, table, write_results

from noise2noise import add_noise, read_image, write_image
from noise2noise.datasets import default_data_root, image_set_paths


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", default="kodak24")
    parser.add_argument("--limit", type=int, default=12)
    parser.add_argument("--preset", default="fast", help="ZS-N2N preset (method zeroshot)")
    parser.add_argument(
        "--method", default="zeroshot", help="zeroshot (default), pretrained, real, ..."
    )
    parser.add_argument("--data-root", type=Path, default=default_data_root())
    parser.add_argument("--out", default="bench/results/folder_run")
    args = parser.parse_args()

    paths = image_set_paths(args.images, data_root=args.data_root)[0][: args.limit]
    n2n = str(Path(sys.executable).with_name("n2n"))
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "noisy"
        src.mkdir()
        for i, path in enumerate(paths):
            noisy = add_noise(read_image(path), "gaussian:25", seed=i, channel_axis=-1)
            write_image(src / f"{path.stem}.png", noisy)
        for label, extra in (("1 worker", ["--workers", "1"]), ("default (1 per core)", [])):
            dst = Path(tmp) / f"out-{len(rows)}"
            command = [n2n, "denoise", str(src), "-o", str(dst), *method_args(args)]
            start = time.perf_counter()
            subprocess.run(command + extra, check=True, stdout=subprocess.DEVNULL)
            seconds = time.perf_counter() - start
            if len(list(dst.iterdir())) != len(paths):
                raise RuntimeError(f"{dst}: expected {len(paths)} outputs")
            rows.append(
                {
                    "workers": label,
                    "images": len(paths),
                    "preset": args.preset if args.method == "zeroshot" else args.method,
                    "seconds": round(seconds, 1),
                    "images_per_minute": round(len(paths) / seconds * 60, 2),
                }
            )
            print(rows[-1], flush=True)
    md = [
        f"# Folder run\n\nMade by `{command()}` ({platform.machine()}, "
        f"{os.cpu_count()} cores). Wall time of the whole `n2n denoise FOLDER -o OUT` "
        f"command on the first {len(paths)} images of {args.images} with Gaussian noise "
        "sigma 25.\n",
    ]
    md += table(
        ["workers", "images", "preset", "seconds", "images per minute"],
        rows,
        ["workers", "images", "preset", "seconds", "images_per_minute"],
    )
    write_results(args.out, rows, md)


if __name__ == "__main__":
    main()
