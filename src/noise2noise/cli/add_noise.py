"""``n2n add-noise``: seeded synthetic noise for files and folders."""

from __future__ import annotations

import argparse
import time

from ..batch import NoiseAdder, plan_outputs
from ..errors import N2NError
from ..image_io import LOSSY_EXTENSIONS, TIFF_EXTENSIONS
from ..noise import Gaussian, Poisson
from .common import (
    Formatter,
    add_file_run_options,
    add_output,
    expand_inputs,
    note,
    note_unread,
    peak_count,
    run_files,
    sigma_255,
    wrap,
)
from .file_report import report


def _cmd_add_noise(args: argparse.Namespace) -> int:
    clip = not args.unclipped
    model = (
        Gaussian(args.gaussian, clip=clip) if args.gaussian else Poisson(args.poisson, clip=clip)
    )
    args.inputs = expand_inputs(args.inputs)
    pairs = plan_outputs(args.inputs, args.output, suffix="_noisy", recursive=args.recursive)
    note_unread(args)
    if args.unclipped and (other := {dst.suffix.lower() for _, dst in pairs} - {*TIFF_EXTENSIONS}):
        raise N2NError(
            "--unclipped writes float data, which only TIFF holds: give .tif outputs "
            f"(not {', '.join(sorted(other))})"
        )
    lossy = sorted({dst.suffix.lower() for _, dst in pairs} & set(LOSSY_EXTENSIONS))
    if lossy:  # the noise of an evaluation or training set must be what was asked for
        note(
            args,
            f"{' and '.join(lossy)} outputs are compressed with loss, which changes "
            "the noise added (the more, the lower --quality); a .png or .tif output keeps it "
            "exactly as drawn",
        )
    fn = NoiseAdder(model, args.seed)
    start = time.perf_counter()
    results = run_files(args, pairs, fn, workers=1)
    return report(results, time.perf_counter() - start, verb="written", quiet=args.quiet)


def add_parser(sub) -> None:
    p = sub.add_parser(
        "add-noise",
        formatter_class=Formatter,
        help="add synthetic Gaussian or Poisson noise to images",
        description=wrap(
            "Add Gaussian noise (sigma on the 0-255 scale) or Poisson noise "
            "(y = Poisson(peak*x)/peak), clipped to the valid range (unclipped into "
            "float TIFFs with --unclipped), seeded: each file's noise comes from --seed and "
            "its name (the noise 'n2n eval' adds to an image of that name), each plane of "
            "a stack its own."
        ),
        epilog="examples:\n  n2n add-noise clean.png -o noisy.png --gaussian 25\n"
        "  n2n add-noise clean/ -o noisy/ --poisson 15 --seed 3\n"
        "  n2n add-noise clean.png -o noisy.tif --gaussian 50 --unclipped   # float TIFF",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    add_output(p, "_noisy")
    level = p.add_mutually_exclusive_group(required=True)
    level.add_argument(
        "--gaussian",
        type=sigma_255,
        metavar="SIGMA",
        help="Gaussian noise, sigma on the 0-255 scale",
    )
    level.add_argument(
        "--poisson", type=peak_count, metavar="PEAK", help="Poisson noise at this peak count"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    p.add_argument(
        "--unclipped",
        action="store_true",
        help="keep the noisy values below 0 and above 1 (the literature's protocol, "
        "zero-mean noise everywhere), in float TIFF outputs (8- and 16-bit inputs written "
        "as float32 in [0, 1])",
    )
    add_file_run_options(p)
    p.set_defaults(func=_cmd_add_noise)
