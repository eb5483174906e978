#!/usr/bin/env bash
# Make room for the data a GPU job needs in what travels to the lent GPU machine, and undo it.
#
# What travels (tracked and untracked-not-ignored files plus carried paths) is limited to
# 64 MiB. The tracked tree is about 58 MB: 26 MB of it the cpu reproduction's trained
# networks (docs/results/cpu/train), 5 MB the unshipped camera-noise network and 2 MB the
# README's figures (docs/figures), which no GPU job reads; bsds432 is 32 MB. `prepare`
# takes those files out of the index (not out of the history or the disk) and ignores them
# locally, so they stay here, and copies bsds432 into the git-ignored .gpu-data/;
# `prepare-report` also writes the report's test images there (test50: the 256x256 centre
# crops it uses, as PNG, 7 MB instead of 28); `restore` puts the index back. Nothing is
# committed either way. It prints what will travel: 63.2 MB of 67.1 on 2026-11-28.
#
#   bash bench/gpu_tree.sh prepare          # then: run with carry [".gpu-data"]
#   bash bench/gpu_tree.sh prepare-report   # the same, for bench/gpu_report.sh
#   bash bench/gpu_tree.sh restore
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
KEEP=(docs/results/cpu/train bench/results/pretrained_training/real_rgb.pt docs/figures)
EXCLUDE=.git/info/exclude
DATA_ROOT=${DATA_ROOT:-../shared/data}
PY=${PY:-python}

prepare() {
  for path in "${KEEP[@]}"; do
    git rm -r -q --cached "$path"
    grep -qx "/$path" "$EXCLUDE" 2>/dev/null || echo "/$path" >> "$EXCLUDE"
  done
  rm -rf .gpu-data && mkdir -p .gpu-data
  cp -r "$DATA_ROOT/bsds432" .gpu-data/
}

report() {  # test50's crops under the same folder and file names, and the results so far
  $PY - "$DATA_ROOT" <<'PYTHON'
import sys
from pathlib import Path

from noise2noise import read_image, write_image
from noise2noise.datasets import NAMED_SETS, center_crop, image_set_paths

files, crop = image_set_paths("test50", sys.argv[1])
for f in files:  # a centre crop of a centre crop of the same size is the same pixels
    target = Path(".gpu-data") / f.parent.name / (f.stem + ".png")
    target.parent.mkdir(parents=True, exist_ok=True)
    write_image(target, center_crop(read_image(f), crop))
print(f"{len(files)} test images ({', '.join(p for p, _ in NAMED_SETS['test50'].parts)})")
PYTHON
  # docs/results/report itself travels with the working tree (5 MB): bench/gpu_report.sh
  # continues it in place there, so its runs record `--out docs/results/report`.
}

case "${1:-}" in
  prepare | prepare-report)
    prepare
    [ "$1" = prepare-report ] && report
    echo "travels: $(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1) bytes tracked" \
      "+ $(du -sb .gpu-data | cut -f1) carried (at most 67108864 in all)"
    ;;
  restore)
    for path in "${KEEP[@]}"; do
      sed -i "\#^/$path\$#d" "$EXCLUDE"
      git reset -q -- "$path"
    done
    git status --short -- "${KEEP[@]}"
    ;;
  *)
    echo "usage: bash bench/gpu_tree.sh prepare|prepare-report|restore" >&2
    exit 2
    ;;
esac
