"""``n2n denoise``: files, folders (here or on a Dask cluster) and zarr arrays."""

from __future__ import annotations

import argparse
import shutil
import time
import warnings

from ..batch import beside, plan_outputs
from ..chunked import DEFAULT_CHUNK
from ..denoisers import make_denoiser
from ..errors import N2NError, Note
from ..image_io import TIFF_EXTENSIONS, is_tiff, refuse_existing
from ..machine import usable_cpus
from ..memory import Limits
from ..methods import DEFAULT_METHOD, REGISTRY, describe_methods
from ..runtime import cpu_bf16
from .common import (
    EXIT_OK,
    Formatter,
    add_device,
    add_file_run_options,
    add_output,
    add_zeroshot_options,
    device_of,
    expand_inputs,
    fraction,
    in_options,
    method_name,
    note,
    note_unread,
    output_quality,
    peak_count,
    positive_float,
    positive_int,
    run_files,
    wrap,
)
from .file_report import report


def _cmd_denoise(args: argparse.Namespace) -> int:
    args.inputs = expand_inputs(args.inputs)
    if _is_zarr_job(args):
        return _denoise_array(args)
    if given := [f"--{k}" for k in ("axes", "chunk", "overlap") if getattr(args, k) is not None]:
        raise N2NError(
            f"{', '.join(given)}: for chunked runs (an input or output .zarr, or one TIFF into "
            "a TIFF) only"
        )
    if args.worker_memory and not (args.scheduler or "").startswith("local:"):
        raise N2NError("--worker-memory: for the workers of --scheduler local:N only")
    args.skip_existing = args.skip_existing or args.resume  # continues a folder run too
    pairs = plan_outputs(args.inputs, args.output, recursive=args.recursive)
    note_unread(args)
    device = device_of(args)
    method = f"model:{args.model}" if args.model else args.method
    fn = make_denoiser(
        method,
        preset=args.preset,
        iterations=args.iterations,
        seed=args.seed,
        progress=len(pairs) == 1 and not args.quiet,
        sigma=args.sigma,
        peak=args.peak,
        device=str(device),
        strength=1.0 if args.strength is None else args.strength,
    )
    start = time.perf_counter()
    if args.scheduler:
        results = _run_files_on_cluster(args, pairs, fn)
        where = f", {method} on {args.scheduler}"
    else:
        # One GPU serves the images one after another; on the CPU, one worker per core
        # this process may use (its affinity mask and CPU quota, not the machine's count).
        cores = 1 if device.type != "cpu" else usable_cpus()
        workers = args.workers or min(len(pairs), cores)
        if args.workers and args.workers > max(cores, 1) and len(pairs) > 1:
            note(  # each worker holds a network: more than the cores only costs memory
                args,
                f"{args.workers} workers on {cores} usable "
                f"core{'s' if cores != 1 else ''}: each takes memory for its own network "
                "and they share the cores; one per core (the default) is usually fastest",
            )
        results = run_files(args, pairs, fn, workers)
        where = f", {method} on {device}{_precision(method, device)}"
    return report(results, time.perf_counter() - start, where=where, quiet=args.quiet)


def _precision(method: str, device) -> str:
    """The suffix ', bf16' where the shipped networks run in bf16 on this CPU (cpu_bf16)."""
    shipped = method in REGISTRY and REGISTRY[method].shipped
    return ", bf16" if shipped and device.type == "cpu" and cpu_bf16() else ""


def _is_zarr_job(args: argparse.Namespace) -> bool:
    from pathlib import Path

    paths = [*map(Path, args.inputs), *([Path(args.output)] if args.output else [])]
    return any(p.suffix.lower() == ".zarr" for p in paths) or _tiff_chunked(args)


def _tiff_chunked(args: argparse.Namespace) -> bool:
    """A TIFF into a TIFF with --chunk, --overlap or --axes: chunk by chunk, then written
    out tile by tile (a slide or stack too large for memory)."""
    from pathlib import Path

    tiffs = [*map(is_tiff, args.inputs), Path(args.output or "").suffix.lower() in TIFF_EXTENSIONS]
    asked = any(getattr(args, k) is not None for k in ("chunk", "overlap", "axes"))
    return asked and len(args.inputs) == 1 and all(tiffs)


