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


def rgb_to_lab(rgb: torch.Tensor) -> torch.Tensor:
    """sRGB in [0, 1], (*, 3, H, W) -> LAB: L in [0, 100], a and b roughly in [-128, 127].

    >>> rgb_to_lab(torch.ones(1, 3, 1, 1)).flatten().round(decimals=2).tolist()
    [100.0, 0.0, 0.0]
    """
    _check(rgb, "rgb")
    # sRGB gamma -> linear; the clamp keeps pow's gradient finite at 0
    lin = torch.where(rgb > 0.04045, ((rgb.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4, rgb / 12.92)
    xyz = _mix(_XYZ_FROM_RGB, lin)
    white = torch.tensor(_WHITE_D65, dtype=rgb.dtype, device=rgb.device).view(3, 1, 1)
    t = xyz / white
    f = torch.where(t > _EPS, t.clamp(min=_EPS) ** (1 / 3), _KAPPA * t + 16 / 116)
    fx, fy, fz = f.unbind(-3)
    L = 116 * fy - 16
    a = 500 * (fx - fy)
    b = 200 * (fy - fz)
    return torch.stack([L, a, b], dim=-3)


def lab_to_rgb(lab: torch.Tensor) -> torch.Tensor:
    """LAB (*, 3, H, W) -> sRGB in [0, 1]. Out-of-gamut colours are clipped, never NaN.

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
    return rgb.clamp(0, 1)


def normalize_lab(lab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """LAB (*, 3, H, W) -> (L/100 in [0, 1] as (*, 1, H, W), ab/128 in [-1, 1] as (*, 2, H, W))."""
    return lab[..., :1, :, :] / L_SCALE, lab[..., 1:, :, :] / AB_SCALE


def denormalize_lab(L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Inverse of `normalize_lab`: (*, 1, H, W) and (*, 2, H, W) -> LAB (*, 3, H, W)."""
    return torch.cat([L * L_SCALE, ab * AB_SCALE], dim=-3)


def uint8_to_lab(images: torch.Tensor, dtype: torch.dtype = torch.float32) -> torch.Tensor:
    """uint8 RGB (*, 3, H, W) -> normalised LAB (*, 3, H, W): channel 0 is L/100, 1-2 are ab/128."""
    L, ab = normalize_lab(rgb_to_lab(images.to(dtype) / 255))
    return torch.cat([L, ab], dim=-3)


def lab_to_uint8(L: torch.Tensor, ab: torch.Tensor) -> torch.Tensor:
    """Normalised L (*, 1, H, W) and ab (*, 2, H, W) -> uint8 RGB (*, 3, H, W)."""
    rgb = lab_to_rgb(denormalize_lab(L.float(), ab.float()))
    return (rgb * 255).round().to(torch.uint8)
