"""What a network sees: the one place that builds its input from a batch (timm's `in_chans`).

Kept apart from models and objectives (both use it), so neither imports the other for it.

Colour hints (Zhang, Zhu, Isola et al., "Real-Time User-Guided Image Colorization with Learned Deep
Priors", SIGGRAPH 2017): a network with `HINT_CHANNELS` (4) inputs sees L, the hints' ab (ab/128, 0 where
there is no hint) and a hint mask (1 where there is one). With no hints the three extra channels are
zero, so weights widened from L alone (`widen_inputs`, new input weights zero) start as exactly the
automatic model.
"""

from __future__ import annotations

import torch

HINT_CHANNELS = 4  # L, hint a, hint b, hint mask
# simulated hints in training: no point at all for this share of images (automatic colour must hold),
# else a geometric number of points (p = 1/8, mean 8, as SIGGRAPH 2017), each the mean true ab of a
# square patch 1 to PATCH_MAX px wide at a uniformly random place
NO_HINT_SHARE = 0.25
HINT_P = 1 / 8
MAX_HINTS = 128  # a cap for the batched draw; P(geometric(1/8) > 128) < 4e-8
PATCH_MAX = 9
# a user's point fills a (2r+1)-px square at the network's resolution, as a click in SIGGRAPH 2017's demo
# does: the network learnt from patches of 1 to 9 px, and a lone pixel moves its colour less. Chosen on 60
# ImageNet photos of the training set (10 true-colour points, network at 64 px, the hint weights' stage d):
# PSNR over no points +2.37 dB at 1 px, +3.78 at 3 px, +3.77 at 5, +3.75 at 7, +3.59 at 9
HINT_RADIUS = 1


def network_input(lab: torch.Tensor, in_channels: int = 1, generator: torch.Generator | None = None,
                  hints: torch.Tensor | None = None) -> torch.Tensor:
    """What a network sees, from a normalised batch whose first channel is L/100 (a LAB batch
    (B, 3, H, W) in training, L alone (B, 1, H, W) when colorizing) -> (B, in_channels, H, W): L, then
    the channels a later input fills (colour hints, a previous frame), zeros until one does (as
    richzhang/colorization's hints default to zeros). The training loop, evaluate, colorize and export
    all build their input here, so a new input changes this function, never them.

    hints: (B, 3, H, W) hint ab/128 and mask (`hint_map`) for a 4-channel network. generator: a
    training run's generator, to simulate hints from the batch's own ab (`simulate_hints`)."""
    L = lab[:, :1]
    if in_channels == 1:
        if hints is not None:
            raise ValueError("colour hints given to a network that sees L alone; use weights trained with hints")
        return L
    if generator is not None and hints is None:
        hints = simulate_hints(lab, generator)
    if hints is not None:
        if in_channels != HINT_CHANNELS or hints.shape != (L.shape[0], 3, *L.shape[2:]):
            raise ValueError(f"hints shaped {tuple(hints.shape)} for a network of {in_channels} inputs; "
                             f"hints need {HINT_CHANNELS} (L, ab, mask) and a (B, 3, H, W) map")
        return torch.cat([L, hints.to(L.dtype)], 1)
    return torch.cat([L, L.new_zeros(L.shape[0], in_channels - 1, *L.shape[2:])], 1)


