#!/usr/bin/env bash
# Publishes a finished comparison for the repository: its report (Markdown and self-contained HTML), figures
# and results.json; never checkpoints, per-image tensors or samples (a few MB at most).
#   bash recipes/publish.sh runs/study docs/study
set -euo pipefail
SRC=${1:?compare folder}
DEST=${2:?destination, e.g. docs/study}
[ -f "$SRC/results.json" ] || { echo "publish: $SRC has no results.json; is the comparison finished?" >&2; exit 1; }
mkdir -p "$DEST/figures"
cp "$SRC/results.json" "$SRC/report.md" "$SRC/report.html" "$DEST/"
cp "$SRC"/figures/*.png "$DEST/figures/"
du -sh "$DEST"
