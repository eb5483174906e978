"""Benchmark: the shipped pretrained model against CBM3D/ANSC and ZS-N2N on identical inputs.

Every method sees the identical noisy image (seeded per image and noise, as in ``n2n
eval``), in one of three protocols:

- ``8bit``: the noisy image clipped to [0, 1] and rounded to 8 bits, as a stored file is;
- ``float``: unclipped float noise, the literature's protocol (Gaussian only);
- ``gray8``: as ``8bit`` on the luminance of the images (BT.601), for the grayscale model
  against BM3D/ANSC on one channel (``--gray-noise``, default Gaussian 25).

Methods: ``pretrained`` (``noise2noise.denoise``, blind: it is told nothing), CBM3D with
the true sigma for Gaussian noise, ANSC (Anscombe + BM3D, exact unbiased inverse) with the
true peak for Poisson noise, and ZS-N2N ``fast`` on the first ``--zeroshot-limit`` images
of each set (it takes ~20 s an image). Cells are cached in ``<out>/<protocol>/results.csv``
and may be filled by several processes at once (start the same command twice on 2 cores).

    python bench/pretrained.py --sets cbsd68 kodak24 test50 --data-root ../shared/data \
        --out bench/results/pretrained

After new weights, ``--rerun pretrained`` computes the model's cells again and keeps the
others (CBM3D takes ~20 s an image).

Writes ``<out>.md`` and ``<out>.csv``: per set, protocol and noise, the mean PSNR/SSIM and
seconds per image of each method, and the pretrained model's margin over the classical
baseline on the same images.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from _common import command, write_results

from noise2noise import denoise, denoise_ansc, denoise_bm3d, denoise_zeroshot
from noise2noise.convert import luminance
from noise2noise.datasets import load_image_set
from noise2noise.evaluation import NOISY, evaluate, read_results
from noise2noise.files import drop_csv_rows
from noise2noise.noise import Gaussian, Poisson, parse_noise, quantise

NOISES = ("gaussian:15", "gaussian:25", "gaussian:50", "poisson:15", "poisson:25")


@dataclass(frozen=True)
class Stored:
    """A noise model whose output is rounded to 8 bits, as an image file stores it."""

    noise: Gaussian | Poisson

    @property
    def name(self) -> str:
        return self.noise.name

    def __call__(self, x, *, generator):
        return quantise(self.noise(x, generator=generator))


def methods_for(with_zeroshot: bool) -> dict:
    """fn(noisy, noise) per method; a method returns None where it does not apply."""

    def level(noise):
        return noise.noise if isinstance(noise, Stored) else noise

    def bm3d(noisy, noise):
        n = level(noise)
        if not isinstance(n, Gaussian):
            return None
        return denoise_bm3d(noisy, sigma=n.sigma, channel_axis=-1)

    def ansc(noisy, noise):
        n = level(noise)
        return denoise_ansc(noisy, peak=n.peak, channel_axis=-1) if isinstance(n, Poisson) else None

    fns = {
        "pretrained": lambda noisy, noise: denoise(noisy, channel_axis=-1),
        "bm3d": bm3d,
        "ansc": ansc,
    }
    if with_zeroshot:
        fns["zeroshot"] = lambda noisy, noise: denoise_zeroshot(noisy, channel_axis=-1, seed=0)
    return fns


def run(args) -> None:
    for protocol in args.protocols:
        wanted = {"8bit": args.noise, "float": args.float_noise, "gray8": args.gray_noise}
        noises = [n for n in args.noise if n in wanted[protocol]]
        models = [
            parse_noise(n, clip=False) if protocol == "float" else Stored(parse_noise(n))
            for n in noises
        ]
        for name in args.sets:
            images = load_image_set([name], data_root=args.data_root, limit=args.limit)
            if protocol == "gray8":
                images = [(n, luminance(i) if i.ndim == 3 else i) for n, i in images]
            for k, (image_name, image) in enumerate(images):
                evaluate(
                    [(f"{name}/{image_name}", image)],
                    models,
                    methods_for(with_zeroshot=k < args.zeroshot_limit),
                    csv_path=args.out / protocol / "results.csv",
                    seed=0,
                    progress=False,
                    shared=True,
                )
                print(f"{protocol} {name}/{image_name} done", flush=True)


def summarise(args) -> None:
    rows, md = [], []
    md += [
        "# Pretrained model vs CBM3D / ANSC / ZS-N2N",
        "",
        "```sh",
        command(),
        "```",
        "",
        "8bit: noisy inputs clipped and rounded to 8 bits; float: unclipped float noise; "
        "gray8: 8bit on the luminance of the images (the grayscale model, BM3D on one "
        "channel). "
        "CBM3D gets the true sigma, ANSC the true peak; the pretrained model is told nothing. "
        "Margin: pretrained minus the classical baseline, mean over the same images. "
        "ZS-N2N ran on the first images of each set only (column 'n').",
        "",
        "| set | protocol | noise | noisy | pretrained | CBM3D / ANSC | margin "
        "| ZS-N2N fast (n) | pretrained, same n | SSIM pretrained / classical "
        "| s/image pretrained / classical |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for protocol in args.protocols:
        cells = read_results(args.out / protocol / "results.csv")
        for name in args.sets:
            for noise in args.noise:
                got = [c for c in cells if c.image.startswith(name + "/") and c.noise == noise]
                if not got:
                    continue
                by = {}
                for c in got:
                    by.setdefault(c.method, {})[c.image] = c
                base = "bm3d" if noise.startswith("gaussian") else "ansc"
                shared = sorted(set(by.get("pretrained", {})) & set(by.get(base, {})))
                if not shared:
                    continue

                def mean(method, field, images, by=by):
                    return float(np.mean([getattr(by[method][i], field) for i in images]))

                zs = sorted(set(by.get("zeroshot", {})) & set(by["pretrained"]))
                row = {
                    "set": name,
                    "protocol": protocol,
                    "noise": noise,
                    "images": len(shared),
                    "noisy": round(mean(NOISY, "psnr", shared), 2),
                    "pretrained": round(mean("pretrained", "psnr", shared), 2),
                    "classical": round(mean(base, "psnr", shared), 2),
                    "margin": round(
                        mean("pretrained", "psnr", shared) - mean(base, "psnr", shared), 2
                    ),
                    "zeroshot": round(mean("zeroshot", "psnr", zs), 2) if zs else "",
                    "zeroshot_images": len(zs),
                    "pretrained_on_zeroshot_images": round(mean("pretrained", "psnr", zs), 2)
                    if zs
                    else "",
                    "ssim_pretrained": round(mean("pretrained", "ssim", shared), 3),
                    "ssim_classical": round(mean(base, "ssim", shared), 3),
                    "seconds_pretrained": round(mean("pretrained", "seconds", shared), 2),
                    "seconds_classical": round(mean(base, "seconds", shared), 2),
                }
                rows.append(row)
                md.append(
                    f"| {name} ({row['images']}) | {protocol} | {noise} | {row['noisy']:.2f} | "
                    f"{row['pretrained']:.2f} | {row['classical']:.2f} ({base}) | "
                    f"{row['margin']:+.2f} | {row['zeroshot']} ({row['zeroshot_images']}) | "
                    f"{row['pretrained_on_zeroshot_images']} | "
                    f"{row['ssim_pretrained']:.3f} / {row['ssim_classical']:.3f} | "
                    f"{row['seconds_pretrained']:.2f} / {row['seconds_classical']:.2f} |"
                )
    if rows:
        write_results(args.out, rows, md)
        print("\n".join(md))


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sets", nargs="+", default=["cbsd68", "kodak24", "test50"])
    ap.add_argument("--noise", action="append", default=None)
    ap.add_argument("--protocols", nargs="+", default=["8bit", "float"])
    ap.add_argument("--float-noise", nargs="+", default=["gaussian:25"])
    ap.add_argument("--gray-noise", nargs="+", default=["gaussian:25"])
    ap.add_argument("--limit", type=int, default=None, help="first N images of each set")
    ap.add_argument("--zeroshot-limit", type=int, default=4)
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", type=Path, default=Path("bench/results/pretrained"))
    ap.add_argument("--summary-only", action="store_true")
    ap.add_argument(
        "--rerun",
        nargs="+",
        default=[],
        metavar="METHOD",
        help="forget these methods' cached cells first (e.g. pretrained, after new weights)",
    )
    args = ap.parse_args()
    args.noise = args.noise or list(NOISES)
    for protocol in args.protocols:
        results = args.out / protocol / "results.csv"
        if args.rerun:
            gone = drop_csv_rows(results, "method", set(args.rerun))
            print(f"{results}: forgot {gone} cells of {', '.join(args.rerun)}")
    if not args.summary_only:
        run(args)
    summarise(args)


if __name__ == "__main__":
    main()
