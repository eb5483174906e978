"""The check a new user would make: the installed `n2n denoise` (default method, no
options) on images this project never trained or tuned on, with noise made here by numpy
alone (not by noise2noise), against direct calls of the `bm3d` package on the same files.

Clean images: scikit-image's bundled sample images (colour and grayscale) and the
reference (`*_mean`) images of `polyu_canon` from the 21st on (the first 20 are the tuning
split of `bench/real_tune.py`; the blind model never saw any of them). Noisy files are
8-bit PNGs (Gaussian sigma 15/25/50 and Poisson peak 25 on colour, Gaussian 25 on
grayscale) and 16-bit TIFFs (Gaussian 25). PSNR by `skimage.metrics`, on the stored 8- or
16-bit outputs.

    python bench/fresh_check.py --n2n /tmp/fresh/venv/bin/n2n --data-root ../shared/data \
        --out bench/results/fresh_check

`--n2n` is the command of a separate, fresh installation (a wheel installed into a new
virtual environment without the `bm3d` extra); this script's own environment needs
`bm3d` for the baseline. Times: `n2n denoise` over a folder (one process, files one after
another, the model loaded once) divided by the number of files, against `bm3d` on one
image in this process; both on this machine's CPU.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from _common import command, group_rows, write_results
from PIL import Image
from skimage import data as skdata
from skimage.metrics import peak_signal_noise_ratio

COLOUR = ["astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field"]
GRAY = ["camera", "moon", "coins", "brick", "grass", "gravel", "page", "cell"]
NOISES = {"colour": ["g15", "g25", "g50", "p25"], "gray": ["g25"], "colour16": ["g25"]}


def clean_images(data_root: Path | None, polyu: int) -> dict[str, dict[str, np.ndarray]]:
    """{kind: {name: clean image}}: uint8 colour and gray, uint16 colour."""
    colour = {n: getattr(skdata, n)()[..., :3] for n in COLOUR}
    if data_root is not None and polyu:
        means = sorted((data_root / "polyu_canon").glob("*_mean.JPG"))[20 : 20 + polyu]
        for p in means:
            colour[f"polyu_{p.stem[:-5]}"] = np.asarray(Image.open(p).convert("RGB"))
    gray = {n: getattr(skdata, n)() for n in GRAY}
    gray = {n: g for n, g in gray.items() if g.ndim == 2 and g.dtype == np.uint8}
    first = dict(list(colour.items())[:3])
    colour16 = {n: (c.astype(np.uint32) * 257).astype(np.uint16) for n, c in first.items()}
    return {"colour": colour, "gray": gray, "colour16": colour16}


def make_noisy(clean: np.ndarray, noise: str, rng: np.random.Generator) -> np.ndarray:
    """Noise made with numpy only, stored at the clean image's bit depth (clipped, rounded)."""
    top = np.iinfo(clean.dtype).max
    x = clean.astype(np.float64) / top
    level = float(noise[1:])
    if noise[0] == "g":
        y = x + rng.normal(0.0, level / 255.0, x.shape)
    else:
        y = rng.poisson(x * level) / level
    return np.round(np.clip(y, 0.0, 1.0) * top).astype(clean.dtype)


def suffix(image: np.ndarray) -> str:
    """PNG for 8 bits; 16-bit colour as TIFF (Pillow writes no 16-bit RGB PNG)."""
    return ".tif" if image.dtype == np.uint16 else ".png"


def save(path: Path, image: np.ndarray) -> None:
    if path.suffix == ".tif":
        import tifffile

        tifffile.imwrite(path, image, photometric="rgb" if image.ndim == 3 else None)
    else:
        Image.fromarray(image).save(path)


def load(path: Path) -> np.ndarray:
    if path.suffix == ".tif":
        import tifffile

        return tifffile.imread(path)
    return np.asarray(Image.open(path))


