"""``n2n compare``: PSNR and SSIM of result images against references."""

from __future__ import annotations

import argparse
import csv
import math
import sys
from pathlib import Path

from ..comparison import compare_files, pair_by_name
from ..errors import N2NError, name_some
from ..metrics import format_mean_2std
from .common import EXIT_OK, Formatter, wrap

_HEADER = ["result", "reference", "psnr", "ssim"]


def _foreign(table: Path) -> bool:
    """Whether ``table`` exists and is not a table this command wrote (its header), which
    `--csv` would replace: a user's spreadsheet of the same name was overwritten."""
    if not table.exists():
        return False
    try:
        with open(table, newline="", encoding="utf-8") as f:
            return next(csv.reader(f), None) != _HEADER
    except (OSError, UnicodeDecodeError):
        return True


def _cmd_compare(args: argparse.Namespace) -> int:
    if args.csv is not None and Path(args.csv).suffix.lower() != ".csv":
        raise N2NError(f"{args.csv}: the table's name must end in .csv")
    if args.csv is not None and _foreign(Path(args.csv)):  # before any measuring
        raise N2NError(f"{args.csv}: exists and is not an earlier n2n compare table: give another")
    pairs, unmatched = pair_by_name(args.result, args.reference, rename=args.names)
    measured = compare_files(pairs, progress=True)
    if len(measured) == 1 and not Path(args.result).is_dir():
        m = measured[0]
        print(f"{m.result} against {m.reference}: PSNR {m.psnr:.2f} dB, SSIM {m.ssim:.4f}")
    else:
        width = max(len(m.result.name) for m in measured)
        print(f"{'image':<{width}}  PSNR dB  SSIM")
        for m in measured:
            print(f"{m.result.name:<{width}}  {m.psnr:7.2f}  {m.ssim:.4f}")
        if len(measured) > 1:  # the spread of one is no measure
            print(
                f"mean ± 2·std over {len(measured)} images: "
                f"PSNR {_summary([m.psnr for m in measured], 2, ' dB')}, "
                f"SSIM {_summary([m.ssim for m in measured], 4)}"
            )
    if unmatched:
        names = name_some([p.name for p in unmatched], 5)
        print(f"n2n: note: no reference found for {names}", file=sys.stderr)
    if args.csv is not None:
        with open(args.csv, "w", newline="", encoding="utf-8") as f:
            writer = csv.writer(f)
            writer.writerow(_HEADER)
            for m in measured:
                writer.writerow([m.result, m.reference, f"{m.psnr:.4f}", f"{m.ssim:.5f}"])
        print(f"wrote {args.csv}")
    return EXIT_OK


def renaming(text: str) -> tuple[str, str]:
    """--names OLD:NEW."""
    old, colon, new = text.partition(":")
    if not colon or not old or old == new:
        raise argparse.ArgumentTypeError(f"'{text}': give OLD:NEW, two different name parts")
    return old, new


def _summary(values: list[float], digits: int, unit: str = "") -> str:
    """Mean ± 2·std of the finite values; identical images (PSNR inf) and images under
    SSIM's 7×7 window (NaN) are counted apart."""
    finite = [v for v in values if math.isfinite(v)]
    identical = sum(1 for v in values if v == math.inf)
    apart = f" ({identical} identical)" if identical else ""
    if not finite:
        return f"inf{unit} (all identical)" if identical else "– (images under 7×7)"
    return format_mean_2std(finite, digits=digits) + unit + apart


def add_parser(sub) -> None:
    p = sub.add_parser(
        "compare",
        formatter_class=Formatter,
        help="measure PSNR/SSIM of images against references (yours, real noise)",
        description=wrap(
            "Measure how close result images are to references: PSNR (dB, higher is "
            "closer) and SSIM (up to 1), as 'n2n eval' and the report compute them. "
            "RESULT and REFERENCE are two image files, or two folders whose images are "
            "paired by file name (extension aside: a.png with a.tif). A reference is a "
            "clean original, or the average of many shots of a still scene. Measure the "
            "noisy images too, for the gain. Images are put on 0-1 by their bit depth; "
            "alpha is left out. Two TIFF stacks are read plane by plane (any size): the "
            "PSNR of their mean squared error over all planes, the mean SSIM of the planes."
        ),
        epilog="examples:\n"
        "  n2n compare clean_denoised.png clean.png\n"
        "  n2n compare noisy/ references/         # before\n"
        "  n2n compare denoised/ references/ --csv denoised.csv   # after, per image\n"
        "  n2n compare shots/ shots/ --names _real:_mean   # x_real.JPG against x_mean.JPG",
    )
    p.add_argument("result", metavar="RESULT", help="image file or folder to measure")
    p.add_argument("reference", metavar="REFERENCE", help="reference image file or folder")
    p.add_argument(
        "--names",
        type=renaming,
        metavar="OLD:NEW",
        help="folders: measure the images whose name holds OLD, each against the reference "
        "named with NEW in its place (_real:_mean pairs x_real.JPG with x_mean.JPG)",
    )
    p.add_argument("--csv", metavar="FILE", help="also write the per-image values to FILE.csv")
    p.set_defaults(func=_cmd_compare)
