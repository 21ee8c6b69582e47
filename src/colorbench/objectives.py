"""Objectives: what a network outputs, how that is scored against the true ab, how it becomes ab.

Registered by name like models (`--loss`): any model trains with any objective, and the decode step
(a module, saved with the weights and exported in the ONNX graph) means evaluate, colorize, serve
and ONNX never need to know which objective trained a model.

  mse             the study's: MSE of tanh outputs against ab/128
  l1              mean absolute error: less pull toward the mean colour than MSE, still a regressor
  ssim            the study's own proposal: MSE + (1 - SSIM) of the sRGB image rebuilt from L and ab
  classification  Zhang, Isola & Efros (2016): scores over quantised ab bins, soft-encoded targets,
                  class rebalancing, decoded by an annealed mean
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from .color import AB_SCALE, L_SCALE, lab_to_rgb

OBJECTIVES: dict[str, type[Objective]] = {}


def register_objective(cls: type[Objective]) -> type[Objective]:
    OBJECTIVES[cls.name] = cls
    return cls


def list_objectives() -> list[str]:
    return sorted(OBJECTIVES)


def create_objective(name: str, **kwargs) -> Objective:
    if name not in OBJECTIVES:
        raise ValueError(f"unknown loss {name!r}; choose one of: {', '.join(list_objectives())}")
    return OBJECTIVES[name](**{k: v for k, v in kwargs.items() if v is not None})


def objective_from_spec(spec: dict | None) -> Objective:
    """The objective a saved model was trained with (weights older than objectives: the study's MSE)."""
    if not spec:
        return create_objective("mse")
    return create_objective(spec["name"], **spec.get("kwargs", {}))


class Objective:
    name = ""
    out_channels = 2
    head_stride = 1  # the network scores every head_stride-th pixel; decode upsamples back

    def __init__(self, **kwargs):
        if kwargs:
            raise TypeError(f"loss {self.name!r} takes no options, got {', '.join(kwargs)}")

    def spec(self) -> dict:
        """What rebuilds this objective's decoder (its shapes; learnt values live in the weights)."""
        return {"name": self.name, "kwargs": {}}

    def fit(self, train_ab: torch.Tensor) -> None:
        """Learn what the objective needs from the training split's ab (B, 2, H, W) in [-1, 1]."""

    def bind(self, decoder: nn.Module) -> None:
        """Take what `fit` learnt back from a saved decoder (resuming a run)."""

    def decoder(self) -> nn.Module:
        return nn.Tanh()

    def loss(self, raw: torch.Tensor, ab: torch.Tensor, L: torch.Tensor) -> torch.Tensor:
        """raw: the network's output (B, C, H, W); ab: true ab/128 (B, 2, H, W); L: L/100 (B, 1, H, W)."""
        raise NotImplementedError


@register_objective
class MSE(Objective):
    """The study's loss: mean squared error of ab/128."""

    name = "mse"

    def loss(self, raw, ab, L):
        return F.mse_loss(torch.tanh(raw.float()), ab)


@register_objective
class L1(Objective):
    """Per-pixel L1 on ab/128: its minimiser is the median colour, less greyed than MSE's mean."""

    name = "l1"

    def loss(self, raw, ab, L):
        return (torch.tanh(raw.float()) - ab).abs().mean()


def ssim_map(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0, win: int = 11,
             sigma: float = 1.5) -> torch.Tensor:
    """Per-image SSIM (B,) of (B, C, H, W) images, differentiable, in their own dtype; the same
    definition as `evaluate.ssim` (11x11 Gaussian window, sigma 1.5, valid pixels only)."""
    C = a.shape[1]
    win = min(win, a.shape[-1], a.shape[-2])
    win -= 1 - win % 2
    x = torch.arange(win, dtype=a.dtype, device=a.device) - (win - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    g = g / g.sum()
    kx, ky = g.view(1, 1, 1, win).repeat(C, 1, 1, 1), g.view(1, 1, win, 1).repeat(C, 1, 1, 1)

    def blur(t):
        return F.conv2d(F.conv2d(t, kx, groups=C), ky, groups=C)

    mu_a, mu_b = blur(a), blur(b)
    var_a, var_b, cov = blur(a * a) - mu_a**2, blur(b * b) - mu_b**2, blur(a * b) - mu_a * mu_b
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a**2 + mu_b**2 + c1) * (var_a + var_b + c2))
    return s.flatten(1).mean(1)


