"""What a chunked run's task costs to read its region of a large uncompressed TIFF.

tifffile's zarr interface gives an uncompressed, contiguous TIFF (ImageJ's and
tifffile's own default) as one chunk, so every task of ``n2n denoise slide.tif -o
out.zarr`` read the whole image for its region; 0.18 reads such a file through a memory
map, region by region (:class:`noise2noise.image_io.tiff.MappedTiff`). Each way runs in a
fresh process that reads ``--regions`` task regions (``--chunk`` pixels a side plus the
64-pixel overlap) at random places; it reports seconds per region and the process's
peak memory (max RSS), against the file's size.

    python bench/tiff_regions.py --side 16000 --out bench/results/tiff_regions
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

WRITE = """
import sys, numpy as np, tifffile
side = int(sys.argv[2])
image = np.random.default_rng(0).integers(0, 4096, (side, side), dtype=np.uint16)
tifffile.imwrite(sys.argv[1], image, bigtiff=True, photometric="minisblack")  # contiguous
"""

READ = """
import json, resource, sys, time
import numpy as np, tifffile, zarr
from noise2noise.distributed.arrays import open_source
path, how, regions, chunk = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
if how == "memory map":
    array = open_source(__import__("pathlib").Path(path))[0]
else:
    array = zarr.open(tifffile.imread(path, aszarr=True), mode="r")
rng = np.random.default_rng(0)
side = chunk + 2 * 64
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
tic = time.perf_counter()
for _ in range(regions):
    y, x = (int(rng.integers(0, n - side)) for n in array.shape[:2])
    np.asarray(array[y : y + side, x : x + side])
seconds = (time.perf_counter() - tic) / regions
peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB -> GiB
print(json.dumps({"how": how, "type": type(array).__name__, "s_per_region": seconds,
                  "peak_gb": peak, "before_gb": before}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--side", type=int, default=16000, help="image side (uint16)")
    parser.add_argument("--regions", type=int, default=5)
    parser.add_argument("--chunk", type=int, default=1024)
    parser.add_argument("--out", type=Path, required=True)
    args = parser.parse_args()

    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp, "slide.tif")
        # Written by another process: a child's peak memory (max RSS) starts from its
        # parent's, which holding the image here would set.
        subprocess.run([sys.executable, "-c", WRITE, str(path), str(args.side)], check=True)
        size_gb = path.stat().st_size / 2**30
        for how in ("zarr interface (before 0.18)", "memory map"):
            done = subprocess.run(
                [sys.executable, "-c", READ, str(path), how, str(args.regions), str(args.chunk)],
                capture_output=True,
                text=True,
                check=True,
            )
            row = json.loads(done.stdout.strip().splitlines()[-1])
            row["file_gb"] = size_gb
            rows.append(row)
            print(row, flush=True)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    command = "python bench/tiff_regions.py " + " ".join(sys.argv[1:])
    lines = [
        "# Reading a task's region of an uncompressed contiguous TIFF",
        "",
        f"`{command}` ({platform.machine()}, fresh process per way). A {args.side}×"
        f"{args.side} uint16 BigTIFF of {size_gb:.2f} GB; {args.regions} regions of "
        f"{args.chunk}+2×64 pixels a side at random places.",
        "",
        "Peak memory of the process, and before the first read (Python, numpy, torch).",
        "",
        "| way | array type | seconds per region | peak memory GB | before reading GB |",
        "|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['how']} | {r['type']} | {r['s_per_region']:.3f} | {r['peak_gb']:.2f} "
            f"| {r['before_gb']:.2f} |"
        )
    args.out.with_suffix(".md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    args.out.with_suffix(".json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
