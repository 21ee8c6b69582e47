"""Pictures and reports from saved results: results.json (+ samples.safetensors) -> report.html
(self-contained: every plot and image embedded, opens offline), report.md and figures/*.png.

Never trains or recomputes a metric: every number shown is read from results.json. In the HTML
tables each number carries `data-key` (its path in results.json) and `data-value` (the exact value),
so a reader or a test can check any cell against the file.
"""

from __future__ import annotations

import base64
import html
import io
import json
import math
from dataclasses import dataclass
from pathlib import Path

import torch
from PIL import Image, ImageDraw

from .color import uint8_to_lab
from .data import Dataset
from .evaluate import HIGHER_IS_BETTER

# ---------------------------------------------------------------------------------------------
# image grids (also used by `colorbench data`)


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


def _tile_png(rows: list[list[torch.Tensor]], labels: list[str], scale: int) -> bytes:
    buf = io.BytesIO()
    tile(rows, scale=scale, labels=labels, label_width=90).save(buf, "PNG")
    return buf.getvalue()


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


# ---------------------------------------------------------------------------------------------
# document blocks, rendered both to HTML and to Markdown


@dataclass
class Num:
    """A number in a table: shown rounded, traceable to results.json by key."""

    value: float | str
    key: str
    fmt: str = ".4g"
    ci: Num | None = None
    scale: float = 1.0  # shown as value / scale (e.g. FLOPs as GFLOPs)

    def has_ci(self) -> bool:
        return self.ci is not None and math.isfinite(_f(self.ci.value))

    def text(self, with_ci: bool = True) -> str:
        if isinstance(self.value, int) and self.scale == 1:
            return format(self.value, self.fmt)
        v = _f(self.value) / self.scale
        s = "inf" if math.isinf(v) and v > 0 else "nan" if math.isnan(v) else format(v, self.fmt)
        return s + " ± " + self.ci.text() if with_ci and self.has_ci() else s


@dataclass
class Table:
    header: list[str]
    rows: list[list]
    caption: str = ""


@dataclass
class Figure:
    name: str  # file name under figures/
    png: bytes
    caption: str


def _f(v) -> float:
    return float(v) if v is not None else float("nan")


def _span(n: Num, cls: str = "num") -> str:
    """A number traceable to results.json: its key, exact value and display scale ride along."""
    return (f'<span class="{cls}" data-key="{html.escape(n.key)}" data-value="{html.escape(str(n.value))}" '
            f'data-scale="{n.scale:g}">{html.escape(n.text(with_ci=False))}</span>')


def _cell_html(c) -> str:
    if isinstance(c, Num):
        out = _span(c) + (" ± " + _span(c.ci, "num ci") if c.has_ci() else "")
        return f'<td class="r">{out}</td>'
    return f"<td>{html.escape(str(c))}</td>"


def render_html(title: str, blocks: list) -> str:
    body = []
    for b in blocks:
        if isinstance(b, tuple) and b[0] in ("h2", "h3"):
            body.append(f"<{b[0]}>{html.escape(b[1])}</{b[0]}>")
        elif isinstance(b, str):
            body.append(f"<p>{html.escape(b)}</p>")
        elif isinstance(b, Table):
            head = "".join(f"<th>{html.escape(h)}</th>" for h in b.header)
            rows = "".join("<tr>" + "".join(_cell_html(c) for c in r) + "</tr>" for r in b.rows)
            cap = f"<caption>{html.escape(b.caption)}</caption>" if b.caption else ""
            body.append(f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
        elif isinstance(b, Figure):
            data = base64.b64encode(b.png).decode()
            body.append(f'<figure><img alt="{html.escape(b.caption)}" src="data:image/png;base64,{data}">'
                        f"<figcaption>{html.escape(b.caption)}</figcaption></figure>")
    css = ("body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em;color:#222;"
           "line-height:1.45}table{border-collapse:collapse;margin:1em 0;font-size:.88em}td,th{border:1px solid #ccc;"
           "padding:.3em .6em}th{background:#f3f3f3}td.r{text-align:right}span.num{white-space:nowrap}caption{text-align:left;"
           "font-style:italic;padding:.3em 0}figure{margin:1.2em 0}img{max-width:100%;image-rendering:pixelated}"
           "figcaption{font-size:.9em;color:#555}h2{border-bottom:1px solid #ddd;padding-bottom:.2em;margin-top:1.6em}")
    return (f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>'
            f"<style>{css}</style></head><body><h1>{html.escape(title)}</h1>\n" + "\n".join(body) + "\n</body></html>\n")


def render_md(title: str, blocks: list) -> str:
    out = [f"# {title}", ""]
    for b in blocks:
        if isinstance(b, tuple):
            out += [("## " if b[0] == "h2" else "### ") + b[1], ""]
        elif isinstance(b, str):
            out += [b, ""]
        elif isinstance(b, Table):
            if b.caption:
                out += [f"*{b.caption}*", ""]
            out.append("| " + " | ".join(b.header) + " |")
            out.append("|" + "---|" * len(b.header))
            for r in b.rows:
                out.append("| " + " | ".join(c.text() if isinstance(c, Num) else str(c) for c in r) + " |")
            out.append("")
        elif isinstance(b, Figure):
            out += [f"![{b.caption}](figures/{b.name})", "", f"*{b.caption}*", ""]
    return "\n".join(out)


# ---------------------------------------------------------------------------------------------
# plots


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


def _colors(names: list[str]) -> dict[str, str]:
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]
    return {n: palette[i % len(palette)] for i, n in enumerate(names)}


