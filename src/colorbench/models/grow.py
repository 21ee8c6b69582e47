"""Growing trained weights into a wider network of the same kind (Net2Net's idea, Chen et al. 2016):
`train --init WEIGHTS --width W` with W above the weights' width goes on from what they learnt with more
channels at every level, instead of starting a wider network from scratch.

Each old channel keeps its slot (the first ones of its layer) and its weights; the new channels get the wider
network's own random start for what they compute, and zero weights wherever a layer reads them. So the wider
network computes exactly what the narrow one did, and training grows the new channels from there: the first
step gives the zero weights a gradient (the new channels are not zero), the next gives one to the new channels.
"""

from __future__ import annotations

import torch
from torch import nn


def concatenated_inputs(model: nn.Module) -> dict[str, tuple[int, ...]]:
    """{weight name: widths of the tensors concatenated into its input}, from every module that concatenates
    (a U-Net's decoder, global context) through its `concatenated_inputs()`; other layers read one tensor."""
    found = {}
    for prefix, module in model.named_modules():
        if hasattr(module, "concatenated_inputs"):
            for name, parts in module.concatenated_inputs().items():
                found[f"{prefix}.{name}" if prefix else name] = parts
    return found


def first_conv(module: nn.Module) -> str:
    """The name (within `module`) of its first convolution's weight: the layer that reads its input."""
    return next(f"{n}.weight" for n, m in module.named_modules() if isinstance(m, nn.Conv2d))


def _input_slots(old_parts: tuple[int, ...], new_parts: tuple[int, ...]) -> torch.Tensor:
    """Where each old input channel sits in the wider input: each concatenated part keeps its old channels
    first, then its new ones."""
    slots, start = [], 0
    for old, new in zip(old_parts, new_parts):
        slots.append(torch.arange(start, start + old))
        start += new
    return torch.cat(slots)


def widen(tensors: dict[str, torch.Tensor], narrow: nn.Module, wide: nn.Module) -> dict[str, torch.Tensor]:
    """`tensors` (weights of `narrow`) fitted to `wide`, a wider network of the same kind: for each tensor of
    `narrow`, the wide network's own start with the old values in the old channels' slots and zero where an
    old channel reads a new one. Tensors of the same shape pass as they are."""
    start = wide.state_dict()
    old_cat, new_cat = concatenated_inputs(narrow), concatenated_inputs(wide)
    out = {}
    for key, old in tensors.items():
        new = start[key]
        if old.shape == new.shape:
            out[key] = old
            continue
        if old.dim() != new.dim() or any(o > n for o, n in zip(old.shape, new.shape)):
            raise ValueError(f"{key}: {tuple(old.shape)} does not fit in {tuple(new.shape)}")
        grown = new.detach().clone().to(old.dtype)
        rows = slice(0, old.shape[0])  # outputs: the old channels first (outputs are never concatenated)
        if old.dim() == 1:
            grown[rows] = old
        else:
            slots = (_input_slots(old_cat[key], new_cat[key]) if key in old_cat
                     else torch.arange(old.shape[1]))
            grown[rows] = 0  # an old channel reads none of the new ones
            grown[rows, slots] = old
        out[key] = grown
    return out
