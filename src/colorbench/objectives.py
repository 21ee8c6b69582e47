"""Objectives: what a network outputs, how that is scored against the true ab, how it becomes ab.

Registered by name like models (`--loss`): any model trains with any objective, and the decode step
(a module, saved with the weights and exported in the ONNX graph) means evaluate, colorize, serve
and ONNX never need to know which objective trained a model. An objective owns its behaviour through
hooks the training loop calls without asking which one it holds: `from_config` (its options, checked
once), `fit` (the training split), `restore` (from saved weights), `loss`, `calibrate` (the validation
split). A new objective is one registered class, in any file.

  mse             the study's: MSE of tanh outputs against ab/128
  l1              mean absolute error: less pull toward the mean colour than MSE, still a regressor
  ssim            the study's own proposal: MSE + (1 - SSIM) of the sRGB image rebuilt from L and ab
  classification  Zhang, Isola & Efros (2016): scores over quantised ab bins, soft-encoded targets,
                  class rebalancing, decoded by an annealed mean
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from .color import AB_SCALE, denormalize_lab, lab_to_rgb
from .evaluate import colorfulness, ssim
from .inputs import network_input

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

    @classmethod
    def from_config(cls, cfg) -> Objective:
        """This objective with a run's options (a TrainConfig); its own range checks are its __init__'s."""
        return cls()

    def spec(self) -> dict:
        """What rebuilds this objective's decoder (its shapes; learnt values live in the weights)."""
        return {"name": self.name, "kwargs": {}}

    def fit(self, train_ab: torch.Tensor) -> None:
        """Learn what the objective needs from the training split's ab (B, 2, H, W) in [-1, 1]."""

    def restore(self, state: dict[str, torch.Tensor]) -> None:
        """Take what `fit` learnt back from a model's saved tensors (resuming, or going on from weights)."""

    def decoder(self) -> nn.Module:
        return nn.Tanh()

    def loss(self, raw: torch.Tensor, ab: torch.Tensor, L: torch.Tensor) -> torch.Tensor:
        """raw: the network's output (B, C, H, W); ab: true ab/128 (B, 2, H, W); L: L/100 (B, 1, H, W)."""
        raise NotImplementedError

    def calibrate(self, model: nn.Module, val: torch.Tensor, batch_size: int, log=print) -> dict | None:
        """Decoding choices made after training on the validation split (normalised LAB (N, 3, H, W),
        never the test set), set on `model.decode`; returns them (saved with the weights as
        "decoding"), or None when there is nothing to choose."""
        return None


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


@register_objective
class SSIMLoss(Objective):
    """MSE + weight x (1 - SSIM) of the sRGB images rebuilt from the true L and the predicted vs true
    ab: the study's "perceptual losses like SSIM", differentiable through `color.lab_to_rgb`."""

    name = "ssim"

    def __init__(self, weight: float = 1.0):
        self.weight = float(weight)

    @classmethod
    def from_config(cls, cfg):
        return cls(weight=cfg.ssim_weight)

    def spec(self):
        return {"name": self.name, "kwargs": {"weight": self.weight}}

    def loss(self, raw, ab, L):
        pred, L = torch.tanh(raw.float()), L.float()
        rgb_pred, rgb_true = lab_to_rgb(denormalize_lab(L, pred)), lab_to_rgb(denormalize_lab(L, ab))
        # the metric's own SSIM, in float32 and differentiable
        return F.mse_loss(pred, ab) + self.weight * (1 - ssim(rgb_pred, rgb_true, 1.0, dtype=None)).mean()


# ---------------------------------------------------------------------------------------------
# Zhang, Isola & Efros (2016): colour as classification over quantised ab


GRID = 10.0  # ab bin spacing, LAB units
AB_MAX = 110.0  # bin centres at -110, -100, ..., 110 (23 per axis, as in the paper)
PSNR_FLOOR = (2 / AB_SCALE) ** 2  # psnr_weight: an image counts as no better than 2 LAB units rms (JPEG noise)


RGB_FLOOR = (2 / 255) ** 2  # psnr_space "rgb": likewise, 2 levels of 255 rms
PSNR_SPACES = ("ab", "rgb")


def rgb_psnr(L: torch.Tensor, ab: torch.Tensor, truth_ab: torch.Tensor) -> torch.Tensor:
    """Each image's PSNR (dB, peak 1) of the sRGB picture that L/100 (B, 1, H, W) and ab/128 (B, 2, H, W) give,
    clipped to the gamut, against the one L and truth_ab give: how photos are scored, where an ab error at dark
    L, or past the gamut's edge, costs less than in ab. Its MSE is floored at RGB_FLOOR."""
    pred = lab_to_rgb(denormalize_lab(L.float(), ab.float()))
    true = lab_to_rgb(denormalize_lab(L.float(), truth_ab.float()))
    return -10 * torch.log10((pred - true).pow(2).flatten(1).mean(1) + RGB_FLOOR)