@register_objective
class SSIMLoss(Objective):
    """MSE + weight x (1 - SSIM) of the sRGB images rebuilt from the true L and the predicted vs true
    ab: the study's "perceptual losses like SSIM", differentiable through `color.lab_to_rgb`."""

    name = "ssim"

    def __init__(self, weight: float = 1.0):
        self.weight = float(weight)

    def spec(self):
        return {"name": self.name, "kwargs": {"weight": self.weight}}

    def loss(self, raw, ab, L):
        pred = torch.tanh(raw.float())
        L = L.float() * L_SCALE
        rgb_pred = lab_to_rgb(torch.cat([L, pred * AB_SCALE], 1))
        rgb_true = lab_to_rgb(torch.cat([L, ab * AB_SCALE], 1))
        return F.mse_loss(pred, ab) + self.weight * (1 - ssim_map(rgb_pred, rgb_true)).mean()


# ---------------------------------------------------------------------------------------------
# Zhang, Isola & Efros (2016): colour as classification over quantised ab


GRID = 10.0  # ab bin spacing, LAB units
AB_MAX = 110.0  # bin centres at -110, -100, ..., 110 (23 per axis, as in the paper)
LUT_RES = 256  # soft-encoding lookup table: one entry per integer (a, b) in [-128, 127]


class AnnealedMean(nn.Module):
    """Bin scores (B, Q, H, W) -> ab/128 (B, 2, H, W): the mean of the bin centres under
    softmax(scores / T). T = 1 is the mean (greyish), T -> 0 the mode (vivid, noisy); the paper's 0.38
    sits between. Bins, prior and T are buffers: saved with the weights, exported with the graph."""

    def __init__(self, n_bins: int, upsample: int = 1):
        super().__init__()
        self.register_buffer("bins", torch.zeros(n_bins, 2))  # (Q, 2) bin centres, ab/128
        self.register_buffer("prior", torch.full((n_bins,), 1.0 / max(1, n_bins)))  # smoothed training prior
        self.register_buffer("temperature", torch.tensor(0.38))
        self.upsample = upsample

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        p = torch.softmax(raw.float() / self.temperature, dim=1)
        ab = torch.einsum("bqhw,qc->bchw", p, self.bins).clamp(-1, 1)
        if self.upsample > 1:  # scored at a lower resolution: chroma upsampled, as L stays sharp
            ab = F.interpolate(ab, scale_factor=self.upsample, mode="bilinear", align_corners=False)
        return ab


