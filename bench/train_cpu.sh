#!/usr/bin/env bash
# Train N2N and N2C U-Nets with the `cpu` preset on bsds432 (Gaussian sigma 25), time them,
# and evaluate both on the report's 50 test images. Writes bench/results/train_cpu_g25/.
#
#   N2N_DATA_ROOT=../shared/data bash bench/train_cpu.sh
set -euo pipefail
cd "$(dirname "$0")/.."
N2N=${N2N:-.venv/bin/n2n}
OUT=bench/results/train_cpu_g25
RUNS=${RUNS:-runs}
mkdir -p "$OUT"
for target in noisy clean; do
  start=$(date +%s)
  "$N2N" train --data bsds432 --noise gaussian:25 --target "$target" --arch unet --preset cpu \
    --out "$RUNS/unet_${target}_g25"
  echo "$target,$(( $(date +%s) - start ))" >> "$OUT/train_seconds.csv.partial"
  cp "$RUNS/unet_${target}_g25/history.csv" "$OUT/history_${target}.csv"
  cp "$RUNS/unet_${target}_g25/config.json" "$OUT/config_${target}.json"
done
{ echo "target,seconds"; cat "$OUT/train_seconds.csv.partial"; } > "$OUT/train_seconds.csv"
rm "$OUT/train_seconds.csv.partial"
"$N2N" eval --images test50 --noise gaussian:25 \
  --methods "model:$RUNS/unet_noisy_g25,model:$RUNS/unet_clean_g25" --out "$OUT/eval"
