"""What the commands share: argument types and groups, file runs with their limits,
the report of a run, and what an interrupt prints."""

from __future__ import annotations

import argparse
import glob
import math
import os
import re
import sys
import textwrap
from pathlib import Path

from ..batch import process_files
from ..errors import N2NError
from ..image_io import (
    DEFAULT_MAX_MEGAPIXELS,
    JPEG_QUALITY,
    LOSSY_EXTENSIONS,
    describe_unreadable,
)
from ..memory import Limits, available_memory, per_worker
from ..methods import METHODS
from ..noise import MAX_PEAK, MAX_SIGMA
from ..runtime import DEVICE_HELP, resolve_device
from ..zeroshot import DEFAULT_PRESET, PRESETS

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2

# The library's messages name parameters in backticks, as a Python caller writes them;
# the command line says which option sets each. One table for every command.
OPTION_OF_PARAMETER = {
    "overwrite=True": "--overwrite",
    "resume=True": "--resume",
    "recursive=True": "--recursive",
    "rename": "--names",
    "strict=True": "--strict",
    "grayscale=True": "--grayscale",
    "size": "--size",
    "out": "--out",
    "out_dir": "--out",
    "run_dir": "--out",
    "data": "--data",
    "pairs": "--pairs",
    "noise": "--noise",
    "data_root": "--data-root",
    "target='noisy'": "--target noisy",
    "method='zeroshot'": "--method zeroshot",
    "peak": "--peak",
    "sigma": "--sigma",
    "scheduler": "--scheduler",
    "max_megapixels": "--max-megapixels",
    "init": "--init",
    "iterations": "--iterations",
    "preset": "--preset",
    "seed": "--seed",
    "device": "--device",
    "model": "--model",
    "clip=False": "--unclipped",
    "chunk": "--chunk",
    "worker_memory": "--worker-memory",
}


def in_options(message: str) -> str:
    """A library message with its parameters named as this command's options."""
    return re.sub(r"`([^`]+)`", lambda m: OPTION_OF_PARAMETER.get(m[1], m[1]), message)


class Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the line breaks of descriptions and examples."""


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def positive_float(text: str) -> float:
    value = float(text)
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be positive and finite, got {text}")
    return value


def fraction(text: str) -> float:
    value = float(text)
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"must be between 0 and 1, got {text}")
    return value


def method_name(text: str) -> str:
    """--method: a method's name in any case (``Pretrained``, ``BM3D``); the path of
    ``model:RUN_DIR`` as it is. An unknown name is the library's error, with a hint."""
    name, colon, rest = text.partition(":")
    if name.lower() in METHODS:
        return name.lower() + colon + rest
    return text


def sigma_255(text: str) -> float:
    value = positive_float(text)
    if value > MAX_SIGMA:
        raise argparse.ArgumentTypeError(
            f"must be at most {MAX_SIGMA:g} on the 0-255 scale, got {text}"
        )
    return value


def peak_count(text: str) -> float:
    value = positive_float(text)
    if value > MAX_PEAK:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_PEAK:g}, got {text}")
    return value


def crop_size(text: str) -> int:
    value = int(text)
    if value != 0 and value < 8:
        raise argparse.ArgumentTypeError(f"must be 0 (whole images) or at least 8, got {text}")
    return value


class Several(argparse.Action):
    """An option of several values, given space- or comma-separated, or repeated
    (``--methods a b``, ``--methods a,b``, ``--methods a --methods b``); None when not
    given (the command fills in its default)."""

    def __init__(self, option_strings, dest, **kwargs):
        super().__init__(option_strings, dest, nargs="+", **kwargs)

    def __call__(self, parser, namespace, values, option_string=None) -> None:
        given = [v.strip() for value in values for v in value.split(",") if v.strip()]
        setattr(namespace, self.dest, [*(getattr(namespace, self.dest) or []), *given])


def device_of(args: argparse.Namespace):
    """The torch device of ``--device`` (the commands say which one they used)."""
    return resolve_device(args.device)


def add_threads(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--threads",
        type=positive_int,
        default=None,
        help="CPU threads of this process (default: one per core it may use); 1 for runs "
        "that share a machine, as two trainings side by side on 2 cores",
    )


def apply_threads(args: argparse.Namespace) -> None:
    """--threads: the process's own setting (the library leaves it alone)."""
    if args.threads:
        import torch

        torch.set_num_threads(args.threads)


def add_device(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--device",
        default="auto",
        help=f"where to compute: {DEVICE_HELP} (default: %(default)s)",
    )


def expand_inputs(inputs: list[str]) -> list[str]:
    """The input paths with wildcards expanded (sorted) where the shell left them: the
    Windows shells pass ``*.jpg`` on as it is, as every shell does a quoted pattern. An
    existing file whose name has ``*``, ``?`` or ``[`` is taken as it is; a web address
    is refused (n2n downloads nothing)."""
    paths = []
    for item in inputs:
        if re.match(r"^[a-z][a-z0-9+.-]*://", item, re.IGNORECASE):
            raise N2NError(f"{item}: n2n reads files on this computer; download it first")
        if item == "-" and not os.path.exists(item):  # a pipe: the format has no name
            raise N2NError("-: n2n reads image files, not standard input; give a file name")
        if os.path.exists(item) or not any(c in item for c in "*?["):
            paths.append(item)
        elif found := sorted(glob.glob(item, recursive=True)):
            paths += found
        else:
            raise N2NError(f"{item}: no file matches this pattern")
    return paths


