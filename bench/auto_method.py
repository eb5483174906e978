"""How `--method auto` tells camera noise from white noise, and what it picks on the
benchmarks.

`auto` (the default of `n2n denoise`) measures the correlation of the noise of
neighbouring pixels (:func:`noise2noise.estimate.estimate_noise`) and runs the `real`
model above :data:`noise2noise.estimate.CORRELATED`, the blind `pretrained` one below.

1. Calibration, on training images only (every ``--every``-th of bsds432): the measured
   correlation under white noise (Gaussian sigma 3-75, Poisson peak 5-120; 8-bit), under
   synthetic raw camera noise (:func:`noise2noise.camera.camera_noise`), the same saved as
   JPEG at a random quality of 70-95, the modelled noise of developed camera JPEGs
   (:func:`noise2noise.camera.photo_noise`, what `real` is trained on), and on the images
   as they are. The threshold sits between the white
   noise of sigma >= 5 and the camera noise.
2. What it picks on the test sets of `bench/pretrained.py` (CBSD68, Kodak24; seeded
   8-bit noisy inputs at its noises, and unclipped float Gaussian 25): the share of
   images sent to `real`, and, where any is, the PSNR of `auto` against `pretrained` on
   them.

Its PSNR on real photographs is a row of `bench/real_noise.py`. Writes ``<out>.csv`` and
``<out>.md``.

    python bench/auto_method.py --data-root ../shared/data --out bench/results/auto_method
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from _common import command, group_rows, jpeg, write_results

from noise2noise import add_noise, denoise, estimate_noise, parse_noise, psnr, read_image
from noise2noise.camera import camera_noise, photo_noise, sample_camera_params, sample_photo_params
from noise2noise.convert import image_to_tensor, tensor_to_image
from noise2noise.datasets import default_data_root
from noise2noise.estimate import CORRELATED
from noise2noise.image_io import list_images

WHITE = [f"gaussian:{s}" for s in (3, 5, 10, 15, 25, 50, 75)] + [
    f"poisson:{p}" for p in (5, 15, 30, 60, 120)
]
TESTS = ["gaussian:15", "gaussian:25", "gaussian:50", "poisson:15", "poisson:25"]


def camera(image: np.ndarray, g: torch.Generator) -> np.ndarray:
    """Synthetic camera noise on a uint8 RGB image, as uint8."""
    t = image_to_tensor(image, channel_axis=-1)
    noisy = camera_noise(t, sample_camera_params(1, g), generator=g)
    return tensor_to_image(noisy, image, channel_axis=-1)


def photo(image: np.ndarray, g: torch.Generator) -> np.ndarray:
    """The noise of a developed camera JPEG, modelled (random parameters), as uint8."""
    t = image_to_tensor(image, channel_axis=-1)
    noisy = t + photo_noise(t, sample_photo_params(1, g), generator=g)
    return tensor_to_image(noisy, image, channel_axis=-1)


def calibrate(root: Path, every: int) -> list[dict]:
    rows = []
    g = torch.Generator().manual_seed(0)
    g_photo = torch.Generator().manual_seed(1)  # its own, so the camera draws stay as they were
    rng = np.random.default_rng(0)
    for i, f in enumerate(list_images(root / "bsds432")[::every]):
        image = read_image(f)
        inputs = {"clean (as stored)": image}
        inputs.update({n: add_noise(image, n, seed=i, channel_axis=-1) for n in WHITE})
        inputs["camera"] = camera(image, g)
        inputs["camera + JPEG 70-95"] = jpeg(camera(image, g), int(rng.integers(70, 96)))
        inputs["photo (JPEG noise model)"] = photo(image, g_photo)
        for name, x in inputs.items():
            e = estimate_noise(x, channel_axis=-1)
            rows.append(
                {
                    "part": "calibration",
                    "set": "bsds432",
                    "image": f.stem,
                    "input": name,
                    "sigma": round(e.sigma, 3),
                    "correlation": round(e.correlation, 4),
                    "chosen": "real" if e.correlated else "pretrained",
                }
            )
    return rows


def test_sets(root: Path, limit: int | None) -> list[dict]:
    rows = []
    for set_name in ("cbsd68", "kodak24"):
        for k, f in enumerate(list_images(root / set_name)[:limit]):
            clean = read_image(f)
            inputs = {n: add_noise(clean, n, seed=k, channel_axis=-1) for n in TESTS}
            unclipped = parse_noise("gaussian:25", clip=False)
            floaty = clean.astype(np.float32) / 255
            inputs["float gaussian:25"] = add_noise(floaty, unclipped, seed=k, channel_axis=-1)
            for name, x in inputs.items():
                e = estimate_noise(x, channel_axis=-1)
                row = {
                    "part": "test",
                    "set": set_name,
                    "image": f.stem,
                    "input": name,
                    "sigma": round(e.sigma, 3),
                    "correlation": round(e.correlation, 4),
                    "chosen": "real" if e.correlated else "pretrained",
                }
                if e.correlated:  # the cost of the choice, where it differs
                    ref = clean if x.dtype == np.uint8 else clean.astype(np.float32) / 255
                    rng = 255 if x.dtype == np.uint8 else 1.0
                    row["psnr_real"] = round(psnr(denoise(x, channel_axis=-1, model="real"),
                                                  ref, data_range=rng), 3)  # fmt: skip
                    row["psnr_pretrained"] = round(psnr(denoise(x, channel_axis=-1), ref,
                                                        data_range=rng), 3)  # fmt: skip
                rows.append(row)
                print(row, flush=True)
    return rows


def summary(rows: list[dict]) -> list[str]:
    lines = [
        "# `--method auto`: camera noise or white noise",
        "",
        "```sh",
        command(),
        "```",
        "",
        f"Neighbour correlation of the noise (`noise2noise.estimate.estimate_noise`); `auto`"
        f" runs `real` above {CORRELATED}, else `pretrained`. Calibration on bsds432 training"
        " images only; the test sets and noises are those of `bench/pretrained.py`.",
        "",
        "| part | set | input | images | correlation median | min | max | sigma median |"
        " sent to real |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    groups = group_rows(rows, lambda r: (r["part"], r["set"], r["input"]))
    for (part, set_name, name), rs in groups.items():
        c = np.array([r["correlation"] for r in rs], dtype=float)
        s = np.array([r["sigma"] for r in rs], dtype=float)
        real = sum(r["chosen"] == "real" for r in rs)
        lines.append(
            f"| {part} | {set_name} | {name} | {len(rs)} | {np.nanmedian(c):.3f} | "
            f"{np.nanmin(c):.3f} | {np.nanmax(c):.3f} | {np.nanmedian(s):.2f} | {real} |"
        )
    costly = [r for r in rows if r["part"] == "test" and r["chosen"] == "real"]
    lines.append("")
    if costly:
        gain = np.mean([r["psnr_real"] - r["psnr_pretrained"] for r in costly])
        lines.append(
            f"On the {len(costly)} test inputs sent to `real`, `auto` − `pretrained`: "
            f"{gain:+.2f} dB on average (per image in the CSV)."
        )
    else:
        lines.append("No test input was sent to `real`: there `auto` is `pretrained`.")
    return lines


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", type=Path, default=Path("bench/results/auto_method"))
    ap.add_argument("--every", type=int, default=4, help="every n-th bsds432 image")
    ap.add_argument("--limit", type=int, default=None, help="first N images of each test set")
    args = ap.parse_args()
    root = Path(args.data_root) if args.data_root else default_data_root()
    rows = calibrate(root, args.every) + test_sets(root, args.limit)
    lines = summary(rows)
    write_results(args.out, rows, lines)
    print("\n".join(lines))


if __name__ == "__main__":
    main()
