"""``n2n train``: Noise2Noise / Noise2Clean training runs."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from ..models import MODELS
from ..training import (
    TRAIN_PRESETS,
    CheckpointError,
    load_checkpoint,
    run_training,
    train_preset,
)
from ..training.configuration import FINE_TUNE_LR
from ..training.loop import CHECKPOINT_EVERY
from .common import (
    EXIT_OK,
    Formatter,
    add_data_root,
    add_device,
    add_threads,
    apply_threads,
    device_of,
    positive_float,
    positive_int,
    wrap,
)
from .interrupts import say_interrupted


def _cmd_train(args: argparse.Namespace) -> int:
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
        width=args.width,
        depth=args.depth,
        blocks=args.blocks,
        init=args.init,
        level_weight=args.level_weight,
        float_share=args.float_share,
    )
    apply_threads(args)
    device = device_of(args)
    try:
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
    except KeyboardInterrupt as exc:
        say_interrupted(f"n2n: interrupted: {resume_point(args.out)}")
        return getattr(exc, "exit_code", 130)
    if args.init is not None and args.lr is None:
        print(
            f"n2n: note: fine-tuned from {args.init} at learning rate {config.lr:g}, the "
            "default with --init (the preset's is for random weights and would undo trained "
            "ones); --lr to change",
            file=sys.stderr,
        )
    best = min(history, key=lambda h: h["val_loss"])
    said = f"best validation loss {best['val_loss']:.3e}" + _psnr(best["val_psnr"])
    start = _start_validation(Path(args.out)) if args.init is not None else None
    if start is not None and start["val_loss"] <= best["val_loss"]:
        said = (
            f"no epoch beat the starting weights' validation loss {start['val_loss']:.3e}"
            f"{_psnr(start['val_psnr'])}, which best.pt holds (a lower --lr or more images "
            f"may help); best epoch {best['epoch']}: {best['val_loss']:.3e}"
        )
    else:
        said += f" at epoch {best['epoch']}"
    print(f"trained {len(history)} epoch{'' if len(history) == 1 else 's'}; {said}")
    print(f"run folder: {args.out} (denoise with: n2n denoise --model {args.out} IN -o OUT)")
    print(f"trained on {device}")
    return EXIT_OK


def _psnr(value: float | None) -> str:
    """ " (PSNR x dB)", or nothing where there is none (noisy pairs without clean images)."""
    return f" (PSNR {value:.2f} dB)" if value is not None and math.isfinite(value) else ""


def resume_point(run_dir: str) -> str:
    """Where an interrupted run continues: its last checkpoint's epoch."""
    try:
        done = len(load_checkpoint(Path(run_dir) / "state.pt")["history"])
    except CheckpointError:  # none yet: stopped while loading or in its first epoch
        done = 0
    if done:
        kept = "epoch 1" if done == 1 else f"epochs 1-{done}"
        return (
            f"{kept} kept in {run_dir}; the same command with --resume continues from "
            f"epoch {done + 1}"
        )
    if (Path(run_dir) / "config.json").is_file():
        return f"no epoch finished; the same command with --resume starts {run_dir} again"
    return "nothing written yet; run the same command again"


