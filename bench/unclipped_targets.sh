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
cat "$OUT"/eval_*/summary.md
