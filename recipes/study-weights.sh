#!/usr/bin/env bash
# Reproduces src/colorbench/weights/colorbench-study.safetensors (`--weights study`): the study's protocol
# (80/20 split, 10 epochs, batch 64, Adam 1e-3, flips and 90-degree turns) with its U-Net, seed 0, on the
# CIFAR-10 JPEG copy; its test-set and photo figures; fp16 packaging; MODEL_CARD.md.
#   bash recipes/study-weights.sh [DATA] [RUN_DIR]      (about 50 min on 2 CPU cores, minutes on a GPU)
# Interrupted? Run it again: training resumes where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data/cifar10-jpeg.tar.gz}
RUN=${2:-runs/study-weights}
SET=${SET:-runs/photo-set}    # the photo set of recipes/photo-weights.sh (for its held-out photos)
SIZE=${SIZE:-64}              # network short side on photos (chosen on photos in colorbench 0.1; see MODEL_CARD.md)
colorbench train --model unet --preset study --seed 0 --precision fp32 --data "$DATA" --out "$RUN" --resume
colorbench evaluate "$RUN" --data "$DATA" --precision fp32 --json "$RUN/test-metrics.json"
EVALS=()
for src in skimage "$SET/heldout/imagenet"; do
  [ "$src" = skimage ] || [ -d "$src" ] || continue
  out="$RUN/photos-$(basename "$src")"
  colorbench evaluate-photos "$src" --weights "study=$RUN" --size "$SIZE" --out "$out" --quiet
  EVALS+=("$out")
done
python recipes/cards.py study "$RUN" src/colorbench/weights/colorbench-study.safetensors --size "$SIZE" \
  --test "$RUN/test-metrics.json" --photos "${EVALS[@]}"