def annealed_means(raw: torch.Tensor, bins: torch.Tensor, temperatures, chunk: int = 0) -> torch.Tensor:
    """`AnnealedMean` at several temperatures at once, before any upsampling: bin scores (B, Q, h, w)
    -> ab/128 (len(temperatures), B, 2, h, w), equal within float rounding. The scores are shifted by
    their maximum and laid out pixel by pixel once; then each chunk of pixels is exponentiated at
    every T while it is in cache, and one product with [bins | 1] gives the weighted sum and the
    normaliser together (on a CPU 8x faster than a softmax and einsum per T, measured)."""
    B, Q, h, w = raw.shape
    raw = raw.float()
    z = (raw - raw.amax(1, keepdim=True)).permute(0, 2, 3, 1).reshape(-1, Q)  # (pixels, Q), all <= 0
    centres = torch.cat([bins.float(), bins.new_ones(Q, 1, dtype=torch.float32)], 1).to(z.device)  # (Q, 3)
    chunk = chunk or (max(1, 2**18 // Q) if z.device.type == "cpu" else len(z))  # a GPU wants few launches
    sums = z.new_empty(len(temperatures), len(z), 3)
    e = z.new_empty(min(chunk, len(z)), Q)
    for i in range(0, len(z), chunk):
        zc = z[i : i + chunk]
        ec = e[: len(zc)]
        for j, T in enumerate(temperatures):
            torch.mul(zc, 1 / T, out=ec).exp_()
            torch.mm(ec, centres, out=sums[j, i : i + chunk])
    ab = (sums[..., :2] / sums[..., 2:]).clamp(-1, 1)
    return ab.view(len(temperatures), B, h, w, 2).permute(0, 1, 4, 2, 3)


@register_objective
class Classification(Objective):
    """Colour as a distribution over the ab bins (grid of 10) seen in the training set.

    Targets: each pixel's 5 nearest bins, weighted by a Gaussian (sigma 5) of the distance. Loss:
    cross-entropy, each pixel weighted by the rebalancing factor of its nearest bin, so rare
    saturated colours count as much as common dull ones: w ~ ((1 - lambda) p + lambda / Q)^-1 with p
    the training prior smoothed by a Gaussian (sigma 5), scaled so E_p[w] = 1. Decode: annealed mean.
    `mse_weight` > 0 adds that times the MSE of the decoded ab/128 (annealed mean at the objective's T):
    cross-entropy keeps colours vivid, the MSE term keeps them where the error stays low.
    Targets come from a lookup table over integer (a, b), built once: a step does one gather per
    pixel, never a distance to every bin.
    """

    name = "classification"

    def __init__(self, n_bins: int = 0, rebalance: float = 0.5, sigma: float = 5.0, neighbours: int = 5,
                 temperature: float = 0.38, head_stride: int = 1, mse_weight: float = 0.0):
        if not 0 <= rebalance <= 1:
            raise ValueError(f"rebalance (lambda) must be in [0, 1], got {rebalance}")
        if temperature <= 0:
            raise ValueError(f"temperature must be positive, got {temperature}")
        self.n_bins, self.rebalance, self.sigma = int(n_bins), float(rebalance), float(sigma)
        self.neighbours, self.temperature = int(neighbours), float(temperature)
        if head_stride not in (1, 2, 4, 8):
            raise ValueError(f"head_stride must be 1, 2, 4 or 8, got {head_stride}")
        self.head_stride = int(head_stride)
        if not mse_weight >= 0:
            raise ValueError(f"mse_weight must be 0 or more, got {mse_weight}")
        self.mse_weight = float(mse_weight)
        self.bins: torch.Tensor | None = None
        self.prior: torch.Tensor | None = None

    @property
    def out_channels(self) -> int:  # type: ignore[override]
        if not self.n_bins:
            raise ValueError("the classification objective needs its bins: fit it on training data first")
        return self.n_bins

    def spec(self):
        kw = {"n_bins": self.n_bins, "rebalance": self.rebalance, "sigma": self.sigma, "neighbours": self.neighbours,
              "temperature": self.temperature}
        if self.head_stride != 1:  # weights written before head strides stay readable, and unchanged
            kw["head_stride"] = self.head_stride
        if self.mse_weight:  # likewise: a training choice only, the decoder is the same
            kw["mse_weight"] = self.mse_weight
        return {"name": self.name, "kwargs": kw}

    def fit(self, train_ab: torch.Tensor) -> None:
        """Bins = grid cells holding any training pixel; prior = their smoothed frequency."""
        n = int(2 * AB_MAX / GRID) + 1  # 23
        counts = torch.zeros(n * n, dtype=torch.float64)
        for chunk in train_ab.split(2048):
            cell = ((chunk.float() * AB_SCALE + AB_MAX) / GRID).round().clamp(0, n - 1).long()
            counts += torch.bincount((cell[:, 0] * n + cell[:, 1]).flatten(), minlength=n * n).double().cpu()
        # smooth the empirical distribution with a Gaussian of sigma 5 ab units (half a cell)
        r = torch.arange(-2, 3, dtype=torch.float64) * GRID
        k = torch.exp(-(r**2) / (2 * self.sigma**2))
        k2 = (k[:, None] * k[None, :]) / (k.sum() ** 2)
        smooth = F.conv2d((counts / counts.sum()).view(1, 1, n, n), k2.view(1, 1, 5, 5), padding=2).flatten()
        seen = (counts > 0).nonzero().flatten()
        centres = torch.arange(n, dtype=torch.float64) * GRID - AB_MAX
        self.bins = (torch.stack([centres[seen // n], centres[seen % n]], 1) / AB_SCALE).float()
        self.prior = (smooth[seen] / smooth[seen].sum()).float()
        self.n_bins = len(seen)
        self._tables()

    def decoder(self) -> nn.Module:
        d = AnnealedMean(self.out_channels, self.head_stride)
        if self.bins is not None:
            d.bins.copy_(self.bins)
            d.prior.copy_(self.prior)
        d.temperature.fill_(self.temperature)
        return d

    def bind(self, decoder: nn.Module) -> None:
        self.bins, self.prior = decoder.bins.detach().cpu().float(), decoder.prior.detach().cpu().float()
        self._tables()

    def _tables(self) -> None:
        """The soft-encoding lookup table over integer (a, b), and each bin's rebalancing weight."""
        v = torch.arange(LUT_RES, dtype=torch.float32) - LUT_RES // 2
        grid = torch.stack(torch.meshgrid(v, v, indexing="ij"), -1).view(-1, 2)  # (65536, 2) ab
        d2 = torch.cdist(grid, self.bins * AB_SCALE).pow(2)  # (65536, Q)
        k = min(self.neighbours, self.n_bins)
        near_d2, near = d2.topk(k, dim=1, largest=False)  # sorted: nearest first
        w = torch.exp(-near_d2 / (2 * self.sigma**2))
        self.lut_idx, self.lut_w = near, w / w.sum(1, keepdim=True)
        Q = self.n_bins
        weight = 1.0 / ((1 - self.rebalance) * self.prior + self.rebalance / Q)
        self.class_weight = weight / (self.prior * weight).sum()

    def loss(self, raw, ab, L):
        dev = raw.device
        if self.lut_idx.device != dev:
            self.lut_idx, self.lut_w, self.class_weight, self.bins = (
                t.to(dev) for t in (self.lut_idx, self.lut_w, self.class_weight, self.bins))
        full_ab = ab
        if raw.shape[-2:] != ab.shape[-2:]:  # scored at 1/head_stride: targets are the mean ab of each cell
            ab = F.avg_pool2d(ab, self.head_stride, ceil_mode=True)
        half = LUT_RES // 2
        cell = (ab * AB_SCALE).round().clamp(-half, half - 1).long() + half  # (B, 2, H, W)
        f = cell[:, 0] * LUT_RES + cell[:, 1]  # (B, H, W)
        idx, w = self.lut_idx[f], self.lut_w[f]  # (B, H, W, k)
        logp = torch.log_softmax(raw.float(), dim=1)
        picked = logp.gather(1, idx.permute(0, 3, 1, 2))  # (B, k, H, W)
        ce = -(picked * w.permute(0, 3, 1, 2)).sum(1)  # (B, H, W)
        loss = (ce * self.class_weight[idx[..., 0]]).mean()
        if self.mse_weight:
            p = torch.softmax(raw.float() / self.temperature, dim=1)
            pred = torch.einsum("bqhw,qc->bchw", p, self.bins)
            if pred.shape[-2:] != full_ab.shape[-2:]:  # as the decoder does: chroma upsampled to full size
                pred = F.interpolate(pred, scale_factor=self.head_stride, mode="bilinear", align_corners=False)
            H, W = full_ab.shape[-2:]
            loss = loss + self.mse_weight * F.mse_loss(pred[..., :H, :W], full_ab)
        return loss
