"""sRGB <-> CIE LAB (D65, 2-degree observer) on batched tensors, and the study's L/ab scaling.

Pure functions on float tensors shaped (*, 3, H, W) on any device; differentiable; no I/O.
Constants are skimage's, so values agree with `skimage.color.rgb2lab` / `lab2rgb`.
"""

from __future__ import annotations

import torch

# The study's normalisation: network input L/100 in [0, 1], target ab/128 in [-1, 1].
L_SCALE = 100.0
AB_SCALE = 128.0

_WHITE_D65 = (0.95047, 1.0, 1.08883)
_XYZ_FROM_RGB = (
    (0.412453, 0.357580, 0.180423),
    (0.212671, 0.715160, 0.072169),
    (0.019334, 0.119193, 0.950227),
)
_XYZ_OVER_WHITE = tuple(tuple(v / w for v in row) for row, w in zip(_XYZ_FROM_RGB, _WHITE_D65))
# normalised (L/100, a/128, b/128) = _LAB_FROM_F @ (fx, fy, fz) - (0.16, 0, 0)
_LAB_FROM_F = ((0.0, 116 / L_SCALE, 0.0), (500 / AB_SCALE, -500 / AB_SCALE, 0.0), (0.0, 200 / AB_SCALE, -200 / AB_SCALE))
_RGB_FROM_XYZ = tuple(map(tuple, torch.linalg.inv(torch.tensor(_XYZ_FROM_RGB, dtype=torch.float64)).tolist()))
_EPS = 0.008856  # (6/29)^3, CIE's linear/cube-root switch, as in skimage
_KAPPA = 7.787  # (29/6)^2 / 3


def _check(x: torch.Tensor, name: str) -> None:
    if x.dim() < 3 or x.shape[-3] != 3:
        raise ValueError(f"{name} must be shaped (*, 3, H, W), got {tuple(x.shape)}")
    if not x.is_floating_point():
        raise ValueError(f"{name} must be a float tensor, got {x.dtype}")


def _mix(m: tuple, x: torch.Tensor) -> torch.Tensor:
    """Apply a 3x3 matrix to the channel axis of (*, 3, H, W)."""
    w = torch.tensor(m, dtype=x.dtype, device=x.device)
    return torch.einsum("ij,...jhw->...ihw", w, x)


def _f(t: torch.Tensor) -> torch.Tensor:
    """CIE's f: cube root above _EPS, the line _KAPPA*t + 16/116 below. That line is the cube root's
    tangent at _EPS, so (the root being concave) f is simply the minimum of the two: 4 tensor passes
    instead of a where over both branches. The clamp keeps pow's gradient finite at 0."""
    return torch.minimum(t.clamp(min=_EPS).pow(1 / 3), t * _KAPPA + 16 / 116)


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1], (*, 3, H, W) -> LAB: L in [0, 100], a and b roughly in [-128, 127].

    >>> rgb_to_lab(torch.ones(1, 3, 1, 1)).flatten().round(decimals=2).tolist()
    [100.0, -0.0, 0.0]
    """
    _check(rgb, "rgb")
    # sRGB gamma -> linear; the clamp keeps pow's gradient finite at 0
    lin = torch.where(rgb > 0.04045, ((rgb.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    fx, fy, fz = _f(_mix(_XYZ_OVER_WHITE, lin)).unbind(-3)
    return torch.stack([116 * fy - 16, 500 * (fx - fy), 200 * (fy - fz)], dim=-3)


def lab_to_rgb(lab: torch.Tensor, clip: bool = True) -> torch.Tensor:
    """LAB (*, 3, H, W) -> sRGB in [0, 1]. Out-of-gamut colours are clipped, never NaN
    (`clip=False` returns them outside [0, 1], to test what is in gamut).

    >>> lab_to_rgb(torch.tensor([100.0, 0.0, 0.0]).view(1, 3, 1, 1)).flatten().round(decimals=3).tolist()
    [1.0, 1.0, 1.0]
    """
    _check(lab, "lab")
    L, a, b = lab.unbind(-3)
    fy = (L + 16) / 116
    # fz goes negative for strongly blue b: clip it like skimage does, before the cube
    f = torch.stack([fy + a / 500, fy, (fy - b / 200).clamp(min=0)], dim=-3)
    t = torch.where(f > 0.2068966, f**3, (f - 16 / 116) / _KAPPA)
    white = torch.tensor(_WHITE_D65, dtype=lab.dtype, device=lab.device).view(3, 1, 1)
    xyz = t * white
    lin = _mix(_RGB_FROM_XYZ, xyz)
    # linear -> sRGB gamma; clamp inside pow so negative linear values give no NaN
    rgb = torch.where(lin > 0.0031308, 1.055 * lin.clamp(min=0.0031308) ** (1 / 2.4) - 0.055, 12.92 * lin)
    return rgb.clamp(0, 1) if clip else rgb


def normalize_lab(lab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """LAB (*, 3, H, W) -> (L/100 in [0, 1] as (*, 1, H, W), ab/128 in [-1, 1] as (*, 2, H, W))."""
    return lab[..., :1, :, :] / L_SCALE, lab[..., 1:, :, :] / AB_SCALE


def denormalize_lab(L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Inverse of `normalize_lab`: (*, 1, H, W) and (*, 2, H, W) -> LAB (*, 3, H, W)."""
    return torch.cat([L * L_SCALE, ab * AB_SCALE], dim=-3)


