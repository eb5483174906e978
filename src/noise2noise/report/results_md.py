"""RESULTS.md of a reproduction folder, made only from the files in it.

Each section reads the CSVs (and run records) that a reproduction (:mod:`.experiments`) wrote and
lays them out as Markdown tables beside the report's values; a cell not computed yet shows
as "–", an incomplete one with its image count. Nothing here computes a result.
"""

from __future__ import annotations

import json
from pathlib import Path

from ..evaluation import CellResult, read_results
from ..files import read_csv_rows, write_atomically
from ..metrics import format_mean_2std, mean_2std
from ..progress import format_duration
from ..training import read_history
from .budget import BUDGETS
from .plots import plot_sensitivity, ratio_label
from .records import typed_command
from .spec import (
    REPORT_TABLE1,
    SENSITIVITY_LAYERS,
    SENSITIVITY_NOISES,
    SENSITIVITY_RATIOS,
    TABLE1_NOISES,
    TABLE1_ROWS,
    VERIFY_TOLERANCE,
    sensitivity_name,
)

__all__ = ["write_results_md"]


def write_results_md(out: Path, tests: int, sensitivity_tests: int) -> Path:
    """Write ``out/RESULTS.md``; ``tests`` and ``sensitivity_tests`` are the image counts
    a complete cell has. A ``DISCUSSION.md`` in ``out`` is appended as it is."""
    lines = ["# Reproduction of the report", ""]
    lines += _run_section(out)
    lines += _table1_section(out, tests)
    lines += _presets_section(out)
    lines += _convergence_section(out)
    lines += _sensitivity_section(out, sensitivity_tests)
    lines += _figures_section(out)
    lines += _verify_section(out)
    notes = out / "DISCUSSION.md"
    if notes.exists():
        lines += ["", notes.read_text(encoding="utf-8").strip(), ""]
    text = "\n".join(lines).rstrip() + "\n"  # whole, as processes sharing the folder write it
    return write_atomically(out / "RESULTS.md", lambda tmp: tmp.write_text(text, encoding="utf-8"))


def _cells(path: Path) -> dict[tuple[str, str], list[CellResult]]:
    by_cell: dict[tuple[str, str], list[CellResult]] = {}
    for r in read_results(path):
        by_cell.setdefault((r.method, r.noise), []).append(r)
    return by_cell


def _fmt(values: list[float], expected: int, digits: int = 2) -> str:
    if not values:
        return "–"
    text = format_mean_2std(values, digits)
    return text if len(values) >= expected else f"{text} ({len(values)}/{expected})"


def _compute_seconds(out: Path) -> dict[str, float]:
    """Seconds of computation recorded in the cells themselves, per experiment.

    Training: the epochs' times in each ``history.csv``; evaluations: the per-cell times.
    Unlike process wall time, this survives interrupted and overlapping runs.
    """
    seconds = {
        "train": sum(
            h["seconds"] for f in sorted(out.glob("train/*/history.csv")) for h in read_history(f)
        )
    }
    for experiment in ("table1", "sensitivity"):
        seconds[experiment] = sum(c.seconds for c in read_results(out / experiment / "results.csv"))
    return {k: v for k, v in seconds.items() if v}


def _run_records(out: Path) -> list[dict]:
    return [
        json.loads(p.read_text(encoding="utf-8")) for p in sorted((out / "runs").glob("*.json"))
    ]


def _run_section(out: Path) -> list[str]:
    lines = ["## How these numbers were made", ""]
    records = _run_records(out)
    if records:
        commands = list(
            dict.fromkeys(typed_command(r["command"].split(" ")) or r["command"] for r in records)
        )
        lines += ["Commands (each run resumes the cached cells of the previous ones):", ""]
        lines += [f"    {c}" for c in commands]
        total = sum(r["seconds"] for r in records)
        threads = sorted({r["threads"] for r in records})
        by_device: dict[str, list[float]] = {}
        for r in records:  # the device each run resolved (None: before it was recorded)
            by_device.setdefault(str(r.get("device") or "unrecorded"), []).append(r["seconds"])
        devices = "; ".join(
            f"{d}: {len(times)} process{'es' * (len(times) > 1)}, {format_duration(sum(times))}"
            for d, times in sorted(by_device.items())
        )
        lines += [
            "",
            f"Runs: {len(records)} processes ({', '.join(map(str, threads))} thread(s) each), "
            f"{format_duration(total)} of process wall time in total; runs may overlap "
            "(`runs/*.json`: start, time, experiments, command of each).",
            "",
            f"By device: {devices}.",
            "",
        ]
    compute = _compute_seconds(out)
    if compute:
        parts = ", ".join(f"{k} {format_duration(v)}" for k, v in compute.items())
        lines += [
            f"Computation recorded in the cells: {parts}; {format_duration(sum(compute.values()))} "
            "in total (training epochs from `train/*/history.csv`, evaluation cells from "
            "the `seconds` column of the results).",
            "",
        ]
    env = out / "environment.json"
    if env.exists():
        data = json.loads(env.read_text(encoding="utf-8"))
        versions = ", ".join(f"{k} {v}" for k, v in data["versions"].items() if v)
        m = data["machine"]
        lines += [
            f"Software: {versions}.",
            "",
            f"Machine: {m['platform']}, {m['cpu_count']} CPUs, "
            f"{'GPU ' + m['gpu'] if m.get('gpu') else 'no GPU'}.",
            "",
        ]
    lines += ["The budget is in `config.json`.", ""]
    return lines


