"""Colorize photos of any size with trained weights: the Python API, strips for big photos, colour hints
(files and folders: `files`).

The network runs on a downsized L (short side `size`); its ab is upsampled to full size and joined
with the full-resolution L, so the output keeps the input's exact size and sharpness (as in
Zhang et al.'s demo). Chroma that falls outside sRGB is reduced rather than clipped, so the output's
lightness stays the input's.
"""

from __future__ import annotations

import copy
import difflib
import json
import os
import re
from collections.abc import Iterable
from functools import lru_cache
from importlib import resources
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .color import AB_SCALE, L_SCALE, gray_of_lightness, lab_to_rgb, rgb_to_lab
from .config import SHIPPED, UsageError
from .hardware import autocast, resolve_device, resolve_precision
from .data import read_image
from .inputs import HINT_CHANNELS, hint_map
from .models import Colorizer, load_model, network_input

DEFAULT_SIZE = 128  # network input short side when the weights recommend none


def shipped_weights(name: str = "default") -> Path:
    """Weights shipped in the package, by name (see weights/MODEL_CARD.md)."""
    folder = Path(str(resources.files("colorbench") / "weights"))
    return next((folder / f for f in SHIPPED[name] if (folder / f).is_file()), folder / SHIPPED[name][-1])


def default_weights() -> Path:
    return shipped_weights("default")


@lru_cache(maxsize=4)
def _load(path: str, device: str, temperature: float | None = None) -> tuple[Colorizer, dict]:
    model, info = load_model(path, device)
    if temperature is not None:  # its own cached copy: the weights' own T stays with the other
        if not temperature > 0:
            raise UsageError(f"--temperature must be more than 0, not {temperature}")
        if not decodes_bins(model):
            raise UsageError(f"--temperature: the weights {path} predict ab directly, with no colour bins to decode; "
                             "it applies to classification weights (the shipped default and hints), so drop it here")
        model.decode.temperature.fill_(temperature)
    return model, {**info, "path": path}


def decodes_bins(model: torch.nn.Module) -> bool:
    """Whether the weights score colour bins and decode them at an annealed-mean temperature (the
    classification objective), rather than predict ab directly."""
    return isinstance(getattr(getattr(model, "decode", None), "bins", None), torch.Tensor)


def at_temperature(model: Colorizer, temperature: float) -> Colorizer:
    """A copy of classification weights that decodes at another annealed-mean T; the model given keeps its own."""
    other = copy.deepcopy(model)
    other.decode.temperature.fill_(temperature)
    return other


