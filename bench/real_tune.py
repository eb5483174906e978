"""Tune how the ``real`` method runs its network on camera photos.

Variants of the pixel-shuffle ("PD") inference (Zhou et al. 2020) are compared on the
first ``--tune`` polyu_canon pairs only (the issue allows tuning on at most the first 20);
the chosen variant is then reported on the remaining pairs, which no choice looked at.
Every variant runs the same network (the shipped `real` one, or `--weights`); only the
passes differ:

- ``direct``: the network on the photo as it is (for a network trained on camera-like
  noise, ``--weights``); ``x2``: twice;
- ``shuffle2+refine``: the network on the four 2×2 pixel-shuffled sub-images, then once
  more on the reassembled image (the ``real`` method of version 0.2);
- ``shuffle2``: the first pass only;
- ``blend A``: ``A·refined + (1−A)·shuffled``;
- ``shifts``: the shuffled pass averaged over the four 1-pixel shifts of the 2×2 grid,
  so that no pixel's neighbours are always the same ones, then refined;
- ``tta N``: flip/rotation averaging over N transforms in every pass;
- ``shuffle3``: 3×3 sub-images; ``refine x2``: two refining passes; ``twice``, ``x3``:
  the shuffled pass repeated on its own output; ``shifted``: repeated on the grid shifted
  by one pixel.

    python bench/real_tune.py --data-root ../shared/data --out bench/results/real_tune

Writes ``<out>.csv`` (per image and variant) and ``<out>.md``.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from _common import command, write_results

from noise2noise import read_image
from noise2noise.convert import image_to_tensor, tensor_to_image
from noise2noise.datasets import default_data_root
from noise2noise.image_io import list_images
from noise2noise.metrics import psnr
from noise2noise.pretrained import load_pretrained, pixel_shuffle_apply
from noise2noise.training import load_model
from noise2noise.tta import average_dihedral


def variant(
    name: str,
    net: torch.nn.Module,
    tta: int = 4,
    blend: float = 1.0,
    shifts: bool = False,
    stride: int = 2,
    refines: int = 1,
    twice: int = 0,
    shifts_after: tuple = (),
    direct: bool = False,
):
    """``x (1, 3, H, W) -> denoised`` for one way of running ``net``."""

    @torch.no_grad()
    def fn(t: torch.Tensor) -> torch.Tensor:
        return average_dihedral(net, t, tta)

    @torch.no_grad()
    def run(x: torch.Tensor) -> torch.Tensor:
        if direct:
            for _ in range(refines):
                x = fn(x).clamp(0, 1)
            return x
        if shifts:
            h, w = x.shape[-2:]
            padded = F.pad(x, (1, 1, 1, 1), mode="reflect")
            outs = []
            for dy in (0, 1):
                for dx in (0, 1):
                    part = padded[..., 1 - dy : 1 - dy + h + 1, 1 - dx : 1 - dx + w + 1]
                    out = pixel_shuffle_apply(fn, part.contiguous(), 2)
                    outs.append(out[..., dy : dy + h, dx : dx + w])
            shuffled = torch.stack(outs).mean(0).clamp(0, 1)
        else:
            shuffled = pixel_shuffle_apply(fn, x, stride).clamp(0, 1)
        for dy, dx in ((0, 0),) * twice + tuple(shifts_after):
            # another shuffled pass, on the grid shifted by (dy, dx) pixels
            h, w = x.shape[-2:]
            padded = F.pad(shuffled, (dx, 0, dy, 0), mode="reflect") if dy or dx else shuffled
            out = pixel_shuffle_apply(fn, padded.contiguous(), stride)
            shuffled = out[..., dy : dy + h, dx : dx + w].clamp(0, 1)
        if blend == 0.0:
            return shuffled
        refined = shuffled
        for _ in range(refines):
            refined = fn(refined).clamp(0, 1)
        return (blend * refined + (1 - blend) * shuffled).clamp(0, 1)

    run.__name__ = name
    return run


VARIANTS = {
    "direct": dict(direct=True),
    "direct x2": dict(direct=True, refines=2),
    "direct x3": dict(direct=True, refines=3),
    "direct tta8": dict(direct=True, tta=8),
    "shuffle2+refine": dict(),
    "shuffle2": dict(blend=0.0),
    "blend 0.5": dict(blend=0.5),
    "shifts+refine": dict(shifts=True, tta=1),
    "shifts+refine tta2": dict(shifts=True, tta=2),
    "shuffle2+refine tta2": dict(tta=2),
    "shuffle2+refine tta8": dict(tta=8),
    "shuffle3+refine": dict(stride=3),
    "shuffle2+refine x2": dict(refines=2),
    "shuffle2 twice+refine": dict(twice=True),
    "shuffle2 twice": dict(twice=True, blend=0.0),
    "shuffle2 twice+refine x2": dict(twice=True, refines=2),
    "shuffle2 x3+refine": dict(twice=2),
    "shuffle2, shifted+refine": dict(shifts_after=((1, 1),)),
    "shuffle2, shifted x3+refine": dict(shifts_after=((1, 1), (0, 1), (1, 0))),
    "shuffle2 twice+refine tta2": dict(twice=True, tta=2),
}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data-root", default=None)
    ap.add_argument("--out", type=Path, default=Path("bench/results/real_tune"))
    ap.add_argument("--tune", type=int, default=20, help="pairs the choice may look at")
    ap.add_argument("--variants", nargs="+", default=list(VARIANTS))
    ap.add_argument(
        "--weights",
        default=None,
        help="a checkpoint (a run's best.pt) to run instead of the shipped `real` network",
    )
    ap.add_argument(
        "--chosen", nargs="*", default=[], help="variants to report on the other pairs too"
    )
    args = ap.parse_args()
    torch.set_num_threads(torch.get_num_threads())
    root = Path(args.data_root) if args.data_root else default_data_root()
    pairs = [
        (f, f.with_name(f.name.replace("_real.", "_mean.")))
        for f in list_images(root / "polyu_canon")
        if "_real." in f.name
    ]
    net = load_model(args.weights)[0].float().eval() if args.weights else load_pretrained("real")
    rows = []
    for split, part in (("tune", pairs[: args.tune]), ("held-out", pairs[args.tune :])):
        names = args.variants if split == "tune" else args.chosen
        for name in names:
            run = variant(name, net, **VARIANTS[name])
            for noisy_file, clean_file in part:
                noisy, clean = read_image(noisy_file), read_image(clean_file)
                x = image_to_tensor(noisy, channel_axis=-1)
                tic = time.perf_counter()
                out = tensor_to_image(run(x), noisy, channel_axis=-1)
                seconds = time.perf_counter() - tic
                rows.append(
                    {
                        "split": split,
                        "variant": name,
                        "image": noisy_file.name,
                        "noisy": round(psnr(noisy, clean, data_range=255), 3),
                        "psnr": round(psnr(out, clean, data_range=255), 3),
                        "seconds": round(seconds, 2),
                    }
                )
            done = [r for r in rows if r["variant"] == name and r["split"] == split]
            print(
                f"{split:8s} {name:22s} {np.mean([r['psnr'] for r in done]):.3f} dB "
                f"(noisy {np.mean([r['noisy'] for r in done]):.3f}), "
                f"{np.mean([r['seconds'] for r in done]):.2f} s/image",
                flush=True,
            )
    lines = [
        "# Tuning the `real` method's passes on polyu_canon",
        "",
        "```sh",
        command(),
        "```",
        "",
        f"Tuned on the first {args.tune} pairs only; the chosen variant (and the one it "
        "replaces) are then reported on the others, which no choice looked at. Seconds on "
        "this machine's CPU "
        f"({torch.get_num_threads()} threads), 512×512 photos.",
        "",
        "| split | variant | pairs | noisy | PSNR | PSNR − noisy | s/image |",
        "|---|---|---|---|---|---|---|",
    ]
    keys = list(dict.fromkeys((r["split"], r["variant"]) for r in rows))
    for split, name in keys:
        done = [r for r in rows if (r["split"], r["variant"]) == (split, name)]
        noisy = np.mean([r["noisy"] for r in done])
        value = np.mean([r["psnr"] for r in done])
        lines.append(
            f"| {split} | {name} | {len(done)} | {noisy:.2f} | {value:.2f} | "
            f"{value - noisy:+.2f} | {np.mean([r['seconds'] for r in done]):.2f} |"
        )
    write_results(args.out, rows, lines)


if __name__ == "__main__":
    main()
