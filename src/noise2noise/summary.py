"""Summaries of per-image evaluation results: mean ± 2·std per (noise, method), written
as ``summary.csv`` and ``summary.md`` beside the per-image CSV."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from .files import write_csv
from .metrics import format_mean_2std, mean_2std

if TYPE_CHECKING:
    from .evaluation import CellResult

__all__ = ["summarise", "write_summary"]


def summarise(results: Sequence[CellResult]) -> list[dict]:
    """Per (noise, method): count, PSNR and SSIM mean ± 2·std, mean seconds."""
    groups: dict[tuple[str, str], list[CellResult]] = {}
    for r in results:
        groups.setdefault((r.noise, r.method), []).append(r)
    rows = []
    for (noise, method), cells in groups.items():
        p_mean, p_2std = mean_2std([c.psnr for c in cells])
        s_mean, s_2std = mean_2std([c.ssim for c in cells])
        rows.append(
            {
                "noise": noise,
                "method": method,
                "images": len(cells),
                "psnr_mean": round(p_mean, 4),
                "psnr_2std": round(p_2std, 4),
                "ssim_mean": round(s_mean, 5),
                "ssim_2std": round(s_2std, 5),
                "seconds_mean": round(float(np.mean([c.seconds for c in cells])), 3),
            }
        )
    return rows


def write_summary(
    results: Sequence[CellResult], out_dir: str | os.PathLike, *, command: str | None = None
) -> tuple[Path, Path]:
    """Write ``summary.csv`` and ``summary.md`` (PSNR table methods × noises, then details)."""
    out_dir = Path(out_dir)
    rows = summarise(results)
    csv_file = out_dir / "summary.csv"
    write_csv(csv_file, rows, None if rows else ["noise"])
    noises = list(dict.fromkeys(r.noise for r in results))
    methods = list(dict.fromkeys(r.method for r in results))
    by_cell: dict[tuple[str, str], list[CellResult]] = {}
    for r in results:
        by_cell.setdefault((r.method, r.noise), []).append(r)
    lines = ["# Evaluation", ""]
    if command:
        lines += ["Made by:", "", f"    {command}", ""]
    lines += [
        "PSNR in dB, mean ± 2·std over the images:",
        "",
        "| method | " + " | ".join(noises) + " |",
        "|---" * (len(noises) + 1) + "|",
    ]
    for m in methods:
        cells = [
            format_mean_2std([c.psnr for c in by_cell[(m, n)]]) if (m, n) in by_cell else "–"
            for n in noises
        ]
        lines.append(f"| {m} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "| noise | method | images | PSNR | SSIM | seconds/image |",
        "|---|---|---|---|---|---|",
    ]
    for r in rows:  # from the values, not the CSV's rounded ones (14.5450 is 14.55 above)
        cells = by_cell[(r["method"], r["noise"])]
        lines.append(
            f"| {r['noise']} | {r['method']} | {r['images']} | "
            f"{format_mean_2std([c.psnr for c in cells])} | "
            f"{format_mean_2std([c.ssim for c in cells], 4)} | {r['seconds_mean']:.2f} |"
        )
    md_file = out_dir / "summary.md"
    md_file.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return csv_file, md_file
