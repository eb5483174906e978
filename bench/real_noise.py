"""Benchmark: real camera noise (polyu_canon) with every method side by side, and a figure
of RNI15 photos (no reference: for the eye only).

polyu_canon holds 55 photos from three Canon cameras (ISO 1600-12800), each with a
reference averaged over many shots of the same static scene. Every method gets the same
noisy JPEG and is told nothing about the noise: the shipped models (``pretrained``: the
blind network; ``real``: the network trained on the correlated noise of camera JPEGs, run
twice), optionally a network trained on synthetic raw camera noise
(``--camera-weights``), ZS-N2N ``fast`` (on every ``--zeroshot-every``-th image: ~20 s
each) and ``paper`` (first ``--paper-limit`` images: ~17 min each on 2 cores), and BM3D
with its sigma estimated from the image. How ``real`` runs was chosen on the first 20
pairs (``bench/real_tune.py``, which reports the other 35 apart); nothing else was tuned
on these images.

    python bench/real_noise.py --data-root ../shared/data --out bench/results/real_noise \
        --figure docs/figures/rni15.png

Writes ``<out>.csv`` (per image and method), ``<out>.md`` (means, and margins on the
images every method ran on) and the figure; ``<out>.partial.csv`` keeps the cells done so
far, so an interrupted run continues where it stopped.
"""

from __future__ import annotations

import argparse
import csv
import time
from pathlib import Path

import numpy as np
from _common import command, write_results

from noise2noise import denoise, denoise_bm3d, denoise_with_model, denoise_zeroshot, read_image
from noise2noise.datasets import default_data_root
from noise2noise.image_io import list_images
from noise2noise.metrics import psnr, ssim


def methods(args, k: int) -> dict:
    """name -> fn(noisy uint8 image) for image number ``k``."""
    fns = {
        "noisy": lambda x: x,
        "pretrained": lambda x: denoise(x, channel_axis=-1),
        "real": lambda x: denoise(x, channel_axis=-1, model="real"),
        "bm3d-estimated": lambda x: denoise_bm3d(x, channel_axis=-1),
        "auto": lambda x: denoise(x, channel_axis=-1, model="auto"),  # the default
    }
    if args.camera_weights:
        fns["camera-model"] = lambda x: denoise_with_model(
            x, model=args.camera_weights, channel_axis=-1
        )
    if k % args.zeroshot_every == 0:
        fns["zeroshot-fast"] = lambda x: denoise_zeroshot(x, channel_axis=-1, seed=0)
    if k < args.paper_limit:
        fns["zeroshot-paper"] = lambda x: denoise_zeroshot(
            x, channel_axis=-1, seed=0, preset="paper"
        )
    return fns


FIELDS = ["image", "method", "psnr", "ssim", "seconds"]


def evaluate(args) -> list[dict]:
    """Every cell, appended to ``<out>.partial.csv`` as it is done (a re-run resumes)."""
    root = Path(args.data_root) if args.data_root else default_data_root()
    noisy_files = [f for f in list_images(root / "polyu_canon") if "_real" in f.stem]
    partial = args.out.with_suffix(".partial.csv")
    partial.parent.mkdir(parents=True, exist_ok=True)
    rows = list(csv.DictReader(open(partial))) if partial.exists() else []
    for r in rows:
        r.update({k: float(r[k]) for k in ("psnr", "ssim", "seconds")})
    done = {(r["image"], r["method"]) for r in rows}
    if not partial.exists():
        partial.write_text(",".join(FIELDS) + "\n")
    for k, f in enumerate(noisy_files[: args.limit]):
        noisy = read_image(f)
        ref = read_image(f.with_name(f.name.replace("_real", "_mean")))
        for name, fn in methods(args, k).items():
            if (f.stem.replace("_real", ""), name) in done:
                continue
            tic = time.perf_counter()
            out = fn(noisy)
            seconds = time.perf_counter() - tic if name != "noisy" else 0.0
            rows.append(
                {
                    "image": f.stem.replace("_real", ""),
                    "method": name,
                    "psnr": round(psnr(out, ref, data_range=255), 3),
                    "ssim": round(ssim(out, ref, channel_axis=-1, data_range=255), 4),
                    "seconds": round(seconds, 2),
                }
            )
            with open(partial, "a", newline="") as out:
                csv.DictWriter(out, fieldnames=FIELDS).writerow(rows[-1])
            print(rows[-1], flush=True)
    return rows