def ab_psnr(err: torch.Tensor) -> torch.Tensor:
    """Each image's PSNR (dB, peak 1) of an ab/128 error (B, 2, H, W), its MSE floored at PSNR_FLOOR: what
    the choice of T scores, and the classification objective's psnr_weight term in psnr_space "ab"."""
    return -10 * torch.log10(err.pow(2).flatten(1).mean(1) + PSNR_FLOOR)

LUT_RES = 256  # soft-encoding lookup table: one entry per integer (a, b) in [-128, 127]


class AnnealedMean(nn.Module):
    """Bin scores (B, Q, H, W) -> ab/128 (B, 2, H, W): the mean of the bin centres under
    softmax(scores / T). T = 1 is the mean, T -> 0 the mode; the paper's 0.38 sits between. Which is the
    more colourful depends on the weights: Zhang et al.'s mode is vivid, the shipped default's is often
    near gray (its colour grows with T). Bins, prior and T are buffers: saved with the weights, exported
    with the graph."""

    def __init__(self, n_bins: int, upsample: int = 1):
        super().__init__()
        self.register_buffer("bins", torch.zeros(n_bins, 2))  # (Q, 2) bin centres, ab/128
        self.register_buffer("prior", torch.full((n_bins,), 1.0 / max(1, n_bins)))  # smoothed training prior
        self.register_buffer("temperature", torch.tensor(0.38))
        self.upsample = upsample

    def forward(self, raw: torch.Tensor) -> torch.Tensor:
        return annealed_mean(raw, self.bins, self.temperature, self.upsample)


def annealed_mean(raw: torch.Tensor, bins: torch.Tensor, temperature, upsample: int = 1) -> torch.Tensor:
    """Bin scores (B, Q, h, w) -> ab/128 (B, 2, h * upsample, w * upsample) at one temperature: what the
    decoder outputs, and what the classification objective's MSE term scores (differentiable)."""
    p = torch.softmax(raw.float() / temperature, dim=1)
    ab = torch.einsum("bqhw,qc->bchw", p, bins).clamp(-1, 1)
    if upsample > 1:  # scored at a lower resolution: chroma upsampled, as L stays sharp
        ab = F.interpolate(ab, scale_factor=upsample, mode="bilinear", align_corners=False)
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


CALIBRATION_IMAGES = 2000  # T is chosen on at most this many validation images (the directions preset's whole split)


