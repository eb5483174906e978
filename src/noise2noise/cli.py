"""The ``n2n`` command: parse arguments, call one library function, report.

No algorithm lives here. Errors that a user can fix (the project's :class:`N2NError` and
the system's ``OSError``) are printed as one line naming the file and the problem, with a
non-zero exit status and no traceback (``n2n --debug`` shows it); any other exception is
a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import logging
import math
import os
import signal
import sys
import textwrap
import time
from collections.abc import Sequence

from . import __version__
from .errors import N2NError

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


class _Formatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the line breaks of descriptions and examples."""


def _positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text}")
    return value


def _positive_float(text: str) -> float:
    value = float(text)
    if not 0 < value < math.inf:
        raise argparse.ArgumentTypeError(f"must be positive and finite, got {text}")
    return value


def _sigma_255(text: str) -> float:
    from .noise import MAX_SIGMA

    value = _positive_float(text)
    if value > MAX_SIGMA:
        raise argparse.ArgumentTypeError(
            f"must be at most {MAX_SIGMA:g} on the 0-255 scale, got {text}"
        )
    return value


def _peak_count(text: str) -> float:
    from .noise import MAX_PEAK

    value = _positive_float(text)
    if value > MAX_PEAK:
        raise argparse.ArgumentTypeError(f"must be at most {MAX_PEAK:g}, got {text}")
    return value


def _crop_size(text: str) -> int:
    value = int(text)
    if value != 0 and value < 8:
        raise argparse.ArgumentTypeError(f"must be 0 (whole images) or at least 8, got {text}")
    return value


class _Terminated(KeyboardInterrupt):
    """SIGTERM, handled like Ctrl-C (cancel, stop workers, clean up) but exiting 143."""

    exit_code = 143


def _terminated(signum, frame) -> None:
    raise _Terminated()


# ------------------------------------------------------------------ denoise


def _device(args: argparse.Namespace):
    """The torch device of ``--device`` (the commands say which one they used)."""
    from .runtime import resolve_device

    return resolve_device(args.device)


def _add_device(p: argparse.ArgumentParser) -> None:
    from .runtime import DEVICE_HELP

    p.add_argument(
        "--device",
        default="auto",
        help=f"where to compute: {DEVICE_HELP} (default: %(default)s)",
    )


def _run_files(args: argparse.Namespace, pairs, fn, workers: int):
    """Process file pairs with the limits, resume and overwrite flags of ``args``."""
    from .batch import process_files
    from .memory import Limits, available_memory, per_worker

    limits = Limits(args.max_megapixels, per_worker(available_memory(), workers))
    return process_files(
        pairs,
        fn,
        overwrite=args.overwrite,
        skip_existing=args.skip_existing,
        workers=workers,
        isolate=len(pairs) > 1,  # a file that crashes its process fails alone
        limits=limits,
    )


def _cmd_denoise(args: argparse.Namespace) -> int:
    from .batch import plan_outputs
    from .methods import make_denoiser

    if _is_zarr_job(args):
        return _denoise_array(args)
    pairs = plan_outputs(args.inputs, args.output)
    device = _device(args)
    method = f"model:{args.model}" if args.model else args.method
    fn = make_denoiser(
        method,
        preset=args.preset,
        iterations=args.iterations,
        seed=args.seed,
        progress=len(pairs) == 1,
        sigma=args.sigma,
        peak=args.peak,
        device=str(device),
    )
    start = time.perf_counter()
    if args.scheduler:
        results = _run_files_on_cluster(args, pairs, fn)
        where = f", {method} on {args.scheduler}"
    else:
        # One GPU serves the images one after another; on the CPU, one worker per core.
        cores = 1 if device.type != "cpu" else os.cpu_count() or 1
        workers = args.workers or min(len(pairs), cores)
        results = _run_files(args, pairs, fn, workers)
        where = f", {method} on {device}"
    return _report(results, time.perf_counter() - start, where=where)


def _is_zarr_job(args: argparse.Namespace) -> bool:
    from pathlib import Path

    paths = [*map(Path, args.inputs), Path(args.output)]
    return any(p.suffix.lower() == ".zarr" for p in paths)


