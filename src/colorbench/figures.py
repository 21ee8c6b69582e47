"""Figures from saved results (results.json, samples.safetensors): each answers one question a reader
has. Never trains or recomputes a metric. Also the `colorbench data` preview grid.

  losses        does training converge, and how far above or below the baselines? (running training
                loss several times per epoch, validation loss per epoch, one line per seed)
  cost_quality  what does each arm's quality cost? (GFLOPs and training time against ab MSE and
                colourfulness, with CIs)
  per_class     which classes are hard, for whom? (mean over seeds, with the spread over seeds)
  error_curve   at which error sizes do the arms beat leaving the image gray?
  samples       what do the colours look like? (class names, per-image error, baselines, best | worst)
"""

from __future__ import annotations

import io
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from .color import gray_uint8
from .evaluate import HIGHER_IS_BETTER

PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf", "#bcbd22", "#7f7f7f"]
BASELINE_STYLE = {"gray": {"color": "#555555", "ls": "--"}, "mean_color": {"color": "#b8860b", "ls": ":"}}
UNITS = {"ab_mse": "ab MSE (LAB units²)", "colorfulness": "colourfulness (Hasler-Süsstrunk)", "psnr": "PSNR (dB)",
         "ssim": "SSIM", "ciede2000": "CIEDE2000 (ΔE00)", "auc": "AuC of ab error 0-150"}


def _f(v) -> float:
    return float(v) if v is not None else float("nan")


