"""Benchmark: n2n on a local Dask cluster (issue 21).

Parts (``--parts``, each writes ``<out>_<part>.csv``; ``<out>.md`` is rebuilt from all
part files present):

- ``folder``: throughput of a folder run (pretrained model, 16 noisy 512×512 RGB images)
  with 1, 2 and 4 local worker processes, against the same run without Dask;
- ``zarr``: throughput of a chunked zarr run (pretrained, a 4096×4096 RGB array, chunks of
  1024) with 1, 2 and 4 workers;
- ``overlap``: the cost of the overlap (0 against the default 64 pixels; chunks of 512 and
  1024) and how far chunked output is from whole-image output (PSNR between them);
- ``big``: a zarr array 10× larger than each worker's memory limit (16-bit RGB, ZS-N2N
  ``fast``, 2 workers with ``--worker-memory``), with every worker's peak memory polled
  once a second and worker restarts counted.

Times exclude starting the cluster. The machine has 2 cores: runs with more workers than
cores show the overhead, not a speed-up.

    python bench/distributed.py --parts folder,zarr,overlap,big --out bench/results/distributed
"""

from __future__ import annotations

import argparse
import csv
import os
import platform
import shutil
import sys
import tempfile
import threading
import time
from pathlib import Path

# This script's folder comes first on sys.path, and this script is named like the
# `distributed` package: take the folder out so that `import distributed` finds Dask's.
sys.path[:] = [p for p in sys.path if Path(p or ".").resolve() != Path(__file__).parent.resolve()]

import numpy as np  # noqa: E402
import zarr  # noqa: E402

from noise2noise import add_noise  # noqa: E402
from noise2noise.batch import plan_outputs, process_files  # noqa: E402
from noise2noise.denoisers import make_denoiser  # noqa: E402
from noise2noise.distributed import connect, denoise_zarr, process_files_dask  # noqa: E402
from noise2noise.image_io import write_image  # noqa: E402
from noise2noise.pretrained import denoise  # noqa: E402


def _base(side: int) -> np.ndarray:
    from skimage.data import astronaut
    from skimage.transform import resize

    image = (resize(astronaut(), (side, side), anti_aliasing=True) * 255).astype(np.uint8)
    return add_noise(image, "gaussian:25", seed=0, channel_axis=-1)


def part_folder(work: Path) -> list[dict]:
    folder = work / "folder"
    folder.mkdir()
    base = _base(512)
    for i in range(16):
        write_image(folder / f"img{i:02d}.png", np.roll(base, 31 * i, axis=1))
    fn = make_denoiser("pretrained")
    rows = []
    for workers in (1, 2):
        out = work / f"local{workers}"
        start = time.perf_counter()
        process_files(plan_outputs([folder], out), fn, workers=workers, isolate=True)
        seconds = time.perf_counter() - start
        rows.append(_row("folder", "local processes (n2n --workers)", workers, 16, seconds))
    for workers, threads in ((1, 2), (1, 1), (2, 1), (4, 1)):
        cluster = connect(f"local:{workers}", threads=threads)
        try:
            out = work / f"dask{workers}_{threads}"
            start = time.perf_counter()
            process_files_dask(plan_outputs([folder], out), fn, cluster, progress=False)
            seconds = time.perf_counter() - start
        finally:
            cluster.close()
        rows.append(_row("folder", f"dask, {threads} thread(s) each", workers, 16, seconds))
    return rows


def _row(part: str, how: str, workers: int, items: int, seconds: float, **extra) -> dict:
    return {
        "part": part,
        "how": how,
        "workers": workers,
        "items": items,
        "seconds": round(seconds, 1),
        "per_minute": round(items / seconds * 60, 1),
        **extra,
    }


def _write_zarr(path: Path, image: np.ndarray, reps: tuple[int, int], chunk: int) -> Path:
    h, w = image.shape[:2]
    shape = (h * reps[0], w * reps[1], image.shape[2])
    z = zarr.create_array(
        str(path),
        shape=shape,
        chunks=(chunk, chunk, shape[2]),
        dtype=image.dtype,
        compressors=None,
        overwrite=True,
    )
    for i in range(reps[0]):
        for j in range(reps[1]):
            z[i * h : (i + 1) * h, j * w : (j + 1) * w] = np.roll(image, 17 * (i + j), axis=0)
    return path


def part_zarr(work: Path) -> list[dict]:
    source = _write_zarr(work / "in.zarr", _base(1024), (4, 4), 1024)
    rows = []
    for workers, threads in ((1, 2), (1, 1), (2, 1), (4, 1)):
        cluster = connect(f"local:{workers}", threads=threads)
        try:
            out = work / f"out{workers}_{threads}.zarr"
            summary = denoise_zarr(source, out, cluster=cluster, progress=False)
        finally:
            cluster.close()
        how = f"dask, {threads} thread(s) each"
        rows.append(_row("zarr", how, workers, 16, summary["seconds"], unit="chunk"))
    return rows


