#!/usr/bin/env bash
# Reproduces src/colorbench/weights/colorbench-default.safetensors (the photo weights) and MODEL_CARD.md:
# the photo set with its fixed held-out lists (colorbench photo-set), the training run, the evaluations on
# held-out photos beside the gray baseline and the study weights, and fp16 packaging.
#   bash recipes/photo-weights.sh          (about 3 hours on 2 CPU cores; a GPU takes minutes)
# Interrupted? Run it again: the set is kept and training resumes where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
IMAGENET=${IMAGENET:-../shared/data/imagenet-sample-1000.tar}
PLACES=${PLACES:-../shared/data/miniplaces-20k.tar.gz}
SET=${SET:-runs/photo-set}
RUN=${RUN:-runs/photo-weights}
DEST=src/colorbench/weights/colorbench-default.safetensors
SIZE=128   # network short side on photos: the training crops' size
[ -e "$SET/manifest.json" ] || colorbench photo-set --imagenet "$IMAGENET" --places "$PLACES" --out "$SET"
colorbench train --model photo_unet --width 16 --loss classification --rebalance 0.5 --head-stride 4 \
  --data "$SET" --epochs 8 --batch-size 32 --augment strong --val-fraction 0.05 --out "$RUN" --resume
# package once, measure the packaged (fp16) weights, package again with their figures (same bits)
python recipes/cards.py photo "$RUN" "$DEST" --size "$SIZE" --set "$SET"
EVALS=()
for src in "$SET/heldout/imagenet" "$SET/heldout/places" skimage; do
  out="$RUN/photos-$(basename "$src")"
  colorbench evaluate-photos "$src" --weights default study --out "$out" --quiet
  EVALS+=("$out")
done
python recipes/cards.py photo "$RUN" "$DEST" --size "$SIZE" --set "$SET" --photos "${EVALS[@]}" \
  --time "${RECIPE_TIME:-about 3 hours on 2 CPU cores}"
