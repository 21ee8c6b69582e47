"""Named augmentation sets, applied to whole LAB batches (B, 3, H, W), one random draw per image.

Only geometry changes: nothing here alters colour, which is the target.

  none     no augmentation
  study    the study's: random flips and 90-degree turns (all 8 symmetries of a square)
  strong   study, then a random resized crop (area 50-100%, aspect 3:4 to 4:3) and a small rotation
           (up to 15 degrees) with reflected borders, resampled bilinearly back to the batch's size
  photo    for photos, which have an up (sky above, ground below): a left-right flip, a random resized
           crop (area 60-100%) and a rotation of up to 5 degrees; never upside down or on their side
  flip     for photos: a left-right flip alone, lossless, so crops stay as sharp as the photos colorize sees
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

import torch
import torch.nn.functional as F

Augment = Callable[[torch.Tensor, torch.Generator], torch.Tensor]


def _coin(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return torch.rand(x.shape[0], 1, 1, 1, generator=g, device=x.device) < 0.5  # (B,1,1,1), broadcasts


def left_right(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return torch.where(_coin(x, g), x.flip(-1), x)


def flips_and_turns(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random flips and 90-degree turns of a batch (B, C, H, W), one draw per image: with a
    transpose, all 8 symmetries of a square (flips only for non-square images)."""
    x = left_right(x, g)
    x = torch.where(_coin(x, g), x.flip(-2), x)  # up-down
    if x.shape[-1] == x.shape[-2]:
        x = torch.where(_coin(x, g), x.transpose(-1, -2), x)
    return x


def crop_and_rotate(x: torch.Tensor, g: torch.Generator, min_area: float = 0.5, max_degrees: float = 15.0) -> torch.Tensor:
    """A random resized crop and a small rotation per image, as one affine resampling (bilinear,
    reflected borders), so the batch keeps its size and no image is resampled twice."""
    B, dev = x.shape[0], x.device

    def u(lo, hi):
        return lo + (hi - lo) * torch.rand(B, generator=g, device=dev)

    area = u(min_area, 1.0)
    log_aspect = u(math.log(3 / 4), math.log(4 / 3))
    sx = (area * log_aspect.exp()).sqrt().clamp(max=1)  # crop width / image width
    sy = (area / log_aspect.exp()).sqrt().clamp(max=1)
    tx, ty = (1 - sx) * u(-1, 1), (1 - sy) * u(-1, 1)  # crop centre stays inside the image
    angle = u(-max_degrees, max_degrees) * math.pi / 180
    cos, sin = angle.cos(), angle.sin()
    theta = torch.stack([torch.stack([sx * cos, -sy * sin, tx], 1), torch.stack([sx * sin, sy * cos, ty], 1)], 1)
    grid = F.affine_grid(theta.to(x.dtype), list(x.shape), align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def photo_flip_crop(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    return crop_and_rotate(left_right(x, g), g, min_area=0.6, max_degrees=5.0)


AUGMENTATIONS: dict[str, Augment | None] = {
    "none": None,
    "study": flips_and_turns,
    "strong": lambda x, g: crop_and_rotate(flips_and_turns(x, g), g),
    "photo": photo_flip_crop,
    "flip": left_right,
}


def get_augment(name: str) -> Augment | None:
    if name not in AUGMENTATIONS:
        raise ValueError(f"unknown augmentation {name!r}; choose one of: {', '.join(AUGMENTATIONS)}")
    return AUGMENTATIONS[name]


def epoch_batches(images: torch.Tensor, batch_size: int, g: torch.Generator,
                  augment: Augment | None) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
    """One training epoch over a tensor-resident split: a seeded shuffle, then each batch gathered and
    augmented -> (indices into `images`, batch). The one owner of how an epoch draws its batches, for
    colorization (train.py) and encoder pretraining (pretrain.py) alike; the shuffle is drawn first and
    each batch's augmentation after it, from the one generator, so a seed gives the same epoch anywhere."""
    perm = torch.randperm(len(images), generator=g, device=images.device)
    for i in range(0, len(images), batch_size):
        idx = perm[i : i + batch_size]
        xb = images[idx]
        yield idx, (augment(xb, g) if augment is not None else xb)
