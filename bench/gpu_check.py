"""GPU checks: CPU-GPU agreement and timings of every method that runs on a device.

Also ZS-N2N ``paper`` on a folder of 256×256 crops the way folders run on a GPU (the
method registry's batched form: since 0.14 one-image fits interleaved on CUDA streams,
:func:`noise2noise.zeroshot.denoise_zeroshot_interleaved`; issue 17's target: 50 images
in at most 60 s), its mean PSNR beside that of the first image denoised alone.

For one noisy image (a bsds432 training image, Gaussian sigma 25, seeded), on the CPU and
on the GPU: the pretrained model (given weights), ZS-N2N `fast` and `paper`; their PSNR
on each device, the largest pixel difference between the two, and the seconds (after a
warm-up, device synchronised; ZS-N2N `fast` once more on the GPU, its one-off set-up paid),
and on the GPU ZS-N2N `fast` and `paper` again with CUDA graphs switched off
(``N2N_CUDA_GRAPHS=0``: every kernel launched one by one, as before version 0.8).
Then the whole `cpu` preset U-Net training (with graphs, then without) and one epoch of the
`report` preset on the GPU,
as steps per second and seconds. The folder of ZS-N2N networks comes last, as the longest
part; the results files are written after each part. Writes Markdown and JSON.

    python bench/gpu_check.py --data ../shared/data/bsds432 --out bench/results/gpu_check
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import torch
from _common import timed

from noise2noise import add_noise, psnr, read_image
from noise2noise.datasets import center_crop
from noise2noise.image_io import list_images
from noise2noise.methods import REGISTRY
from noise2noise.pretrained import denoise
from noise2noise.zeroshot import PRESETS, denoise_zeroshot


@contextlib.contextmanager
def graphs_off():
    """Training steps one kernel at a time (noise2noise.graphs reads the switch per run)."""
    before = os.environ.get("N2N_CUDA_GRAPHS")
    os.environ["N2N_CUDA_GRAPHS"] = "0"
    try:
        yield
    finally:
        if before is None:
            del os.environ["N2N_CUDA_GRAPHS"]
        else:
            os.environ["N2N_CUDA_GRAPHS"] = before


def compare(name: str, fn, clean, devices, rows, warm: bool = True) -> None:
    outs = {}
    for dev in devices:
        if warm:
            fn(dev)
        out, seconds = timed(lambda d=dev: fn(d), dev)
        outs[dev] = out
        rows.append(
            {
                "method": name,
                "device": dev,
                "psnr": round(psnr(out, clean, data_range=255), 3),
                "seconds": round(seconds, 3),
            }
        )
        print(rows[-1], flush=True)
    if len(outs) == 2:
        a, b = (outs[d].astype(np.int16) for d in devices)
        rows[-1]["max_abs_diff_vs_cpu"] = int(np.abs(a - b).max())
        rows[-1]["psnr_diff_vs_cpu"] = round(rows[-1]["psnr"] - rows[-2]["psnr"], 3)


def folder_together(args, paper_steps: int | None) -> dict:
    """ZS-N2N paper on N noisy 256×256 crops at once on the device: total seconds, mean
    PSNR, and the largest difference from denoising the first crop alone."""
    files = list_images(args.data)[: args.folder_images]
    cleans = [center_crop(read_image(f), 256) for f in files]
    noisies = [add_noise(c, "gaussian:25", seed=i, channel_axis=-1) for i, c in enumerate(cleans)]
    run = lambda: REGISTRY["zeroshot"].batched(  # noqa: E731
        noisies, preset="paper", iterations=paper_steps, seed=0, channel_axis=-1,
        device=args.device,
    )  # fmt: skip
    outs, seconds = timed(run, args.device)
    alone = denoise_zeroshot(
        noisies[0], preset="paper", iterations=paper_steps, seed=0, channel_axis=-1,
        device=args.device,
    )  # fmt: skip
    psnrs = [psnr(o, c, data_range=255) for o, c in zip(outs, cleans, strict=True)]
    return {
        "method": f"zeroshot paper, a folder of {len(files)} images",
        "device": args.device,
        "psnr": round(float(np.mean(psnrs)), 3),
        "seconds": round(seconds, 2),
        "max_abs_diff_vs_cpu": int(np.abs(outs[0].astype(int) - alone.astype(int)).max()),
        "psnr_diff_vs_cpu": "(vs the first image alone on the device)",
    }


def poisson_pairs(device: str) -> list[dict]:
    """Correlation of two ``torch.poisson`` draws in a row from one generator (as
    MixturePairs drew input and target before 0.8) and from two generators (since), by
    the expected count: on CUDA the first was suspected of correlated draws near 50
    (pytorch/pytorch#136750; bench/results/flat_field.md)."""
    rows = []
    for lam in (5, 20, 40, 50, 60, 80, 120):
        rate = torch.full((1_000_000,), float(lam), device=device)
        one = torch.Generator(device=device).manual_seed(1)
        a, b = torch.poisson(rate, generator=one), torch.poisson(rate, generator=one)
        other = torch.Generator(device=device).manual_seed(2)
        c = torch.poisson(rate, generator=other)
        corr = lambda x, y: float(torch.corrcoef(torch.stack([x, y]))[0, 1])  # noqa: E731
        rows.append(
            {
                "expected count": lam,
                "one generator": round(corr(a, b), 4),
                "two generators": round(corr(a, c), 4),
                "variance / mean": round(float(a.var() / a.mean()), 4),
            }
        )
        print(rows[-1], flush=True)
    return rows


def train_rate(preset: str, data: str, out: Path, device: str, extra: list[str]) -> dict:
    run = out / f"train-{preset}"
    if os.environ.get("N2N_CUDA_GRAPHS") == "0":
        run = out / f"train-{preset}-eager"
    cmd = [
        sys.executable, "-m", "noise2noise.cli", "train", "--data", data,
        "--preset", preset, "--device", device, "--out", str(run), *extra,
    ]  # fmt: skip
    tic = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    wall = time.perf_counter() - tic
    if proc.returncode != 0:
        return {"preset": preset, "error": proc.stderr.strip().splitlines()[-1:]}
    config = json.loads((run / "config.json").read_text())
    history = (run / "history.csv").read_text().splitlines()[1:]
    seconds = [float(line.split(",")[5]) for line in history]
    images = len(list_images(data))
    val = max(1, round(images * config["val_fraction"]))
    steps = config["steps_per_epoch"] or -(-(images - val) // config["batch_size"])
    last_psnr = float(history[-1].split(",")[3])
    return {
        "preset": preset,
        "command": "n2n " + " ".join(cmd[3:]),
        "epochs": len(seconds),
        "steps_per_epoch": steps,
        "steps_per_second": round(steps / min(seconds), 1),
        "epoch_seconds": round(sum(seconds), 1),  # the rest of the wall: start, checkpoints
        "wall_seconds": round(wall, 1),
        "val_psnr": round(last_psnr, 2),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--device", default="cuda")
    ap.add_argument("--paper-steps", type=int, default=None, help="tests: fewer ZS-N2N steps")
    ap.add_argument("--train-extra", default="", help="tests: e.g. '--epochs 1 --limit 8'")
    ap.add_argument("--skip-cpu-paper", action="store_true")
    ap.add_argument("--folder-images", type=int, default=50, help="images trained together")
    ap.add_argument(
        "--folder-limit", type=float, default=150.0, help="seconds the whole folder may take"
    )
    ap.add_argument("--folder-only", action="store_true", help="only the folder row (any device)")
    args = ap.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)
    if args.folder_only:
        time_folder(args, [], [], [])
        print((args.out / "gpu_check.md").read_text(), flush=True)
        return
    devices = ["cpu", args.device] if args.device != "cpu" else ["cpu"]

    clean = center_crop(read_image(list_images(args.data)[0]), 256)
    noisy = add_noise(clean, "gaussian:25", seed=0, channel_axis=-1)
    full = read_image(list_images(args.data)[1])
    full_noisy = add_noise(full, "gaussian:25", seed=0, channel_axis=-1)
    rows: list[dict] = [{"method": "noisy", "psnr": round(psnr(noisy, clean, data_range=255), 3)}]

    compare(
        "pretrained blind (256x256)",
        lambda d: denoise(noisy, channel_axis=-1, device=d),
        clean, devices, rows,
    )  # fmt: skip
    compare(
        f"pretrained blind ({full.shape[1]}x{full.shape[0]})",
        lambda d: denoise(full_noisy, channel_axis=-1, device=d),
        full, devices, rows,
    )  # fmt: skip
    fast = lambda d: denoise_zeroshot(noisy, channel_axis=-1, device=d, seed=0)  # noqa: E731
    compare("zeroshot fast (first call)", fast, clean, devices, rows, warm=False)
    if len(devices) > 1:  # the first call on a device also pays for its one-off set-up
        compare("zeroshot fast (again)", fast, clean, devices[1:], rows, warm=False)
    paper_devices = devices[1:] if args.skip_cpu_paper and len(devices) > 1 else devices
    paper = lambda d: denoise_zeroshot(  # noqa: E731
        noisy, channel_axis=-1, device=d, seed=0, preset="paper", iterations=args.paper_steps
    )
    compare("zeroshot paper", paper, clean, paper_devices, rows, warm=False)
    if len(devices) > 1:  # the same on the GPU with its steps one kernel at a time
        with graphs_off():
            compare("zeroshot fast, graphs off", fast, clean, devices[1:], rows, warm=False)
            compare("zeroshot paper, graphs off", paper, clean, devices[1:], rows, warm=False)

    training: list[dict] = []
    poisson = poisson_pairs(args.device)
    write(args.out, rows, training, poisson)  # each part stands if a later one times out
    extra = args.train_extra.split()
    runs = [("cpu", [], False), ("report", ["--epochs", "1"], False)]
    if args.device != "cpu":
        runs.insert(1, ("cpu", [], True))
    for preset, more, eager in runs:
        with graphs_off() if eager else contextlib.nullcontext():
            training.append(train_rate(preset, args.data, args.out, args.device, more + extra))
        if eager:
            training[-1]["preset"] += ", graphs off"
        print(training[-1], flush=True)
        write(args.out, rows, training, poisson)

    if args.device != "cpu" and args.folder_images > 0:  # last: the longest part
        time_folder(args, rows, training, poisson)
    print((args.out / "gpu_check.md").read_text(), flush=True)


def time_folder(args, rows: list[dict], training: list[dict], poisson: list[dict]) -> None:
    """The folder row: 100 steps first; if the whole would not fit ``--folder-limit``,
    that rate stands."""
    rows.append(folder_together(args, paper_steps=100))
    rows[-1]["method"] += " (100 steps)"
    print(rows[-1], flush=True)
    write(args.out, rows, training, poisson)
    full = args.paper_steps or PRESETS["paper"].steps
    if rows[-1]["seconds"] * full / 100 < args.folder_limit:
        rows.append(folder_together(args, paper_steps=args.paper_steps))
        print(rows[-1], flush=True)
        write(args.out, rows, training, poisson)


def write(out: Path, rows: list[dict], training: list[dict], poisson: list[dict]) -> None:
    info = {
        "device": torch.cuda.get_device_name() if torch.cuda.is_available() else "cpu",
        "torch": torch.__version__,
        "cpu_threads": torch.get_num_threads(),
    }
    (out / "gpu_check.json").write_text(
        json.dumps(
            {"info": info, "methods": rows, "training": training, "poisson": poisson}, indent=2
        )
        + "\n"
    )
    lines = [
        "# GPU check",
        "",
        f"Device: {info['device']}; torch {info['torch']}; CPU rows with "
        f"{info['cpu_threads']} threads on the GPU machine's CPU (not the 2-core reference).",
        "",
        "```sh",
        "python " + " ".join(sys.argv),
        "```",
        "",
        "| method | device | PSNR | seconds | PSNR − CPU | max |Δ| vs CPU (8-bit levels) |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['method']} | {r.get('device', '')} | {r['psnr']:.2f} | "
            f"{r.get('seconds', '')} | {r.get('psnr_diff_vs_cpu', '')} | "
            f"{r.get('max_abs_diff_vs_cpu', '')} |"
        )
    if training:
        lines += _training_lines(training)
    if poisson:
        lines += _poisson_lines(poisson)
    (out / "gpu_check.md").write_text("\n".join(lines) + "\n")


def _training_lines(training: list[dict]) -> list[str]:
    lines = [
        "",
        "Training: steps/s of the fastest epoch (validation included); epochs s is the sum of",
        "the epochs' times, wall s the whole command (process start, data, checkpoints too).",
        "",
        "| training preset | steps/s | steps per epoch | epochs | epochs s | wall s | command |",
        "|---|---|---|---|---|---|---|",
    ]
    for t in training:
        if "error" in t:
            lines.append(f"| {t['preset']} | error: {t['error']} | | | | | |")
            continue
        lines.append(
            f"| {t['preset']} | {t['steps_per_second']} | {t['steps_per_epoch']} | "
            f"{t['epochs']} | {t['epoch_seconds']} | {t['wall_seconds']} | `{t['command']}` |"
        )
    return lines


def _poisson_lines(poisson: list[dict]) -> list[str]:
    lines = [
        "",
        "Two `torch.poisson` draws of 10⁶ pixels in a row: their correlation from one",
        "generator and from two (input and target noise of a training pair since 0.8),",
        "and the first draw's variance over its mean (1 for Poisson).",
        "",
        "| expected count | one generator | two generators | variance / mean |",
        "|---|---|---|---|",
    ]
    lines += [
        f"| {p['expected count']} | {p['one generator']} | {p['two generators']} | "
        f"{p['variance / mean']} |"
        for p in poisson
    ]
    return lines


if __name__ == "__main__":
    main()