def plot_losses(r: dict) -> bytes:
    from matplotlib.ticker import MaxNLocator

    plt = _pyplot()

    models = list(r["models"])
    col = _colors(models)
    fig, axes = plt.subplots(1, 2, figsize=(10, 3.6), sharey=True)
    for ax, key, title in zip(axes, ("train_loss", "val_loss"), ("training loss", "validation loss")):
        for m in models:
            for i, h in enumerate(r["models"][m]["histories"]):
                ax.plot([e["epoch"] for e in h], [_f(e[key]) for e in h], "o-", color=col[m], alpha=0.8, lw=1.2,
                        ms=3, label=m if i == 0 else None)
        for b, style in zip(r["baselines"], (":", "--")):
            ax.axhline(_f(r["baselines"][b]["summary"]["val_loss"]), color="gray", ls=style, lw=1,
                       label=f"{b} (val)" if key == "val_loss" else None)
        ax.set_title(title)
        ax.set_xlabel("epoch")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # whole epochs only
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("MSE of ab/128")
    axes[1].legend(fontsize=8)
    return _png(fig)


def plot_per_class(r: dict, metric: str = "ab_mse") -> bytes:
    plt = _pyplot()

    classes = r["data"]["classes"]
    series = {m: r["models"][m]["per_class"][metric] for m in r["models"]}
    series.update({b: r["baselines"][b]["per_class"][metric] for b in r["baselines"]})
    col = _colors(list(r["models"]))
    col.update({"gray": "#bbbbbb", "mean_color": "#777777"})
    fig, ax = plt.subplots(figsize=(11, 3.8))
    w = 0.8 / len(series)
    for i, (name, vals) in enumerate(series.items()):
        ax.bar([c + (i - (len(series) - 1) / 2) * w for c in range(len(classes))], [_f(v) for v in vals], w,
               label=name, color=col.get(name))
    ax.set_xticks(range(len(classes)), classes, rotation=30 if len(classes) > 6 else 0)
    ax.set_ylabel(f"{metric} ({'higher' if HIGHER_IS_BETTER[metric] else 'lower'} is better)")
    ax.legend(fontsize=8, ncol=len(series))
    ax.grid(axis="y", alpha=0.3)
    return _png(fig)


def plot_error_curve(r: dict) -> bytes:
    plt = _pyplot()

    col = _colors(list(r["models"]))
    fig, ax = plt.subplots(figsize=(6.5, 4))
    for name, entry, style in ([(m, r["models"][m], "-") for m in r["models"]]
                               + [(b, r["baselines"][b], "--") for b in r["baselines"]]):
        curve = [_f(v) for v in entry["curve"]]
        auc = sum(curve) / len(curve)
        ax.plot(range(len(curve)), curve, style, color=col.get(name, "gray"), label=f"{name} (AuC {auc:.3f})")
    ax.set_xlabel("threshold on ab error (LAB units)")
    ax.set_ylabel("fraction of pixels within threshold")
    ax.set_xlim(0, 150)
    ax.set_ylim(0, 1.01)
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="lower right")
    return _png(fig)


