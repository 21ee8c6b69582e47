"""What several test files build: a colourful test photo, and a fitted objective of any kind."""

import numpy as np
import torch

from colorbench.objectives import create_objective


def photo(h: int = 48, w: int = 64, seed: int = 0) -> np.ndarray:
    """An RGB uint8 photo: colour gradients plus seeded noise."""
    g = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w]
    base = np.stack([x / w, y / h, 1 - x / w], -1) * 200 + g.integers(0, 55, (h, w, 3))
    return base.astype(np.uint8)


def fitted(loss: str, **kwargs):
    """An objective fitted on seeded ab values (classification: its bins and prior come from them)."""
    obj = create_objective(loss, **kwargs)
    obj.fit(torch.rand(4, 2, 16, 16, generator=torch.Generator().manual_seed(0)) * 1.6 - 0.8)
    return obj
