#!/usr/bin/env bash
# Does clipping the noisy targets explain what Noise2Noise loses to Noise2Clean?
# Trains the `cpu` preset's N2N U-Net again with one change, --unclipped-target (same seed,
# data and steps as docs/results/cpu), one single-threaded process per noise, then evaluates
# each on the report's 50 test images with the same seeded noise as the reproduction.
# Compare with the N2C and N2N (U-Net) rows of docs/results/cpu/RESULTS.md.
# Writes bench/results/unclipped_targets/; finished trainings are not repeated.
#
#   N2N_DATA_ROOT=../shared/data bash bench/unclipped_targets.sh
#   NOISES="poisson:15 poisson:25" N2N_DATA_ROOT=../shared/data bash bench/unclipped_targets.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N2N=${N2N:-.venv/bin/n2n}
OUT=bench/results/unclipped_targets
RUNS=${RUNS:-runs}
NOISES=${NOISES:-"gaussian:50 gaussian:75"}
slug() { local kind=${1%%:*}; echo "${kind:0:1}${1#*:}"; }  # gaussian:50 -> g50
mkdir -p "$OUT"
for noise in $NOISES; do
  run="$RUNS/unet_noisy_unclipped_$(slug "$noise")"
  resume=(); [ -d "$run" ] && resume=(--resume)
  OMP_NUM_THREADS=1 "$N2N" train --data bsds432 --noise "$noise" --target noisy \
    --arch unet --preset cpu --unclipped-target --out "$run" "${resume[@]}" \
    > "$OUT/train_$(slug "$noise").log" 2>&1 &
done
wait
for noise in $NOISES; do
  s=$(slug "$noise")
  cp "$RUNS/unet_noisy_unclipped_$s/history.csv" "$OUT/history_$s.csv"
  "$N2N" eval --images test50 --noise "$noise" \
    --methods "model:$RUNS/unet_noisy_unclipped_$s" --out "$OUT/eval_$s"
done
# One table: the reproduction's N2C and N2N U-Net rows beside N2N with unclipped targets.
"${N2N%/n2n}/python" - "$OUT" $NOISES <<'PY'
import sys
from pathlib import Path
from noise2noise.evaluation import read_results
from noise2noise.metrics import format_mean_2std

out, noises = Path(sys.argv[1]), sys.argv[2:]
def psnr(path, method):
    return {(c.image, c.noise): c.psnr for c in read_results(path) if c.method == method}
table1 = Path("docs/results/cpu/table1/results.csv")
lines = [
    "U-Net, `cpu` preset, 50 test images: PSNR mean ± 2·std (dB). N2C and N2N (clipped "
    f"targets) from `{table1}`, N2N (unclipped targets) from `eval_*/results.csv`.", "",
    "    N2N_DATA_ROOT=../shared/data NOISES=\"" + " ".join(noises)
    + "\" bash bench/unclipped_targets.sh", "",
    "| noise | N2C | N2N, clipped targets | N2N, unclipped targets | unclipped − N2C |",
    "|---|---|---|---|---|",
]
for noise in noises:
    slug = noise[0] + noise.split(":")[1]
    rows = [psnr(table1, m) for m in ("unet_clean", "unet_noisy")]
    rows.append(psnr(out / f"eval_{slug}" / "results.csv", f"model:runs/unet_noisy_unclipped_{slug}"))
    keys = sorted(k for k in rows[2] if k[1] == noise)
    assert keys and all(k in r for r in rows for k in keys), noise
    cells = [format_mean_2std([r[k] for k in keys]) for r in rows]
    gap = sum(rows[2][k] - rows[0][k] for k in keys) / len(keys)
    lines.append(f"| {noise} | " + " | ".join(cells) + f" | {gap:+.2f} |")
(out / "summary.md").write_text("\n".join(lines) + "\n")
print("\n".join(lines))
PY
