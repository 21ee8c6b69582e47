"""Colorize photos of any size with trained weights: Python API, folders of files, ONNX export.

The network runs on a downsized L (short side `size`); its ab is upsampled to full size and joined
with the full-resolution L, so the output keeps the input's exact size and sharpness (as in
Zhang et al.'s demo). Chroma that falls outside sRGB is reduced rather than clipped, so the output's
lightness stays the input's.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .color import AB_SCALE, L_SCALE, lab_to_rgb, rgb_to_lab
from .data import IMAGE_SUFFIXES, DataError, read_image
from .models import Colorizer, load_model

DEFAULT_SIZE = 128  # network input short side when the weights recommend none


def default_weights() -> Path:
    """The weights shipped in the package (see weights/MODEL_CARD.md)."""
    return Path(str(resources.files("colorbench") / "weights" / "colorbench-default.safetensors"))


@lru_cache(maxsize=4)
def _load(path: str, device: str) -> tuple[Colorizer, dict]:
    return load_model(path, device)


def load_colorizer(weights: str | os.PathLike | None = None, device: str = "cpu") -> tuple[Colorizer, dict]:
    """(model, metadata) from `weights` (a .safetensors file or run folder), default: the shipped ones."""
    return _load(str(Path(weights) if weights else default_weights()), device)


def recommended_size(info: dict) -> int:
    return int(info.get("recommended_size") or DEFAULT_SIZE)


# ---------------------------------------------------------------------------------------------
# the core: L at full resolution -> ab at full resolution


def _net_hw(h: int, w: int, size: int) -> tuple[int, int]:
    """Network input size: short side `size` (never upscaled beyond the image), aspect kept."""
    s = min(size, h, w) / min(h, w)
    return max(1, round(h * s)), max(1, round(w * s))


@torch.no_grad()
def predict_ab(model: torch.nn.Module, L: torch.Tensor, size: int) -> torch.Tensor:
    """L (B, 1, H, W) in LAB units [0, 100] -> ab (B, 2, H, W) in LAB units, at full resolution."""
    H, W = L.shape[-2:]
    h, w = _net_hw(H, W, size)
    small = F.interpolate(L / L_SCALE, size=(h, w), mode="area") if (h, w) != (H, W) else L / L_SCALE
    p = next(model.parameters())
    ab = model(small.to(p.device, p.dtype)).float().to(L.device) * AB_SCALE
    if (h, w) != (H, W):
        ab = F.interpolate(ab, size=(H, W), mode="bilinear", align_corners=False)
    return ab


def _in_gamut(rgb: torch.Tensor) -> torch.Tensor:
    """(*, 3, H, W) unclipped sRGB -> (*, H, W): representable (within rounding)?"""
    return ((rgb >= -1e-4) & (rgb <= 1 + 1e-4)).all(-3)


def _shrink_chroma(lab: torch.Tensor, steps: int) -> torch.Tensor:
    """(n, 3) out-of-gamut LAB pixels -> the same L and hue with the largest chroma (bisection on the
    factor) whose sRGB colour is representable: clipping R, G, B instead would change the lightness."""
    Lo, abo = lab[:, :1, None, None], lab[:, 1:, None, None]  # as n tiny (3, 1, 1) images
    lo, hi = torch.zeros(len(lab), 1, 1, 1), torch.ones(len(lab), 1, 1, 1)
    for _ in range(steps):
        mid = (lo + hi) / 2
        good = _in_gamut(lab_to_rgb(torch.cat([Lo, abo * mid], 1), clip=False))[:, None]
        lo, hi = torch.where(good, mid, lo), torch.where(good, hi, mid)
    return torch.cat([lab[:, :1], (abo * lo).flatten(1)], 1)  # lo is always inside: factor 0 is gray


def fit_gamut(L: torch.Tensor, ab: torch.Tensor, steps: int = 8) -> torch.Tensor:
    """ab with each out-of-gamut pixel's chroma scaled down until its sRGB colour is representable.
    L (B, 1, H, W), ab (B, 2, H, W) in LAB units."""
    lab = torch.cat([L, ab], dim=1)
    bad = ~_in_gamut(lab_to_rgb(lab, clip=False))  # (B, H, W)
    if bool(bad.any()):
        pixels = lab.permute(0, 2, 3, 1)  # a view: writing its rows writes lab
        pixels[bad] = _shrink_chroma(pixels[bad], steps)
    return lab[:, 1:]


def colorize_lightness(L: torch.Tensor, model: torch.nn.Module, size: int, steps: int = 8) -> torch.Tensor:
    """L (B, 1, H, W) in LAB units -> colorized sRGB float (B, 3, H, W) in [0, 1], chroma fitted to the
    gamut as `fit_gamut` does, with one full-resolution LAB -> RGB pass instead of two."""
    lab = torch.cat([L, predict_ab(model, L, size)], dim=1)
    rgb = lab_to_rgb(lab, clip=False)
    bad = ~_in_gamut(rgb)
    if bool(bad.any()):
        fixed = _shrink_chroma(lab.permute(0, 2, 3, 1)[bad], steps)
        rgb.permute(0, 2, 3, 1)[bad] = lab_to_rgb(fixed[:, :, None, None], clip=False)[:, :, 0, 0]
    return rgb.clamp(0, 1)


def colorize_tensor(rgb: torch.Tensor, model: torch.nn.Module, size: int) -> torch.Tensor:
    """sRGB float (B, 3, H, W) in [0, 1] (colour or gray) -> colorized sRGB float (B, 3, H, W)."""
    return colorize_lightness(rgb_to_lab(rgb)[:, :1], model, size)


def to_float(rgb: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) -> float (1, 3, H, W) in [0, 1], an own copy."""
    return torch.from_numpy(np.array(rgb, dtype=np.uint8)).permute(2, 0, 1)[None].float() / 255