def _run_files_on_cluster(args: argparse.Namespace, pairs, fn):
    from .distributed import connect, process_files_dask
    from .memory import Limits

    cluster = connect(args.scheduler, worker_memory=args.worker_memory)
    try:
        return process_files_dask(
            pairs,
            fn,
            cluster,
            overwrite=args.overwrite,
            skip_existing=args.skip_existing,
            limits=Limits(args.max_megapixels, None),  # each worker checks its own memory
        )
    finally:
        cluster.close()


def _denoise_array(args: argparse.Namespace) -> int:
    """``n2n denoise big.zarr -o out.zarr``: chunk by chunk, on a cluster or here."""
    from pathlib import Path

    from .distributed import connect, denoise_zarr

    if len(args.inputs) != 1:
        raise N2NError("a zarr run takes one input array")
    given = [
        f"--{k}" for k in ("sigma", "peak", "model", "iterations") if getattr(args, k) is not None
    ]
    if given:
        raise N2NError(f"{', '.join(given)} cannot be used for a chunked zarr run")
    cluster = connect(args.scheduler, worker_memory=args.worker_memory) if args.scheduler else None
    try:
        summary = denoise_zarr(
            Path(args.inputs[0]),
            Path(args.output),
            args.method,
            cluster=cluster,
            axes=args.axes,
            chunk=args.chunk,
            overlap=args.overlap,
            preset=args.preset,
            seed=args.seed or 0,
            resume=args.resume or args.skip_existing,
            overwrite=args.overwrite,
        )
    finally:
        if cluster is not None:
            cluster.close()
    print(
        f"wrote {args.output}: {summary['done']} of {summary['chunks']} chunks denoised in "
        f"{summary['seconds']:.1f} s ({args.method}, overlap {summary['overlap']} px"
        f"{', ' + str(summary['skipped']) + ' already done' if summary['skipped'] else ''})"
    )
    return EXIT_OK


def _report(results, seconds: float, where: str = "", verb: str = "denoised") -> int:
    failed = [r for r in results if not r.ok]
    skipped = [r for r in results if r.skipped]
    for r in results:
        for note in r.notes:
            print(f"n2n: note: {r.source.name}: {note}", file=sys.stderr)
        if r.ok and not r.skipped and len(results) == 1:
            print(f"wrote {r.target} ({r.seconds:.1f} s{where})")
    for r in failed:
        print(f"n2n: error: {r.error}", file=sys.stderr)
    if len(results) > 1 or skipped:
        done = len(results) - len(failed) - len(skipped)
        rate = done / seconds * 60 if seconds > 0 else float("inf")
        kept = f", {len(skipped)} skipped (output exists)" if skipped else ""
        print(
            f"{done} of {len(results)} images {verb} in {seconds:.1f} s "
            f"({rate:.1f} images/min{where}); {len(failed)} failed{kept}"
        )
    return EXIT_FAILED if failed else EXIT_OK


def _report_interrupt(exc) -> int:
    """After Ctrl-C or SIGTERM: what was finished, and how to continue."""
    from .batch import RunInterrupted

    if isinstance(exc, RunInterrupted):
        done = sum(1 for r in exc.results if r.ok and not r.skipped)
        print(
            f"n2n: interrupted: {done} of {exc.total} images finished; the rest were "
            "cancelled and no partial output is left (run again with --skip-existing to "
            "continue)",
            file=sys.stderr,
        )
    else:
        print("n2n: interrupted", file=sys.stderr)
    return getattr(exc, "exit_code", 130)


# ------------------------------------------------------------------ add-noise


def _cmd_add_noise(args: argparse.Namespace) -> int:
    from .batch import NoiseAdder, plan_outputs
    from .noise import Gaussian, Poisson

    model = Gaussian(args.gaussian) if args.gaussian else Poisson(args.poisson)
    pairs = plan_outputs(args.inputs, args.output)
    fn = NoiseAdder(model, args.seed)
    start = time.perf_counter()
    results = _run_files(args, pairs, fn, workers=1)
    return _report(results, time.perf_counter() - start, verb="written")


# ------------------------------------------------------------------ eval


