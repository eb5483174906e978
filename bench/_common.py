"""What the benchmark scripts share: writing their rows as CSV and their report as Markdown."""

from __future__ import annotations

import io
import os
import shlex
import sys
from pathlib import Path

import numpy as np

from noise2noise.files import write_csv

# Environment variables that change what a benchmark measures, written before its command.
SETTINGS = ("N2N_CPU_BF16", "N2N_CUDA_GRAPHS")


def command() -> str:
    """The command line that runs this script from the repository root, for the results
    (with the settings of :data:`SETTINGS` that are set, as the shell would take them)."""
    env = [f"{k}={shlex.quote(os.environ[k])}" for k in SETTINGS if k in os.environ]
    return " ".join(
        [*env, "python", "bench/" + shlex.join([Path(sys.argv[0]).name, *sys.argv[1:]])]
    )


def stored_8bit(noisy: np.ndarray) -> np.ndarray:
    """A noisy float image as an 8-bit file stores it: clipped to [0, 1], rounded to 255
    steps (float32)."""
    return (np.round(np.clip(noisy, 0, 1) * 255) / 255).astype(np.float32)


def held_out(folder: str | Path, limit: int = 0) -> list[Path]:
    """The images of ``folder`` (bsds432) that the shipped models' training runs held out
    (their validation split, ``split_indices(n, 0.05, 0)``: never trained on), the first
    ``limit`` of them where it is given."""
    from noise2noise.image_io import list_images
    from noise2noise.training import split_indices

    files = list_images(folder)
    _, val = split_indices(len(files), 0.05, 0)
    return [files[i] for i in (val[:limit] if limit else val)]


def group_rows(rows: list[dict], key) -> dict[tuple, list[dict]]:
    """Rows grouped by ``key(row)`` (a tuple), groups in the order first met."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault(key(r), []).append(r)
    return groups


def timed(fn, device: str):
    """``fn()`` and its seconds, a CUDA device synchronised before and after (its work is
    asynchronous: without it the clock would stop before the device does)."""
    import time

    def sync() -> None:
        if str(device).startswith("cuda"):
            import torch

            torch.cuda.synchronize()

    sync()
    tic = time.perf_counter()
    out = fn()
    sync()
    return out, time.perf_counter() - tic


def table(header: list[str], rows: list[dict], keys: list[str]) -> list[str]:
    """A Markdown table: ``header`` as its first line, then ``row[key]`` for each row."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return lines + ["| " + " | ".join(str(r[k]) for k in keys) + " |" for r in rows]


def titled_table(
    title: str, description: str, header: list[str], rows: list[dict], keys: list[str]
) -> list[str]:
    """The Markdown lines of a results file: ``# title``, the command that made it, a
    paragraph of ``description``, then the table of ``rows`` (:func:`table`)."""
    return [f"# {title}", "", f"`{command()}`", "", description, "", *table(header, rows, keys)]


def write_results(out: str | Path, rows: list[dict], markdown: list[str]) -> None:
    """Write ``<out>.csv`` (one line per row) and ``<out>.md``, creating the folder."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    write_csv(out.with_suffix(".csv"), rows)
    out.with_suffix(".md").write_text("\n".join(markdown) + "\n")
    print(f"wrote {out.with_suffix('.csv')} and {out.with_suffix('.md')}")


def method_args(args) -> list[str]:
    """`n2n denoise` options for the method (the preset only for ZS-N2N)."""
    if args.method == "zeroshot":
        return ["--method", "zeroshot", "--preset", args.preset]
    return ["--method", args.method]


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """``image`` (uint8) saved as JPEG at ``quality`` and read back, in memory."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, "JPEG", quality=quality)
    buffer.seek(0)
    return np.asarray(Image.open(buffer))