def by_colour(model: Colorizer, temperatures: Iterable[float], photos: int = 40) -> list[float]:
    """The annealed-mean temperatures in order of the colour they give, least first, measured (mean
    chroma) on photos of the shipped sample: which way colour goes with T depends on the weights (the
    shipped default's mode is often near gray, so its colour grows with T; weights with vivid modes
    grow duller). Weights that predict ab directly: []."""
    import tarfile

    from .data import sample_archive

    if not decodes_bins(model):
        return []
    with tarfile.open(sample_archive()) as tar:
        members = [m for m in tar.getmembers() if m.isfile() and m.name.endswith(".jpg")]
        step = max(1, len(members) // photos)
        rgb = np.stack([read_image(tar.extractfile(m).read(), m.name)[0] for m in members[::step][:photos]])
    L = rgb_to_lab(torch.from_numpy(rgb).permute(0, 3, 1, 2).float() / 255)[:, :1]
    probe = at_temperature(model, 1.0)
    chroma = {}
    for t in sorted(set(temperatures)):
        probe.decode.temperature.fill_(t)
        chroma[t] = float(predict_ab(probe, L, L.shape[-1]).norm(dim=1).mean())
    return sorted(chroma, key=chroma.get)


def weights_path(weights: str | os.PathLike | None = None) -> Path:
    """The file or run folder `weights` names: the name of shipped weights ("default", "study"; None:
    the default), or a path. A bare name that is neither is a usage error naming the shipped ones."""
    name = str(weights) if weights is not None else "default"
    if name in SHIPPED:
        return shipped_weights(name)
    path = Path(name)
    if not path.exists() and len(path.parts) == 1 and not path.suffix:  # "studdy": a name, not a path
        close = difflib.get_close_matches(name, SHIPPED, n=1)
        raise UsageError(f"unknown weights {name!r}" + (f" (did you mean {close[0]!r}?)" if close else "")
                         + f"; shipped: {', '.join(SHIPPED)}; or a .safetensors file or run folder colorbench wrote")
    return path


def load_colorizer(weights: str | os.PathLike | None = None, device: str = "cpu",
                   hints: bool = False, temperature: float | None = None) -> tuple[Colorizer, dict]:
    """(model, metadata) from `weights`: a .safetensors file or run folder, or the name of shipped
    weights ("default", "study", "hints"); None: the default ones. `hints`: colour hints will be given,
    so None (or "default") means the shipped weights that take them (`hint_weights`), and weights that
    cannot take them are refused in one line. `temperature`: decode classification weights at this
    annealed-mean T instead of their own (which way is more colourful depends on the weights: for the
    shipped default, higher); weights that predict ab directly refuse it."""
    if hints and (weights is None or str(weights) == "default"):
        weights = hint_weights()
    model, info = _load(str(weights_path(weights)), str(resolve_device(device)), temperature)
    if hints and model.in_channels != HINT_CHANNELS:
        raise UsageError(f"the weights {weights or 'default'} see {model.in_channels} input channel(s), not L with "
                         f"colour hints ({HINT_CHANNELS}); give hints to --weights hints (or default), or drop them")
    return model, info


def hint_weights() -> str:
    """The shipped weights to use with colour hints: the default ones when they take hints, else "hints"
    (automatic colour keeps the default weights when the guided ones lose quality without hints)."""
    from .persist import read_header

    _, info = read_header(shipped_weights("default"), "weights file")
    inputs = ((info.get("model") or {}).get("kwargs") or {}).get("in_channels", 1)
    return "default" if inputs == HINT_CHANNELS else "hints"


def recommended_size(info: dict) -> int:
    """The short side the weights were made for: the packaged file's recommendation, else the size a run
    trained at (photo runs crop to it), else DEFAULT_SIZE (a run at native size, as CIFAR-10's 32 px, says
    nothing of photos)."""
    return int(info.get("recommended_size") or (info.get("config") or {}).get("size") or DEFAULT_SIZE)


# ---------------------------------------------------------------------------------------------
# colour hints: points (x, y) in pixels of the photo as displayed (EXIF orientation applied, origin
# top-left), each with an sRGB colour of which only the chroma is used


HEX_COLOR = re.compile(r"#[0-9a-fA-F]{6}")


def hex_to_ab(color: str) -> tuple[float, float]:
    """'#rrggbb' -> its (a, b) in LAB units: the chroma a hint gives; its lightness is never used."""
    rgb = torch.tensor([int(color[i:i + 2], 16) for i in (1, 3, 5)], dtype=torch.float64).view(1, 3, 1, 1) / 255
    a, b = rgb_to_lab(rgb).flatten()[1:].tolist()
    return a, b


def check_hints(hints, width: int, height: int, where: str = "hints") -> torch.Tensor:
    """Colour hints, checked -> (N, 4) float: x and y as fractions of the photo's width and height (pixel
    centres), a/128, b/128. `hints`: a list of (x, y, "#rrggbb") or {"x": .., "y": .., "color": ..};
    anything else is a UsageError (a ValueError) naming the point and what to do."""
    if not isinstance(hints, (list, tuple)):
        raise UsageError(f"{where}: hints must be a list of points like [{{\"x\": 120, \"y\": 80, \"color\": "
                         f"\"#c03020\"}}], got {type(hints).__name__}")
    rows = []
    for i, h in enumerate(hints, 1):
        if isinstance(h, dict) and set(h) == {"x", "y", "color"}:
            x, y, color = h["x"], h["y"], h["color"]
        elif isinstance(h, (list, tuple)) and len(h) == 3:
            x, y, color = h
        else:
            raise UsageError(f"{where}: point {i} is {json.dumps(h, default=str)[:80]}, not {{\"x\": X, \"y\": Y, "
                             f"\"color\": \"#rrggbb\"}} (or (x, y, \"#rrggbb\") in Python)")
        if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in (x, y)):
            raise UsageError(f"{where}: point {i}: x and y must be numbers of pixels, got {x!r}, {y!r}")
        if not (0 <= x < width and 0 <= y < height):
            raise UsageError(f"{where}: point {i} at ({x}, {y}) is outside the photo, which is {width} x {height} "
                             f"pixels as displayed (x from 0 to {width - 1}, y from 0 to {height - 1}, origin top-left)")
        if not isinstance(color, str) or not HEX_COLOR.fullmatch(color):
            raise UsageError(f"{where}: point {i}: colour {color!r} is not an sRGB hex colour '#rrggbb' (e.g. '#c03020')")
        a, b = hex_to_ab(color)
        rows.append([(x + 0.5) / width, (y + 0.5) / height, a / AB_SCALE, b / AB_SCALE])
    return torch.tensor(rows, dtype=torch.float32).view(-1, 4)


