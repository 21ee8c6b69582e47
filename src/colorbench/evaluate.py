"""Metrics over a whole test set, batched: per-image values, per-class means and summaries.

No plots, no printing. Every metric is a pure function on batched tensors, tested against skimage or
hand-computed values:
  mse           MSE of normalised ab (ab/128), the study's loss
  ab_mse        per-pixel squared ab error in LAB units, averaged over a and b (the study's "average MSE")
  psnr, ssim    on the sRGB image rebuilt from the input's L and the predicted ab, 0-255 scale
                (PSNR: mean of per-image values, an exact match counted as 100 dB; inf if all are exact);
                SSIM with an 11x11 Gaussian window, sigma 1.5, averaged over R, G, B
  ciede2000     mean CIEDE2000 between predicted and true LAB
  colorfulness  Hasler & Suesstrunk (2003) of the prediction; colorfulness_true of the original
  auc           area under the cumulative ab-error curve for thresholds 0..150 (Zhang et al. 2016), in [0, 1]
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

import torch
import torch.nn.functional as F

from .color import AB_SCALE, denormalize_lab, lab_to_rgb, uint8_to_lab
from .hardware import autocast, sync
from .inputs import network_input

METRICS = ["mse", "ab_mse", "psnr", "ssim", "ciede2000", "colorfulness", "colorfulness_true", "auc"]
HIGHER_IS_BETTER = {"mse": False, "ab_mse": False, "psnr": True, "ssim": True, "ciede2000": False,
                    "colorfulness": True, "colorfulness_true": True, "auc": True}
THRESHOLDS = torch.arange(151)  # ab error thresholds 0..150 for the cumulative curve
PSNR_CAP = 100.0  # dB: an exact 8-bit match (inf) counts as this in means and paired tests


def psnr(a: torch.Tensor, b: torch.Tensor, data_range: float = 255.0) -> torch.Tensor:
    """Per-image PSNR in dB of (B, C, H, W) images; inf where they are identical."""
    mse = (a.double() - b.double()).pow(2).flatten(1).mean(1)
    return 10 * torch.log10(data_range**2 / mse)  # x/0 = inf: identical images


def _gaussian_window(size: int, sigma: float, dtype, device) -> torch.Tensor:
    x = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim(a: torch.Tensor, b: torch.Tensor, data_range: float = 255.0, win: int = 11, sigma: float = 1.5,
         dtype: torch.dtype | None = torch.float64) -> torch.Tensor:
    """Per-image SSIM of (B, C, H, W) images (Wang et al. 2004), mean over channels and over the
    pixels whose window lies inside the image (as skimage's `structural_similarity` with
    `gaussian_weights=True, sigma=1.5, use_sample_covariance=False`). Images smaller than the window
    use a window of their size. Computed in `dtype` (float64 for the metrics; None: the images' own,
    as the SSIM loss trains with it); differentiable."""
    if dtype is not None:
        a, b = a.to(dtype), b.to(dtype)
    win = min(win, a.shape[-1], a.shape[-2])
    win -= 1 - win % 2  # odd
    g = _gaussian_window(win, sigma, a.dtype, a.device)

    def band(n: int) -> torch.Tensor:  # (n, n - win + 1): column j holds the window at rows j..j+win-1
        m = torch.zeros(n, n - win + 1, dtype=a.dtype, device=a.device)
        for j in range(n - win + 1):
            m[j : j + win, j] = g
        return m

    C = a.shape[1]
    if max(a.shape[-2:]) <= 64:  # small images (CIFAR): two float64 matrix products beat the slow
        kw, kh = band(a.shape[-1]), band(a.shape[-2])  # depthwise float64 convolution path 3x

        def blur(x):  # separable, valid: no padding, so no border effects
            return kh.T @ (x @ kw)
    else:  # photos: a banded matrix would cost a row per pixel; 11 taps do not
        kx, ky = g.view(1, 1, 1, win).repeat(C, 1, 1, 1), g.view(1, 1, win, 1).repeat(C, 1, 1, 1)

        def blur(x):
            return F.conv2d(F.conv2d(x, kx, groups=C), ky, groups=C)

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a**2
    var_b = blur(b * b) - mu_b**2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.flatten(1).mean(1)


def ciede2000(lab1: torch.Tensor, lab2: torch.Tensor) -> torch.Tensor:
    """CIEDE2000 colour difference (Sharma, Wu & Dalal 2005) of LAB tensors (*, 3, H, W) -> (*, H, W)."""
    lab1, lab2 = lab1.double(), lab2.double()
    L1, a1, b1 = lab1.unbind(-3)
    L2, a2, b2 = lab2.unbind(-3)
    cbar7 = ((torch.hypot(a1, b1) + torch.hypot(a2, b2)) / 2) ** 7
    G = 0.5 * (1 - torch.sqrt(cbar7 / (cbar7 + 25.0**7)))
    a1p, a2p = (1 + G) * a1, (1 + G) * a2
    C1p, C2p = torch.hypot(a1p, b1), torch.hypot(a2p, b2)
    h1p = torch.atan2(b1, a1p) % (2 * math.pi)  # atan2(0, 0) = 0, as the definition asks
    h2p = torch.atan2(b2, a2p) % (2 * math.pi)
    zero = (C1p * C2p) == 0

    dLp, dCp = L2 - L1, C2p - C1p
    dh = h2p - h1p
    dh = torch.where(dh > math.pi, dh - 2 * math.pi, torch.where(dh < -math.pi, dh + 2 * math.pi, dh))
    dh = torch.where(zero, torch.zeros_like(dh), dh)
    dHp = 2 * torch.sqrt(C1p * C2p) * torch.sin(dh / 2)

    Lbp, Cbp = (L1 + L2) / 2, (C1p + C2p) / 2
    hsum = h1p + h2p
    hbp = torch.where((h1p - h2p).abs() <= math.pi, hsum / 2,
                      torch.where(hsum < 2 * math.pi, (hsum + 2 * math.pi) / 2, (hsum - 2 * math.pi) / 2))
    hbp = torch.where(zero, hsum, hbp)
    deg = math.pi / 180
    T = (1 - 0.17 * torch.cos(hbp - 30 * deg) + 0.24 * torch.cos(2 * hbp) + 0.32 * torch.cos(3 * hbp + 6 * deg)
         - 0.20 * torch.cos(4 * hbp - 63 * deg))
    dtheta = 30 * deg * torch.exp(-(((hbp / deg - 275) / 25) ** 2))
    cbp7 = Cbp**7
    Rc = 2 * torch.sqrt(cbp7 / (cbp7 + 25.0**7))
    Sl = 1 + 0.015 * (Lbp - 50) ** 2 / torch.sqrt(20 + (Lbp - 50) ** 2)
    Sc = 1 + 0.045 * Cbp
    Sh = 1 + 0.015 * Cbp * T
    Rt = -torch.sin(2 * dtheta) * Rc
    l, c, h = dLp / Sl, dCp / Sc, dHp / Sh
    return torch.sqrt(l**2 + c**2 + h**2 + Rt * c * h)


def colorfulness(rgb: torch.Tensor) -> torch.Tensor:
    """Hasler & Suesstrunk (2003) colourfulness of (B, 3, H, W) sRGB images on the 0-255 scale."""
    R, G, B = rgb.double().unbind(1)
    rg, yb = R - G, 0.5 * (R + G) - B
    std = torch.sqrt(rg.flatten(1).var(1, correction=0) + yb.flatten(1).var(1, correction=0))
    mean = torch.hypot(rg.flatten(1).mean(1), yb.flatten(1).mean(1))
    return std + 0.3 * mean


def picture_metrics(rgb_pred: torch.Tensor, rgb_true: torch.Tensor, lab_pred: torch.Tensor,
                    lab_true: torch.Tensor) -> dict[str, torch.Tensor]:
    """Per-image PSNR (inf where exact; means count it as PSNR_CAP), SSIM, mean CIEDE2000 and
    colourfulness of a saved picture against the truth: the one owner of these metrics, for the test
    set (`image_metrics`) and for full-size photos (photos.py). rgb_*: (B, 3, H, W) sRGB on 0-255;
    lab_*: (B, 3, H, W) CIE LAB in its own units."""
    return {"psnr": psnr(rgb_pred, rgb_true), "ssim": ssim(rgb_pred, rgb_true),
            "ciede2000": ciede2000(lab_pred, lab_true).flatten(1).mean(1), "colorfulness": colorfulness(rgb_pred)}


def image_metrics(L: torch.Tensor, ab_pred: torch.Tensor, ab_true: torch.Tensor,
                  rgb_true: torch.Tensor) -> tuple[dict[str, torch.Tensor], torch.Tensor]:
    """Per-image metrics of one batch, and per-image counts of pixels at each ab-error threshold.

    L, ab_*: normalised (B, 1|2, H, W); rgb_true: the original uint8 (B, 3, H, W).
    """
    ab_pred, ab_true = ab_pred.float(), ab_true.float()
    lab_pred, lab_true = denormalize_lab(L, ab_pred), denormalize_lab(L, ab_true)
    rgb_pred = (lab_to_rgb(lab_pred) * 255).round()  # the picture a user would save, 8 bits
    rgb_true = rgb_true.float()
    mse = (ab_pred - ab_true).pow(2).flatten(1).mean(1)
    err = torch.linalg.vector_norm((ab_pred - ab_true) * AB_SCALE, dim=1).flatten(1)  # (B, H*W) ab distance
    bins = torch.bucketize(err, THRESHOLDS.to(err), right=False)  # first threshold >= err
    counts = torch.zeros(len(err), len(THRESHOLDS) + 1, device=err.device).scatter_add_(1, bins, torch.ones_like(err))
    within = counts.cumsum(1)[:, : len(THRESHOLDS)] / err.shape[1]  # (B, 151) fraction with err <= t
    out = {
        "mse": mse.double(),
        "ab_mse": mse.double() * AB_SCALE**2,
        **picture_metrics(rgb_pred, rgb_true, lab_pred, lab_true),
        "colorfulness_true": colorfulness(rgb_true),
        "auc": within.double().mean(1),
    }
    return out, within


Predictor = Callable[[torch.Tensor], torch.Tensor]  # normalised L (B, 1, H, W) -> ab (B, 2, H, W)


@torch.no_grad()
def evaluate(predict: Predictor, images: torch.Tensor, labels: torch.Tensor, classes: list[str],
             batch_size: int = 500, device: str | torch.device = "cpu") -> dict:
    """Run `predict` over every image; return per-image tensors, per-class means and a summary.

    Returns {"summary": {metric: float}, "per_class": {metric: [float per class]},
             "curve": [fraction of pixels within t, t = 0..150], "per_image": {metric: (N,) tensor},
             "inference_images_per_s": float}.
    """
    device = torch.device(device)
    per: dict[str, list[torch.Tensor]] = {k: [] for k in METRICS}
    curve = torch.zeros(len(THRESHOLDS), dtype=torch.float64)
    t_pred = 0.0
    for i in range(0, len(images), batch_size):
        x = images[i : i + batch_size].to(device)
        lab = uint8_to_lab(x)
        L, ab = lab[:, :1], lab[:, 1:]
        sync(device)
        t0 = time.perf_counter()
        pred = predict(L)
        sync(device)
        t_pred += time.perf_counter() - t0
        m, within = image_metrics(L, pred.clamp(-1, 1), ab, x)
        for k, v in m.items():
            per[k].append(v.cpu())
        curve += within.double().sum(0).cpu()
    per_image = {k: torch.cat(v) for k, v in per.items()}
    n = len(images)
    all_exact = bool(torch.isinf(per_image["psnr"]).all())
    per_image["psnr"] = per_image["psnr"].clamp(max=PSNR_CAP)
    summary = {k: _mean(v) for k, v in per_image.items()}
    if all_exact:
        summary["psnr"] = float("inf")  # every image reproduced exactly: say so, not "100 dB"
    summary["colorfulness_gap"] = summary["colorfulness"] - summary["colorfulness_true"]
    per_class = {k: [_mean(v[labels == c]) for c in range(len(classes))] for k, v in per_image.items()}
    return {"summary": summary, "per_class": per_class, "curve": (curve / n).tolist(), "per_image": per_image,
            "inference_images_per_s": n / t_pred if t_pred > 0 else float("inf")}


def _mean(v: torch.Tensor) -> float:
    """Mean as a float; nan for no values."""
    return float(v.double().mean()) if len(v) else float("nan")


# ---------------------------------------------------------------------------------------------
# Predictors: models and the two baselines every report shows beside them


def model_predictor(model: torch.nn.Module, device: str | torch.device = "cpu", precision: str = "fp32") -> Predictor:
    """A trained model as a predictor; `precision` "bf16" runs its forward pass under bf16 autocast
    (the metrics are computed in float64 whatever it is)."""
    device = torch.device(device)
    model = model.to(device).eval()

    def predict(L: torch.Tensor) -> torch.Tensor:
        with autocast(device, precision):
            return model(network_input(L, model.in_channels)).float()

    return predict


def gray_predictor() -> Predictor:
    """ab = 0 everywhere: the grayscale input itself."""
    return lambda L: torch.zeros(L.shape[0], 2, *L.shape[2:], device=L.device)


def mean_color_predictor(mean: torch.Tensor) -> Predictor:
    """The training set's mean ab (2,) (see `mean_ab`), everywhere."""
    return lambda L: mean.to(L.device).view(1, 2, 1, 1).expand(L.shape[0], 2, *L.shape[2:])


def mean_ab(train_images: torch.Tensor) -> torch.Tensor:
    """The mean normalised ab (2,) of uint8 images (N, 3, H, W), in float64 chunks."""
    total = torch.zeros(2, dtype=torch.float64)
    for chunk in train_images.split(4096):
        total += uint8_to_lab(chunk)[:, 1:].double().sum((0, 2, 3))
    return (total / (len(train_images) * train_images.shape[-1] * train_images.shape[-2])).float()