def sample_figures(folder: Path, r: dict) -> list[Figure]:
    """Sample grids from samples.safetensors: fixed images, then best and worst per model."""
    from safetensors.torch import load_file

    path = folder / "samples.safetensors"
    if not path.exists():
        return []
    s = load_file(str(path))
    models = list(r["models"])
    scale = max(1, 64 // s["truth"].shape[-1])

    def rows_for(index: torch.Tensor, preds: list[str]) -> tuple[list[list[torch.Tensor]], list[str]]:
        pos = torch.searchsorted(s["index"], index)
        rows = [list(s["gray"][pos]), list(s["truth"][pos])] + [list(s[f"pred.{m}"][pos]) for m in preds]
        return rows, ["L input", "truth"] + preds

    figs = []
    png = _tile_png(*rows_for(s["fixed_index"], models), scale)
    classes = r["data"]["classes"]
    names = ", ".join(classes[int(c)] for c in s["labels"][torch.searchsorted(s["index"], s["fixed_index"])])
    figs.append(Figure("samples_fixed.png", png,
                       f"Fixed test images (the first of each class: {names}): L input, truth, and each model "
                       "(seed 0). Columns are images."))
    for m in models:
        idx = torch.cat([s[f"best_index.{m}"], s[f"worst_index.{m}"]])
        figs.append(Figure(f"samples_{m}_best_worst.png", _tile_png(*rows_for(idx, [m]), scale),
                           f"{m} (seed 0): its 4 best test images by ab MSE (left), then its 4 worst (right)."))
    return figs


# ---------------------------------------------------------------------------------------------
# the report


METRIC_LABELS = {
    "val_loss": ("val loss", ".5f"),
    "ab_mse": ("ab MSE", ".1f"),
    "psnr": ("PSNR dB", ".2f"),
    "ssim": ("SSIM", ".4f"),
    "ciede2000": ("CIEDE2000", ".2f"),
    "colorfulness": ("colourfulness", ".2f"),
    "colorfulness_gap": ("colourfulness gap", ".2f"),
    "auc": ("AuC", ".4f"),
}


def _results_table(r: dict) -> Table:
    header = ["model"] + [METRIC_LABELS[k][0] for k in METRIC_LABELS]
    rows = []
    for m, e in r["models"].items():
        row = [m]
        for k, (_, fmt) in METRIC_LABELS.items():
            s = e["summary"][k]
            row.append(Num(s["mean"], f"models.{m}.summary.{k}.mean", fmt, Num(s["ci"], f"models.{m}.summary.{k}.ci", fmt)))
        rows.append(row)
    for b, e in r["baselines"].items():
        rows.append([f"{b} (baseline)"] + [Num(e["summary"][k], f"baselines.{b}.summary.{k}", fmt)
                                           for k, (_, fmt) in METRIC_LABELS.items()])
    n_seeds = r["config"]["compare"]["seeds"]
    cap = (f"Mean ± 95% CI (Student t) over {n_seeds} seeds, on {r['data']['test_images']:,} test images of "
           f"{r['data']['name']}; val loss on {r['data']['val_images']:,} validation images. ab MSE in LAB units²; "
           f"PSNR, SSIM on sRGB 0-255; colourfulness gap = prediction − truth "
           f"({_f(next(iter(r['baselines'].values()))['summary']['colorfulness_true']):.2f} for the truth). "
           "Baselines are deterministic (no CI).")
    return Table(header, rows, cap)


def _cost_table(r: dict) -> Table:
    size = r["data"]["image_size"]
    rows = []
    for m, e in r["models"].items():
        s = e["summary"]
        rows.append([m, Num(e["params"], f"models.{m}.params", ","),
                     Num(e["forward_flops"], f"models.{m}.forward_flops", ".3f", scale=1e9),
                     Num(s["train_time_s"]["mean"], f"models.{m}.summary.train_time_s.mean", ".1f",
                         Num(s["train_time_s"]["ci"], f"models.{m}.summary.train_time_s.ci", ".1f")),
                     Num(s["train_images_per_s"]["mean"], f"models.{m}.summary.train_images_per_s.mean", ".0f"),
                     Num(s["inference_images_per_s"]["mean"], f"models.{m}.summary.inference_images_per_s.mean", ".0f")])
    cap = (f"On {r['device']} ({r['threads']} threads). Forward GFLOPs per {size[0]}x{size[1]} image (multiply and "
           "add counted apart). Training time per seed (mean ± CI), excluding validation.")
    return Table(["model", "parameters", "forward GFLOPs", "training time s", "training img/s", "inference img/s"],
                 rows, cap)


def _paired_table(r: dict) -> Table:
    rows = []
    for i, p in enumerate(r["paired"]):
        fmt = METRIC_LABELS[p["metric"]][1]
        key = f"paired.{i}"
        rows.append([f"{p['a']} − {p['b']}", METRIC_LABELS[p["metric"]][0], Num(p["mean_diff"], f"{key}.mean_diff", fmt),
                     Num(p["ci_low"], f"{key}.ci_low", fmt), Num(p["ci_high"], f"{key}.ci_high", fmt),
                     Num(p["p_bootstrap"], f"{key}.p_bootstrap", ".3g"), Num(p["p_ttest_images"], f"{key}.p_ttest_images", ".2g"),
                     f"{p['seeds_a_higher']}/{p['seeds']}", "yes" if p["significant"] else "no"])
    cap = ("Paired comparison on the same test images: per-image differences (A − B); 95% CI and p from a "
           "bootstrap that resamples both seeds and images, so training noise counts. Significant = the CI excludes 0. "
           "The t-test over images (seed-averaged) ignores seed noise and is shown for reference only. "
           "'seeds A higher' counts seeds in which A's mean was higher. No correction for multiple comparisons. "
           f"A bootstrap of {r['paired'][0].get('bootstrap_reps', 2000) if r['paired'] else 2000} resamples cannot "
           "resolve p below 1/resamples, which is its floor here.")
    return Table(["A − B", "metric", "mean diff", "CI low", "CI high", "p (bootstrap)", "p (t, images)",
                  "seeds A higher", "significant"], rows, cap)


def _study_table(r: dict) -> Table:
    rows = []
    mapping = [("CNN", "cnn", "cnn"), ("U-Net (its code: no skips)", "unet", "unet_noskip"),
               ("U-Net (as described: with skips)", "unet", "unet")]
    for label, study_key, ours in mapping:
        if ours not in r["models"]:
            continue
        st, s = r["study"][study_key], r["models"][ours]["summary"]
        rows.append([label, ours, Num(st["val_loss"], f"study.{study_key}.val_loss", ".4f"),
                     Num(s["val_loss"]["mean"], f"models.{ours}.summary.val_loss.mean", ".5f",
                         Num(s["val_loss"]["ci"], f"models.{ours}.summary.val_loss.ci", ".5f")),
                     Num(st["ab_mse"], f"study.{study_key}.ab_mse", ".2f"),
                     Num(s["ab_mse"]["mean"], f"models.{ours}.summary.ab_mse.mean", ".2f",
                         Num(s["ab_mse"]["ci"], f"models.{ours}.summary.ab_mse.ci", ".2f"))])
    return Table(["study's model", "ours", "study val loss", "our val loss", "study average MSE", "our ab MSE"], rows,
                 "Study: official CIFAR-10, 10 epochs, one seed, 'average MSE' over 5 test images. "
                 f"Ours: {r['data']['name']}, the settings above, mean ± 95% CI over seeds, all test images.")


def _pair(r: dict, a: str, b: str, metric: str) -> dict | None:
    for p in r["paired"]:
        if p["metric"] == metric and {p["a"], p["b"]} == {a, b}:
            if p["a"] == a:
                return p
            return {**p, "a": a, "b": b, "mean_diff": -_f(p["mean_diff"]), "ci_low": -_f(p["ci_high"]),
                    "ci_high": -_f(p["ci_low"]), "seeds_a_higher": p["seeds"] - p["seeds_a_higher"]}
    return None


def _verdict(r: dict) -> tuple[list[str], list[str]]:
    """The comparison in plain words, generated from the numbers."""
    models = r["models"]
    cfg = r["config"]["train"]
    s = {m: e["summary"] for m, e in models.items()}
    lines = []
    ranked = sorted(models, key=lambda m: _f(s[m]["ab_mse"]["mean"]))
    best = ranked[0]
    gray = r["baselines"].get("gray", {}).get("summary", {})
    text = f"Lowest test ab MSE: {best} ({_f(s[best]['ab_mse']['mean']):.1f}"
    if gray:
        rel = 100 * (1 - _f(s[best]["ab_mse"]["mean"]) / _f(gray["ab_mse"]))
        text += f", {abs(rel):.0f}% {'below' if rel >= 0 else 'above'} the gray baseline's {_f(gray['ab_mse']):.1f}"
    lines.append(text + ").")
    for other in ranked[1:]:
        p = _pair(r, best, other, "ab_mse")
        if p is None:
            continue
        sig = "a significant difference" if p["significant"] else "not a significant difference"
        lines.append(f"{best} vs {other}: ab MSE differs by {_f(p['mean_diff']):+.2f} (95% CI {_f(p['ci_low']):+.2f} to "
                     f"{_f(p['ci_high']):+.2f}), {sig} when seeds and images are both resampled; {best} was lower in "
                     f"{p['seeds'] - p['seeds_a_higher']} of {p['seeds']} seeds.")
    beaten = [b for b, e in r["baselines"].items() if _f(e["summary"]["ab_mse"]) <= _f(s[best]["ab_mse"]["mean"])]
    if beaten:
        who = (f"the {beaten[0]} baseline matches or beats" if len(beaten) == 1
               else f"the {' and '.join(beaten)} baselines match or beat")
        lines.append(f"Caution: {who} every model on ab MSE: these models have not learnt colour beyond "
                     "it at this training budget.")
    # the other metrics on which a baseline does at least as well as every model
    for b, e in r["baselines"].items():
        won = [k for k, hb in ((k, HIGHER_IS_BETTER[k]) for k in ("psnr", "ssim", "ciede2000", "auc")) if all(
            (_f(e["summary"][k]) >= _f(s[m][k]["mean"])) if hb else (_f(e["summary"][k]) <= _f(s[m][k]["mean"]))
            for m in models)]
        if won and b not in beaten:
            names = " and ".join(METRIC_LABELS[k][0] for k in won)
            lines.append(f"On {names} the {b} baseline does as well as or better than every model: per-pixel metrics "
                         "reward a safe, desaturated guess over a plausible colour that is wrong, so read them beside "
                         "ab MSE and colourfulness.")
    if "unet" in models and "unet_noskip" in models:
        p = _pair(r, "unet", "unet_noskip", "ab_mse")
        if p:
            word = "lower" if _f(p["mean_diff"]) < 0 else "higher"
            lines.append(f"Skip connections (unet vs unet_noskip, otherwise identical): ab MSE {word} by "
                         f"{abs(_f(p['mean_diff'])):.2f} with skips; "
                         + ("significant." if p["significant"] else "not significant at this budget."))
    if gray and any(_f(s[m]["colorfulness"]["mean"]) < _f(gray["colorfulness_true"]) for m in models):
        lines.append(f"All models are less colourful than the truth ({_f(gray['colorfulness_true']):.1f}): "
                     + ", ".join(f"{m} {_f(s[m]['colorfulness']['mean']):.1f}" for m in models)
                     + ". MSE training pulls predictions toward the mean (desaturated) colour.")
    # the study
    study_lines = []
    full = cfg["epochs"] == 10 and not cfg["train_limit"]
    study_lines.append(
        "The study trained each model once for 10 epochs on official CIFAR-10 and reported a validation loss of 0.0093 "
        "(CNN) and 0.0091 (U-Net), and an 'average MSE' of 138.58 (CNN) and 156.44 (U-Net) from 5 test images. Its "
        "U-Net code had no skip connections: our unet_noskip is that network, unet the real one.")
    setting = ("the full protocol" if full else f"a shortened protocol ({cfg['epochs']} epoch{'s' * (cfg['epochs'] != 1)} on "
               f"{cfg['train_limit'] or 'all'} training images)")
    vl = ", ".join(f"{m} {_f(s[m]['val_loss']['mean']):.5f} ± {_f(s[m]['val_loss']['ci']):.5f}" for m in models)
    study_lines.append(f"Here, with {setting} over {r['config']['compare']['seeds']} seeds, validation losses are: {vl}.")
    if "cnn" in models and "unet_noskip" in models:
        p = _pair(r, "cnn", "unet_noskip", "ab_mse")
        if p:
            verdict = ("a real difference" if p["significant"] else
                       "no difference that survives seed and image resampling")
            study_lines.append(
                f"The study's CNN-vs-U-Net verdict rested on one seed and 5 images. Over {r['data']['test_images']:,} "
                f"test images and {p['seeds']} seeds, cnn minus unet_noskip ab MSE is {_f(p['mean_diff']):+.2f} "
                f"(95% CI {_f(p['ci_low']):+.2f} to {_f(p['ci_high']):+.2f}): {verdict}.")
    if "JPEG" in r["data"]["name"]:
        study_lines.append(
            "Data caveat: these numbers are on CIFAR-10 (JPEG copy), re-encoded at JPEG quality 75 with 4:2:0 chroma "
            "subsampling, whose colour channels are smoother than the official release's; colour errors are likely "
            "lower than on official CIFAR-10, so they are not directly comparable with the study's.")
    if not full:
        study_lines.append("Losses after fewer epochs on less data are expected to be higher than the study's; "
                           "run the study preset for a like-for-like comparison.")
    return lines, study_lines


def build_report(folder: Path) -> tuple[str, list]:
    from .compare import from_strict_json

    folder = Path(folder)
    r = from_strict_json(json.loads((folder / "results.json").read_text()))
    cfg, d = r["config"], r["data"]
    title = f"colorbench compare: {', '.join(r['models'])} on {d['name']}"
    setup = (f"Preset {cfg['compare']['preset']}: {cfg['train']['epochs']} epoch{'s' * (cfg['train']['epochs'] != 1)}, batch {cfg['train']['batch_size']}, "
             f"Adam lr {cfg['train']['lr']}, MSE on ab/128, augmentation {'on' if cfg['train']['augment'] else 'off'}; "
             f"{d['train_images']:,} training / {d['val_images']:,} validation images (seeded stratified "
             f"{1 - cfg['train']['val_fraction']:.0%}/{cfg['train']['val_fraction']:.0%} split), {d['test_images']:,} "
             f"test images; {cfg['compare']['seeds']} seeds per model. Data: {d['name']} ({d['source']}, md5 "
             f"{d['digest_md5']}). colorbench {r['colorbench_version']}, torch {r['versions']['torch']}, "
             f"{r['device']}; wall time {_f(r.get('wall_time_s')) / 60:.1f} min; created {r['created']}.")
    verdict, study = _verdict(r)
    blocks = [setup, ("h2", "Results")] + verdict + [_results_table(r)]
    blocks += [("h2", "Are the differences real?"), _paired_table(r)]
    blocks += [("h2", "The study vs this run")] + study + [_study_table(r)]
    blocks += [("h2", "Cost"), _cost_table(r)]
    blocks += [("h2", "Training curves"), Figure("losses.png", plot_losses(r),
               "Training and validation loss per epoch; one line per seed. Gray lines: the baselines' validation loss.")]
    blocks += [("h2", "Per class"), Figure("per_class_ab_mse.png", plot_per_class(r, "ab_mse"),
               "Test ab MSE per class (mean over seeds), with the baselines.")]
    blocks += [("h2", "Error vs threshold"), Figure("error_curve.png", plot_error_curve(r),
               "Fraction of test pixels whose ab error is within each threshold (Zhang et al. 2016); AuC over 0-150.")]
    figs = sample_figures(folder, r)
    if figs:
        blocks += [("h2", "Samples")] + figs
    return title, blocks


def write_report(folder: Path) -> Path:
    """report.html (self-contained), report.md and figures/*.png from folder/results.json."""
    folder = Path(folder)
    if not (folder / "results.json").exists():
        raise FileNotFoundError(f"{folder}: no results.json; run `colorbench compare` first")
    title, blocks = build_report(folder)
    (folder / "figures").mkdir(exist_ok=True)
    for b in blocks:
        if isinstance(b, Figure):
            (folder / "figures" / b.name).write_bytes(b.png)
    (folder / "report.md").write_text(render_md(title, blocks))
    out = folder / "report.html"
    out.write_text(render_html(title, blocks))
    return out