def _run_files_on_cluster(args: argparse.Namespace, pairs, fn):
    # Imported here: Dask and zarr are optional (the [distributed] extra) and slow to load.
    from ..distributed import connect, process_files_dask

    cluster = connect(args.scheduler, worker_memory=args.worker_memory)
    try:
        return process_files_dask(
            pairs,
            fn,
            cluster,
            overwrite=args.overwrite,
            skip_existing=args.skip_existing,
            limits=Limits(args.max_megapixels, None),  # each worker checks its own memory
            progress=not args.quiet,
            quality=output_quality(args, pairs),
        )
    finally:
        cluster.close()


def _denoise_array(args: argparse.Namespace) -> int:
    """``n2n denoise big.zarr -o out.zarr``: chunk by chunk, on a cluster or here."""
    from pathlib import Path

    if len(args.inputs) != 1:
        raise N2NError("a zarr run takes one input array")
    if args.output is None:  # beside it, as for files: volume_denoised.zarr
        args.output = str(beside(Path(args.inputs[0]), "_denoised"))
    given = [
        f"--{k}"
        for k in ("sigma", "peak", "model", "iterations", "quality", "strength")
        if getattr(args, k) is not None
    ]
    given += ["--recursive"] if args.recursive else []
    if given:
        raise N2NError(f"{', '.join(given)} cannot be used for a chunked zarr run")
    from ..distributed import connect, denoise_zarr  # optional and slow to load, as above

    target = store = Path(args.output)
    if target.suffix.lower() in TIFF_EXTENSIONS:  # chunks into a zarr store, then a TIFF
        if target.resolve() == Path(args.inputs[0]).resolve():
            raise N2NError(f"{target}: output would overwrite the input; choose another output")
        refuse_existing(target, args.overwrite)
        store = target.with_name(f".{target.name}.n2n.zarr")  # kept for --resume
    cluster = connect(args.scheduler, worker_memory=args.worker_memory) if args.scheduler else None

    def say(message, category, filename, lineno, file=None, line=None):
        # as they come: a note before a long run is worth more than after it
        if issubclass(category, Note):
            note(args, f"{args.inputs[0]}: {in_options(str(message))}")
        else:
            shown(message, category, filename, lineno, file, line)

    shown = warnings.showwarning
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("always", Note)
            warnings.showwarning = say
            resume = args.resume or args.skip_existing
            summary = denoise_zarr(
                Path(args.inputs[0]),
                store,
                args.method,
                cluster=cluster,
                axes=args.axes,
                chunk=args.chunk,
                overlap=args.overlap,
                preset=args.preset,
                seed=args.seed or 0,
                resume=resume,
                overwrite=args.overwrite or (store != target and not resume),
                progress=not args.quiet,
            )
            if store != target:
                from ..distributed.tiff_out import zarr_to_tiff

                zarr_to_tiff(store, target, Path(args.inputs[0]), progress=not args.quiet)
                shutil.rmtree(store)
    finally:
        if cluster is not None:
            cluster.close()
    if not args.quiet:
        print(
            f"wrote {args.output}: {summary['done']} of {summary['chunks']} chunks denoised "
            f"in {summary['seconds']:.1f} s ({_method_said(args.method, summary['method'])}, "
            f"overlap {summary['overlap']} px"
            f"{', ' + str(summary['skipped']) + ' already done' if summary['skipped'] else ''})"
        )
    return EXIT_OK


def _method_said(asked: str, ran: str) -> str:
    return f"auto chose {ran}" if asked == "auto" else ran


