#!/usr/bin/env bash
# One piece of `n2n reproduce all --preset report` on the lent GPU machine, continuing the
# folder the last piece left; every call does what is left of the queue below in the time
# it has, so the same call is repeated (one per GPU session) until the queue is empty.
#
# Here, first (copies bsds432 and the test crops into .gpu-data/; docs/results/report
# travels with the working tree and is continued in place, so that its runs record the
# command a reader would type):
#   bash bench/gpu_tree.sh prepare-report
# then, through the device tool, with carry [".gpu-data"] and timeout_s 590:
#   OUT=$OUT bash bench/gpu_report.sh
# and back here:
#   bash bench/gpu_tree.sh restore
#   mkdir -p /tmp/r && tar xzf <files_at>/report.tar.gz -C /tmp/r   # less the weights
#   then copy /tmp/r/report's new train/, runs/, table1/results.csv and figures/ into
#   docs/results/report (not over a network the CPU is training there), and
#   n2n reproduce table1 figures --preset report --methods bm3d,ansc,pretrained \
#       --out docs/results/report                        # the GPU-free rows (bm3d is here)
#
# The report's U-Net (31 M parameters) does not come back (126 MB a network), so each
# network is trained, evaluated and drawn in one step of its own (one network a step: a
# step cut short by the deadline loses that network only, and the next piece does it
# again). PARALLEL steps run side by side (default 2). One U-Net step alone kept the H200
# at about 60 TFLOP/s of its 989 in bf16 (5.9 steps/s in bench/results/gpu_check.md, 3 x
# 32 x 111 GFLOP a step by torch's FlopCounterMode); without MPS two processes' kernels
# take turns rather than overlap, so a second one gains only the gaps the first leaves
# (host work, validation, data loading): not yet measured. A step is not started with less
# time left than it needs: the longest U-Net step so far (+10 %), or before one has ended
# UNET_S (one U-Net step alone on an H200: 191 and 193 s with a checkpoint every epoch,
# 76-94 s of them outside the epochs (start-up, data, checkpoints); 150 s is the guess now,
# not yet measured)
# or CNN_S times PARALLEL; steps whose network and Table 1 cells are in the folder already
# are skipped without starting a process. Cells finished before the deadline stay; several
# processes share the folder safely (lock files; tests/test_evaluation.py, test_report.py).
# QUICK=1 DEVICE=cpu UNET_S=20 is a dry run of the same queue on the CPU (the quick budget).
# Results land in $OUT: report.tar.gz and report_log.txt (names apart from those of
# bench/gpu_job.sh, so that one call can run both: the check first, then this with
# DEADLINE set to what is left).
set -uo pipefail
export PYTHONPATH=src PYTHONUNBUFFERED=1 N2N_DATA_ROOT=${N2N_DATA_ROOT:-.gpu-data}
OUT=${OUT:?set OUT}
FOLDER=${FOLDER:-docs/results/report}
DEADLINE=${DEADLINE:-560}
UNET_S=${UNET_S:-150}
CNN_S=${CNN_S:-90}
PARALLEL=${PARALLEL:-2}  # steps (networks) trained side by side on the one GPU
STAGGER=${STAGGER:-5}   # seconds between their starts
DEVICE=${DEVICE:-cuda}
PY=${PY:-python3}
START=$(date +%s)
QUEUE=()  # the U-Nets first (the GPU's work), the Simple CNNs (CPU-feasible) after
for net in unet_noisy unet_clean cnn_noisy cnn_clean; do
  for noise in gaussian:25 poisson:25 gaussian:50 gaussian:75 poisson:15 poisson:20; do
    figures=""
    [[ $noise == gaussian:25 || $noise == poisson:25 ]] && figures=" figures"
    QUEUE+=("train table1$figures --noise $noise --methods $net")
  done
done
QUEUE+=("convergence" "table1 figures --methods zeroshot" "sensitivity")
mkdir -p "$OUT"
log="$OUT/report_log.txt"
{ date; nvidia-smi --query-gpu=name,memory.total --format=csv 2>/dev/null || true; } | tee "$log"
left() { echo $((DEADLINE - ($(date +%s) - START))); }

done_already() {  # "train table1 ... --noise N --methods M": its network and cells exist
  local noise=${1##*--noise } net=${1##*--methods } arch target
  noise=${noise%% *}
  arch=${net%%_*} target=${net##*_}
  [ -f "$FOLDER/train/$arch-$target-${noise/:/}/done.json" ] &&
    [ "$(grep -c ",$noise,$net," "$FOLDER/table1/results.csv" 2>/dev/null)" -ge 50 ]
}

run_step() {  # in the background: its log in a file of its own, appended in queue order
  local step=$1 slog=$2 tic rc
  tic=$(date +%s)
  timeout "$(left)" $PY -m noise2noise.cli reproduce $step --preset report ${QUICK:+--quick} \
    --device "$DEVICE" --out "$FOLDER" > "$slog.all" 2>&1
  rc=$?
  [ "$rc" = 124 ] && rc="124, cut by the deadline"
  { grep -v "^\s*$" "$slog.all" | tail -n 40; echo "exit $rc after $(($(date +%s) - tic)) s: $step"; } > "$slog"
  rm -f "$slog.all"
  [[ $step == *unet_* && $rc == 0 ]] && echo $(($(date +%s) - tic)) >> "$OUT/.unet_s"
  tail -n 1 "$slog"
}

unet_need() {  # the longest U-Net step so far (beside as many others), or the guess
  local took
  took=$(sort -n "$OUT/.unet_s" 2>/dev/null | tail -n 1)
  if [ -n "$took" ]; then echo $((took * 11 / 10)); else echo $((UNET_S * PARALLEL)); fi
}

n=0
for step in "${QUEUE[@]}"; do
  if [[ $step == train* ]] && done_already "$step"; then
    continue
  fi
  while [ "$(jobs -rp | wc -l)" -ge "$PARALLEL" ]; do wait -n; done
  # Steps side by side share the GPU: until one U-Net step has been timed, one may take
  # up to PARALLEL times as long as alone.
  need=20
  [[ $step == train* || $step == convergence* ]] && need=$(unet_need)
  [[ $step == *cnn_* ]] && need=$((CNN_S * PARALLEL))
  if [ "$(left)" -lt "$need" ]; then
    echo "not started ($(left) s left): $step" | tee -a "$log"
    continue
  fi
  n=$((n + 1))
  echo "started at $(($(date +%s) - START)) s: $step" | tee -a "$log"
  run_step "$step" "$OUT/.step$(printf %02d $n).log" &
  sleep "$STAGGER"  # not all at the data loading at once
done
wait
cat "$OUT"/.step*.log >> "$log" 2>/dev/null
rm -f "$OUT"/.step*.log "$OUT/.unet_s"
$PY -m noise2noise.cli reproduce report --preset report ${QUICK:+--quick} --out "$FOLDER" >> "$log" 2>&1
find "$FOLDER" -name '*.lock' -delete
tar czf "$OUT/report.tar.gz" --exclude '*.pt' -C "$(dirname "$FOLDER")" "$(basename "$FOLDER")"
date | tee -a "$log"
