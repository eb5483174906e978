"""How much Gaussian noise a network leaves on a flat grey field, by brightness and sigma.

A blind denoiser should remove nearly all of it (a flat field is the easiest image). The
networks trained on a GPU for versions 0.3-0.7 did not, in a band of brightness and sigma
where the noise looks like Poisson noise of about 50 expected counts per pixel
(brightness² / sigma² on a [0, 1] scale); those trained on the CPU did. The cause,
confirmed on an H200 (``bench/results/gpu_check.md``): on CUDA, two ``torch.poisson``
draws in a row from one generator, as the input and target noise of a training pair were
drawn until 0.8, are correlated near that count (0.50-0.67 at 40-60 counts; cf.
pytorch/pytorch#136750), so the network learned to keep that noise. Version 0.9's
networks, trained on with a GPU after 0.8 drew the two from separate generators, do not.
Each cell is the standard deviation (0-255 scale)
of the network's output on a 128×128 flat field of that brightness with Gaussian noise of
that sigma, clipped and rounded to 8 bits (seeded); the noise is the column's sigma before
denoising.

Earlier files come back with ``git show REV:src/noise2noise/weights/FILE``: 0.3-0.6's
MSE network is ``blind_rgb_mse.pt`` at b5bfdce, 0.4's ``blind_rgb.pt`` at 4362f69, 0.7's
``blind_rgb.pt`` and ``blind_gray.pt`` at 04d647b, 0.8's at 9cac0f7.

    python bench/flat_field.py --weights src/noise2noise/weights/blind_rgb.pt \
        src/noise2noise/weights/blind_gray.pt --out bench/results/flat_field
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from _common import command, write_results

from noise2noise.training.checkpoint import load_checkpoint, load_model

LEVELS = (50, 100, 150, 185, 200, 215, 235)
SIGMAS = (10, 15, 20, 25, 28, 32, 40, 50)


def residual(net: torch.nn.Module, channels: int, level: int, sigma: float) -> float:
    clean = np.full((1, channels, 128, 128), level / 255.0)
    noise = np.random.default_rng(level * 1000 + int(sigma)).normal(0, sigma / 255, clean.shape)
    noisy = np.round(np.clip(clean + noise, 0, 1) * 255) / 255
    with torch.no_grad():
        out = net(torch.from_numpy(noisy.astype(np.float32))).clamp(0, 1).numpy()
    return float(((out - clean) * 255).std())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--weights", nargs="+", required=True, help="checkpoints or shipped files")
    ap.add_argument("--names", nargs="*", help="a label per weights file (default: file name)")
    ap.add_argument("--out", default="bench/results/flat_field")
    args = ap.parse_args()
    names = args.names or [Path(w).name for w in args.weights]
    rows, md = [], ["# Noise left on a flat field", "", "```sh", command(), "```", ""]
    md += [" ".join(part.replace("\n", " ") for part in __doc__.split("\n\n")[1:3]), ""]
    for name, path in zip(names, args.weights, strict=True):
        net, _ = load_model(path)
        net = net.float().eval()
        channels = load_checkpoint(path)["channels"]
        md += [
            f"## {name} ({channels} channel{'s' * (channels > 1)})",
            "",
            "| brightness \\ sigma | " + " | ".join(map(str, SIGMAS)) + " |",
            "|---" * (len(SIGMAS) + 1) + "|",
        ]
        worst = 0.0
        for level in LEVELS:
            cells = [residual(net, channels, level, s) for s in SIGMAS]
            worst = max(worst, max(c / s for c, s in zip(cells, SIGMAS, strict=True)))
            rows += [
                {"weights": name, "level": level, "sigma": s, "left_std": round(c, 3)}
                for s, c in zip(SIGMAS, cells, strict=True)
            ]
            md.append(f"| {level} | " + " | ".join(f"{c:.2f}" for c in cells) + " |")
        md += ["", f"Largest share of the noise left: {worst:.0%}.", ""]
        print(f"{name}: largest share of the noise left {worst:.0%}", flush=True)
    write_results(args.out, rows, md)


if __name__ == "__main__":
    main()
