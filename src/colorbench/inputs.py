"""What a network sees: the one place that builds its input from a batch (timm's `in_chans`).

Kept apart from models and objectives (both use it), so neither imports the other for it.
"""

from __future__ import annotations

import torch


def network_input(lab: torch.Tensor, in_channels: int = 1) -> torch.Tensor:
    """What a network sees, from a normalised batch whose first channel is L/100 (a LAB batch
    (B, 3, H, W) in training, L alone (B, 1, H, W) when colorizing) -> (B, in_channels, H, W): L, then
    the channels a later input fills (colour hints, a previous frame), zeros until one does (as
    richzhang/colorization's hints default to zeros). The training loop, evaluate, colorize and export
    all build their input here, so a new input changes this function, never them."""
    L = lab[:, :1]
    if in_channels == 1:
        return L
    return torch.cat([L, L.new_zeros(L.shape[0], in_channels - 1, *L.shape[2:])], 1)
