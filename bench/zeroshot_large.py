"""Benchmark: wall time and peak memory of ``n2n denoise`` on large images.

Runs the real command line (read, denoise, write) in a fresh process per image and reads
its peak memory (max RSS) and wall time:

- kodim01 at the size it has in the shared data (scikit-image's astronaut without it),
- the same image resized to 768×512, the size of the original Kodak images,
- the same image upscaled to 4000×3000 (12 megapixels),

each with Gaussian noise sigma 25 added and written as PNG.

    python bench/zeroshot_large.py --out bench/results/zeroshot_large

Writes ``<out>.csv`` and ``<out>.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import command, method_args, write_results

from noise2noise import add_noise, read_image, write_image
from noise2noise.datasets import default_data_root


def _source_image(data_root: Path) -> tuple[str, np.ndarray]:
    kodak = data_root / "kodak24" / "kodim01.png"
    if kodak.is_file():
        return "kodim01", read_image(kodak)
    from skimage.data import astronaut

    return "astronaut", astronaut()


def _run(command: list[str]) -> tuple[float, float]:
    """Wall seconds and peak RSS (MB) of a child process."""
    start = time.perf_counter()
    subprocess.run(command, check=True, stdout=subprocess.DEVNULL)
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # max so far
    return seconds, peak_mb


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--preset", default="fast", help="ZS-N2N preset (method zeroshot)")
    parser.add_argument(
        "--method", default="zeroshot", help="zeroshot (default), pretrained, real, ..."
    )
    parser.add_argument("--data-root", type=Path, default=default_data_root())
    parser.add_argument("--out", default="bench/results/zeroshot_large")
    args = parser.parse_args()

    from skimage.transform import resize

    name, image = _source_image(args.data_root)

    def resized(h: int, w: int) -> np.ndarray:
        scaled = resize(image, (h, w), order=1, anti_aliasing=False) * 255
        return scaled.round().astype(np.uint8)

    cases = [
        (f"{name} {image.shape[1]}×{image.shape[0]}", image),
        (f"{name} resized to 768×512 (Kodak's own size)", resized(512, 768)),
        (f"{name} upscaled to 4000×3000", resized(3000, 4000)),
    ]
    rows = []
    n2n = str(Path(sys.executable).with_name("n2n"))
    with tempfile.TemporaryDirectory() as tmp:
        # Each case runs in order of size, so the running maximum of RSS is that case's.
        for label, clean in cases:
            noisy = add_noise(clean, "gaussian:25", seed=0, channel_axis=-1)
            src = write_image(Path(tmp) / "noisy.png", noisy, overwrite=True)
            dst = Path(tmp) / "out.png"
            dst.unlink(missing_ok=True)
            seconds, peak = _run([n2n, "denoise", str(src), "-o", str(dst), *method_args(args)])
            rows.append(
                {
                    "image": label,
                    "megapixels": round(clean.shape[0] * clean.shape[1] / 1e6, 2),
                    "preset": args.preset if args.method == "zeroshot" else args.method,
                    "seconds": round(seconds, 1),
                    "peak_mb": round(peak),
                }
            )
            print(rows[-1], flush=True)
    md = [
        f"# Large images\n\nMade by `{command()}` ({platform.machine()}, "
        f"{os.cpu_count()} cores). Wall time of the whole `n2n denoise` command (start-up, "
        "reading, denoising, writing) and its peak memory (max RSS).\n",
        "| image | megapixels | preset | seconds | peak MB |",
        "|---|---|---|---|---|",
    ]
    md += [
        f"| {r['image']} | {r['megapixels']} | {r['preset']} | {r['seconds']} | {r['peak_mb']} |"
        for r in rows
    ]
    write_results(args.out, rows, md)


if __name__ == "__main__":
    main()