def _table1_section(out: Path, expected: int) -> list[str]:
    path = out / "table1" / "results.csv"
    if not path.exists():
        return []
    by_cell = _cells(path)
    header = "| model | " + " | ".join(TABLE1_NOISES) + " |"
    rule = "|---" * (len(TABLE1_NOISES) + 1) + "|"
    ours, theirs, diff, ssim_rows = [header, rule], [header, rule], [header, rule], [header, rule]
    for key, label in TABLE1_ROWS:
        cells, report, deltas, ssims = [], [], [], []
        for i, noise in enumerate(TABLE1_NOISES):
            found = by_cell.get((key, noise), [])
            psnrs = [c.psnr for c in found]
            cells.append(_fmt(psnrs, expected))
            ssims.append(_fmt([c.ssim for c in found], expected, digits=3))
            ref = REPORT_TABLE1[key][i]
            report.append("–" if ref is None else f"{ref:.2f}")
            complete = len(psnrs) >= expected
            deltas.append(
                f"{mean_2std(psnrs)[0] - ref:+.2f}" if ref is not None and complete else "–"
            )
        ours.append(f"| {label} | " + " | ".join(cells) + " |")
        theirs.append(f"| {label} | " + " | ".join(report) + " |")
        diff.append(f"| {label} | " + " | ".join(deltas) + " |")
        ssim_rows.append(f"| {label} | " + " | ".join(ssims) + " |")
    return [
        f"## Table 1: PSNR on {expected} test images",
        "",
        f"Ours: mean ± 2·std in dB over the test images (`table1/results.csv`; "
        f"a cell still being computed shows its count of {expected}).",
        "",
        *ours,
        "",
        "The report's values:",
        "",
        *theirs,
        "",
        "Ours minus the report's (complete cells only):",
        "",
        *diff,
        "",
        "SSIM (ours):",
        "",
        *ssim_rows,
        "",
    ]


def _per_image(path: Path) -> dict[tuple[str, str], dict[str, float]]:
    return {cell: {c.image: c.psnr for c in found} for cell, found in _cells(path).items()}


def _presets_section(out: Path) -> list[str]:
    """Cell by cell against the reproduction of another preset beside this folder
    (``docs/results/cpu`` beside ``docs/results/report``), over the images both have."""
    sensitivity = [sensitivity_name(d, r) for d in SENSITIVITY_LAYERS for r in SENSITIVITY_RATIOS]
    parts = (
        ("table1", [(k, label) for k, label in TABLE1_ROWS if k != "noisy"], TABLE1_NOISES),
        ("sensitivity", [(k, k) for k in sensitivity], SENSITIVITY_NOISES),
    )
    lines = []
    for other in (out.parent / name for name in BUDGETS if name != out.name):
        for experiment, rows, noises in parts:
            mine, theirs = (_per_image(f / experiment / "results.csv") for f in (out, other))
            if not mine or not theirs:
                continue
            if not lines:
                lines += [
                    f"## This preset against the `{other.name}` preset",
                    "",
                    f"Mean PSNR here minus in `../{other.name}`, cell by cell, over the test "
                    "images both have computed (their count in brackets). The noisy inputs "
                    "are the same in both (seeded), so a difference is the configuration's.",
                    "",
                ]
            lines += [f"`{experiment}`:", "", "| row | " + " | ".join(noises) + " |"]
            lines.append("|---" * (len(noises) + 1) + "|")
            for key, label in rows:
                cells = []
                for noise in noises:
                    a, b = mine.get((key, noise), {}), theirs.get((key, noise), {})
                    common = sorted(set(a) & set(b))
                    diff = sum(a[i] - b[i] for i in common) / len(common) if common else 0.0
                    cells.append(f"{diff:+.2f} ({len(common)})" if common else "–")
                lines.append(f"| {label} | " + " | ".join(cells) + " |")
            lines.append("")
    return lines