def _cmd_eval(args: argparse.Namespace) -> int:
    from .evaluation import run_evaluation

    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
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
        device=str(_device(args)),
        command="n2n " + " ".join(sys.argv[1:]) if sys.argv[0].endswith("n2n") else None,
    )
    print(summary.read_text())
    print(f"per-image results: {summary.parent / 'results.csv'}")
    return EXIT_OK


# ------------------------------------------------------------------ train


def _cmd_train(args: argparse.Namespace) -> int:
    from .training import TRAIN_PRESETS, run_training, train_preset

    config = train_preset(
        args.preset,
        args.arch or next(iter(TRAIN_PRESETS[args.preset])),
        target=args.target,
        noise=args.noise,
        epochs=args.epochs,
        seed=args.seed,
        batch_size=args.batch_size,
        crop=args.crop,
        clip_target=False if args.unclipped_target else None,
        steps_per_epoch=args.steps_per_epoch,
        grayscale=True if args.grayscale else None,
        lr=args.lr,
    )
    device = _device(args)
    history = run_training(
        config,
        args.out,
        data=args.data,
        pairs=args.pairs,
        clean=args.clean,
        data_root=args.data_root,
        limit=args.limit,
        resume=args.resume,
        strict=args.strict,
        device=device,
    )
    best = min(history, key=lambda h: h["val_loss"])
    print(
        f"trained {len(history)} epochs; best validation loss {best['val_loss']:.3e} "
        f"(PSNR {best['val_psnr']:.2f} dB) at epoch {best['epoch']}"
    )
    print(f"run folder: {args.out} (denoise with: n2n denoise --model {args.out} IN -o OUT)")
    print(f"trained on {device}")
    return EXIT_OK


# ------------------------------------------------------------------ reproduce


def _cmd_reproduce(args: argparse.Namespace) -> int:
    import torch

    from .reproduce import reproduce

    if args.threads:
        torch.set_num_threads(args.threads)
    if "verify" in args.experiments:
        from .reproduce import Reproduction, budget_for

        if len(args.experiments) > 1:
            raise N2NError("verify runs on its own: n2n reproduce verify --out DIR")
        budget = budget_for(args.preset, quick=args.quick)
        repro = Reproduction(args.out, budget, data_root=args.data_root, device=str(_device(args)))
        rows = repro.verify(args.sample)
        for r in rows:
            print(
                f"{r['experiment']:11s} {r['image']:10s} {r['noise']:12s} {r['method']:10s} "
                f"cached {r['cached_psnr']:.2f}  now {r['recomputed_psnr']:.2f}  "
                f"({r['difference']:+.3f} dB){'' if r['ok'] else '  MISMATCH'}"
            )
        bad = sum(not r["ok"] for r in rows)
        print(f"{len(rows) - bad} of {len(rows)} cells reproduced within 0.1 dB")
        return EXIT_FAILED if bad else EXIT_OK
    results = reproduce(
        args.experiments,
        args.out,
        device=str(_device(args)),
        preset=args.preset,
        quick=args.quick,
        data_root=args.data_root,
        command="n2n " + " ".join(sys.argv[1:]) if sys.argv[0].endswith("n2n") else None,
    )
    print(f"wrote {results}")
    return EXIT_OK


# ------------------------------------------------------------------ demo


def _cmd_demo(args: argparse.Namespace) -> int:
    from .demo import run_demo

    print(
        f"denoising scikit-image's astronaut ({args.size}×{args.size}, Gaussian sigma=25) "
        f"with {args.method}..."
    )
    result = run_demo(
        args.out,
        method=args.method,
        preset=args.preset,
        iterations=args.iterations,
        seed=args.seed,
        size=args.size,
        progress=True,
    )
    print(f"PSNR noisy    {result.psnr_noisy:6.2f} dB")
    print(f"PSNR denoised {result.psnr_denoised:6.2f} dB  ({result.seconds:.1f} s)")
    print(f"wrote clean.png, noisy.png, denoised.png, comparison.png to {result.folder}/")
    return EXIT_OK


# ------------------------------------------------------------------ parser