def note(args: argparse.Namespace, text: str) -> None:
    """``n2n: note: text`` on stderr, unless ``--quiet``."""
    if not getattr(args, "quiet", False):
        print(f"n2n: note: {text}", file=sys.stderr)


def note_unread(args: argparse.Namespace) -> None:
    """One note per input folder holding images n2n leaves out (camera raw, HEIC, ...),
    so that a folder run does not pass over them in silence."""
    inputs, recursive = args.inputs, args.recursive
    for folder in (Path(i) for i in inputs):
        if folder.is_dir() and (left := describe_unreadable(folder, recursive=recursive)):
            note(args, f"{folder}: left out {left}")


def run_files(args: argparse.Namespace, pairs, fn, workers: int):
    """Process file pairs with the limits, resume and overwrite flags of ``args``."""
    limits = Limits(args.max_megapixels, per_worker(available_memory(), workers))
    return process_files(
        pairs,
        fn,
        overwrite=args.overwrite,
        skip_existing=args.skip_existing,
        workers=workers,
        isolate=len(pairs) > 1,  # a file that crashes its process fails alone
        limits=limits,
        progress=not args.quiet,
        quality=output_quality(args, pairs),
    )


def add_zeroshot_options(p: argparse.ArgumentParser, *, only_if_given: bool = False) -> None:
    """--preset, --iterations, --seed; with ``only_if_given`` they default to None, so a
    method that does not use them can tell that they were given."""
    default_preset = None if only_if_given else DEFAULT_PRESET

    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=default_preset,
        help="ZS-N2N settings: 'fast' trains on small crops and averages the output over "
        "flips/rotations (seconds, any image size); "
        "'paper' is Mansour & Heckel's (2000 full-image steps); 'report' the report's "
        f"(3000 steps) (default: {DEFAULT_PRESET})",
    )
    p.add_argument(
        "--iterations",
        type=positive_int,
        default=None,
        metavar="N",
        help="training steps, overriding the preset (its learning-rate schedule scales)",
    )
    p.add_argument(
        "--seed",
        type=int,
        default=None if only_if_given else 0,
        help="random seed; same seed, same output (default: 0)",
    )


def add_output(p: argparse.ArgumentParser, suffix: str) -> None:
    """-o/--output, by default beside each input with ``suffix`` (batch.plan_outputs)."""
    p.add_argument(
        "-o",
        "--output",
        help=f"output file, or folder (end it with /); default: beside each input, with "
        f"'{suffix}' added to its name (photo{suffix}.jpg; a folder's results in "
        f"FOLDER{suffix}/)",
    )


def add_file_run_options(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "-r",
        "--recursive",
        action="store_true",
        help="take the images in the subfolders of a folder too; each result goes to the "
        "same place under the output folder",
    )
    p.add_argument(
        "-q",
        "--quiet",
        action="store_true",
        help="errors only: no progress, notes or summary (the exit status says whether "
        "every file went through)",
    )
    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument(
        "--skip-existing",
        action="store_true",
        help="leave outputs that already exist (continue an interrupted folder run)",
    )
    p.add_argument(
        "--max-megapixels",
        type=positive_float,
        default=DEFAULT_MAX_MEGAPIXELS,
        help="refuse images larger than this, before decoding them (default: %(default)g); "
        "images that would need more memory than is free are refused too",
    )
    p.add_argument(
        "--quality",
        type=quality,
        default=None,
        metavar="Q",
        help=f"quality of JPEG, WebP, AVIF and HEIC outputs, 1-100 (default: {JPEG_QUALITY}; "
        "full-resolution colour from 90 up; a lossless WebP's WebP output is lossless unless "
        "--quality is given); every "
        "output keeps the input's colour profile, EXIF, resolution and ImageJ calibration "
        "where its format can hold them",
    )


def output_quality(args: argparse.Namespace, pairs) -> int | None:
    """--quality for these outputs, None where it was not given (the default, and a
    lossless WebP's output lossless); given where no output is lossy (JPEG, WebP, AVIF,
    HEIC), it is an error, as every option that would be ignored is."""
    if args.quality is None:
        return None
    if not any(dst.suffix.lower() in LOSSY_EXTENSIONS for _, dst in pairs):
        kinds = ", ".join(sorted({dst.suffix.lower() or dst.name for _, dst in pairs}))
        raise N2NError(
            f"--quality applies to lossy outputs only (JPEG, WebP, AVIF, HEIC); these are {kinds}"
        )
    return args.quality


def quality(text: str) -> int:
    value = positive_int(text)
    if value > 100:
        raise argparse.ArgumentTypeError(f"must be 1-100, got {value}")
    return value


def add_data_root(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-root",
        default=None,
        help="folder holding the named sets (default: $N2N_DATA_ROOT or ../shared/data)",
    )


def wrap(text: str) -> str:
    return textwrap.fill(text, width=78)