def read_hints(path: str | os.PathLike) -> list:
    """A hints file: JSON, a list like [{"x": 120, "y": 80, "color": "#c03020"}] (checked against the
    photo by `check_hints`)."""
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise UsageError(f"--hints {path}: no such file; pass a JSON file like [{{\"x\": 120, \"y\": 80, "
                         "\"color\": \"#c03020\"}]") from None
    except (UnicodeDecodeError, json.JSONDecodeError, IsADirectoryError) as e:
        raise UsageError(f"--hints {path}: not a JSON file ({str(e).splitlines()[0][:80]}); write a list like "
                         '[{"x": 120, "y": 80, "color": "#c03020"}]') from None
    if not isinstance(data, list):
        raise UsageError(f"--hints {path}: holds a JSON {type(data).__name__}, not a list of points like "
                         '[{"x": 120, "y": 80, "color": "#c03020"}]')
    return data


def parse_hint_arg(text: str) -> tuple[float, float, str]:
    """`--hint 120,80,#c03020` -> (120, 80, "#c03020"), shape only (the range is checked with the photo)."""
    parts = text.split(",")
    try:
        if len(parts) != 3:
            raise ValueError
        x, y = (float(v) if "." in v else int(v) for v in parts[:2])
    except ValueError:
        raise UsageError(f"--hint {text!r}: write X,Y,#rrggbb (pixels of the photo as displayed, e.g. "
                         "--hint 120,80,#c03020)") from None
    return x, y, parts[2].strip()


# ---------------------------------------------------------------------------------------------
# the core: L at full resolution -> ab at full resolution


def mirrored(model: torch.nn.Module, x: torch.Tensor) -> torch.Tensor:
    """The network's output averaged with its output for the mirror image (flipped back), in one batch.
    Photos are as likely mirrored, so the two guesses differ by the network's own noise and their mean is
    a little nearer the truth: held-out ImageNet 23.25 dB / CIEDE2000 10.94 against 23.20 / 11.00 for one
    pass, 1 point less colour (chosen on 100 training-side photos: +0.03 dB, -0.06 CIEDE2000; 2026-12-02, when L
    was shrunk by an area average)."""
    n = x.shape[0]
    out = model(torch.cat([x, x.flip(-1)]))
    return (out[:n] + out[n:].flip(-1)) / 2