def _add_zeroshot_options(p: argparse.ArgumentParser, *, only_if_given: bool = False) -> None:
    """--preset, --iterations, --seed; with ``only_if_given`` they default to None, so a
    method that does not use them can tell that they were given."""
    from .zeroshot import DEFAULT_PRESET, PRESETS

    default_preset = None if only_if_given else DEFAULT_PRESET

    p.add_argument(
        "--preset",
        choices=sorted(PRESETS),
        default=default_preset,
        help="ZS-N2N settings: 'fast' trains on small crops and averages the output over "
        "flips/rotations (seconds, any image size); "
        "'paper' is Mansour & Heckel's (2000 full-image steps); 'report' the report's "
        "(3000 steps) (default: %(default)s)",
    )
    p.add_argument(
        "--iterations",
        type=_positive_int,
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


def _add_file_run_options(p: argparse.ArgumentParser) -> None:
    from .image_io import DEFAULT_MAX_MEGAPIXELS

    p.add_argument("--overwrite", action="store_true", help="replace existing output files")
    p.add_argument(
        "--skip-existing",
        action="store_true",
        help="leave outputs that already exist (continue an interrupted folder run)",
    )
    p.add_argument(
        "--max-megapixels",
        type=_positive_float,
        default=DEFAULT_MAX_MEGAPIXELS,
        help="refuse images larger than this, before decoding them (default: %(default)g); "
        "images that would need more memory than is free are refused too",
    )


def _add_data_root(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--data-root",
        default=None,
        help="folder holding the named sets (default: $N2N_DATA_ROOT or ../shared/data)",
    )


def _wrap(text: str) -> str:
    return textwrap.fill(text, width=78)


def build_parser() -> argparse.ArgumentParser:
    from .models import MODELS
    from .training import TRAIN_PRESETS

    parser = argparse.ArgumentParser(
        prog="n2n",
        description="Remove noise from images without clean training data.",
        formatter_class=_Formatter,
        epilog="examples:\n  n2n demo\n  n2n denoise photo.png -o clean.png\n"
        "  n2n denoise scans/ -o denoised/\n"
        "  n2n add-noise clean.png -o noisy.png --gaussian 25\n\n"
        "Run 'n2n COMMAND --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument(
        "--debug", action="store_true", help="show the traceback of errors too (for reports)"
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    p = sub.add_parser(
        "denoise",
        formatter_class=_Formatter,
        help="denoise image files or folders (pretrained network by default)",
        description=_wrap(
            "Denoise images. The default method is the pretrained Noise2Noise network "
            "shipped with the package (no download, no noise level to give): for "
            "Gaussian- or Poisson-like noise, microscopy and scans. For a photo from a "
            "camera (noise correlated between pixels, colour blotches) use --method real; "
            "for noise unlike both, --method zeroshot trains a small network on the image "
            "itself (ZS-N2N, seconds to minutes). PNG, JPEG, BMP, TIFF; 8 or 16 bit; gray, "
            "RGB or RGBA (alpha is kept as is). The output keeps the input's size, channels "
            "and bit depth."
        ),
        epilog="examples:\n  n2n denoise photo.png -o clean.png\n"
        "  n2n denoise camera_shot.jpg -o clean.jpg --method real\n"
        "  n2n denoise photo.png -o clean.tif --method zeroshot --preset paper --seed 1\n"
        "  n2n denoise photo.png -o clean.png --method bm3d --sigma 25\n"
        "  n2n denoise scans/ more.png -o denoised/ --workers 2\n"
        "  n2n denoise scans/ -o denoised/ --scheduler local:4\n"
        "  n2n denoise volume.ome.zarr -o clean.ome.zarr --scheduler tcp://head:8786\n\n"
        "With a folder or several inputs, OUTPUT is a folder and each result keeps its "
        "file name. Inputs are never overwritten; existing outputs only with --overwrite.",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    p.add_argument("-o", "--output", required=True, help="output file, or folder")
    p.add_argument(
        "--method",
        default="pretrained",
        help="pretrained (default: the shipped network, synthetic-like noise), real (the "
        "shipped network for camera photos), zeroshot (ZS-N2N: trains on the image), "
        "bm3d (Gaussian noise), ansc (Poisson noise), or model:RUN_DIR (a network "
        "trained with 'n2n train')",
    )
    _add_zeroshot_options(p, only_if_given=True)
    _add_device(p)
    p.add_argument("--model", metavar="RUN_DIR", help="same as --method model:RUN_DIR")
    p.add_argument(
        "--sigma",
        type=_positive_float,
        default=None,
        help="bm3d: noise sigma on the 0-255 scale (estimated from each image if omitted)",
    )
    p.add_argument("--peak", type=_peak_count, default=None, help="ansc: Poisson peak count")
    _add_file_run_options(p)
    p.add_argument(
        "--workers",
        type=_positive_int,
        default=None,
        help="parallel processes for several images (default: one per core)",
    )
    dask = p.add_argument_group(
        "clusters and arrays larger than memory (pip install 'noise2noise[distributed]')"
    )
    dask.add_argument(
        "--scheduler",
        metavar="ADDRESS",
        help="run on a Dask cluster: a scheduler address (tcp://host:8786) or local:N for "
        "N local worker processes; one task per file, or per chunk of a zarr array",
    )
    dask.add_argument(
        "--worker-memory",
        metavar="SIZE",
        help="with --scheduler local:N: memory limit of each worker (e.g. 2GB)",
    )
    dask.add_argument(
        "--resume",
        action="store_true",
        help="zarr output: keep the chunks an interrupted run finished",
    )
    dask.add_argument(
        "--axes",
        help="zarr input: one letter per dimension, Y and X, C for channels, others "
        "(T, Z...) processed plane by plane (default: OME-Zarr's axes, else guessed)",
    )
    dask.add_argument(
        "--chunk",
        type=_positive_int,
        default=1024,
        help="zarr: side of the chunks each task denoises (default: %(default)s)",
    )
    dask.add_argument(
        "--overlap",
        type=int,
        default=None,
        help="zarr: pixels of context around each chunk (default: the method's own)",
    )
    p.set_defaults(func=_cmd_denoise)

    p = sub.add_parser(
        "add-noise",
        formatter_class=_Formatter,
        help="add synthetic Gaussian or Poisson noise to images",
        description=_wrap(
            "Add Gaussian noise (sigma on the 0-255 scale) or Poisson noise "
            "(y = Poisson(peak*x)/peak), clipped to the valid range, seeded."
        ),
        epilog="examples:\n  n2n add-noise clean.png -o noisy.png --gaussian 25\n"
        "  n2n add-noise clean/ -o noisy/ --poisson 15 --seed 3",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    p.add_argument("-o", "--output", required=True, help="output file, or folder")
    level = p.add_mutually_exclusive_group(required=True)
    level.add_argument(
        "--gaussian",
        type=_sigma_255,
        metavar="SIGMA",
        help="Gaussian noise, sigma on the 0-255 scale",
    )
    level.add_argument(
        "--poisson", type=_peak_count, metavar="PEAK", help="Poisson noise at this peak count"
    )
    p.add_argument("--seed", type=int, default=0, help="random seed (default: 0)")
    _add_file_run_options(p)
    p.set_defaults(func=_cmd_add_noise)

    p = sub.add_parser(
        "train",
        formatter_class=_Formatter,
        help="train a Noise2Noise (or Noise2Clean) network",
        description=_wrap(
            "Train a U-Net or the simple CNN with MSE loss. From clean images (--data, a "
            "folder or set name): every crop gets two independent noise draws, the input "
            "and the target (--target noisy: Noise2Noise; clean: Noise2Clean). From real "
            "data (--pairs A B): two noisy captures per scene with matching file names. "
            "15%% of the images are held out for validation. The run folder holds the "
            "configuration, weights, best weights and history (CSV and plot); an "
            "interrupted run continues with --resume."
        ),
        epilog="examples:\n"
        "  n2n train --data bsds432 --noise gaussian:25 --arch unet --preset cpu --out runs/n2n\n"
        "  n2n train --data bsds432 --noise gaussian:25 --target clean --out runs/n2c\n"
        "  n2n train --pairs shots_a/ shots_b/ --arch unet --out runs/real\n"
        "  n2n train --data bsds432 --preset blind --device cuda --out runs/blind\n"
        "  n2n train ... --out runs/n2n --resume",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="clean images: a folder or a set name (e.g. bsds432)")
    source.add_argument(
        "--pairs",
        nargs=2,
        metavar=("DIR_A", "DIR_B"),
        help="two folders of noisy captures with matching file names",
    )
    p.add_argument("--clean", metavar="DIR", help="with --pairs: clean references, for PSNR")
    p.add_argument(
        "--noise",
        default=None,
        help="with --data: gaussian:SIGMA or poisson:PEAK (default gaussian:25)",
    )
    p.add_argument(
        "--target",
        choices=["noisy", "clean"],
        default=None,
        help="noisy = Noise2Noise (default), clean = Noise2Clean",
    )
    p.add_argument(
        "--arch",
        choices=sorted(MODELS),
        default=None,
        help="network (default: the preset's; unet for cpu and report, resunet for blind and real)",
    )
    p.add_argument(
        "--preset",
        choices=sorted(TRAIN_PRESETS),
        default="cpu",
        help="cpu: about 10 minutes on 2 cores; report: the report's hyperparameters; "
        "blind: the shipped pretrained model (noise drawn per crop over a range, 8-bit "
        "inputs, unclipped noisy targets; made for a GPU); real: as blind with half of the "
        "crops in synthetic camera noise (default: %(default)s)",
    )
    p.add_argument("--epochs", type=_positive_int, default=None, help="override the preset")
    p.add_argument(
        "--steps-per-epoch",
        type=_positive_int,
        default=None,
        help="override the preset: optimiser steps per epoch (batches drawn with replacement)",
    )
    p.add_argument(
        "--grayscale",
        action="store_true",
        help="train on the luminance of the images (a one-channel model)",
    )
    p.add_argument("--lr", type=_positive_float, default=None, help="override the preset")
    p.add_argument("--batch-size", type=_positive_int, default=None, help="override the preset")
    p.add_argument("--crop", type=_positive_int, default=None, help="override the preset")
    p.add_argument("--limit", type=_positive_int, default=None, help="use the first N images")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: 0)")
    p.add_argument(
        "--unclipped-target",
        action="store_true",
        help="with --data and --target noisy: keep the target's values outside [0, 1], so "
        "its noise stays zero-mean (clipping biases Noise2Noise; see bench/clipping_bias.py)",
    )
    _add_data_root(p)
    p.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first unusable image instead of skipping it",
    )
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    p.add_argument("--out", required=True, help="run folder")
    _add_device(p)
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser(
        "eval",
        formatter_class=_Formatter,
        help="measure PSNR/SSIM of methods on clean images with synthetic noise",
        description=_wrap(
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
        action="append",
        metavar="SPEC",
        help="gaussian:SIGMA or poisson:PEAK; repeat for several (default gaussian:25)",
    )
    p.add_argument(
        "--methods",
        default="pretrained,zeroshot,bm3d,ansc",
        help="comma-separated methods (default: %(default)s); bm3d runs on Gaussian "
        "noise with the true sigma, ansc on Poisson noise with the true peak",
    )
    p.add_argument(
        "--crop",
        type=_crop_size,
        default=256,
        help="centre crop size, 0 for whole images (default: %(default)s)",
    )
    p.add_argument("--limit", type=_positive_int, default=None, help="use the first N images")
    _add_data_root(p)
    p.add_argument("--out", required=True, help="results folder")
    _add_zeroshot_options(p)
    _add_device(p)
    p.set_defaults(func=_cmd_eval)

    p = sub.add_parser(
        "reproduce",
        formatter_class=_Formatter,
        help="reproduce the report's Table 1, convergence figure, sensitivity study, figures",
        description=_wrap(
            "Run the report's experiments on the test50 images (Kodak24 + 26 CBSD68, "
            "256×256 centre crops) with bsds432 as training set, and write per-image CSVs, "
            "tables side by side with the report's, plots and RESULTS.md to --out. Every "
            "cell (a training, an image × noise × method) is saved as it finishes and "
            "skipped on re-run, so the work can be done in pieces and survives "
            "interruption. EXPERIMENTS: train (the 24 networks of Table 1), table1, "
            "convergence, sensitivity, figures, all, report (only rewrite RESULTS.md), or "
            "verify (recompute a random sample of cached cells and compare). "
            "Several processes can share one --out (each cell goes to one of them): on "
            "2 cores, run the same command twice with --threads 1. "
            "--preset cpu finishes on 2 CPU cores (hours, see docs/results); "
            "--preset report uses the report's hyperparameters (days on a CPU). "
            "--quick runs the same structure on 2 small images with a few steps, in minutes."
        ),
        epilog="examples:\n"
        "  n2n reproduce all --preset cpu --out docs/results/cpu\n"
        "  n2n reproduce table1 sensitivity --preset cpu --out docs/results/cpu --threads 1\n"
        "  n2n reproduce all --quick --out /tmp/quick\n"
        "  n2n reproduce all --preset report --device cuda --out docs/results/report\n"
        "  n2n reproduce report --out docs/results/cpu    # rewrite RESULTS.md only\n"
        "  n2n reproduce verify --sample 5 --out docs/results/cpu  # recompute 5 cached cells",
    )
    p.add_argument(
        "experiments",
        nargs="+",
        choices=[
            "train",
            "table1",
            "convergence",
            "sensitivity",
            "figures",
            "all",
            "report",
            "verify",
        ],
        metavar="EXPERIMENT",
        help="train (Table 1's networks only), table1, convergence, sensitivity, figures, "
        "all, report, verify (recompute a sample of cached cells)",
    )
    p.add_argument(
        "--preset",
        choices=["cpu", "report"],
        default="cpu",
        help="budget: cpu (2 CPU cores) or report (its hyperparameters; default: %(default)s)",
    )
    p.add_argument("--quick", action="store_true", help="a few small images, a few steps")
    p.add_argument(
        "--sample",
        type=_positive_int,
        default=5,
        help="with verify: how many cached cells to recompute (default: %(default)s)",
    )
    p.add_argument("--out", required=True, help="output folder (cached cells are reused)")
    p.add_argument(
        "--threads", type=_positive_int, default=None, help="CPU threads (default: torch's)"
    )
    _add_data_root(p)
    _add_device(p)
    p.set_defaults(func=_cmd_reproduce)

    p = sub.add_parser(
        "demo",
        formatter_class=_Formatter,
        help="run the built-in example (no files needed)",
        description=_wrap(
            "Add Gaussian noise (sigma 25, fixed seed) to scikit-image's bundled "
            "astronaut photo, denoise it (the pretrained model unless --method says "
            "otherwise), write clean/noisy/denoised/comparison "
            "PNGs and print the PSNR before and after."
        ),
        epilog="example:\n  n2n demo --out demo-output",
    )
    p.add_argument("--out", default="demo-output", help="output folder (default: %(default)s)")
    p.add_argument(
        "--size",
        type=_positive_int,
        default=512,
        help="side of the centre crop (default: %(default)s)",
    )
    p.add_argument(
        "--method",
        default="pretrained",
        help="pretrained (default), real, zeroshot, bm3d: as for 'n2n denoise'",
    )
    _add_zeroshot_options(p, only_if_given=True)
    p.set_defaults(func=_cmd_demo)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    # Library notes (e.g. an estimated BM3D sigma) reach the user as "n2n: ..." lines.
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("n2n: %(message)s"))
    package_log = logging.getLogger("noise2noise")
    if not package_log.handlers:
        package_log.addHandler(handler)
        package_log.setLevel(logging.INFO)
    previous = signal.signal(signal.SIGTERM, _terminated)
    try:
        return args.func(args)
    except KeyboardInterrupt as exc:  # Ctrl-C, or SIGTERM through _terminated
        return _report_interrupt(exc)
    except (N2NError, OSError) as exc:
        # Our own errors and the system's (missing folder, full disk, no permission) are
        # the user's to fix: one line. Anything else is a bug and keeps its traceback.
        if args.debug:
            raise
        print(f"n2n: error: {exc}", file=sys.stderr)
        return EXIT_USAGE
    finally:
        signal.signal(signal.SIGTERM, previous)


if __name__ == "__main__":
    sys.exit(main())
