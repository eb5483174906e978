"""``n2n eval``: methods against noises on image sets, with PSNR/SSIM tables."""

from __future__ import annotations

import argparse
import sys
import warnings
from collections import Counter

from ..errors import Note
from ..evaluation import run_evaluation
from ..report import typed_command
from .common import (
    EXIT_OK,
    Formatter,
    Several,
    add_data_root,
    add_device,
    add_threads,
    add_zeroshot_options,
    apply_threads,
    crop_size,
    device_of,
    positive_int,
    wrap,
)

DEFAULT_METHODS = ["pretrained", "zeroshot", "bm3d", "ansc"]


def _cmd_eval(args: argparse.Namespace) -> int:
    apply_threads(args)
    methods = args.methods or DEFAULT_METHODS
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", Note)
        summary = _evaluate(args, methods)
    print(summary.read_text(encoding="utf-8"))
    print(f"per-image results: {summary.parent / 'results.csv'}")
    # What the cells' methods said (auto's choice per image, data converted on reading),
    # once per kind with its count, instead of a warning per cell.
    notes = Counter(str(w.message).split(" (")[0] for w in caught if issubclass(w.category, Note))
    for text, count in notes.items():
        print(f"n2n: note: {text}: {count} cell(s)", file=sys.stderr)
    for w in caught:  # anything else as Python would have shown it
        if not issubclass(w.category, Note):
            warnings.showwarning(w.message, w.category, w.filename, w.lineno)
    return EXIT_OK


def _evaluate(args: argparse.Namespace, methods: list[str]):
    _, summary = run_evaluation(
        args.images,
        args.noise or ["gaussian:25"],
        methods,
        args.out,
        crop=args.crop or None,
        limit=args.limit,
        seed=args.seed,
        data_root=args.data_root,
        method_options={
            "preset": args.preset,
            "iterations": args.iterations,
            "seed": args.seed,
        },
        device=str(device_of(args)),
        command=typed_command(),
    )
    return summary


def add_parser(sub) -> None:
    p = sub.add_parser(
        "eval",
        formatter_class=Formatter,
        help="measure PSNR/SSIM of methods on clean images with synthetic noise",
        description=wrap(
            "Add seeded noise to clean images (every method sees the identical noisy "
            "image), denoise, and write per-image results (results.csv) and summaries "
            "(summary.csv, summary.md: mean ± 2·std). Re-running with the same --out skips "
            "the cells already done. IMAGES are folders or set names: "
            "test50 (the report's 50 test images), kodak24, cbsd68, bsds432."
        ),
        epilog="examples:\n  n2n eval --images test50 --noise gaussian:25 --noise poisson:25 "
        "--methods pretrained,zeroshot,bm3d,ansc --out results/\n"
        "  n2n eval --images my_clean/ --noise gaussian:50 --methods bm3d --crop 0 --out r/",
    )
    p.add_argument(
        "--images",
        nargs="+",
        required=True,
        metavar="IMAGES",
        help="folders of clean images or set names",
    )
    p.add_argument(
        "--noise",
        action=Several,
        metavar="SPEC",
        help="gaussian:SIGMA or poisson:PEAK, one or several (default gaussian:25)",
    )
    p.add_argument(
        "--methods",
        action=Several,
        metavar="METHOD",
        help=f"one or several methods (default: {','.join(DEFAULT_METHODS)}); bm3d runs "
        "on Gaussian noise with the true sigma, ansc on Poisson noise with the true peak",
    )
    p.add_argument(
        "--crop",
        type=crop_size,
        default=256,
        help="centre crop size, 0 for whole images (default: %(default)s)",
    )
    p.add_argument(
        "--limit", type=positive_int, default=None, help="use the first N images of each set"
    )
    add_data_root(p)
    p.add_argument("--out", required=True, help="results folder")
    add_zeroshot_options(p)
    add_device(p)
    add_threads(p)
    p.set_defaults(func=_cmd_eval)