def _convergence_section(out: Path) -> list[str]:
    png = out / "convergence" / "convergence.png"
    if not png.exists():
        return []
    rows = read_csv_rows(out / "convergence" / "convergence.csv")
    lines = [
        "## Figure 1: convergence of N2N and N2C (U-Net)",
        "",
        "Validation PSNR (held-out training images, fixed crops and noise) after each epoch "
        "(`convergence/convergence.csv`):",
        "",
        "![convergence](convergence/convergence.png)",
        "",
        "| noise | target | epochs | final PSNR | best PSNR (epoch) |",
        "|---|---|---|---|---|",
    ]
    groups: dict[tuple[str, str], list[dict]] = {}
    for r in rows:
        groups.setdefault((r["noise"], r["target"]), []).append(r)
    for (noise, target), hist in groups.items():
        best = max(hist, key=lambda r: float(r["val_psnr"]))
        lines.append(
            f"| {noise} | {target} | {len(hist)} | {float(hist[-1]['val_psnr']):.2f} | "
            f"{float(best['val_psnr']):.2f} ({best['epoch']}) |"
        )
    return [*lines, ""]


def _sensitivity_section(out: Path, expected: int) -> list[str]:
    path = out / "sensitivity" / "results.csv"
    if not path.exists():
        return []
    by_cell = _cells(path)
    values: dict[str, dict[int, dict[float, float]]] = {}
    lines = [
        "## Sensitivity of ZS-N2N to depth L and the loss weight ratio",
        "",
        f"Mean PSNR ± 2·std over the first {expected} test images "
        "(`sensitivity/results.csv`); ratio = weight of the residual loss over the "
        "consistency loss, ∞ = residual loss only.",
        "",
    ]
    for noise in SENSITIVITY_NOISES:
        values[noise] = {}
        noisy = [c.psnr for c in by_cell.get(("noisy", noise), [])]
        lines += [
            f"{noise} (noisy input: {_fmt(noisy, expected)}):",
            "",
            "| L | " + " | ".join(ratio_label(r) for r in SENSITIVITY_RATIOS) + " |",
            "|---" * (len(SENSITIVITY_RATIOS) + 1) + "|",
        ]
        for depth in SENSITIVITY_LAYERS:
            cells = []
            for ratio in SENSITIVITY_RATIOS:
                found = [c.psnr for c in by_cell.get((sensitivity_name(depth, ratio), noise), [])]
                cells.append(_fmt(found, expected))
                if len(found) >= expected:
                    values[noise].setdefault(depth, {})[ratio] = mean_2std(found)[0]
            lines.append(f"| {depth} | " + " | ".join(cells) + " |")
        lines.append("")
    png = plot_sensitivity(values, out / "sensitivity" / "sensitivity.png")
    return [*lines, f"![sensitivity](sensitivity/{png.name})", ""]


def _figures_section(out: Path) -> list[str]:
    folder = out / "figures"
    pngs = sorted(folder.glob("*.png")) if folder.exists() else []
    if not pngs:
        return []
    lines = [
        "## Sample figures",
        "",
        "PSNR values in the titles are in `figures/figures.csv`.",
        "",
    ]
    return [*lines, *[f"![{p.stem}](figures/{p.name})" for p in pngs], ""]


def _verify_section(out: Path) -> list[str]:
    path = out / "verify.csv"
    if not path.exists():
        return []
    rows = read_csv_rows(path)
    ok = sum(r["ok"] == "True" for r in rows)
    lines = [
        "## Re-running a sample of the cells",
        "",
        f"    n2n reproduce verify --sample {len(rows)} --out {out.as_posix()}",
        "",
        f"{ok} of {len(rows)} randomly drawn cells recomputed within {VERIFY_TOLERANCE} dB "
        "of the cached PSNR (`verify.csv`):",
        "",
        "| experiment | image | noise | method | cached | recomputed | difference |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        difference = float(r["difference"]) if abs(float(r["difference"])) >= 5e-5 else 0.0
        lines.append(
            f"| {r['experiment']} | {r['image']} | {r['noise']} | {r['method']} | "
            f"{float(r['cached_psnr']):.4f} | {float(r['recomputed_psnr']):.4f} | "
            f"{difference:+.4f} |"
        )
    return [*lines, ""]