def _pyplot():
    """matplotlib's pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _png(fig) -> bytes:
    plt = _pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=110, bbox_inches="tight")
    plt.close(fig)
    return buf.getvalue()


def colors(names: list[str]) -> dict[str, str]:
    return {n: PALETTE[i % len(PALETTE)] for i, n in enumerate(names)}


def better(metric: str) -> str:
    return "higher is better" if HIGHER_IS_BETTER.get(metric, False) else "lower is better"


# ---------------------------------------------------------------------------------------------


def plot_losses(r: dict) -> bytes:
    """Running training loss (several points per epoch) and validation loss per epoch, per seed."""
    plt = _pyplot()
    models = list(r["models"])
    col = colors(models)
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    for m in models:
        for i, h in enumerate(r["models"][m]["histories"]):
            pts = [p for e in h for p in e.get("curve", [])] or [[e["epoch"], e["train_loss"]] for e in h]
            axes[0].plot([p[0] for p in pts], [_f(p[1]) for p in pts], "-", color=col[m], alpha=0.75, lw=1.1,
                         label=m if i == 0 else None)
            axes[1].plot([e["epoch"] for e in h], [_f(e["val_loss"]) for e in h], "o-", color=col[m], alpha=0.75,
                         lw=1.1, ms=4, label=m if i == 0 else None)
    for b, e in r["baselines"].items():
        axes[1].axhline(_f(e["summary"]["val_loss"]), lw=1.2, label=f"{b} baseline", **BASELINE_STYLE.get(b, {}))
    epochs = max((len(h) for e in r["models"].values() for h in e["histories"]), default=1)
    axes[0].set_title("training loss (running mean, the objective's own units)")
    axes[1].set_title("validation loss (MSE of ab/128)")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    axes[0].set_xlim(0, epochs)
    axes[1].set_xlim(0.5, epochs + 0.5)
    axes[1].set_xticks(range(1, epochs + 1) if epochs <= 12 else range(1, epochs + 1, max(1, epochs // 10)))
    if any(e["loss"] != "mse" for e in r["models"].values()):
        axes[0].set_yscale("log")  # objectives on different scales share one axis
    axes[1].legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1))  # beside: the baselines' lines stay seen
    axes[0].legend(fontsize=8)
    return _png(fig)


def plot_cost_quality(r: dict) -> bytes:
    """GFLOPs and training time against ab MSE and colourfulness, mean ± CI over seeds."""
    plt = _pyplot()
    models = list(r["models"])
    col = colors(models)
    fig, axes = plt.subplots(2, 2, figsize=(10.5, 7))
    for row, metric in enumerate(("ab_mse", "colorfulness")):
        for c, (xkey, xlabel) in enumerate((("forward_flops", "forward GFLOPs per image"),
                                            ("train_time_s", "training time per seed (s)"))):
            ax = axes[row][c]
            for m in models:
                e = r["models"][m]
                s = e["summary"][metric]
                x = _f(e["forward_flops"]) / 1e9 if xkey == "forward_flops" else _f(e["summary"]["train_time_s"]["mean"])
                xerr = None if xkey == "forward_flops" else _ci(e["summary"]["train_time_s"])
                ax.errorbar(x, _f(s["mean"]), yerr=_ci(s), xerr=xerr, fmt="o", color=col[m], capsize=3, label=m)
            for b, e in r["baselines"].items():
                ax.axhline(_f(e["summary"][metric]), lw=1.2, label=f"{b} baseline", **BASELINE_STYLE.get(b, {}))
            if metric == "colorfulness":
                truth = _f(next(iter(r["baselines"].values()))["summary"]["colorfulness_true"])
                ax.axhline(truth, color="#2ca02c", lw=1, alpha=0.6, label="truth")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(f"{UNITS[metric]}\n{better(metric)}")  # two lines: one is taller than the axes
            ax.grid(alpha=0.3)
    handles, labels = axes[1][0].get_legend_handles_labels()  # above the panels, never over a point
    fig.legend(handles, labels, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=min(6, len(labels)))
    fig.tight_layout()
    return _png(fig)


def _ci(s: dict) -> float | None:
    ci = _f(s.get("ci"))
    return ci if ci == ci else _f(s.get("ci_images")) if s.get("ci_images") is not None else None


def plot_per_class(r: dict, metric: str = "ab_mse") -> bytes:
    """Per-class means over seeds as bars, the spread over seeds as error bars, baselines as markers."""
    plt = _pyplot()
    classes = r["data"]["classes"]
    models = list(r["models"])
    col = colors(models)
    fig, ax = plt.subplots(figsize=(11, 3.9))
    w = 0.8 / max(1, len(models))
    xs = range(len(classes))
    for i, m in enumerate(models):
        seeds = r["models"][m].get("per_class_seeds", {}).get(metric)
        mean = [_f(v) for v in r["models"][m]["per_class"][metric]]
        err = None
        if seeds and len(seeds) > 1:
            t = torch.tensor(seeds, dtype=torch.float64)  # (S, classes)
            err = [(t[:, c].max() - t[:, c].min()).item() / 2 for c in range(len(classes))]
        ax.bar([c + (i - (len(models) - 1) / 2) * w for c in xs], mean, w, yerr=err, capsize=2, label=m, color=col[m],
               error_kw={"lw": 0.8})
    for b, e in r["baselines"].items():
        st = BASELINE_STYLE.get(b, {})
        ax.scatter(list(xs), [_f(v) for v in e["per_class"][metric]], marker="_" if b == "gray" else "x", s=220,
                   color=st.get("color", "k"), zorder=3, label=f"{b} baseline")
    ax.set_xticks(list(xs), classes, rotation=30 if len(classes) > 6 else 0)
    ax.set_ylabel(f"{UNITS[metric]}\n{better(metric)}")
    ax.legend(fontsize=8, ncol=len(models) + 2, loc="lower left", bbox_to_anchor=(0, 1.01))  # above: bars stay seen
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def plot_error_curve(r: dict) -> bytes:
    """Fraction of pixels within each ab error threshold, minus the gray baseline's: where each arm
    gains over leaving the image gray, and where it loses."""
    plt = _pyplot()
    models = list(r["models"])
    col = colors(models)
    gray = [_f(v) for v in r["baselines"]["gray"]["curve"]]
    fig, ax = plt.subplots(figsize=(7.5, 4))
    entries = [(m, r["models"][m], {"color": col[m], "ls": "-"}) for m in models]
    entries += [(b, e, BASELINE_STYLE.get(b, {})) for b, e in r["baselines"].items() if b != "gray"]
    for name, e, style in entries:
        curve = [_f(v) for v in e["curve"]]
        auc = sum(curve) / len(curve)
        ax.plot(range(len(curve)), [c - g for c, g in zip(curve, gray)], lw=1.6,
                label=f"{name} (AuC {auc:.4f})" if name in models else f"{name} baseline (AuC {auc:.4f})", **style)
    ax.axhline(0, lw=1.2, label=f"gray baseline (AuC {sum(gray) / len(gray):.4f})", **BASELINE_STYLE["gray"])
    ax.set_xlabel("threshold on ab error (LAB units)")
    ax.set_ylabel("fraction of pixels within threshold\nminus the gray baseline's")
    ax.set_xlim(0, 80)  # every curve reaches the gray one well before 80 on these images
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="best")
    return _png(fig)


# ---------------------------------------------------------------------------------------------
# sample grids


def plot_samples(s: dict[str, torch.Tensor], index: torch.Tensor, rows: list[str], classes: list[str],
                 title: str, gap_after: int | None = None) -> bytes:
    """A grid: one column per test image (class name on top), one row per source (gray input, truth,
    baselines, arms), each prediction with its ab MSE; a gap after column `gap_after`."""
    plt = _pyplot()
    pos = torch.searchsorted(s["index"], index)
    ncol = len(index) + (1 if gap_after else 0)
    cell = 1.05
    fig, axes = plt.subplots(len(rows), ncol, figsize=(1.6 + cell * ncol, 0.25 + cell * 1.12 * len(rows)),
                             squeeze=False, gridspec_kw={"wspace": 0.06, "hspace": 0.32})
    labels = s["labels"][pos]
    for r_i, row in enumerate(rows):
        key = {"gray input": "gray", "truth": "truth"}.get(row, f"pred.{row}")
        for c in range(ncol):
            ax = axes[r_i][c]
            ax.set_xticks([])
            ax.set_yticks([])
            col = c if gap_after is None or c < gap_after else c - 1
            if gap_after is not None and c == gap_after:
                ax.axis("off")
                continue
            img = s[key][pos[col]].permute(1, 2, 0).numpy()
            ax.imshow(img, interpolation="nearest")
            for sp in ax.spines.values():
                sp.set_visible(False)
            if f"ab_mse.{row}" in s:
                ax.set_title(f"{s[f'ab_mse.{row}'][pos[col]].item():.0f}", fontsize=7, pad=2)
            elif r_i == 0:
                ax.set_title(classes[int(labels[col])], fontsize=8, pad=2)
            if c == 0:
                ax.set_ylabel(row.replace("mean_color", "mean colour\nbaseline").replace(",", ",\n"), fontsize=8,
                              rotation=0, ha="right", va="center", labelpad=6)
    fig.suptitle(title, fontsize=9, y=1.0)
    return _png(fig)


def sample_figures(s: dict[str, torch.Tensor], r: dict) -> list[tuple[str, Callable[[], bytes], str]]:
    """(file name, what draws its PNG, caption) for the fixed images and each arm's best | worst."""
    models, classes = list(r["models"]), r["data"]["classes"]
    base = ["mean_color"] if "pred.mean_color" in s else []
    out = [("samples_fixed.png",
            partial(plot_samples, s, s["fixed_index"], ["gray input", "truth", *models, *base], classes,
                         "the first test image of each class (seed-0 models; number = that image's ab MSE)"),
            "The first test image of each class: the gray input the models see, the truth, each arm (seed 0) and the "
            "mean-colour baseline. The number over each prediction is its ab MSE on that image (LAB units², lower "
            "is better; the gray baseline's is the truth's own chroma).")]
    for m in models:
        idx = torch.cat([s[f"best_index.{m}"], s[f"worst_index.{m}"]])
        fname = "samples_" + "".join(ch if ch.isalnum() else "_" for ch in m) + "_best_worst.png"
        out.append((fname, partial(plot_samples, s, idx, ["gray input", "truth", m, *base], classes,
                                        f"{m}: its 4 best test images (left) and 4 worst (right) by ab MSE", gap_after=4),
                    f"{m} (seed 0): its 4 best test images by ab MSE (left) and its 4 worst (right), with the "
                    "mean-colour baseline on the same images."))
    return out


# ---------------------------------------------------------------------------------------------
# `colorbench data`


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


def data_preview(ds, path: Path, per_class: int = 6) -> None:
    """One row per class: `per_class` training images, each as RGB then its gray version."""
    from .persist import atomic_write

    rows, names = [], []
    for k, name in enumerate(ds.classes[:20]):
        idx = (ds.train.labels == k).nonzero().flatten()[:per_class]
        if len(idx) == 0:
            continue
        x = ds.train.images[idx]
        rows.append([t for pair in zip(x, gray_uint8(x)) for t in pair])
        names.append(name)
    scale = max(1, 96 // ds.image_size[0])
    img = tile(rows, scale=scale, labels=names, label_width=90)
    atomic_write(path, lambda t: img.save(t, "PNG"))
