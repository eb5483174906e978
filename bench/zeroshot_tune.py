"""Tune ZS-N2N configurations on crops of the TRAINING images (bsds432), never on test images.

Every configuration sees the same noisy 256×256 centre crops (every N-th bsds432 image) and
is compared with a reference configuration (default: the paper preset) on the same images:
mean PSNR, the difference to the reference, seconds per image. Configurations are preset
names or JSON objects of ``ZeroShotConfig`` fields with a "name":

    python bench/zeroshot_tune.py --limit 8 --noise gaussian:25 --noise poisson:25 \\
        --workers 2 --out bench/results/zeroshot_tune paper fast \\
        '{"name": "fast-r1", "steps": 1500, "lr": 2e-3, "lr_milestones": [0.5, 0.75],
          "crop": 32, "batch": 8, "loss_ratio": 1}'

Cells (configuration × image × noise) are appended to ``<out>.csv`` as they finish and
skipped when run again with the same configuration, so the expensive reference is computed
once. Workers are single-threaded processes; timings are comparable only within one run.
"""

from __future__ import annotations

import argparse
import csv
import json
import time
from concurrent.futures import ProcessPoolExecutor, as_completed
from pathlib import Path

import numpy as np
import torch

from noise2noise.batch import die_with_parent
from noise2noise.config import ConfigError
from noise2noise.datasets import center_crop, image_set_paths
from noise2noise.evaluation import make_noisy
from noise2noise.image_io import read_image
from noise2noise.metrics import psnr
from noise2noise.noise import parse_noise
from noise2noise.zeroshot import PRESETS, ZeroShotConfig, apply_zeroshot, fit_zeroshot

FIELDS = ("config", "settings", "image", "noise", "psnr", "seconds")


def _parse_config(spec: str) -> tuple[str, ZeroShotConfig]:
    if spec in PRESETS:
        return spec, PRESETS[spec]
    fields = json.loads(spec)
    name = fields.pop("name", spec)
    return name, ZeroShotConfig.from_dict(fields)


def _settings(config: ZeroShotConfig) -> str:
    return json.dumps(config.to_dict(), sort_keys=True)


def _normalised(settings: str) -> str | None:
    """Settings written by an older version, with the fields added since at their
    defaults; None for a configuration this version cannot run (a retired switch on)."""
    try:
        return _settings(ZeroShotConfig.from_dict(json.loads(settings)))
    except ConfigError:
        return None


def _init_worker() -> None:
    die_with_parent()
    torch.set_num_threads(1)


def _run(config: ZeroShotConfig, clean: np.ndarray, noisy: np.ndarray) -> tuple[float, float]:
    x = torch.from_numpy(clean).permute(2, 0, 1)[None]
    y = torch.from_numpy(noisy).permute(2, 0, 1)[None]
    start = time.perf_counter()
    out = apply_zeroshot(fit_zeroshot(y, config), y, tta=config.tta, tta_budget=config.tta_budget)
    return psnr(out, x), time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("configs", nargs="+", help="preset names or JSON configurations")
    parser.add_argument("--limit", type=int, default=8)
    parser.add_argument("--every", type=int, default=50, help="take every N-th image")
    parser.add_argument("--noise", action="append", default=None)
    parser.add_argument("--reference", default="paper", help="configuration to compare with")
    parser.add_argument("--workers", type=int, default=1, help="single-threaded processes")
    parser.add_argument("--out", default="bench/results/zeroshot_tune")
    parser.add_argument("--data-root", default=None)
    args = parser.parse_args()

    files, _ = image_set_paths("bsds432", args.data_root)
    images = [(f.stem, center_crop(read_image(f), 256)) for f in files[:: args.every]]
    images = images[: args.limit]
    noises = args.noise or ["gaussian:25"]
    reference, _ = _parse_config(args.reference)
    configs = dict(_parse_config(spec) for spec in [args.reference, *args.configs])
    csv_path = Path(args.out).with_suffix(".csv")
    csv_path.parent.mkdir(parents=True, exist_ok=True)
    done = []
    if csv_path.exists():
        with open(csv_path, newline="") as f:
            done = [{**r, "settings": _normalised(r["settings"])} for r in csv.DictReader(f)]
    have = {(r["settings"], r["image"], r["noise"]) for r in done}

    todo = []
    for name, config in configs.items():
        for noise_spec in noises:
            noise = parse_noise(noise_spec)
            for image_name, image in images:
                if (_settings(config), image_name, noise_spec) in have:
                    continue
                clean, noisy = make_noisy(image, noise, seed=0, image_name=image_name)
                todo.append((name, config, image_name, noise_spec, clean, noisy))
    print(f"{len(todo)} cells to compute, {len(done)} cached in {csv_path}", flush=True)
    new = not csv_path.exists()
    with (
        open(csv_path, "a", newline="") as f,
        ProcessPoolExecutor(args.workers, initializer=_init_worker) as pool,
    ):
        writer = csv.DictWriter(f, fieldnames=FIELDS)
        if new:
            writer.writeheader()
        futures = {pool.submit(_run, c[1], c[4], c[5]): c for c in todo}
        for future in as_completed(futures):
            name, config, image_name, noise_spec, _, _ = futures[future]
            value, seconds = future.result()
            row = {
                "config": name,
                "settings": _settings(config),
                "image": image_name,
                "noise": noise_spec,
                "psnr": round(value, 4),
                "seconds": round(seconds, 2),
            }
            writer.writerow(row)
            f.flush()
            done.append(row)
            print(f"{name:>16} {noise_spec:<12} {image_name:<10} {value:6.2f} dB {seconds:6.1f} s")

    _summary(done, configs, [n for n, _ in images], noises, reference, args.out)


def _summary(rows, configs, image_names, noises, reference, out) -> None:
    table: dict[tuple[str, str, str], tuple[float, float]] = {}
    for r in rows:
        table[(r["settings"], r["image"], r["noise"])] = (float(r["psnr"]), float(r["seconds"]))
    ref = _settings(configs[reference])
    import shlex
    import sys

    lines = [
        f"Tuning on {len(image_names)} bsds432 crops (256×256), vs '{reference}'. Made by:",
        "",
        "    python " + " ".join(shlex.quote(a) for a in sys.argv),
        "",
        "(cells cached in the CSV beside this file may come from earlier runs of the script)",
        "",
        "| config | noise | PSNR | vs reference | seconds/image |",
        "|---|---|---|---|---|",
    ]
    for name, config in configs.items():
        key = _settings(config)
        for noise in noises:
            cells = [table.get((key, i, noise)) for i in image_names]
            refs = [table.get((ref, i, noise)) for i in image_names]
            if any(c is None for c in cells) or any(r is None for r in refs):
                continue
            mean = np.mean([c[0] for c in cells])
            delta = mean - np.mean([r[0] for r in refs])
            seconds = np.mean([c[1] for c in cells])
            lines.append(f"| {name} | {noise} | {mean:.3f} | {delta:+.3f} | {seconds:.1f} |")
    text = "\n".join(lines)
    print(text)
    Path(out).with_suffix(".md").write_text(text + "\n")


if __name__ == "__main__":
    main()