def choose_temperature(model: torch.nn.Module, L: torch.Tensor, ab: torch.Tensor, colour_target: float = 0.7,
                       temperatures=(0.2, 0.25, 0.3, 0.38, 0.45, 0.55, 0.7, 0.85, 1.0, 1.2, 1.5, 2.0),
                       batch_size: int = 500, max_images: int = CALIBRATION_IMAGES) -> dict:
    """Pick the annealed-mean T on held-out data (the validation split, never the test set): the lowest ab
    MSE among the T whose ab MSE beats the gray baseline's (ab = 0) and that reach `colour_target` of the truth's
    colourfulness; if none does both, the lowest ab MSE of all. (Until 2026-12 the fallback was the most
    colourful T under gray's MSE: on photos that spent every gain on colour, e.g. T 2.0 at 57% of the
    colour where T 0.55 gave 44% at 0.9 dB more PSNR and 2.8 less CIEDE2000, on 96 training photos.)
    Sets it on `model.decode` and returns every T's figures, with each T's mean per-image ab PSNR (the
    photo metrics' mean, which the dullest images rule; gray's too) beside the pooled MSE.

    Cheap beside the training it follows: one forward pass per image, every T decoded from those
    scores at once (`annealed_means`), and at most `max_images` images, evenly spaced (a fixed subset:
    the same images for every seed), as 12 candidates need no more to be told apart."""
    if len(L) > max_images:
        keep = torch.linspace(0, len(L) - 1, max_images).round().long().to(L.device)
        L, ab = L[keep], ab[keep]
    dec = model.decode
    was = float(dec.temperature)
    # sums stay on the data's device: no host sync per batch and temperature
    sq, colour, db = (torch.zeros(len(temperatures), dtype=torch.float64, device=L.device) for _ in range(3))
    truth, gray, gray_db = (torch.zeros((), dtype=torch.float64, device=L.device) for _ in range(3))

    def rgb_of(L_, ab_):
        return (lab_to_rgb(denormalize_lab(L_, ab_)) * 255).round()

    with torch.no_grad():
        for i in range(0, len(L), batch_size):
            Lb, abb = L[i : i + batch_size].float(), ab[i : i + batch_size].float()
            H, W = Lb.shape[-2:]
            x = network_input(Lb, model.in_channels).contiguous(memory_format=torch.channels_last)
            raw = model.raw(x)  # channels last: pixel-major scores, no copy in annealed_means
            truth += colorfulness(rgb_of(Lb, abb)).double().sum()
            gray += abb.double().pow(2).sum()
            gray_db += ab_psnr(abb.double()).sum()
            for j, pred in enumerate(annealed_means(raw, dec.bins, temperatures)):
                if dec.upsample > 1:  # as the decoder does
                    pred = F.interpolate(pred, scale_factor=dec.upsample, mode="bilinear", align_corners=False)
                pred = pred[..., :H, :W]
                sq[j] += (pred - abb).double().pow(2).sum()
                db[j] += ab_psnr((pred - abb).double()).sum()
                colour[j] += colorfulness(rgb_of(Lb, pred)).double().sum()
    n, per_image = len(L), ab[0].numel() / AB_SCALE**2
    truth, gray, gray_db = truth.item() / n, gray.item() / (n * per_image), gray_db.item() / n
    rows = [{"temperature": T, "ab_mse": e / (n * per_image), "ab_psnr": d / n, "colorfulness": c / n}
            for T, e, d, c in zip(temperatures, sq.tolist(), db.tolist(), colour.tolist())]
    vivid = [r for r in rows if r["ab_mse"] < gray and r["colorfulness"] >= colour_target * truth]
    best = min(vivid or rows, key=lambda r: r["ab_mse"] if math.isfinite(r["ab_mse"]) else math.inf)
    dec.temperature.fill_(best["temperature"] if math.isfinite(best["ab_mse"]) else was)
    return {"chosen": best["temperature"], "colour_target": colour_target, "truth_colorfulness": truth,
            "gray_ab_mse": gray, "gray_ab_psnr": gray_db, "images": n, "grid": rows}


