"""cuDNN's autotuner in the GPU training loops, off against on (issue 17's timings).

The first GPU check of version 0.4 (`bench/results/gpu_check.md`) missed three targets:
ZS-N2N `fast` at 3.6 s (target 2), a folder of 50 ZS-N2N `paper` networks at 7.0 s per
100 steps (140 s projected, target 60) and the `cpu` U-Net in 52 s (target 30). cuDNN's
default algorithm choice is poor for grouped convolutions (what vmap makes of 50
networks) and small bf16 ones; :func:`noise2noise.runtime.autotuned` switches its
autotuner on inside the loops. Here each timing is taken with it off and on, in one
process, after a warm-up; then the whole folder with it on when the rate says that fits,
and the `cpu` preset's training command (autotuned, as the library now runs it).

    python bench/gpu_autotune.py --data ../shared/data/bsds432 --out bench/results/gpu_autotune
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import torch
from gpu_check import folder_together, timed, train_rate

import noise2noise.runtime as runtime
from noise2noise import add_noise, psnr, read_image
from noise2noise.datasets import center_crop
from noise2noise.image_io import list_images
from noise2noise.zeroshot import PRESETS, denoise_zeroshot


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--folder-images", type=int, default=50)
    ap.add_argument("--folder-limit", type=float, default=100.0)
    ap.add_argument("--steps", type=int, default=None, help="tests: fewer ZS-N2N steps")
    ap.add_argument("--train-extra", default="", help="tests: e.g. '--epochs 1'")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    clean = center_crop(read_image(list_images(args.data)[0]), 256)
    noisy = add_noise(clean, "gaussian:25", seed=0, channel_axis=-1)
    rows: list[dict] = []

    def zs(preset: str):
        return lambda: denoise_zeroshot(
            noisy, channel_axis=-1, device=args.device, seed=0, preset=preset,
            iterations=args.steps,
        )  # fmt: skip

    def record(name: str, tune: bool, fn) -> dict:
        runtime.AUTOTUNE = tune
        out, seconds = timed(fn, args.device)
        row = {"what": name, "autotune": tune, "seconds": round(seconds, 2)}
        if isinstance(out, dict):
            row.update(seconds=out["seconds"], psnr=out["psnr"])
        else:
            row["psnr"] = round(psnr(out, clean, data_range=255), 3)
        rows.append(row)
        print(row, flush=True)
        write(args.out, rows)
        return row

    zs("fast")()  # warm-up: CUDA context, first kernels
    for preset in ("fast", "paper"):
        for tune in (False, True):
            record(f"ZS-N2N {preset}, one 256x256 image", tune, zs(preset))
    folder = lambda steps: lambda: folder_together(args, paper_steps=steps)  # noqa: E731
    rates = {}
    for tune in (False, True):
        name = f"ZS-N2N paper, {args.folder_images} images together, 100 steps"
        rates[tune] = record(name, tune, folder(100))["seconds"]
    best = min(rates, key=rates.get)
    full = args.steps or PRESETS["paper"].steps
    if rates[best] * full / 100 < args.folder_limit:
        record(f"ZS-N2N paper, {args.folder_images} images together, {full} steps", best,
               folder(args.steps))  # fmt: skip
    runtime.AUTOTUNE = True
    t = train_rate("cpu", args.data, args.out, args.device, args.train_extra.split())
    rows.append({"what": "n2n train --preset cpu (whole command)", "autotune": True, **t})
    print(rows[-1], flush=True)
    write(args.out, rows)


def write(out: Path, rows: list[dict]) -> None:
    device = torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu"
    (out / "gpu_autotune.json").write_text(
        json.dumps({"device": device, "torch": torch.__version__, "rows": rows}, indent=2) + "\n"
    )
    lines = [
        "# cuDNN autotuner off and on",
        "",
        f"Device: {device}; torch {torch.__version__}.",
        "",
        "```sh",
        "python " + " ".join(sys.argv),
        "```",
        "",
        "| what | autotune | seconds | PSNR | more |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        more = ""
        if "wall_seconds" in r:
            more = (
                f"{r['steps_per_second']} steps/s, epochs {r['epoch_seconds']} s, "
                f"wall {r['wall_seconds']} s, val PSNR {r['val_psnr']}"
            )
            lines.append(f"| {r['what']} | {r['autotune']} | {r['wall_seconds']} | | {more} |")
            continue
        lines.append(f"| {r['what']} | {r['autotune']} | {r['seconds']} | {r['psnr']} | |")
    (out / "gpu_autotune.md").write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()
