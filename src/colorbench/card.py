"""Shipping weights: fp16 safetensors with everything the model card says in their metadata, and
MODEL_CARD.md written from that metadata, so the two cannot disagree."""

from __future__ import annotations

import os
from pathlib import Path

from .models import count_params, load_model, save_model
from .persist import write_text

def package_weights(run: str | os.PathLike, dest: str | os.PathLike, recommended_size: int, card: dict) -> Path:
    """Ship a trained run's weights: fp16 safetensors (half the size; on photos, outputs within one 8-bit
    level of fp32's) with the model spec, recommended network size and card facts in its metadata,
    and MODEL_CARD.md beside them, written from that same metadata so the two cannot disagree."""
    model, info = load_model(run)
    meta = {k: info[k] for k in ("config", "epoch", "val_loss", "dataset", "elapsed") if k in info}
    meta = {**meta, "params": count_params(model), "recommended_size": recommended_size, "card": card}
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    save_model(model, dest, meta, half=True)
    _, shipped = load_model(dest)
    write_text(dest.parent / "MODEL_CARD.md", model_card(shipped, dest))
    return dest


def model_card(info: dict, path: Path) -> str:
    """The model card of shipped weights, from their metadata."""
    card, cfg = info["card"], info.get("config", {})
    name, size = info["model"]["name"], info["recommended_size"]
    t, g = card["test_metrics"], card["test_baselines"]["gray"]
    rows = [("ab MSE (LAB units²)", "ab_mse", ".1f"), ("PSNR dB (sRGB)", "psnr", ".2f"), ("SSIM (sRGB)", "ssim", ".4f"),
            ("CIEDE2000", "ciede2000", ".2f"), ("colourfulness (truth {:.1f})".format(t["colorfulness_true"]),
                                                "colorfulness", ".1f"), ("AuC of ab error 0-150", "auc", ".4f")]
    lines = [
        "# colorbench default weights",
        "",
        f"`{path.name}`: the `{name}` model ({info['params']:,} parameters, fp16, "
        f"{path.stat().st_size / 2**20:.1f} MB), used by `colorbench colorize`, `colorbench serve`, "
        "`colorbench export` and `colorbench.colorize()` when no weights are given. Nothing is downloaded.",
        "",
        "## Training",
        "",
        f"- Data: {card['data']} (`cifar10-jpeg.tar.gz`: CIFAR-10 re-encoded as JPEG quality 75; 32x32 photos of 10 "
        "classes: airplane, automobile, bird, cat, deer, dog, frog, horse, ship, truck). Seeded stratified 80/20 split of the "
        "50,000 training images: 40,000 to train on, 10,000 to validate.",
        f"- Protocol: the study's (`--preset study`): {cfg.get('epochs')} epochs, batch {cfg.get('batch_size')}, "
        f"Adam lr {cfg.get('lr')}, MSE on ab/128, random flips and 90-degree turns, seed {cfg.get('seed')}. "
        f"Validation loss after the last epoch: {info['val_loss']:.5f}.",
        f"- Recipe: `bash {card['recipe']}` reproduces these weights, the figures below and this card "
        f"({card.get('recipe_time', 'about 50 min on 2 CPU cores')}).",
        "",
        f"## Test set ({card['test_images']:,} CIFAR-10 test images, never seen in training)",
        "",
        "| metric | this model | gray baseline (ab = 0) |",
        "|---|---|---|",
        *[f"| {label} | {t[k]:{fmt}} | {g[k]:{fmt}} |" for label, k, fmt in rows],
        "",
    ]
    photos = card.get("photos", [])
    if photos:
        lines += ["## On photos",
                  "",
                  f"`colorize` runs the network on L resized to a short side of `--size` pixels (default {size}, "
                  "chosen below), then joins the upsampled colour with the full-resolution L: the output keeps the "
                  "input's size and lightness. PSNR, SSIM and colourfulness against the original colour photos:",
                  ""]
        for ph in photos:
            sizes = [k for k in ph["by_size"] if k != "gray"]
            listed = ph.get("names") or []
            names = f": {', '.join(listed)}" if 0 < len(listed) <= 10 else ""
            lines += [f"{ph['n']} colour photos from `{ph['photos']}`{names} (truth colourfulness "
                      f"{ph['truth_colourfulness']:.1f}):", "",
                      "| network size | PSNR dB | SSIM | colourfulness |", "|---|---|---|---|",
                      *[f"| {k}{' (default)' if k == str(size) else ''} | {ph['by_size'][k]['psnr']:.2f} | "
                        f"{ph['by_size'][k]['ssim']:.4f} | {ph['by_size'][k]['color']:.1f} |" for k in sizes],
                      f"| gray baseline | {ph['by_size']['gray']['psnr']:.2f} | {ph['by_size']['gray']['ssim']:.4f} | "
                      f"{ph['by_size']['gray']['color']:.1f} |", ""]
    lines += [
        "## Known limits",
        "",
        "- It learnt colour from 32x32 thumbnails of 10 classes. On photos it gives muted, plausible tones: warm "
        "browns for animals, skin and wood, pale blue for some skies and water. Grass and foliage often come out "
        "olive, brown or gray rather than green, and strongly coloured objects (a red cup, an orange suit) stay "
        "dull: it cannot know their colour from lightness alone.",
        f"- MSE training averages over the colours an object could have, so results are desaturated (colourfulness "
        f"{t['colorfulness']:.1f} against {t['colorfulness_true']:.1f} for the truth on the test set) and often "
        "brownish or bluish. The colours are guesses: never evidence of what a scene really looked like.",
        f"- Per-pixel scores are a poor guide: on the test set its PSNR is {t['psnr']:.2f} dB against {g['psnr']:.2f} "
        f"dB for leaving the image gray, and CIEDE2000 {t['ciede2000']:.2f} against {g['ciede2000']:.2f}; they reward "
        "a safe gray over a plausible but wrong colour. ab MSE, colourfulness and looking at the pictures say more.",
        "- For a better model, train your own (`colorbench train`, `colorbench compare`) and pass `--weights`.",
        "",
    ]
    return "\n".join(lines)
