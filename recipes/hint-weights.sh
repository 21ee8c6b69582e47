#!/usr/bin/env bash
# Rebuilds src/colorbench/weights/colorbench-hints.safetensors (the photo weights, widened to take colour hints:
# L, hint ab, hint mask) and its MODEL_CARD.md section, from the shallow photo chain's stage 1 and the photo set
# (`CHAIN=shallow STAGES=1 bash recipes/photo-weights.sh` builds both):
#   bash recipes/hint-weights.sh                  train the stages not yet done, evaluate, package
#   TRAIN_ONLY=1 bash recipes/hint-weights.sh     train only
# Interrupted? Run it again: a finished stage is not retrained, a cut one resumes.
#
# The shipped file came from the photo weights of the shallow chain's stage 1 (sha256 4e1a510b0a0f..., `default`
# until 2026-11-30; today's `default` is the deep chain, with residual blocks this file does not have); the new input
# weights start at zero, so with no hints it starts as exactly those weights.
# As run for the shipped file, stage a was planned for 4 epochs and stopped after 2 (so its cosine only fell to
# half of 3e-4); this recipe runs 2 epochs whose cosine ends at 0: close, not the same bits.
set -euo pipefail
cd "$(dirname "$0")/.."
SET=${SET:-runs/photo-set}
RUNS=${RUNS:-runs/hint-stages}
FROM=${FROM:-runs/photo-stages/stage1/model.safetensors}
[ -e "$FROM" ] || { echo "hint-weights: $FROM not found: run CHAIN=shallow STAGES=1 bash recipes/photo-weights.sh first (68 min on 2 cores), or set FROM" >&2; exit 2; }
DEST=src/colorbench/weights/colorbench-hints.safetensors
COUNTS=(0 1 2 5 10 20 50 100)

# the photo weights' design (recipes/photo-weights.sh), with hints; T kept at the photo weights' 0.38
COMMON=(--model photo_unet --width 16 --loss classification --rebalance 0.6 --head-stride 4 --mse-weight 5
        --data "$SET" --size 64 --augment photo --val-fraction 0.02 --val-limit 2000
        --in-channels 4 --hints --temperature 0.38 --train-limit 8000)
[ -e "$RUNS/a/metrics.json" ] || colorbench train "${COMMON[@]}" --init "$FROM" --batch-size 32 --epochs 2 --lr 3e-4 \
  --schedule cosine --out "$RUNS/a" --resume
# smaller batches: four times the steps per photo, which the zero-started hint weights need most
[ -e "$RUNS/b/metrics.json" ] || colorbench train "${COMMON[@]}" --init "$RUNS/a/model.safetensors" --batch-size 8 \
  --seed 1 --epochs 1 --lr 1e-3 --schedule cosine --out "$RUNS/b" --resume
# 100,000 photos at batch 32 on both cores (93 img/s): the stage that taught the hints to matter (10 points:
# +0.04 dB after b, +0.20 dB after c; 100 points: +0.58, +1.80 on the held-out ImageNet photos)
[ -e "$RUNS/c/metrics.json" ] || colorbench train "${COMMON[@]}" --init "$RUNS/b/model.safetensors" --batch-size 32 \
  --seed 2 --epochs 1 --lr 5e-4 --schedule cosine --train-limit 100000 --out "$RUNS/c" --resume
# the whole photo set three times, from c: 491,000 images at 101 img/s (81 minutes); with points filling 3x3
# squares (inputs.HINT_RADIUS), 10 points +3.05 dB (ImageNet) / +3.06 (scenes), no points -0.10 / -0.19
# (one pass; with colorize's mirror average since 2026-12-02: +3.08 / +3.09, MODEL_CARD.md)
[ -e "$RUNS/d/metrics.json" ] || colorbench train "${COMMON[@]}" --init "$RUNS/c/model.safetensors" --batch-size 32 \
  --seed 3 --epochs 3 --lr 5e-4 --schedule cosine --train-limit 0 --out "$RUNS/d" --resume
[ -z "${TRAIN_ONLY:-}" ] || exit 0

EVALS=()
for src in "$SET/heldout/imagenet" "$SET/heldout/places"; do
  out="$RUNS/d/photos-$(basename "$src")"
  colorbench evaluate-photos "$src" --weights default "hints=$RUNS/d" --size 64 --hints "${COUNTS[@]}" --out "$out" --quiet
  EVALS+=("$out")
done
python recipes/cards.py hints "$RUNS/d" "$DEST" --size 64 --stages "$RUNS/a" "$RUNS/b" "$RUNS/c" "$RUNS/d" --photos "${EVALS[@]}" \
  --time "${RECIPE_TIME:-about 160 minutes on 2 CPU cores}"
