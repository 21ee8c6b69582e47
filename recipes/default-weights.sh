#!/usr/bin/env bash
# Reproduces the shipped weights src/colorbench/weights/colorbench-default.safetensors and MODEL_CARD.md:
# the study's protocol (80/20 split, 10 epochs, batch 64, Adam 1e-3, flips and 90-degree turns), seed 0,
# on the CIFAR-10 JPEG copy; the test-set evaluation and photo figures quoted in the card; fp16 packaging.
#   bash recipes/default-weights.sh [DATA] [RUN_DIR]      (about 50 min on 2 CPU cores, minutes on a GPU)
# Interrupted? Run it again: training resumes where it stopped.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data/cifar10-jpeg.tar.gz}
RUN=${2:-runs/default-weights}
PHOTOS=${PHOTOS:-../shared/data/imagenet-sample-1000.tar}  # full-size photos, to choose the network size
MODEL=${MODEL:-unet}   # lowest test ab MSE of the study's models after 10 epochs (see MODEL_CARD.md)
SIZE=${SIZE:-64}       # network short side for photos: chosen on $PHOTOS (32 scores the best PSNR but looks sepia; see MODEL_CARD.md)
colorbench train --model "$MODEL" --preset study --seed 0 --data "$DATA" --out "$RUN" --resume
colorbench evaluate "$RUN" --data "$DATA" --json "$RUN/test-metrics.json"
python recipes/photo_eval.py skimage --weights "$RUN" --sizes 32 64 128 256 --json "$RUN/photos-skimage.json"
if [ -e "$PHOTOS" ]; then
  python recipes/photo_eval.py "$PHOTOS" --weights "$RUN" --sizes 32 64 128 256 --limit 100 \
    --json "$RUN/photos-imagenet.json"
fi
python - "$RUN" "$SIZE" <<'PY'
import json, sys
from pathlib import Path
from colorbench.card import package_weights
run, size = Path(sys.argv[1]), int(sys.argv[2])
m = json.loads((run / "test-metrics.json").read_text())
photos = [json.loads(p.read_text()) for p in sorted(run.glob("photos-*.json"), reverse=True)]
card = {"test_metrics": m["summary"], "test_baselines": m["baselines"], "test_images": m["test_images"],
        "data": m["data"], "recipe": "recipes/default-weights.sh", "photos": photos}
print(package_weights(run, "src/colorbench/weights/colorbench-default.safetensors", size, card))
PY