def add_parser(sub) -> None:
    p = sub.add_parser(
        "denoise",
        formatter_class=Formatter,
        help="denoise image files or folders (pretrained networks by default)",
        description=wrap(
            "Denoise images. The default method, auto, runs one of the two Noise2Noise "
            "networks shipped with the package (no download, no noise level to give), "
            "chosen from each image's noise and said (for many images, in one line that names "
            "those that took the less common one): 'real' where the "
            "noise is correlated between neighbouring pixels, as in a photo from a camera "
            "or phone (grain, colour blotches), else 'pretrained', for Gaussian- or "
            "Poisson-like noise, microscopy and scans. Either can be asked for by name "
            "(real takes some fine detail of a clean photo for noise: about 1 dB lost on "
            "clean JPEGs). For noise unlike "
            "both, --method zeroshot trains a small network on the image itself (ZS-N2N, "
            "seconds to minutes). PNG, JPEG, WebP, BMP, TIFF, AVIF (HEIC with the heif extra); "
            "8 or 16 bit (TIFF also float and other integers, denoised as float and written "
            "back in their type; HEIC and AVIF "
            "also 10 bit); gray, RGB or RGBA (alpha is kept as is). The output keeps the "
            "input's size, channels and bit depth."
        ),
        epilog="examples:\n  n2n denoise photo.png -o clean.png\n"
        "  n2n denoise photo.jpg            # writes photo_denoised.jpg beside it\n"
        "  n2n denoise IMG_0042.HEIC        # a phone's photo (pip install 'noise2noise[heif]')\n"
        "  n2n denoise camera_shot.jpg -o clean.jpg --method real\n"
        "  n2n denoise micrograph.tif -o clean.tif --method pretrained\n"
        "  n2n denoise photo.png -o clean.tif --method zeroshot --preset paper --seed 1\n"
        "  n2n denoise photo.png -o clean.png --method bm3d --sigma 25\n"
        "  n2n denoise portrait.jpg -o soft.jpg --strength 0.8   # keep a little grain\n"
        "  n2n denoise scans/ more.png -o denoised/ --workers 2\n"
        '  n2n denoise "shots/*.jpg" -o clean/   # a pattern, also where the shell leaves it\n'
        "  n2n denoise scans/ -o denoised/ --scheduler local:4\n"
        "  n2n denoise volume.ome.zarr -o clean.ome.zarr --scheduler tcp://head:8786\n\n"
        + wrap(
            "With a folder or several inputs, OUTPUT is a folder and each result keeps its "
            "file name; without -o, results go beside their inputs (photo_denoised.jpg). "
            "Inputs are never overwritten; existing outputs only with --overwrite."
        ),
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders")
    add_output(p, "_denoised")
    p.add_argument(
        "--method",
        type=method_name,
        default=DEFAULT_METHOD,
        help=describe_methods(),
    )
    add_zeroshot_options(p, only_if_given=True)
    add_device(p)
    p.add_argument("--model", metavar="RUN_DIR", help="same as --method model:RUN_DIR")
    p.add_argument(
        "--sigma",
        type=positive_float,
        default=None,
        help="bm3d: noise sigma on the 0-255 scale (estimated from each image if omitted)",
    )
    p.add_argument("--peak", type=peak_count, default=None, help="ansc: Poisson peak count")
    p.add_argument(
        "--strength",
        type=fraction,
        default=None,
        metavar="S",
        help="how much of the noise to take away, 0-1 (default: 1, all the method finds); "
        "0.8 leaves a fifth of it, for a less smoothed, more natural look",
    )
    add_file_run_options(p)
    p.add_argument(
        "--workers",
        type=positive_int,
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
        help="continue an interrupted run: a zarr output keeps the chunks it finished "
        "(for files, the same as --skip-existing)",
    )
    dask.add_argument(
        "--axes",
        help="zarr input: one letter per dimension, Y and X, C for channels, others "
        "(T, Z...) processed plane by plane (default: OME-Zarr's axes, else guessed: "
        "the last two, or the two before 1-4 channels, are Y and X)",
    )
    dask.add_argument(
        "--chunk",
        type=positive_int,
        help=f"zarr: side of the chunks each task denoises (default: {DEFAULT_CHUNK}); "
        "given for one TIFF into a TIFF (a slide or stack too large for memory), it is "
        "denoised chunk by chunk too, then written out tile by tile",
    )
    dask.add_argument(
        "--overlap",
        type=int,
        default=None,
        help="zarr: pixels of context around each chunk (default: the method's own)",
    )
    p.set_defaults(func=_cmd_denoise)
