"""Check the `paper` preset against a direct implementation of the paper's algorithm.

The direct implementation below is written straight from Mansour & Heckel (2023),
section 3: two separate forward passes for the half-images, the two downsampling kernels
as explicit strided pixel averages, loss = residual + consistency, Adam lr 1e-3 halved at
step 1500. Both start from the same initial weights and see the same noisy image; the
script reports seconds per step and the final PSNR of each.

    python bench/zeroshot_paper_check.py --limit 2 --steps 2000 \
        --out bench/results/zeroshot_paper_check
"""

from __future__ import annotations

import argparse
import platform
import sys
import time
from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F

from noise2noise.datasets import load_image_set
from noise2noise.evaluation import make_noisy
from noise2noise.metrics import psnr
from noise2noise.noise import parse_noise
from noise2noise.zeroshot import PRESETS, apply_zeroshot, fit_zeroshot


class DirectNet(nn.Module):
    def __init__(self, channels: int):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, 48, 3, padding=1)
        self.conv2 = nn.Conv2d(48, 48, 3, padding=1)
        self.conv3 = nn.Conv2d(48, channels, 1)

    def forward(self, x):
        x = F.leaky_relu(self.conv1(x), 0.2)
        x = F.leaky_relu(self.conv2(x), 0.2)
        return self.conv3(x)


def _halves(img):
    d1 = (img[..., 0::2, 0::2] + img[..., 1::2, 1::2]) / 2  # kernel [[0.5, 0], [0, 0.5]]
    d2 = (img[..., 0::2, 1::2] + img[..., 1::2, 0::2]) / 2  # kernel [[0, 0.5], [0.5, 0]]
    return d1, d2


def direct_zeroshot(noisy: torch.Tensor, steps: int, seed: int) -> tuple[torch.Tensor, float]:
    """Denoised image and seconds per step of the direct implementation."""
    torch.manual_seed(seed)
    net = DirectNet(noisy.shape[1])
    opt = torch.optim.Adam(net.parameters(), lr=1e-3)
    sched = torch.optim.lr_scheduler.StepLR(opt, step_size=round(0.75 * steps), gamma=0.5)
    start = time.perf_counter()
    for _ in range(steps):
        y1, y2 = _halves(noisy)
        p1, p2 = y1 - net(y1), y2 - net(y2)
        res = 0.5 * (F.mse_loss(p1, y2) + F.mse_loss(p2, y1))
        e1, e2 = _halves(noisy - net(noisy))
        cons = 0.5 * (F.mse_loss(p1, e1) + F.mse_loss(p2, e2))
        opt.zero_grad()
        (res + cons).backward()
        opt.step()
        sched.step()
    per_step = (time.perf_counter() - start) / steps
    with torch.no_grad():
        return (noisy - net(noisy)).clamp(0, 1), per_step


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--images", nargs="+", default=["kodak24"])
    parser.add_argument("--limit", type=int, default=2)
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--noise", default="gaussian:25")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--data-root", default=None)
    parser.add_argument("--out", default="bench/results/zeroshot_paper_check")
    args = parser.parse_args()

    noise = parse_noise(args.noise)
    rows = []
    for name, image in load_image_set(
        args.images, crop=256, limit=args.limit, data_root=args.data_root
    ):
        clean, noisy = make_noisy(image, noise, seed=args.seed, image_name=name)
        x = torch.from_numpy(clean).permute(2, 0, 1)[None]
        y = torch.from_numpy(noisy).permute(2, 0, 1)[None]
        direct, direct_step = direct_zeroshot(y, args.steps, args.seed)
        start = time.perf_counter()
        model = fit_zeroshot(y, PRESETS["paper"].with_steps(args.steps), seed=args.seed)
        ours_step = (time.perf_counter() - start) / args.steps
        ours = apply_zeroshot(model, y)
        rows.append((name, psnr(direct, x), psnr(ours, x), direct_step, ours_step))
        print(
            f"{name}: PSNR direct {rows[-1][1]:.3f} ours {rows[-1][2]:.3f}; "
            f"s/step direct {direct_step:.4f} ours {ours_step:.4f}",
            flush=True,
        )

    lines = [
        f"# `paper` preset vs a direct implementation\n\nMade by `python "
        f"{' '.join(sys.argv)}` ({platform.machine()}, {torch.get_num_threads()} torch "
        f"threads), {args.noise}, 256×256 centre crops, {args.steps} steps.\n",
        "| image | PSNR direct | PSNR ours | difference | s/step direct | s/step ours "
        "| time ratio |",
        "|---|---|---|---|---|---|---|",
    ]
    lines += [
        f"| {n} | {d:.3f} | {o:.3f} | {o - d:+.3f} | {ds:.4f} | {os_:.4f} | {os_ / ds:.3f} |"
        for n, d, o, ds, os_ in rows
    ]
    out = Path(args.out).with_suffix(".md")
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text("\n".join(lines) + "\n")
    print("\n".join(lines[1:]))


if __name__ == "__main__":
    main()