def _start_validation(run_dir: Path) -> dict | None:
    """The starting weights' validation loss and PSNR of a fine-tuning run (init.json),
    or None (a run resumed from one made before they were recorded)."""
    try:
        origin = json.loads((run_dir / "init.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return origin if "val_loss" in origin else None


def add_parser(sub) -> None:
    p = sub.add_parser(
        "train",
        formatter_class=Formatter,
        help="train a Noise2Noise (or Noise2Clean) network",
        description=wrap(
            "Train a U-Net or the simple CNN with MSE loss. From clean images (--data, a "
            "folder or set name): every crop gets two independent noise draws, the input "
            "and the target (--target noisy: Noise2Noise; clean: Noise2Clean). From real "
            "data (--pairs A B): two noisy captures per scene with matching file names "
            "(extension aside: a.png with a.tif). "
            "A share of the images is held out for validation (15%, 5% with --preset blind "
            "and real; seeded). The run folder holds the "
            "configuration, weights, best weights and history (CSV and plot); an "
            "interrupted run continues with --resume from its last checkpoint (written "
            f"after the first epoch, then about every {CHECKPOINT_EVERY:.0f} s, and at the end)."
        ),
        epilog="examples:\n"
        "  n2n train --data bsds432 --noise gaussian:25 --arch unet --preset cpu --out runs/n2n\n"
        "  n2n train --data bsds432 --noise gaussian:25 --target clean --out runs/n2c\n"
        "  n2n train --pairs shots_a/ shots_b/ --arch unet --out runs/real\n"
        "  n2n train --data bsds432 --preset blind --device cuda --out runs/blind\n"
        "  n2n train --pairs shots_a/ shots_b/ --preset blind --init pretrained:blind "
        "--epochs 5 --out runs/tuned\n"
        "  n2n train ... --out runs/n2n --resume",
    )
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--data", help="clean images: a folder or a set name (e.g. bsds432)")
    source.add_argument(
        "--pairs",
        nargs=2,
        metavar=("DIR_A", "DIR_B"),
        help="two folders of noisy captures with matching file names (extension aside)",
    )
    p.add_argument("--clean", metavar="DIR", help="with --pairs: clean references, for PSNR")
    p.add_argument(
        "--noise",
        default=None,
        help="with --data: gaussian:SIGMA or poisson:PEAK (default gaussian:25), or a "
        "mixture drawn per crop, components joined by |: gaussian:LO-HI, poisson:LO-HI, "
        "camera (raw sensor noise, developed), photo (the correlated grain and colour "
        "blotches left in a camera JPEG), e.g. 'photo|gaussian:0-75'",
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
        "crops in the correlated noise of camera JPEGs (default: %(default)s)",
    )
    p.add_argument("--epochs", type=positive_int, default=None, help="override the preset")
    p.add_argument(
        "--steps-per-epoch",
        type=positive_int,
        default=None,
        help="override the preset: optimiser steps per epoch (batches drawn with replacement)",
    )
    p.add_argument(
        "--grayscale",
        action="store_true",
        help="train on the luminance of the images (a one-channel model)",
    )
    p.add_argument(
        "--lr",
        type=positive_float,
        default=None,
        help=f"override the preset (with --init: {FINE_TUNE_LR:g}, as fine-tuning needs)",
    )
    p.add_argument("--batch-size", type=positive_int, default=None, help="override the preset")
    p.add_argument("--crop", type=positive_int, default=None, help="override the preset")
    p.add_argument(
        "--width",
        type=positive_int,
        default=None,
        help="override the preset: channels of the network's first level",
    )
    p.add_argument(
        "--depth", type=positive_int, default=None, help="override the preset: U-Net levels"
    )
    p.add_argument(
        "--blocks",
        type=positive_int,
        default=None,
        help="override the preset: residual blocks per level (resunet)",
    )
    p.add_argument(
        "--init",
        metavar="WEIGHTS",
        default=None,
        help="start from these weights instead of random ones (fine-tuning): a run folder, "
        "a .pt checkpoint, or pretrained:blind for the shipped model (the network's size "
        "must match theirs)",
    )
    p.add_argument("--limit", type=positive_int, default=None, help="use the first N images")
    p.add_argument("--seed", type=int, default=None, help="random seed (default: 0)")
    p.add_argument(
        "--unclipped-target",
        action="store_true",
        help="with --data and --target noisy: keep the target's values outside [0, 1], so "
        "its noise stays zero-mean (clipping biases Noise2Noise; see bench/clipping_bias.py)",
    )
    p.add_argument(
        "--level-weight",
        type=float,
        metavar="P",
        default=None,
        help="weight each crop's squared error by its noise variance to the power -P "
        "(0: plain MSE, default; 1: divided by it), so that with noise of many levels "
        "the low ones count more",
    )
    p.add_argument(
        "--float-share",
        type=float,
        metavar="S",
        default=None,
        help="with --preset blind (8-bit inputs): leave this share of the noisy inputs "
        "unclipped and unrounded, as float data are, so that one network serves both "
        "(default: 0)",
    )
    add_data_root(p)
    p.add_argument(
        "--strict",
        action="store_true",
        help="stop at the first unusable image instead of skipping it",
    )
    p.add_argument("--resume", action="store_true", help="continue an interrupted run")
    p.add_argument("--out", required=True, help="run folder")
    add_device(p)
    add_threads(p)
    p.set_defaults(func=_cmd_train)