def part_overlap(work: Path) -> list[dict]:
    image = _base(2048)
    source = _write_zarr(work / "in.zarr", image, (1, 1), 512)
    whole = denoise(image, channel_axis=-1)
    rows = []
    for chunk in (512, 1024):
        for overlap in (0, 64, 128):
            out = work / f"o{chunk}_{overlap}.zarr"
            summary = denoise_zarr(source, out, chunk=chunk, overlap=overlap, progress=False)
            result = zarr.open_array(str(out))[:]
            mse = np.mean((result.astype(np.float64) - whole) ** 2) / 255.0**2
            rows.append(
                _row(
                    "overlap",
                    f"chunk {chunk}, overlap {overlap}",
                    1,
                    summary["chunks"],
                    summary["seconds"],
                    psnr_vs_whole=round(10 * np.log10(1 / mse), 1) if mse else "inf",
                    max_level_diff=int(np.abs(result.astype(int) - whole.astype(int)).max()),
                )
            )
    return rows


def part_big(work: Path, worker_memory: str, gigabytes: float, chunk: int) -> list[dict]:
    import psutil

    tile = (np.clip(_base(1024).astype(np.float32) / 255, 0, 1) * 65535).astype(np.uint16)
    side = int(np.sqrt(gigabytes * 2**30 / 6) // 1024)  # 6 bytes per RGB16 pixel
    source = _write_zarr(work / "big.zarr", tile, (side, side), 1024)
    nbytes = int(np.prod(zarr.open_array(str(source)).shape)) * 2
    cluster = connect("local:2", worker_memory=worker_memory, threads=1)
    client = cluster.client
    peaks: dict[str, int] = {}
    stop = threading.Event()

    def poll():
        while not stop.is_set():
            try:
                for worker, rss in client.run(lambda: psutil.Process().memory_info().rss).items():
                    peaks[worker] = max(peaks.get(worker, 0), rss)
            except Exception:
                pass
            time.sleep(1)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    try:
        info = client.scheduler_info()["workers"]
        start_workers = set(info)
        limit = {w: v["memory_limit"] for w, v in info.items()}
        summary = denoise_zarr(
            source, work / "big_out.zarr", "zeroshot", cluster=cluster, chunk=chunk, progress=False
        )
        end_workers = set(client.scheduler_info()["workers"])
    finally:
        stop.set()
        thread.join()
        cluster.close()
    limit_bytes = max(limit.values())
    return [
        _row(
            "big",
            f"zeroshot fast, {nbytes / 2**30:.1f} GB array, chunks of {chunk}",
            2,
            summary["chunks"],
            summary["seconds"],
            unit="chunk",
            array_gb=round(nbytes / 2**30, 2),
            worker_limit_gb=round(limit_bytes / 2**30, 2),
            peak_worker_gb=round(max(peaks.values()) / 2**30, 2),
            workers_replaced=len(start_workers - end_workers),
        )
    ]


def _markdown(out: Path) -> list[str]:
    md = [
        "# n2n on a local Dask cluster",
        "",
        f"Made by `python bench/distributed.py --parts ... --out {out}` ({platform.machine()}, "
        f"{os.cpu_count()} cores). Dask times exclude starting the cluster (its workers "
        "then import torch and load the model with their first task); the `local processes` "
        "rows (`n2n denoise --workers`, no Dask) include starting their worker processes. "
        "`--parts ''` rebuilds this file from the part CSVs.",
        "",
    ]
    for part in ("folder", "zarr", "overlap", "big"):
        path = out.parent / f"{out.name}_{part}.csv"
        if not path.is_file():
            continue
        rows = list(csv.DictReader(path.open()))
        keys = list(rows[0])
        md += [f"## {part}", "", "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
        md += ["| " + " | ".join(r[k] for k in keys) + " |" for r in rows]
        md.append("")
    return md


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--parts", default="folder,zarr,overlap,big")
    parser.add_argument("--worker-memory", default="1GB", help="part big: each worker's limit")
    parser.add_argument("--gigabytes", type=float, default=10.0, help="part big: array size")
    parser.add_argument("--chunk", type=int, default=512, help="part big: chunk side")
    parser.add_argument("--out", default="bench/results/distributed")
    args = parser.parse_args()
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    for part in filter(None, args.parts.split(",")):
        work = Path(tempfile.mkdtemp(prefix=f"n2n-bench-{part}-"))
        try:
            if part == "big":
                rows = part_big(work, args.worker_memory, args.gigabytes, args.chunk)
            else:
                rows = {"folder": part_folder, "zarr": part_zarr, "overlap": part_overlap}[part](
                    work
                )
        finally:
            shutil.rmtree(work, ignore_errors=True)
        for r in rows:
            print(r, flush=True)
        keys = list(dict.fromkeys(k for r in rows for k in r))
        with open(out.parent / f"{out.name}_{part}.csv", "w", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=keys)
            writer.writeheader()
            writer.writerows(rows)
    out.with_suffix(".md").write_text("\n".join(_markdown(out)) + "\n")
    print(f"wrote {out.with_suffix('.md')}")


if __name__ == "__main__":
    main()