def summary(rows: list[dict]) -> list[str]:
    by: dict[str, dict[str, dict]] = {}
    for r in rows:
        by.setdefault(r["method"], {})[r["image"]] = r
    lines = [
        "# Real camera noise: polyu_canon",
        "",
        "```sh",
        command(),
        "```",
        "",
        "Mean over the images each method ran on; 'PSNR − noisy' and 'real − method' are "
        "taken over exactly those images.",
        "",
        "| method | images | PSNR | SSIM | seconds | PSNR − noisy | real − method (same images) |",
        "|---|---|---|---|---|---|---|",
    ]
    for method, cells in by.items():
        names = sorted(cells)

        def mean(m, field, names=names):
            return float(np.mean([by[m][n][field] for n in names]))

        lines.append(
            f"| {method} | {len(names)} | {mean(method, 'psnr'):.2f} | "
            f"{mean(method, 'ssim'):.4f} | {mean(method, 'seconds'):.2f} | "
            f"{mean(method, 'psnr') - mean('noisy', 'psnr'):+.2f} | "
            f"{mean('real', 'psnr') - mean(method, 'psnr'):+.2f} |"
        )
    return lines


def figure(args) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    root = Path(args.data_root) if args.data_root else default_data_root()
    names = args.figure_images
    columns = {
        "noisy": lambda x: x,
        "pretrained (blind)": lambda x: denoise(x, channel_axis=-1),
        "real": lambda x: denoise(x, channel_axis=-1, model="real"),
        "ZS-N2N fast": lambda x: denoise_zeroshot(x, channel_axis=-1, seed=0),
        "BM3D (sigma estimated)": lambda x: denoise_bm3d(x, channel_axis=-1),
    }
    fig, axes = plt.subplots(
        len(names), len(columns), figsize=(3 * len(columns), 3 * len(names)), squeeze=False
    )
    for i, name in enumerate(names):
        image = read_image(root / "rni15" / name)
        h, w = image.shape[:2]
        s = min(args.figure_crop, h, w)
        crop = np.ascontiguousarray(image[(h - s) // 2 : (h + s) // 2, (w - s) // 2 : (w + s) // 2])
        for j, (title, fn) in enumerate(columns.items()):
            ax = axes[i, j]
            ax.imshow(fn(crop))
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(title, fontsize=10)
            if j == 0:
                ax.set_ylabel(name, fontsize=10)
    fig.tight_layout()
    Path(args.figure).parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(args.figure, dpi=90)
    print(f"wrote {args.figure}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", type=Path, default=Path("bench/results/real_noise"))
    ap.add_argument("--limit", type=int, default=None)
    ap.add_argument("--zeroshot-every", type=int, default=4)
    ap.add_argument("--paper-limit", type=int, default=2)
    ap.add_argument("--camera-weights", default=None, help="a checkpoint of the camera model")
    ap.add_argument("--figure", default=None, help="write the RNI15 figure here")
    ap.add_argument("--figure-images", nargs="+", default=["Dog.png", "Frog.png", "Boy.png"])
    ap.add_argument("--figure-crop", type=int, default=256)
    ap.add_argument("--figure-only", action="store_true")
    args = ap.parse_args()
    if not args.figure_only:
        rows = evaluate(args)
        write_results(args.out, rows, summary(rows))
        print("\n".join(summary(rows)))
    if args.figure:
        figure(args)


if __name__ == "__main__":
    main()
