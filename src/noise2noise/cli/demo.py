"""``n2n demo``: the main job on a built-in example."""

from __future__ import annotations

import argparse

from ..demo import check_size, run_demo
from .common import (
    EXIT_OK,
    Formatter,
    add_device,
    add_zeroshot_options,
    device_of,
    method_name,
    positive_int,
    wrap,
)


def _cmd_demo(args: argparse.Namespace) -> int:
    check_size(args.size)  # before saying what it denoises
    device = device_of(args)  # a device that is not there: said before the work
    print(
        f"denoising scikit-image's astronaut ({args.size}×{args.size}, Gaussian sigma=25) "
        f"with {args.method} on {device}..."
    )
    result = run_demo(
        args.out,
        method=args.method,
        preset=args.preset,
        iterations=args.iterations,
        seed=args.seed,
        size=args.size,
        progress=True,
        device=str(device),
    )
    print(f"PSNR noisy    {result.psnr_noisy:6.2f} dB")
    print(f"PSNR denoised {result.psnr_denoised:6.2f} dB  ({result.seconds:.1f} s)")
    print(f"wrote clean.png, noisy.png, denoised.png, comparison.png to {result.folder}/")
    return EXIT_OK


def add_parser(sub) -> None:
    p = sub.add_parser(
        "demo",
        formatter_class=Formatter,
        help="run the built-in example (no files needed)",
        description=wrap(
            "Add Gaussian noise (sigma 25, fixed seed) to scikit-image's bundled "
            "astronaut photo, denoise it (the pretrained model unless --method says "
            "otherwise), write clean/noisy/denoised/comparison "
            "PNGs and print the PSNR before and after."
        ),
        epilog="examples:\n  n2n demo --out demo-output\n  n2n demo --device cuda   # on a GPU",
    )
    p.add_argument("--out", default="demo-output", help="output folder (default: %(default)s)")
    p.add_argument(
        "--size",
        type=positive_int,
        default=512,
        help="side of the centre crop, 8-512 (default: %(default)s)",
    )
    p.add_argument(
        "--method",
        type=method_name,
        default="pretrained",
        help="pretrained (default), real, zeroshot, bm3d: as for 'n2n denoise'",
    )
    add_zeroshot_options(p, only_if_given=True)
    add_device(p)
    p.set_defaults(func=_cmd_demo)