@register_objective
class Classification(Objective):
    """Colour as a distribution over the ab bins (grid of 10) seen in the training set.

    Targets: each pixel's 5 nearest bins, weighted by a Gaussian (sigma 5) of the distance. Loss:
    cross-entropy, each pixel weighted by the rebalancing factor of its nearest bin, so rare
    saturated colours count as much as common dull ones: w ~ ((1 - lambda) p + lambda / Q)^-1 with p
    the training prior smoothed by a Gaussian (sigma 5), scaled so E_p[w] = 1. Decode: annealed mean.
    `mse_weight` > 0 adds that times the MSE of the decoded ab/128 (annealed mean at the objective's T):
    cross-entropy keeps colours vivid, the MSE term keeps them where the error stays low.
    `psnr_weight` > 0 adds that times the batch's mean of each image's -PSNR (dB) of that ab: the mean
    PSNR of a photo set is a mean of logs, ruled by its dullest photos, where a colour error costs the
    most dB; this term weighs each image's error by 1 / its size, as that mean does. `psnr_space` "rgb"
    takes that PSNR of the sRGB picture the ab gives with L, as photos are scored, rather than of the ab.
    Targets come from a lookup table over integer (a, b), built once: a step does one gather per
    pixel, never a distance to every bin.
    """

    name = "classification"

    def __init__(self, n_bins: int = 0, rebalance: float = 0.5, sigma: float = 5.0, neighbours: int = 5,
                 temperature: float = 0.38, head_stride: int = 1, mse_weight: float = 0.0, psnr_weight: float = 0.0,
                 psnr_space: str = "ab"):
        if not 0 <= rebalance <= 1:
            raise ValueError(f"rebalance (lambda, --rebalance) must be in [0, 1], got {rebalance}")
        if not temperature > 0:
            raise ValueError(f"temperature (--temperature) must be positive (or 0 in a run: chosen on the "
                             f"validation split), got {temperature}")
        self.n_bins, self.rebalance, self.sigma = int(n_bins), float(rebalance), float(sigma)
        self.neighbours, self.temperature = int(neighbours), float(temperature)
        if head_stride not in (1, 2, 4, 8):
            raise ValueError(f"head_stride (--head-stride) must be 1, 2, 4 or 8, got {head_stride}")
        self.head_stride = int(head_stride)
        if not mse_weight >= 0:
            raise ValueError(f"mse_weight (--mse-weight) must be 0 or more, got {mse_weight}")
        self.mse_weight = float(mse_weight)
        if not psnr_weight >= 0:
            raise ValueError(f"psnr_weight (--psnr-weight) must be 0 or more, got {psnr_weight}")
        self.psnr_weight = float(psnr_weight)
        if psnr_space not in PSNR_SPACES:
            raise ValueError(f"psnr_space (--psnr-space) must be ab or rgb, got {psnr_space!r}")
        self.psnr_space = psnr_space
        self.bins: torch.Tensor | None = None
        self.prior: torch.Tensor | None = None
        self.choose_temperature = False  # calibrate: T chosen on the validation split
        self.colour_target = 0.7  # ... the share of the truth's colourfulness it asks for (choose_temperature)

    @classmethod
    def from_config(cls, cfg):
        obj = cls(rebalance=cfg.rebalance, temperature=cfg.temperature or 0.38, head_stride=cfg.head_stride,
                  mse_weight=cfg.mse_weight, psnr_weight=cfg.psnr_weight,
                  psnr_space=cfg.psnr_space)  # the paper's T until one is chosen
        obj.choose_temperature = not cfg.temperature
        obj.colour_target = cfg.colour_target
        return obj

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
        if self.psnr_weight:
            kw["psnr_weight"] = self.psnr_weight
        if self.psnr_space != "ab":
            kw["psnr_space"] = self.psnr_space
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

    def restore(self, state):
        self.bins, self.prior = state["decode.bins"].detach().cpu().float(), state["decode.prior"].detach().cpu().float()
        self.n_bins = len(self.bins)
        self._tables()

    def calibrate(self, model, val, batch_size, log=print):
        if not self.choose_temperature:
            return None
        decoding = choose_temperature(model, val[:, :1], val[:, 1:], self.colour_target, batch_size=batch_size)
        self.temperature = round(float(model.decode.temperature), 6)  # so the weights' spec names the T they decode at
        model.spec = {**model.spec, "objective": self.spec()}
        log(f"annealed-mean T = {decoding['chosen']} chosen on the validation split")
        return decoding

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
        if self.mse_weight or self.psnr_weight:
            pred = annealed_mean(raw, self.bins, self.temperature, self.head_stride)  # as the decoder does
            H, W = full_ab.shape[-2:]
            pred = pred[..., :H, :W]
            err = pred - full_ab
            loss = loss + self.mse_weight * err.pow(2).mean()
            if self.psnr_weight:  # the floor keeps a gray image from ruling the batch
                psnr = ab_psnr(err) if self.psnr_space == "ab" else rgb_psnr(L, pred, full_ab)
                loss = loss - self.psnr_weight * psnr.mean()
        return loss


class LabelTerm(nn.Module):
    """Iizuka, Simo-Serra & Ishikawa (2016)'s joint classification, added to any objective: a linear classifier
    on the network's summary of the whole image (its `context` module's output, averaged over positions) learns
    each training image's class (its folder) beside the colour, so the summary must say what the picture is and
    every pixel's colour can use it. Training only: the weights a run writes never carry the classifier."""

    def __init__(self, model: nn.Module, n_classes: int, weight: float):
        super().__init__()
        if model.context is None:  # a model's author names it (Colorizer's context=)
            raise ValueError(f"--label-weight: {model.spec.get('name')} names no context module to classify from")
        self.weight = weight
        self.classifier = nn.Linear(model.encoder_channels, n_classes).to(next(model.parameters()).device)
        self._seen: torch.Tensor | None = None
        # the summary of the forward pass the colour loss already makes; `close` removes the hook
        self._hook = model.context.register_forward_hook(self._keep)

    def _keep(self, module, inputs, output) -> None:
        if module.training and torch.is_grad_enabled():  # training steps only: validation passes keep nothing
            self._seen = output

    def close(self) -> None:
        self._hook.remove()
        self._seen = None

    def loss(self, labels: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(weight x cross-entropy, cross-entropy, number right) for the last training step's images; float32."""
        if self._seen is None:
            raise ValueError("--label-weight: the network's context module did not run in this step (a compiled "
                               "graph that drops module hooks?); train without --compile")
        f, self._seen = self._seen.float(), None
        logits = self.classifier(f.mean((2, 3)) if f.dim() == 4 else f)
        ce = F.cross_entropy(logits, labels)
        return self.weight * ce, ce.detach(), (logits.argmax(1) == labels).sum()
