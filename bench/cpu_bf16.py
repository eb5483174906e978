"""The shipped networks in bf16 on the CPU against float32: accuracy and time.

On a CPU with bf16 in hardware (AVX-512 BF16 or AMX), `noise2noise.denoise` runs the
network under bf16 autocast (`noise2noise.runtime.inference_autocast`). This measures what
that costs and gains, on images no shipped network trained on and no test image: the
held-out validation images of bsds432 (the training runs' own 5 % split) at full size,
8-bit noisy inputs, seeded, the same input for both; the RGB model on the colour images,
the grayscale model on their luminance. With ``--polyu``, the camera-photo model (`real`)
on the first photos of polyu_canon's tuning split (the first 20 pairs, which
`bench/real_tune.py` may look at), 512×512 centre crops of the real noisy JPEGs against
their averaged references. `N2N_CPU_BF16` switches between the two in one process.
Seconds: wall time of `denoise` per image (flip averaging and shrinking as shipped), 2
torch threads unless the machine has fewer.

    python bench/cpu_bf16.py --data ../shared/data/bsds432 \
        --polyu ../shared/data/polyu_canon --out bench/results/cpu_bf16

Writes ``<out>.csv`` (per image) and ``<out>.md``.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np
import torch
from _common import command, group_rows, held_out, stored_8bit, table, write_results

from noise2noise import add_noise, denoise, psnr, read_image
from noise2noise.datasets import center_crop
from noise2noise.image_io import list_images
from noise2noise.runtime import CPU_BF16_ENV, cpu_has_bf16

NOISES = ("gaussian:5", "gaussian:15", "gaussian:25", "gaussian:50", "poisson:25")
LUMA = np.array([0.299, 0.587, 0.114], np.float32)
TUNE = 20  # polyu_canon's tuning split: its first pairs (bench/real_tune.py)


def cpu_name() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
    except OSError:
        names = []
    return f"{names[0]} ({len(names)} cores)" if names else platform.machine()


def run(noisy: np.ndarray, channel_axis, bf16: bool, model: str) -> tuple[np.ndarray, float]:
    os.environ[CPU_BF16_ENV] = "1" if bf16 else "0"
    tic = time.perf_counter()
    out = denoise(noisy, channel_axis=channel_axis, model=model)
    return out, time.perf_counter() - tic


def measure(name: str, model: str, noise: str, noisy, clean, axis) -> dict:
    row = {"image": name, "model": model, "noise": noise}
    for label, bf16 in (("fp32", False), ("bf16", True)):
        out, seconds = run(noisy, axis, bf16, "real" if model == "real" else "blind")
        row[f"psnr_{label}"] = round(psnr(out, clean), 4)
        row[f"s_{label}"] = round(seconds, 3)
    print(row, flush=True)
    return row


def polyu_pairs(folder: str, count: int) -> list[tuple[str, np.ndarray, np.ndarray]]:
    noisy = [f for f in list_images(folder) if "_real." in f.name][: min(count, TUNE)]
    crop = lambda f: center_crop(read_image(f), 512).astype(np.float32) / 255  # noqa: E731
    return [(f.stem, crop(f), crop(f.with_name(f.name.replace("_real.", "_mean.")))) for f in noisy]


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, help="the bsds432 folder")
    ap.add_argument("--out", required=True)
    ap.add_argument("--limit", type=int, default=0, help="first N held-out images only")
    ap.add_argument("--polyu", help="the polyu_canon folder: also the `real` model")
    ap.add_argument("--polyu-count", type=int, default=10, help=f"at most {TUNE}")
    args = ap.parse_args(argv)
    val = held_out(args.data, args.limit)
    denoise(np.zeros((64, 64), np.float32))  # load the models before timing
    rows = []
    for k, path in enumerate(val):
        rgb = read_image(path).astype(np.float32) / 255
        for model, clean, axis in (("rgb", rgb, -1), ("gray", rgb @ LUMA, None)):
            noises = NOISES if model == "rgb" else ("gaussian:25",)
            for noise in noises:
                noisy = add_noise(clean, noise, seed=k, channel_axis=axis)
                noisy = stored_8bit(noisy)
                rows.append(measure(path.stem, model, noise, noisy, clean, axis))
    if args.polyu:
        for name, noisy, clean in polyu_pairs(args.polyu, args.polyu_count):
            rows.append(measure(name, "real", "camera (polyu)", noisy, clean, -1))
    os.environ.pop(CPU_BF16_ENV, None)
    summary = []
    for (model, noise), group in group_rows(rows, lambda r: (r["model"], r["noise"])).items():
        diff = np.array([r["psnr_bf16"] - r["psnr_fp32"] for r in group])
        seconds = {k: np.array([r[f"s_{k}"] for r in group]) for k in ("fp32", "bf16")}
        summary.append(
            {
                "model": model,
                "noise": noise,
                "n": len(group),
                "fp32": f"{np.mean([r['psnr_fp32'] for r in group]):.3f}",
                "bf16": f"{np.mean([r['psnr_bf16'] for r in group]):.3f}",
                "diff": f"{diff.mean():+.4f}",
                "worst": f"{diff.min():+.4f}",
                "s_fp32": f"{seconds['fp32'].mean():.2f}",
                "s_bf16": f"{seconds['bf16'].mean():.2f}",
                "speedup": f"{seconds['fp32'].sum() / seconds['bf16'].sum():.2f}×",
            }
        )
    cpu = cpu_name()
    lines = [
        "# The shipped networks in bf16 on the CPU, against float32",
        "",
        "```sh",
        command(),
        "```",
        "",
        f"{cpu}, {torch.get_num_threads()} torch threads, torch {torch.__version__}; "
        f"bf16 in hardware: {cpu_has_bf16()}. Held-out bsds432 images at full size, 8-bit "
        "noisy inputs (`real`: polyu_canon tuning photos, 512×512 crops, real noise); "
        "`noise2noise.denoise` as shipped, float32 (`N2N_CPU_BF16=0`) and bf16 "
        "(`N2N_CPU_BF16=1`) on the same input. diff: bf16 minus float32 PSNR, mean and worst "
        "image; seconds per image.",
        "",
        *table(
            [
                "model",
                "noise",
                "images",
                "float32 PSNR",
                "bf16 PSNR",
                "diff",
                "worst",
                "s float32",
                "s bf16",
                "speed-up",
            ],
            summary,
            ["model", "noise", "n", "fp32", "bf16", "diff", "worst", "s_fp32", "s_bf16", "speedup"],
        ),
        "",
        "Per image: the CSV beside this file.",
    ]
    write_results(args.out, rows, lines)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
