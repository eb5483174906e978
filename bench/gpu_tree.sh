#!/usr/bin/env bash
# Make room for the training images in what travels to the lent GPU machine, and undo it.
#
# What travels (tracked and untracked-not-ignored files plus carried paths) is limited to
# 64 MiB. The tracked tree is about 48 MB, 26 MB of it the cpu reproduction's trained
# networks (docs/results/cpu/train), which no GPU job reads; bsds432 is 32 MB. `prepare`
# takes those networks out of the index (not out of the history or the disk) and ignores
# them locally, so they stay here, and copies bsds432 into the git-ignored .gpu-data/;
# `restore` puts the index back. Nothing is committed either way.
#
#   bash bench/gpu_tree.sh prepare   # then: run with carry [".gpu-data"]
#   bash bench/gpu_tree.sh restore
set -euo pipefail
cd "$(git rev-parse --show-toplevel)"
KEEP=docs/results/cpu/train
EXCLUDE=.git/info/exclude
case "${1:-}" in
  prepare)
    git rm -r -q --cached "$KEEP"
    grep -qx "/$KEEP/" "$EXCLUDE" 2>/dev/null || echo "/$KEEP/" >> "$EXCLUDE"
    rm -rf .gpu-data && mkdir -p .gpu-data
    cp -r "${DATA_ROOT:-../shared/data}/bsds432" .gpu-data/
    echo "travels: $(git ls-files -z | xargs -0 du -cb | tail -1 | cut -f1) bytes tracked" \
      "+ $(du -sb .gpu-data | cut -f1) carried"
    ;;
  restore)
    sed -i "\#^/$KEEP/\$#d" "$EXCLUDE"
    git reset -q -- "$KEEP"
    git status --short -- "$KEEP"
    ;;
  *)
    echo "usage: bash bench/gpu_tree.sh prepare|restore" >&2
    exit 2
    ;;
esac
