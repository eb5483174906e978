#!/usr/bin/env bash
# One piece of `n2n reproduce all --preset report` on the lent GPU machine, continuing the
# folder the last piece left; every call does what is left of the queue below in the time
# it has, so the same call is repeated (one per GPU session) until the queue is empty.
#
# Here, first (copies bsds432, the test crops and docs/results/report into .gpu-data/):
#   bash bench/gpu_tree.sh prepare-report
# then, through the device tool, with carry [".gpu-data"] and timeout_s 590:
#   OUT=$OUT bash bench/gpu_report.sh
# and back here:
#   bash bench/gpu_tree.sh restore
#   tar xzf <files_at>/report.tar.gz -C docs/results   # the folder, less the weights
#   n2n reproduce table1 figures --preset report --methods bm3d,ansc,pretrained \
#       --out docs/results/report                        # the GPU-free rows (bm3d is here)
#
# The report's U-Net (31 M parameters) does not come back (126 MB a network), so each
# noise's networks are trained, evaluated and drawn in the same step; a step cut short by
# the deadline is lost and done again by the next piece. A training step is not started
# (nor the curves, which train what is missing) with less than TRAIN_MIN seconds left.
# Cells finished before the deadline stay.
# QUICK=1 DEVICE=cpu is a dry run of the same queue on the CPU (the quick budget).
# Results land in $OUT: report.tar.gz and report_log.txt (names apart from those of
# bench/gpu_job.sh, so that one call can run both: the check first, then this with
# DEADLINE set to what is left).
set -uo pipefail
export PYTHONPATH=src PYTHONUNBUFFERED=1 N2N_DATA_ROOT=${N2N_DATA_ROOT:-.gpu-data}
OUT=${OUT:?set OUT}
FOLDER=${FOLDER:-.gpu-data/report}
DEADLINE=${DEADLINE:-560}
TRAIN_MIN=${TRAIN_MIN:-300}
DEVICE=${DEVICE:-cuda}
PY=${PY:-python3}
START=$(date +%s)
NETS=cnn_clean,unet_clean,cnn_noisy,unet_noisy
QUEUE=(
  "train table1 figures --noise gaussian:25 --methods $NETS"
  "train table1 figures --noise poisson:25 --methods $NETS"
  "train table1 --noise gaussian:50 --methods $NETS"
  "train table1 --noise gaussian:75 --methods $NETS"
  "train table1 --noise poisson:15 --methods $NETS"
  "train table1 --noise poisson:20 --methods $NETS"
  "convergence"
  "table1 figures --methods zeroshot"
  "sensitivity"
)
mkdir -p "$OUT"
log="$OUT/report_log.txt"
{ date; nvidia-smi --query-gpu=name,memory.total --format=csv 2>/dev/null || true; } | tee "$log"
left() { echo $((DEADLINE - ($(date +%s) - START))); }

for step in "${QUEUE[@]}"; do
  if [ "$(left)" -lt 20 ] || { [[ $step == train* || $step == convergence* ]] && [ "$(left)" -lt "$TRAIN_MIN" ]; }; then
    echo "not started ($(left) s left): $step" | tee -a "$log"
    continue
  fi
  tic=$(date +%s)
  timeout "$(left)" $PY -m noise2noise.cli reproduce $step --preset report ${QUICK:+--quick} \
    --device "$DEVICE" --out "$FOLDER" 2>&1 | grep -v "^\s*$" | tail -n 40 >> "$log"
  rc=${PIPESTATUS[0]}
  [ "$rc" = 124 ] && rc="124, cut by the deadline"
  echo "exit $rc after $(($(date +%s) - tic)) s: $step" | tee -a "$log"
done
$PY -m noise2noise.cli reproduce report --preset report ${QUICK:+--quick} --out "$FOLDER" >> "$log" 2>&1
find "$FOLDER" -name '*.lock' -delete
tar czf "$OUT/report.tar.gz" --exclude '*.pt' -C "$(dirname "$FOLDER")" "$(basename "$FOLDER")"
date | tee -a "$log"
