#!/usr/bin/env bash
# Reproduces the shipped weights src/colorbench/weights/colorbench-default.safetensors (MODEL_CARD.md beside them):
# the study's protocol (80/20 split, 10 epochs, batch 64, Adam 1e-3, flips and 90-degree turns), seed 0,
# on the CIFAR-10 JPEG copy; then the test-set evaluation quoted in the card; then fp16 packaging.
#   bash recipes/default-weights.sh [DATA] [RUN_DIR]      (about 40 min on 2 CPU cores, a minute on a GPU)
set -euo pipefail
DATA=${1:-../shared/data/cifar10-jpeg.tar.gz}
RUN=${2:-runs/default-weights}
MODEL=${MODEL:-unet}
SIZE=${SIZE:-64}  # network short side for photos, chosen on the ImageNet sample (see MODEL_CARD.md)
colorbench train --model "$MODEL" --preset study --seed 0 --data "$DATA" --out "$RUN" --resume
colorbench evaluate "$RUN" --data "$DATA" --json "$RUN/test-metrics.json"
python - "$RUN" "$SIZE" <<'PY'
import json, sys
from colorbench.colorize import package_weights
run, size = sys.argv[1], int(sys.argv[2])
m = json.load(open(f"{run}/test-metrics.json"))
card = {"test_metrics": m["summary"], "test_images": m["test_images"], "data": m["data"],
        "recipe": "recipes/default-weights.sh"}
print(package_weights(run, "src/colorbench/weights/colorbench-default.safetensors", size, card))
PY