def to_uint8(rgb: torch.Tensor) -> np.ndarray:
    """float (1, C, H, W) in [0, 1] -> uint8 (H, W, C)."""
    return (rgb[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()


def colorize_array(rgb: np.ndarray, model: torch.nn.Module, size: int) -> np.ndarray:
    """uint8 (H, W, 3) -> colorized uint8 (H, W, 3)."""
    return to_uint8(colorize_tensor(to_float(rgb), model, size))


def colorize(image, weights: str | os.PathLike | None = None, size: int | None = None, device: str = "cpu"):
    """Colorize PIL images, numpy arrays or tensors, one or a list (a batch).

    - PIL image (any mode): returns RGB, or RGBA when it had transparency (alpha kept).
    - numpy uint8 (H, W), (H, W, 3) or (H, W, 4): returns (H, W, 3), or (H, W, 4) with alpha kept.
    - torch float in [0, 1] or uint8, (3|1, H, W) or (B, 3|1, H, W): same dtype and shape with 3 channels.
    - a list of any of these: a list, same order.

    >>> from PIL import Image
    >>> colorize(Image.new("L", (64, 48), 128)).size
    (64, 48)
    """
    model, info = load_colorizer(weights, device)
    size = size or recommended_size(info)
    if isinstance(image, (list, tuple)):
        return [colorize(im, weights, size, device) for im in image]
    if isinstance(image, Image.Image):
        from .data import to_rgb_array

        rgb, alpha = to_rgb_array(image)
        out = colorize_array(rgb, model, size)
        if alpha is not None:
            return Image.fromarray(np.dstack([out, alpha]), "RGBA")
        return Image.fromarray(out, "RGB")
    if isinstance(image, np.ndarray):
        a = image
        if a.dtype != np.uint8:
            raise ValueError(f"numpy images must be uint8, got {a.dtype}")
        if a.ndim == 2:
            a = np.repeat(a[..., None], 3, axis=2)
        if a.ndim != 3 or a.shape[2] not in (3, 4):
            raise ValueError(f"numpy images must be (H, W), (H, W, 3) or (H, W, 4), got {image.shape}")
        out = colorize_array(a[..., :3], model, size)
        return np.dstack([out, a[..., 3]]) if a.shape[2] == 4 else out
    if isinstance(image, torch.Tensor):
        x = image[None] if image.dim() == 3 else image
        if x.dim() != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"tensors must be (3|1, H, W) or (B, 3|1, H, W), got {tuple(image.shape)}")
        f = x.float() / 255 if x.dtype == torch.uint8 else x.float()
        out = colorize_tensor(f.expand(-1, 3, -1, -1), model, size)
        out = (out * 255).round().to(torch.uint8) if x.dtype == torch.uint8 else out.to(x.dtype)
        return out[0] if image.dim() == 3 else out
    raise TypeError(f"cannot colorize a {type(image).__name__}; pass a PIL image, numpy array or tensor")


# ---------------------------------------------------------------------------------------------
# files and folders


@dataclass
class Outcome:
    src: Path
    dst: Path | None
    done: bool
    reason: str = ""


SAVE_AS = {".gif": ".png", ".ppm": ".png", ".pgm": ".png"}  # formats that cannot hold a colour photo well


def plan(inputs: Iterable[str | os.PathLike], out: Path) -> tuple[list[tuple[Path, Path]], list[Outcome]]:
    """(source, destination) pairs, and inputs refused up front (missing paths).

    One folder: out/<path inside it>. Several inputs: out/<input name>/<path inside it> for folders,
    out/<file name> for files. Explicitly named files are tried whatever their suffix; inside folders,
    only image suffixes are taken (hidden files skipped).
    """
    inputs = [Path(p) for p in inputs]
    pairs, refused = [], []
    single_folder = len(inputs) == 1 and inputs[0].is_dir()
    out_r = out.resolve()
    for inp in inputs:
        if not inp.exists():
            refused.append(Outcome(inp, None, False, "no such file or folder"))
            continue
        if inp.is_file():
            pairs.append((inp, out / inp.name))
            continue
        for p in sorted(inp.rglob("*")):
            if not p.is_file() or any(part.startswith(".") for part in p.relative_to(inp).parts):
                continue
            if out_r in p.resolve().parents:
                continue  # never colorize our own output again
            if p.suffix.lower() in IMAGE_SUFFIXES:
                rel = p.relative_to(inp)
                pairs.append((p, out / rel if single_folder else out / inp.name / rel))
    pairs = [(s, d.with_suffix(SAVE_AS.get(d.suffix.lower(), d.suffix or ".png"))) for s, d in pairs]
    return pairs, refused


def check_output_folder(inputs: Iterable[str | os.PathLike], out: Path, allow_inside: bool) -> None:
    """Refuse to write into an input folder unless asked (`--inside-input`)."""
    out_r = out.resolve()
    for inp in map(Path, inputs):
        if inp.is_dir() and not allow_inside and (out_r == inp.resolve() or inp.resolve() in out_r.parents):
            raise DataError(f"{out} is inside the input folder {inp}: pass -o with a folder elsewhere, "
                            "or --inside-input to write there anyway")


def _save(img: Image.Image, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    tmp = dst.with_name(f".{dst.name}.{os.getpid()}.tmp")
    fmt = Image.registered_extensions().get(dst.suffix.lower(), "PNG")
    if fmt == "JPEG":
        img = img.convert("RGB")
        img.save(tmp, fmt, quality=95)
    else:
        img.save(tmp, fmt)
    os.replace(tmp, dst)  # a crash never leaves a half-written photo under the real name


def colorize_files(inputs: list[str], out: str | os.PathLike, weights=None, size: int | None = None,
                   overwrite: bool = False, allow_inside: bool = False, device: str = "cpu", progress: bool = True,
                   log: Callable[[str], None] = print) -> list[Outcome]:
    """Colorize files and folders into `out`; a bad file is skipped with a one-line reason."""
    from tqdm import tqdm

    out = Path(out)
    check_output_folder(inputs, out, allow_inside)
    model, info = load_colorizer(weights, device)
    size = size or recommended_size(info)
    pairs, outcomes = plan(inputs, out)
    for o in outcomes:
        log(f"skipped {o.src}: {o.reason}")
    seen: set[Path] = set()
    bar = tqdm(pairs, desc="colorizing", unit="img", disable=not progress)
    for src, dst in bar:
        if dst in seen:
            o = Outcome(src, dst, False, f"another input also maps to {dst}")
        elif dst.exists() and not overwrite:
            o = Outcome(src, dst, False, "output exists (use --overwrite to replace it)")
        else:
            try:
                rgb, alpha = read_image(src, str(src))
                col = colorize_array(rgb, model, size)
                img = Image.fromarray(np.dstack([col, alpha]), "RGBA") if alpha is not None else Image.fromarray(col)
                _save(img, dst)
                o = Outcome(src, dst, True)
            except DataError as e:
                o = Outcome(src, dst, False, str(e).split(": ", 1)[-1])
            except MemoryError:
                o = Outcome(src, dst, False, "too large to colorize in memory")
        seen.add(dst)
        if not o.done and not o.reason.startswith("output exists"):  # a re-run: counted in the summary only
            (bar.write if progress else log)(f"skipped {src}: {o.reason}")
        outcomes.append(o)
    return outcomes


def summary_line(outcomes: list[Outcome], out: Path) -> str:
    from collections import Counter

    done = sum(o.done for o in outcomes)
    reasons = Counter("already done (--overwrite to redo)" if o.reason.startswith("output exists") else
                      "unreadable" if "cannot read" in o.reason else o.reason for o in outcomes if not o.done)
    skipped = sum(reasons.values())
    why = ", ".join(f"{n} {r}" for r, n in reasons.most_common())
    return f"done {done}, skipped {skipped}" + (f" ({why})" if why else "") + f"; output in {out}"


# ---------------------------------------------------------------------------------------------
# ONNX


def export_onnx(weights, path: str | os.PathLike, opset: int = 18) -> Path:
    """Export a checkpoint to ONNX: input "L" (batch, 1, height, width) normalised L in [0, 1],
    output "ab" (batch, 2, height, width) in [-1, 1]; batch, height and width are dynamic."""
    import logging
    import warnings

    model, info = load_colorizer(weights, "cpu")
    path = Path(path)
    example = torch.rand(2, 1, 64, 48)
    batch, h, w = (torch.export.Dim(n, min=1, max=16384) for n in ("batch", "height", "width"))
    onnx_log = logging.getLogger("torch.onnx")
    level = onnx_log.level
    onnx_log.setLevel(logging.ERROR)  # it warns about torchvision ops we never use
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prog = torch.onnx.export(model, (example,), dynamo=True, input_names=["L"], output_names=["ab"],
                                     dynamic_shapes=({0: batch, 2: h, 3: w},), opset_version=opset, verbose=False)
    finally:
        onnx_log.setLevel(level)
    prog.save(str(path))
    return path


def package_weights(run: str | os.PathLike, dest: str | os.PathLike, recommended_size: int, card: dict) -> Path:
    """Ship a trained run's weights: fp16 safetensors (half the size; on photos, outputs within one 8-bit
    level of fp32's) with the model spec, recommended network size and card facts in its metadata,
    and MODEL_CARD.md beside them, written from that same metadata so the two cannot disagree."""
    from .models import count_params, save_model

    model, info = load_model(run)
    meta = {k: info[k] for k in ("config", "epoch", "val_loss", "dataset", "elapsed") if k in info}
    meta = {**meta, "params": count_params(model), "recommended_size": recommended_size, "card": card}
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    save_model(model, dest, meta, half=True)
    _, shipped = load_model(dest)
    (dest.parent / "MODEL_CARD.md").write_text(model_card(shipped, dest))
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