class Mirrored(torch.nn.Module):
    """`mirrored` as a module, for export: the ONNX graph gives what `colorize` gives."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return mirrored(self.model, x)


def _net_hw(h: int, w: int, size: int) -> tuple[int, int]:
    """Network input size: short side `size` (never upscaled beyond the image), aspect kept."""
    s = min(size, h, w) / min(h, w)
    return max(1, round(h * s)), max(1, round(w * s))


def shrink(x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    """L/100 (B, 1, H, W) -> (B, 1, h, w) as training photos are shrunk (data.py: PIL's bicubic, antialiased),
    within [0, 1]. An area average gives the network softer input than any training image: on held-out scenes
    (128 -> 64 px) it cost a pretext-encoder chain 9.6 of ab MSE (148.6 against 139.0) and the default 1.0."""
    return _resample(x, hw).clamp(0, 1)


def _resample(x: torch.Tensor, hw: tuple[int, int]) -> torch.Tensor:
    if tuple(x.shape[-2:]) == tuple(hw):
        return x
    return F.interpolate(x, size=hw, mode="bicubic", antialias=True, align_corners=False)


@torch.no_grad()
def predict_ab(model: torch.nn.Module, L: torch.Tensor, size: int, precision: str = "fp32",
               hints: torch.Tensor | None = None) -> torch.Tensor:
    """L (B, 1, H, W) in LAB units [0, 100] -> ab (B, 2, H, W) in LAB units, at full resolution.
    hints: (N, 4) from `check_hints` (or one (N, 4) per image, (B, N, 4)), placed at the network's size."""
    H, W = L.shape[-2:]
    h, w = _net_hw(H, W, size)
    small = shrink(L / L_SCALE, (h, w))
    p = next(model.parameters())
    hint = None
    if hints is not None:
        if model.in_channels != HINT_CHANNELS:
            raise UsageError(f"these weights see {model.in_channels} input channel(s), not L with colour hints "
                             f"({HINT_CHANNELS}); use weights trained with hints (--weights hints)")
        per_image = hints if hints.dim() == 3 else hints[None].expand(len(L), -1, -1)
        hint = torch.cat([hint_map(pts[:, :2], pts[:, 2:], h, w) for pts in per_image]).to(p.device, p.dtype)
    with autocast(p.device, precision):
        x = network_input(small.to(p.device, p.dtype), model.in_channels, hints=hint)
        ab = mirrored(model, x).float().to(L.device) * AB_SCALE
    if (h, w) != (H, W):
        ab = F.interpolate(ab, size=(H, W), mode="bilinear", align_corners=False)
    return ab


@torch.no_grad()
def suggest_colors(model: torch.nn.Module, small: torch.Tensor, light: float, fx: float, fy: float,
                   hints: torch.Tensor | None = None, k: int = 6, apart: float = 15.0) -> list[dict]:
    """The colours the network finds most likely at a point of a photo, as SIGGRAPH 2017's colour
    suggestions. small: the photo's L/100 at the network's size (1, 1, h, w); light: the photo's own L
    (LAB units) at the point; fx, fy: the point as fractions of the width and height; hints: as for
    `predict_ab` (the other points change what is likely here). Returns up to k [{"color": "#rrggbb",
    "p": probability}], most likely first, each at the photo's lightness there and at least `apart` LAB
    units from a likelier one; [] when the weights predict no distribution over colours (regression)."""
    if not decodes_bins(model):
        return []
    bins = model.decode.bins
    h, w = small.shape[-2:]
    p = next(model.parameters())
    hint = None
    if hints is not None and model.in_channels == HINT_CHANNELS:
        hint = hint_map(hints[:, :2], hints[:, 2:], h, w).to(p.device, p.dtype)
    raw = model.raw(network_input(small.to(p.device, p.dtype), model.in_channels, hints=hint)).float()
    s = model.head_stride
    r, c = min(int(fy * h) // s, raw.shape[-2] - 1), min(int(fx * w) // s, raw.shape[-1] - 1)
    prob = torch.softmax(raw[0, :, r, c], 0).cpu()  # the classifier's own distribution (T = 1)
    chosen: list[int] = []
    for i in prob.argsort(descending=True)[: 8 * k].tolist():
        if all(torch.dist(bins[i], bins[j]) * AB_SCALE >= apart for j in chosen):
            chosen.append(i)
        if len(chosen) == k:
            break
    lab = torch.cat([torch.full((len(chosen), 1), float(light)), bins[chosen].cpu().float() * AB_SCALE], 1)
    rgb = _fit_lab(lab[:, :, None, None].clone(), 8).clamp(0, 1)[:, :, 0, 0]
    return [{"color": "#" + "".join(f"{round(v * 255):02x}" for v in px.tolist()), "p": round(float(prob[i]), 4)}
            for px, i in zip(rgb, chosen)]


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


def _fit_lab(lab: torch.Tensor, steps: int) -> torch.Tensor:
    """LAB (B, 3, H, W) -> its sRGB (unclipped), after scaling the chroma of out-of-gamut pixels (in
    `lab`, in place) down until they are representable: one full-resolution LAB -> RGB pass, then
    only the few bad pixels again."""
    rgb = lab_to_rgb(lab, clip=False)
    bad = ~_in_gamut(rgb)  # (B, H, W)
    if bool(bad.any()):
        pixels = lab.permute(0, 2, 3, 1)  # a view: writing its rows writes lab
        fixed = _shrink_chroma(pixels[bad], steps)
        pixels[bad] = fixed
        rgb.permute(0, 2, 3, 1)[bad] = lab_to_rgb(fixed[:, :, None, None], clip=False)[:, :, 0, 0]
    return rgb


def fit_gamut(L: torch.Tensor, ab: torch.Tensor, steps: int = 8) -> torch.Tensor:
    """ab with each out-of-gamut pixel's chroma scaled down until its sRGB colour is representable.
    L (B, 1, H, W), ab (B, 2, H, W) in LAB units."""
    lab = torch.cat([L, ab], dim=1)
    _fit_lab(lab, steps)
    return lab[:, 1:]


def colorize_lightness(L: torch.Tensor, model: torch.nn.Module, size: int, steps: int = 8,
                       precision: str = "fp32", hints: torch.Tensor | None = None) -> torch.Tensor:
    """L (B, 1, H, W) in LAB units -> colorized sRGB float (B, 3, H, W) in [0, 1], chroma fitted to the
    gamut (`fit_gamut`) so the output's lightness stays the input's. hints: as for `predict_ab`."""
    lab = torch.cat([L, predict_ab(model, L, size, precision, hints)], dim=1)
    return _fit_lab(lab, steps).clamp(0, 1)


def colorize_tensor(rgb: torch.Tensor, model: torch.nn.Module, size: int, precision: str = "fp32",
                    hints: torch.Tensor | None = None) -> torch.Tensor:
    """sRGB float (B, 3, H, W) in [0, 1] (colour or gray) -> colorized sRGB float (B, 3, H, W)."""
    return colorize_lightness(rgb_to_lab(rgb)[:, :1], model, size, precision=precision, hints=hints)


def to_float(rgb: np.ndarray) -> torch.Tensor:
    """uint8 (H, W, 3) -> float (1, 3, H, W) in [0, 1], an own copy."""
    return torch.from_numpy(np.array(rgb, dtype=np.uint8)).permute(2, 0, 1)[None].float() / 255


def to_uint8(rgb: torch.Tensor) -> np.ndarray:
    """float (1, C, H, W) in [0, 1] -> uint8 (H, W, C)."""
    return (rgb[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()


def colorize_array(rgb: np.ndarray, model: torch.nn.Module, size: int, precision: str = "fp32",
                   hints: torch.Tensor | None = None) -> np.ndarray:
    """uint8 (H, W, 3) -> colorized uint8 (H, W, 3)."""
    return to_uint8(colorize_tensor(to_float(rgb), model, size, precision, hints))


def colorize(image, weights: str | os.PathLike | None = None, size: int | None = None, device: str = "cpu",
             precision: str = "fp32", hints: list | None = None, temperature: float | None = None):
    """Colorize image files, PIL images, numpy arrays or tensors, one or a list (a batch).

    hints: colour points for one photo, [(x, y, "#rrggbb"), ...] (or dicts with x, y, color), x and y in
    pixels of the photo as displayed (EXIF orientation applied; origin top-left); only each colour's
    chroma is used, the photo keeps its own lightness. With hints and no `weights`, the shipped weights
    that take hints are used; weights that cannot take them are refused (a ValueError).
    temperature: classification weights' annealed-mean T (`load_colorizer`); for the default, higher is
    more colourful and less exact (README gives the measured trade).

    - a path (str or Path) of an image file: returns a PIL image, as for a PIL image.
    - PIL image (any mode): returns RGB, or RGBA when it had transparency (alpha kept).
    - numpy uint8 (H, W), (H, W, 3) or (H, W, 4): returns (H, W, 3), or (H, W, 4) with alpha kept.
    - torch float in [0, 1] or uint8, (3|1, H, W) or (B, 3|1, H, W): same dtype and shape with 3 channels.
    - a list of any of these: a list, same order.

    >>> from PIL import Image
    >>> colorize(Image.new("L", (64, 48), 128)).size
    (64, 48)
    """
    if isinstance(image, (list, tuple)) and hints is not None:
        raise UsageError("hints are points of one photo: colorize one image at a time when giving hints")
    model, info = load_colorizer(weights, device, hints=hints is not None, temperature=temperature)
    size = size or recommended_size(info)
    precision = resolve_precision(precision, resolve_device(device))
    points = lambda h, w: None if hints is None else check_hints(hints, w, h)  # noqa: E731
    if isinstance(image, (list, tuple)):
        return [colorize(im, weights, size, device, precision, temperature=temperature) for im in image]
    if isinstance(image, (str, os.PathLike, Image.Image)):
        from .data import to_rgb_array

        if not isinstance(image, Image.Image) and not Path(image).is_file():
            raise FileNotFoundError(f"{image}: no such image file")
        rgb, alpha = to_rgb_array(image) if isinstance(image, Image.Image) else read_image(Path(image), str(image))
        out = colorize_array(rgb, model, size, precision, points(*rgb.shape[:2]))
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
        out = colorize_array(a[..., :3], model, size, precision, points(*a.shape[:2]))
        return np.dstack([out, a[..., 3]]) if a.shape[2] == 4 else out
    if isinstance(image, torch.Tensor):
        x = image[None] if image.dim() == 3 else image
        if x.dim() != 4 or x.shape[1] not in (1, 3):
            raise ValueError(f"tensors must be (3|1, H, W) or (B, 3|1, H, W), got {tuple(image.shape)}")
        f = x.float() / 255 if x.dtype == torch.uint8 else x.float()
        if hints is not None and len(x) != 1:
            raise UsageError(f"hints are points of one photo, got a batch of {len(x)}: colorize one image at a time")
        out = colorize_tensor(f.expand(-1, 3, -1, -1), model, size, precision, points(*x.shape[-2:]))
        out = (out * 255).round().to(torch.uint8) if x.dtype == torch.uint8 else out.to(x.dtype)
        return out[0] if image.dim() == 3 else out
    raise TypeError(f"cannot colorize a {type(image).__name__}; pass an image file's path, a PIL image, a numpy "
                    "array or a tensor")


# ---------------------------------------------------------------------------------------------
# big photos in bounded memory (`colorbench serve`)

STRIP_PIXELS = 1 << 20  # pixels per strip: each float copy of a strip is a few MB, whatever the photo's size


def _strip_lightness(rgb: np.ndarray) -> torch.Tensor:
    """uint8 (h, W, 3) -> L (1, 1, h, W) in LAB units, by the uint8 fast path (rgb_to_lab's values within
    float rounding, twice as fast: each strip's L is made twice)."""
    from .color import uint8_to_lab

    chw = torch.from_numpy(rgb.transpose(2, 0, 1).copy())  # a copy: a decoded photo may be read-only
    return uint8_to_lab(chw[None])[:, :1] * L_SCALE


def _bilinear_rows(x: torch.Tensor, H: int, r0: int, r1: int) -> torch.Tensor:
    """Rows r0:r1 of `x` (B, C, h, W) stretched to H rows: the rows that F.interpolate(mode="bilinear",
    align_corners=False) gives for the whole height (same coordinate mapping), without making the others."""
    h = x.shape[-2]
    src = ((torch.arange(r0, r1, dtype=torch.float32) + 0.5) * (h / H) - 0.5).clamp(min=0)
    y0 = src.floor().long().clamp(max=h - 1)
    w = (src - y0).clamp(0, 1).view(-1, 1)
    return x[..., y0, :] * (1 - w) + x[..., (y0 + 1).clamp(max=h - 1), :] * w


def network_lightness(rgb: np.ndarray, size: int, strip_pixels: int = STRIP_PIXELS) -> torch.Tensor:
    """uint8 (H, W, 3) -> L in LAB units at the network's size (1, 1, h, w), from strips of rows (no
    full-size float image): predict_ab's `shrink` (separable) in two steps, each strip to the network's width,
    then all rows to its height."""
    H, W = rgb.shape[:2]
    h, w = _net_hw(H, W, size)
    rows = max(1, strip_pixels // W)
    narrow = torch.cat([_resample(_strip_lightness(rgb[r:r + rows]) / L_SCALE, (min(rows, H - r), w))
                        for r in range(0, H, rows)], dim=2)
    return shrink(narrow, (h, w)) * L_SCALE


@torch.no_grad()
def colorize_strips(rgb: np.ndarray, model: torch.nn.Module, size: int, steps: int = 8, precision: str = "fp32",
                    strip_pixels: int = STRIP_PIXELS, hints: torch.Tensor | None = None) -> tuple[np.ndarray, np.ndarray]:
    """uint8 (H, W, 3) -> (colorized uint8 (H, W, 3), the gray the network is given, uint8 (H, W)).

    The same result as colorize_array (within float rounding) without any full-size float image: the
    network's small input is averaged from strips of rows, and its small ab is stretched and applied
    strip by strip, so the memory beyond the uint8 images stays a few strips' worth."""
    H, W = rgb.shape[:2]
    h, w = _net_hw(H, W, size)
    rows = max(1, strip_pixels // W)
    strips = range(0, H, rows)
    ab = predict_ab(model, network_lightness(rgb, size, strip_pixels), size, precision, hints)  # network size
    ab = F.interpolate(ab, size=(h, W), mode="bilinear", align_corners=False)  # widths now, heights per strip
    color, gray = np.empty((H, W, 3), np.uint8), np.empty((H, W), np.uint8)
    for r in strips:
        L = _strip_lightness(rgb[r:r + rows])
        lab = torch.cat([L, _bilinear_rows(ab, H, r, r + L.shape[-2])], dim=1)
        color[r:r + rows] = to_uint8(_fit_lab(lab, steps).clamp(0, 1))
        gray[r:r + rows] = to_uint8(gray_of_lightness(L)[:, :1])[..., 0]
    return color, gray