def baseline(noisy: np.ndarray, noise: str) -> np.ndarray:
    """CBM3D/BM3D with the true sigma; for Poisson, BM3D inside the Anscombe transform
    with its exact unbiased inverse (noise2noise.baselines.denoise_ansc, itself bm3d)."""
    import bm3d

    top = np.iinfo(noisy.dtype).max
    y = noisy.astype(np.float64) / top
    level = float(noise[1:])
    if noise[0] == "p":
        from noise2noise.baselines import denoise_ansc

        return np.clip(denoise_ansc(y, peak=level, channel_axis=-1 if y.ndim == 3 else None), 0, 1)
    if y.ndim == 3:
        return np.clip(bm3d.bm3d_rgb(y, sigma_psd=level / 255.0), 0.0, 1.0)
    return np.clip(bm3d.bm3d(y, sigma_psd=level / 255.0), 0.0, 1.0)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--n2n", default="n2n", help="the n2n command of a fresh installation")
    p.add_argument("--data-root", type=Path, default=None)
    p.add_argument("--polyu", type=int, default=6, help="polyu_canon references to add")
    p.add_argument("--out", default="bench/results/fresh_check")
    p.add_argument("--seed", type=int, default=2026)
    args = p.parse_args()
    rng = np.random.default_rng(args.seed)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for kind, images in clean_images(args.data_root, args.polyu).items():
            for noise in NOISES[kind]:
                src, dst = Path(tmp, kind, noise, "in"), Path(tmp, kind, noise, "out")
                src.mkdir(parents=True)
                noisy = {}
                for name, clean in images.items():
                    noisy[name] = make_noisy(clean, noise, rng)
                    save(src / f"{name}{suffix(clean)}", noisy[name])
                tic = time.perf_counter()
                run = subprocess.run(
                    [args.n2n, "denoise", str(src), "-o", str(dst), "--workers", "1"],
                    capture_output=True,
                    text=True,
                    env={**os.environ, "OMP_NUM_THREADS": str(os.cpu_count())},
                )
                n2n_s = (time.perf_counter() - tic) / len(images)
                if run.returncode:
                    raise SystemExit(f"n2n denoise failed:\n{run.stderr}")
                for name, clean in images.items():
                    out = load(dst / f"{name}{suffix(clean)}")
                    assert out.dtype == clean.dtype and out.shape == clean.shape, (name, out.shape)
                    top = np.iinfo(clean.dtype).max
                    tic = time.perf_counter()
                    ref = baseline(noisy[name], noise)
                    bm3d_s = time.perf_counter() - tic
                    ref = np.round(ref * top).astype(clean.dtype)

                    def score(im, clean=clean, top=top):
                        return peak_signal_noise_ratio(clean, im, data_range=top)

                    said = f"{name}{suffix(clean)}: auto chose "
                    method = next(
                        (
                            ln.split(said)[1].split()[0]
                            for ln in run.stderr.splitlines()
                            if said in ln
                        ),
                        "?",
                    )
                    row = {
                        "kind": kind,
                        "noise": noise,
                        "image": name,
                        "shape": "x".join(map(str, clean.shape)),
                        "auto_chose": method,
                        "noisy": round(score(noisy[name]), 3),
                        "n2n": round(score(out), 3),
                        "bm3d": round(score(ref), 3),
                        "n2n_s": round(n2n_s, 2),
                        "bm3d_s": round(bm3d_s, 2),
                    }
                    rows.append(row)
                    print(row, flush=True)
    write_results(args.out, rows, markdown(rows))


def markdown(rows: list[dict]) -> list[str]:
    lines = [
        "# A new user's check: installed `n2n denoise` against `bm3d` on unseen images",
        "",
        "```sh",
        command(),
        "```",
        "",
        "Noise made by numpy (not by noise2noise), stored as 8-bit PNG (16-bit TIFF for",
        "`colour16`); `n2n denoise FOLDER -o OUT` with no options (method auto), from a wheel",
        "installed into a fresh environment without `bm3d`; BM3D/CBM3D given the true sigma",
        "(ANSC, BM3D under the Anscombe transform, the true peak, for Poisson). Seconds: the",
        "n2n folder run's wall time (process start and model load included) per image,",
        "against one `bm3d` call per image.",
        "",
        "| images | noise | n | auto chose | noisy | n2n | BM3D/ANSC | margin | min margin |"
        " n2n s | bm3d s | speed-up |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]

    def key(r: dict) -> tuple:
        source = "polyu_canon references" if r["image"].startswith("polyu_") else "scikit-image"
        return f"{r['kind']}, {source}", r["noise"]

    groups = group_rows(rows, key)
    for (kind, noise), g in sorted(groups.items()):

        def mean(k, g=g):
            return float(np.mean([r[k] for r in g]))

        chose = ", ".join(
            sorted(
                {
                    f"{r['auto_chose']} {sum(x['auto_chose'] == r['auto_chose'] for x in g)}"
                    for r in g
                }
            )
        )
        margins = [r["n2n"] - r["bm3d"] for r in g]
        lines.append(
            f"| {kind} | {noise} | {len(g)} | {chose} | {mean('noisy'):.2f} | {mean('n2n'):.2f} |"
            f" {mean('bm3d'):.2f} | {np.mean(margins):+.2f} | {min(margins):+.2f} |"
            f" {mean('n2n_s'):.2f} | {mean('bm3d_s'):.1f} | {mean('bm3d_s') / mean('n2n_s'):.0f}× |"
        )
    lines += ["", "Per image: the CSV beside this file."]
    return lines


if __name__ == "__main__":
    main()
