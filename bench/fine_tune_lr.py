"""What a learning rate does to the shipped blind network when a user fine-tunes it.

Runs ``n2n train --preset blind --init pretrained:blind`` on a few bsds432 images (never
test images) at several learning rates, the same seed, crops and noise for each, and
reports the validation PSNR (the run's own held-out images, the preset's random noise)
after each epoch. The first rate, 1e-12, moves nothing: the shipped network's own
validation PSNR. ``--lr`` omitted is the default a user gets.

    python bench/fine_tune_lr.py --data ../shared/data/bsds432 --out bench/results/fine_tune_lr

Writes ``<out>.csv`` and ``<out>.md``; the run folders go to a temporary folder.
"""

from __future__ import annotations

import argparse
import csv
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _common import command, table, write_results

DEFAULT = "default"


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", required=True, type=Path)
    ap.add_argument("--out", required=True, type=Path)
    ap.add_argument("--rates", nargs="+", default=["1e-12", DEFAULT, "1e-4", "5e-4"])
    ap.add_argument("--limit", type=int, default=80, help="first N images (default 80)")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--steps", type=int, default=15, help="steps per epoch (default 15)")
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--crop", type=int, default=96)
    args = ap.parse_args(argv)
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        for rate in args.rates:
            run = Path(tmp) / f"lr_{rate}"
            cmd = [sys.executable, "-m", "noise2noise", "train", "--data", str(args.data)]
            cmd += ["--limit", str(args.limit), "--preset", "blind"]
            cmd += ["--init", "pretrained:blind", "--epochs", str(args.epochs)]
            cmd += ["--steps-per-epoch", str(args.steps), "--batch-size", str(args.batch_size)]
            cmd += ["--crop", str(args.crop), "--device", "cpu", "--threads", "1"]
            cmd += ["--out", str(run)] + ([] if rate == DEFAULT else ["--lr", rate])
            tic = time.perf_counter()
            subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
            seconds = time.perf_counter() - tic
            with open(run / "history.csv", newline="", encoding="utf-8") as f:
                history = list(csv.DictReader(f))
            row = {"lr": rate, "seconds": round(seconds, 1)}
            for h in history:
                row[f"epoch {h['epoch']}"] = round(float(h["val_psnr"]), 2)
            rows.append(row)
            print(row, flush=True)
    epochs = [f"epoch {e}" for e in range(1, args.epochs + 1)]
    md = [
        "# Fine-tuning the shipped blind network: the learning rate",
        "",
        "```sh",
        command(),
        "```",
        "",
        f"`n2n train --preset blind --init pretrained:blind` on the first {args.limit} "
        f"bsds432 images, {args.steps} steps of {args.batch_size} crops of {args.crop}×"
        f"{args.crop} an epoch, seed 0, one CPU thread; validation PSNR (dB) on the run's "
        "held-out images with the preset's random noise, after each epoch (the cosine "
        "schedule ends at the last). lr 1e-12 moves nothing: the shipped network itself. "
        f"'{DEFAULT}': no `--lr`, what a user gets.",
        "",
        *table(["lr", *epochs, "seconds"], rows, ["lr", *epochs, "seconds"]),
    ]
    write_results(args.out, rows, md)
    return 0


if __name__ == "__main__":
    sys.exit(main())