def simulate_hints(lab: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """Random hints for a training batch, drawn as a whole (no loop over images): lab (B, 3, H, W),
    ab/128 in channels 1-2 -> (B, 3, H, W): hint ab and mask. Each point's colour is the mean true ab of
    its patch, written over the patch; where patches overlap their colours are averaged."""
    B, _, H, W = lab.shape
    dev, K = lab.device, MAX_HINTS
    rand = lambda *shape: torch.rand(*shape, generator=generator, device=dev)  # noqa: E731
    # how many points: 0 for NO_HINT_SHARE of images, else geometric on 1, 2, ... (inverse CDF)
    count = (torch.log1p(-rand(B)) / torch.log1p(torch.tensor(-HINT_P, device=dev))).floor() + 1
    count = torch.where(rand(B) < NO_HINT_SHARE, 0, count.clamp(max=K))
    K = max(1, int(count.max()))  # points past the batch's largest count would all be unused
    used = torch.arange(K, device=dev) < count[:, None]  # (B, K)
    size = (rand(B, K) * min(PATCH_MAX, H, W)).long() + 1  # (B, K) patch side, 1..PATCH_MAX
    y = (rand(B, K) * (H - size + 1)).long()  # top-left corner, the patch inside the image
    x = (rand(B, K) * (W - size + 1)).long()
    return _patch_hints(lab[:, 1:3].float(), y, x, size, used).to(lab.dtype)


def _patch_hints(ab: torch.Tensor, y: torch.Tensor, x: torch.Tensor, size: torch.Tensor,
                 used: torch.Tensor) -> torch.Tensor:
    """ab (B, 2, H, W); y, x, size, used (B, K) -> (B, 3, H, W): each used patch's mean ab over it, mask 1."""
    B, _, H, W = ab.shape
    # patch means from a summed-area table: four corner reads per patch whatever its size
    S = torch.nn.functional.pad(ab.cumsum(-1).cumsum(-2), (1, 0, 1, 0)).flatten(2)  # (B, 2, (H+1)(W+1))
    at = lambda r, c: S.gather(2, (r * (W + 1) + c)[:, None].expand(-1, 2, -1))  # noqa: E731  (B, 2, K)
    mean = (at(y + size, x + size) - at(y, x + size) - at(y + size, x) + at(y, x)) / (size * size)[:, None]
    return _paint(mean, y, x, size, used, H, W)


def _paint(colour: torch.Tensor, y: torch.Tensor, x: torch.Tensor, size: torch.Tensor, used: torch.Tensor,
           H: int, W: int) -> torch.Tensor:
    """colour (B, 2, K); y, x (top-left corners), size (sides), used (B, K) -> (B, 3, H, W): each used square
    filled with its colour (the part inside the image), colours averaged where squares overlap, mask 1."""
    B = colour.shape[0]
    # every pixel of every square as one flat index: offsets within the largest square, those past a
    # square's own side, outside the image or of an unused point dropped by a zero weight
    P = int(size.max()) if size.numel() else 1
    dy, dx = torch.meshgrid(torch.arange(P, device=colour.device), torch.arange(P, device=colour.device), indexing="ij")
    rows, cols = y[..., None] + dy.flatten(), x[..., None] + dx.flatten()  # (B, K, P*P)
    keep = ((dy.flatten() < size[..., None]) & (dx.flatten() < size[..., None]) & used[..., None]
            & (rows >= 0) & (rows < H) & (cols >= 0) & (cols < W)).to(colour.dtype)
    pix = (rows.clamp(0, H - 1) * W + cols.clamp(0, W - 1)).flatten(1)  # (B, K*P*P)
    n = colour.new_zeros(B, 1, H * W).scatter_add_(2, pix[:, None], keep.flatten(1)[:, None])
    vals = (colour[..., None] * keep[:, None]).flatten(2)  # (B, 2, K*P*P)
    hint_ab = colour.new_zeros(B, 2, H * W).scatter_add_(2, pix[:, None].expand(-1, 2, -1), vals) / n.clamp(min=1)
    return torch.cat([hint_ab.view(B, 2, H, W), (n > 0).to(colour.dtype).view(B, 1, H, W)], 1)


def hint_map(points: torch.Tensor, colors: torch.Tensor, height: int, width: int,
             radius: int = HINT_RADIUS) -> torch.Tensor:
    """User hints at a network's resolution: points (N, 2) as (x, y) in [0, 1) of the image's width and
    height, colors (N, 2) ab/128 -> (1, 3, height, width): each point fills the square of side 2 * radius + 1
    centred on the pixel it falls in (cut at the image's edges); where squares overlap their colours are
    averaged, as in training (`simulate_hints`)."""
    c = (points[:, 0] * width).long().clamp(0, width - 1) - radius
    r = (points[:, 1] * height).long().clamp(0, height - 1) - radius
    side = torch.full_like(r, 2 * radius + 1)
    return _paint(colors.float().T[None], r[None], c[None], side[None], torch.ones_like(r, dtype=torch.bool)[None],
                  height, width)


def widen_inputs(tensors: dict[str, torch.Tensor], shapes: dict[str, torch.Size]) -> dict[str, torch.Tensor]:
    """Weights of a network seeing fewer input channels, made to fit one seeing more: every tensor that
    differs from its wanted shape only by having fewer input channels (dim 1: the first convolution's)
    gets zero weights for the new ones, so the new inputs change nothing until training moves them."""
    out = {}
    for k, v in tensors.items():
        want = tuple(shapes.get(k, v.shape))
        if v.dim() >= 2 and len(want) == v.dim() and want[1] > v.shape[1] \
                and want[:1] + want[2:] == tuple(v.shape[:1] + v.shape[2:]):
            v = torch.cat([v, v.new_zeros(v.shape[0], want[1] - v.shape[1], *v.shape[2:])], 1)
        out[k] = v
    return out
