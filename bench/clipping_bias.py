"""Benchmark: how far the mean of a clipped noisy image is from the clean image.

Noise2Noise learns E[target | input]. Its argument needs zero-mean target noise, but a
noisy image saved to [0, 1] is clipped, and clipping moves the mean of dark pixels up and of
bright pixels down: E[clip(y)] = m(x) != x. An ideal N2N denoiser trained on clipped targets
therefore estimates m(x), not x, and PSNR(m(x), x) is the error floor that bias alone sets.
m(x) is computed exactly (no sampling), per pixel, for each test image:

- Gaussian, z = x + n with n ~ N(0, s^2):
  m = x (Phi(b) - Phi(a)) + s (phi(a) - phi(b)) + 1 - Phi(b), a = -x/s, b = (1 - x)/s
- Poisson, y = K / peak with K ~ Poisson(peak x): m = sum_k min(k / peak, 1) P(K = k)

Prints and writes the mean PSNR(m(x), x) over the images per noise, with the share of
pixels whose mean moves by more than 1/255. With ``--table1 <results.csv>`` of a
reproduction it also adds, per image, the bias MSE to the MSE of each network trained on
clean targets (N2C) and compares the mean of the resulting PSNR with the same network
trained on noisy targets (N2N): what N2N would score if clipping were its only handicap and
the two errors simply added (a rough model: the network sees the bias smoothed, and the
errors can be correlated).

    python bench/clipping_bias.py --images test50 --data-root ../shared/data \
        --table1 docs/results/cpu/table1/results.csv --out bench/results/clipping_bias
"""

from __future__ import annotations

import argparse

import numpy as np
from _common import write_results
from scipy import stats

from noise2noise.convert import as_float
from noise2noise.datasets import load_image_set
from noise2noise.evaluation import read_results
from noise2noise.noise import Gaussian, parse_noise

NOISES = ["gaussian:25", "gaussian:50", "gaussian:75", "poisson:15", "poisson:20", "poisson:25"]


def clipped_mean(x: np.ndarray, noise) -> np.ndarray:
    """E[clip(noisy, 0, 1)] for clean intensities ``x`` in [0, 1]."""
    levels, index = np.unique(np.asarray(x, dtype=np.float64), return_inverse=True)
    return _clipped_mean_of_levels(levels, noise)[index].reshape(np.shape(x))


def _clipped_mean_of_levels(x: np.ndarray, noise) -> np.ndarray:
    if isinstance(noise, Gaussian):
        s = noise.sigma / 255.0
        a, b = -x / s, (1.0 - x) / s
        inside = x * (stats.norm.cdf(b) - stats.norm.cdf(a)) + s * (
            stats.norm.pdf(a) - stats.norm.pdf(b)
        )
        return inside + stats.norm.sf(b)
    peak = float(noise.peak)
    # Counts far above the peak all clip to 1; 12 standard deviations past it is enough.
    kmax = int(np.ceil(peak + 12 * np.sqrt(peak) + 12))
    k = np.arange(kmax + 1, dtype=np.float64)
    pmf = stats.poisson.pmf(k[:, None], peak * x.ravel()[None, :])
    tail = stats.poisson.sf(kmax, peak * x.ravel())  # P(K > kmax), clipped to 1
    return (np.minimum(k / peak, 1.0)[:, None] * pmf).sum(axis=0) + tail


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--images", default="test50", help="image set name or folder")
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--noise", action="append", help="noise spec (repeatable)")
    parser.add_argument("--table1", help="a reproduction's table1/results.csv to compare with")
    parser.add_argument("--out", default="bench/results/clipping_bias")
    args = parser.parse_args()

    images = load_image_set([args.images], data_root=args.data_root)
    table1 = (
        {(c.image, c.noise, c.method): c.psnr for c in read_results(args.table1)}
        if args.table1
        else None
    )
    pairs = [("cnn", "Simple CNN"), ("unet", "U-Net")] if table1 else []
    command = f"python bench/clipping_bias.py --images {args.images}"
    if args.data_root:
        command += f" --data-root {args.data_root}"
    if args.table1:
        command += f" --table1 {args.table1}"
    header = "| noise | mean PSNR (dB) | min PSNR (dB) | pixels moved > 1/255 |"
    for _, label in pairs:
        header += f" {label} N2C | N2C + bias | {label} N2N |"
    markdown = [
        f"PSNR of E[clipped noisy image] against the clean image, {len(images)} images of "
        f"`{args.images}` (exact expectation, no sampling)"
        + (f"; N2C, N2N: mean PSNR in `{args.table1}`." if table1 else "."),
        "",
        f"    {command} --out {args.out}",
        "",
        header,
        "|" + "---|" * (header.count("|") - 1),
    ]
    rows = []
    for spec in args.noise or NOISES:
        noise = parse_noise(spec)
        bias_mse, moved = [], []
        for _, image in images:
            image = as_float(image).astype(np.float64)
            m = clipped_mean(image, noise)
            bias_mse.append(float(np.mean((m - image) ** 2)))
            moved.append(float(np.mean(np.abs(m - image) > 1 / 255)))
        bias_psnr = -10 * np.log10(bias_mse)
        row = {
            "noise": spec,
            "mean_psnr": round(float(np.mean(bias_psnr)), 2),
            "min_psnr": round(float(np.min(bias_psnr)), 2),
            "moved_share": round(float(np.mean(moved)), 4),
        }
        line = (
            f"| {spec} | {row['mean_psnr']:.2f} | {row['min_psnr']:.2f} "
            f"| {100 * row['moved_share']:.1f}% |"
        )
        for arch, _ in pairs:
            n2c = np.array([table1[(name, spec, f"{arch}_clean")] for name, _ in images])
            n2n = np.array([table1[(name, spec, f"{arch}_noisy")] for name, _ in images])
            predicted = -10 * np.log10(10 ** (-n2c / 10) + np.array(bias_mse))
            row[f"{arch}_n2c"] = round(float(n2c.mean()), 2)
            row[f"{arch}_n2c_plus_bias"] = round(float(predicted.mean()), 2)
            row[f"{arch}_n2n"] = round(float(n2n.mean()), 2)
            line += f" {n2c.mean():.2f} | {predicted.mean():.2f} | {n2n.mean():.2f} |"
        rows.append(row)
        markdown.append(line)
        print(line, flush=True)
    write_results(args.out, rows, markdown)


if __name__ == "__main__":
    main()
