#!/usr/bin/env bash
# The whole GPU job of this round, in one command for the lent GPU machine (no network;
# PyTorch preinstalled there, so it runs from the source tree):
#   1. trains the MODELS at once (bench/train_pretrained.py, BUDGET seconds; by default
#      blind_rgb_more alone: the shipped blind_rgb.pt trained on with the whole GPU; runs
#      that would become the same file compete on validation PSNR; SKIP_TRAIN=1 keeps the
#      shipped weights and skips this),
#   2. CPU-GPU agreement and timings with those weights (bench/gpu_check.py), including
#      ZS-N2N paper on 50 images of 256x256 trained together (target: 60 s),
#   3. the device-generic tests on the GPU (tests/test_devices.py, and the batched ZS-N2N
#      tests of tests/test_zeroshot.py, tests/test_batch_together.py).
# A call is limited to 10 minutes: SKIP_CHECK=1 stops after step 1, SKIP_TRAIN=1 skips it.
# Copy the training images into a git-ignored folder of the checkout first, making room
# for them in what travels (bench/gpu_tree.sh; `restore` afterwards):
#   bash bench/gpu_tree.sh prepare
# then, on the GPU machine, from the repository root:
#   OUT=/some/dir BUDGET=360 bash bench/gpu_job.sh
# Results land in $OUT (at most 8 files): the weights to ship (*.pt), train_summary.json,
# runs.tar.gz (configs, histories, logs), gpu_check.md/json and log.txt.
set -uo pipefail
export PYTHONPATH=src PYTHONUNBUFFERED=1
OUT=${OUT:?set OUT}
DATA=${DATA:-.gpu-data/bsds432}
BUDGET=${BUDGET:-360}  # + probe, slack and export: under 560 s, inside a 590 s call
MODELS=${MODELS:-blind_rgb_more}
PY=${PY:-python3}
WORK=${WORK:-/tmp/gpujob}
mkdir -p "$OUT" "$WORK"
log="$OUT/log.txt"
{ date; nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv || true; } | tee "$log"

# TRAIN_ARGS and CHECK_ARGS (shell words, quotes allowed) shrink the job for a CPU dry run.
if [ -z "${SKIP_TRAIN:-}" ]; then
  eval timeout $((BUDGET + 200)) $PY bench/train_pretrained.py --data "$DATA" --out "$WORK" \
    --budget "$BUDGET" --device cuda --models "$MODELS" "${TRAIN_ARGS:-}" 2>&1 | tee -a "$log"
  cp "$WORK"/ship/*.pt "$WORK"/train_summary.json "$OUT"/ 2>>"$log"
  (cd "$WORK" && tar czf "$OUT/runs.tar.gz" runs/*/config.json runs/*/history.csv logs \
    probe/*/history.csv) 2>>"$log"
  # The checks use the weights just trained: on the GPU machine, whose tree is a copy.
  # A dry run on the CPU leaves the package's weights alone.
  if $PY -c "import sys, torch; sys.exit(0 if torch.cuda.is_available() else 1)"; then
    cp "$WORK"/ship/*.pt src/noise2noise/weights/ 2>>"$log"
  else
    echo "no GPU: the package's weights are left as they are" | tee -a "$log"
  fi
fi
if [ -n "${SKIP_CHECK:-}" ]; then date | tee -a "$log"; exit 0; fi  # training-only call
eval timeout 300 $PY bench/gpu_check.py --data "$DATA" --out "$WORK/check" --device cuda \
  --skip-cpu-paper "${CHECK_ARGS:-}" 2>&1 | tee -a "$log"
cp "$WORK/check/gpu_check.md" "$WORK/check/gpu_check.json" "$OUT"/ 2>>"$log"
timeout 180 $PY -m pytest -q -p no:cacheprovider tests/test_devices.py \
  tests/test_batch_together.py tests/test_zeroshot.py -k "device or batch" 2>&1 | tee -a "$log"
date | tee -a "$log"
