"""Benchmark: ZS-N2N presets (and BM3D/ANSC when installed) on the same noisy images.

Every method sees the identical noisy image (seeded per image and noise, as in
``n2n eval``). Each (image, noise, method) cell runs in a fresh process, so its wall time
and peak memory (max RSS, which includes the ~0.3 GB of an imported torch) are its own.

    python bench/zeroshot_speed.py --images kodak24 --limit 8 \
        --noise gaussian:25 --noise poisson:25 --out bench/results/zeroshot_speed

Prints a table and the mean PSNR difference and time ratio of each method against
``paper``, and writes ``<out>.csv`` and ``<out>.md``.
"""

from __future__ import annotations

import argparse
import platform
import resource
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import numpy as np
import torch
from _common import command, write_results

from noise2noise.batch import die_with_parent
from noise2noise.datasets import load_image_set
from noise2noise.denoisers import NoiseAwareDenoiser
from noise2noise.evaluation import make_noisy
from noise2noise.metrics import psnr, ssim
from noise2noise.noise import parse_noise


def _run_cell(method: str, options: dict, noisy: np.ndarray, noise_spec: str):
    """In a fresh process: denoise, return (output, seconds, peak RSS in MB)."""
    fn = NoiseAwareDenoiser(method, options)
    start = time.perf_counter()
    out = fn(noisy, parse_noise(noise_spec))
    seconds = time.perf_counter() - start
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux
    return out, seconds, peak_mb


def _methods(args) -> list[tuple[str, str, dict]]:
    """(label, method, options) for every method to compare."""
    chosen = [
        ("fast", "zeroshot", {"preset": "fast", "seed": args.seed}),
        ("paper", "zeroshot", {"preset": "paper", "seed": args.seed}),
        ("pretrained", "pretrained", {}),
        ("real", "real", {}),
    ]
    try:
        import bm3d  # noqa: F401

        chosen += [("bm3d", "bm3d", {}), ("ansc", "ansc", {})]
    except ImportError:
        print("bm3d is not installed: BM3D and ANSC left out", file=sys.stderr)
    return [m for m in chosen if m[0] in args.methods]


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", nargs="+", default=["kodak24"])
    parser.add_argument("--noise", action="append", default=None)
    parser.add_argument("--limit", type=int, default=8)
    parser.add_argument(
        "--paper-limit",
        type=int,
        default=None,
        help="run the slow paper preset on only the first N images",
    )
    parser.add_argument("--crop", type=int, default=256, help="0 for whole images")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--methods", default="fast,paper,bm3d,ansc")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--out", default="bench/results/zeroshot_speed")
    args = parser.parse_args()
    args.methods = args.methods.split(",")
    noises = args.noise or ["gaussian:25", "poisson:25"]

    images = load_image_set(
        args.images, crop=args.crop or None, limit=args.limit, data_root=args.data_root
    )
    rows = []
    header = (
        f"{'image':<12} {'noise':<12} {'method':<6} {'PSNR':>6} {'SSIM':>6} "
        f"{'seconds':>8} {'peak MB':>8}"
    )
    print(header)
    for noise_spec in noises:
        noise = parse_noise(noise_spec)
        for index, (name, image) in enumerate(images):
            clean, noisy = make_noisy(image, noise, seed=args.seed, image_name=name)
            for label, method, options in _methods(args):
                if label == "paper" and args.paper_limit is not None and index >= args.paper_limit:
                    continue
                # A fresh single-use process per cell: its own timing and peak memory.
                with ProcessPoolExecutor(
                    max_workers=1, max_tasks_per_child=1, initializer=die_with_parent
                ) as pool:
                    out, seconds, peak = pool.submit(
                        _run_cell, method, options, noisy, noise_spec
                    ).result()
                if out is None:
                    continue
                row = {
                    "image": name,
                    "noise": noise_spec,
                    "method": label,
                    "psnr": round(psnr(out, clean), 3),
                    "ssim": round(ssim(out, clean, channel_axis=-1), 4),
                    "seconds": round(seconds, 2),
                    "peak_mb": round(peak),
                }
                rows.append(row)
                print(
                    f"{name:<12} {noise_spec:<12} {label:<6} {row['psnr']:>6.2f} "
                    f"{row['ssim']:>6.3f} {row['seconds']:>8.1f} {row['peak_mb']:>8}",
                    flush=True,
                )

    lines = _summary(rows, noises)
    md = [
        f"# ZS-N2N speed benchmark\n\nMade by `{command()}` "
        f"({platform.machine()}, {torch.get_num_threads()} torch threads), "
        f"torch {torch.__version__}.\n",
        *lines,
        "",
        "Per image:",
        "",
        "| image | noise | method | PSNR | SSIM | seconds | peak MB |",
        "|---|---|---|---|---|---|---|",
    ]
    md += [
        f"| {r['image']} | {r['noise']} | {r['method']} | {r['psnr']:.2f} | "
        f"{r['ssim']:.3f} | {r['seconds']:.1f} | {r['peak_mb']} |"
        for r in rows
    ]
    write_results(args.out, rows, md)
    print("\n".join(lines))


def _summary(rows: list[dict], noises: list[str]) -> list[str]:
    """Mean PSNR/SSIM/time per method and noise; PSNR difference and speed-up vs paper,
    over the images on which paper ran."""
    lines = [
        "| noise | method | images | mean PSNR | mean SSIM | mean seconds | max peak MB "
        "| PSNR − paper (same images) | paper time / time |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for noise in noises:
        cells = [r for r in rows if r["noise"] == noise]
        paper = {r["image"]: r for r in cells if r["method"] == "paper"}
        for method in dict.fromkeys(r["method"] for r in cells):
            mine = [r for r in cells if r["method"] == method]
            both = [r for r in mine if r["image"] in paper]
            diff = ratio = "–"
            if both and method != "paper":
                diff = f"{np.mean([r['psnr'] - paper[r['image']]['psnr'] for r in both]):+.2f}"
                paper_time = sum(paper[r["image"]]["seconds"] for r in both)
                ratio = f"{paper_time / sum(r['seconds'] for r in both):.1f}×"
            lines.append(
                f"| {noise} | {method} | {len(mine)} | {np.mean([r['psnr'] for r in mine]):.2f} "
                f"| {np.mean([r['ssim'] for r in mine]):.3f} "
                f"| {np.mean([r['seconds'] for r in mine]):.1f} "
                f"| {max(r['peak_mb'] for r in mine)} | {diff} | {ratio} |"
            )
    return lines


if __name__ == "__main__":
    main()