def _gamma_lut(device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    v = torch.arange(256, dtype=torch.float64) / 255
    return torch.where(v > 0.04045, ((v + 0.055) / 1.055) ** 2.4, v / 12.92).to(device, dtype)


@torch.no_grad()
def uint8_to_lab(images: torch.Tensor, dtype: torch.dtype = torch.float32, chunk: int = 512) -> torch.Tensor:
    """uint8 RGB (B, 3, H, W) -> normalised LAB (B, 3, H, W): channel 0 is L/100, 1-2 are ab/128.

    The fast path for whole datasets (same values as `normalize_lab(rgb_to_lab(x / 255))`): gamma by
    a 256-entry lookup table, white point folded into the matrix, results written in place, and
    chunks small enough to stay in cache.
    """
    if images.dtype != torch.uint8 or images.dim() != 4 or images.shape[1] != 3:
        raise ValueError(f"images must be uint8 shaped (B, 3, H, W), got {images.dtype} {tuple(images.shape)}")
    lut = _gamma_lut(images.device, dtype)
    w = torch.tensor(_XYZ_OVER_WHITE, dtype=dtype, device=images.device)
    m = torch.tensor(_LAB_FROM_F, dtype=dtype, device=images.device)
    out = torch.empty(images.shape, dtype=dtype, device=images.device)
    # work buffers reused by every chunk: fresh large tensors each time cost page faults
    n_max = min(chunk, len(images)) * images[0].numel()
    idx = torch.empty(n_max, dtype=torch.int32, device=images.device)
    lin, t, f = (torch.empty(n_max, dtype=dtype, device=images.device) for _ in range(3))
    for src, dst in zip(images.split(chunk), out.split(chunk)):
        B, n = src.shape[0], src.numel()
        view = (B, 3, -1)
        idx[:n].copy_(src.reshape(-1))
        torch.index_select(lut, 0, idx[:n], out=lin[:n])  # sRGB gamma -> linear
        torch.matmul(w, lin[:n].view(view), out=t[:n].view(view))  # X/Xn, Y/Yn, Z/Zn
        # f as in _f; exp(log(t)/3) is 2x faster than pow here and within 2e-7 relative
        torch.clamp(t[:n], min=_EPS, out=f[:n]).log_().div_(3).exp_()
        torch.minimum(f[:n], t[:n].mul_(_KAPPA).add_(16 / 116), out=f[:n])
        torch.matmul(m, f[:n].view(view), out=dst.view(view))  # normalised L, a, b as one matrix of f
        dst[:, 0].sub_(16 / L_SCALE)
    return out


def lab_to_uint8(L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Normalised L (*, 1, H, W) and ab (*, 2, H, W) -> uint8 RGB (*, 3, H, W)."""
    rgb = lab_to_rgb(denormalize_lab(L.float(), ab.float()))
    return (rgb * 255).round().to(torch.uint8)


def gray_of_lightness(L: torch.Tensor) -> torch.Tensor:
    """L in LAB units (*, 1, H, W) -> sRGB float (*, 3, H, W) with ab = 0: the one definition of "the gray
    version of an image" (what the network sees, and the gray baseline), used everywhere."""
    return lab_to_rgb(torch.cat([L, torch.zeros_like(L).expand(*L.shape[:-3], 2, *L.shape[-2:])], dim=-3))


def gray_uint8(images: torch.Tensor) -> torch.Tensor:
    """uint8 RGB (N, 3, H, W) -> its gray version, uint8 RGB (N, 3, H, W) (see `gray_of_lightness`)."""
    L = uint8_to_lab(images)[:, :1]
    return lab_to_uint8(L, torch.zeros_like(L).expand(-1, 2, -1, -1))
