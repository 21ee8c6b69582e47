"""ONNX export of trained weights: the decode step of any objective is inside the graph, so the
exported model maps L (and any further inputs the network sees) to ab whatever trained it, averaged with
its ab of the mirror image as `colorize` does (`colorize.mirrored`)."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .colorize import Mirrored, load_colorizer
from .inputs import HINT_CHANNELS
from .models import network_input
from .persist import atomic_write


class NamedInputs(torch.nn.Module):
    """A colorizer whose inputs are named apart in the graph: "L" (batch, 1, height, width), then the
    channels after it (`inputs.network_input`: zeros where there is nothing to give): for a network of
    colour hints "hint_ab" (batch, 2, height, width; ab/128, 0 where there is no hint) and "hint_mask"
    (batch, 1, height, width; 1 at a hint), else "extra" (batch, in_channels - 1, height, width)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, L: torch.Tensor, extra: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        return self.model(torch.cat([L, extra] if mask is None else [L, extra, mask], 1))


def input_names(in_channels: int) -> list[str]:
    """The graph's input names, in order (`NamedInputs`)."""
    return ["L"] if in_channels == 1 else ["L", "hint_ab", "hint_mask"] if in_channels == HINT_CHANNELS else ["L", "extra"]


def export_onnx(weights, path: str | os.PathLike, opset: int = 18, temperature: float | None = None) -> Path:
    """Export a checkpoint to ONNX: input "L" (batch, 1, height, width) normalised L in [0, 1] (and for
    a network that sees more than L, its further channels: "hint_ab" and "hint_mask" for colour hints,
    `NamedInputs`), output "ab" (batch, 2, height, width) in [-1, 1]; batch, height and width are dynamic.
    Give it L shrunk to the weights' network size as `colorize.shrink` does (bicubic, antialiased, as training
    photos were), and upsample its ab back to the photo's size. temperature: classification weights decode at this
    annealed-mean T in the graph (`load_colorizer`)."""
    import importlib.util
    import logging
    import warnings

    missing = [m for m in ("onnx", "onnxscript") if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(f"ONNX export needs {' and '.join(missing)}, which are not installed: "
                         "pip install 'colorbench[onnx]' (or pip install onnx onnxscript onnxruntime)")
    model, info = load_colorizer(weights, "cpu", temperature=temperature)
    path = Path(path)
    x = network_input(torch.rand(2, 1, 64, 48), model.in_channels)
    names = input_names(model.in_channels)
    example = (x[:, :1], x[:, 1:3], x[:, 3:]) if len(names) == 3 else (x[:, :1], x[:, 1:]) if len(names) == 2 else (x,)
    batch, h, w = (torch.export.Dim(n, min=1, max=16384) for n in ("batch", "height", "width"))
    onnx_log = logging.getLogger("torch.onnx")
    level = onnx_log.level
    onnx_log.setLevel(logging.ERROR)  # it warns about torchvision ops we never use
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net = Mirrored(model) if model.in_channels == 1 else NamedInputs(Mirrored(model))
            prog = torch.onnx.export(net, example, dynamo=True, input_names=names, output_names=["ab"],
                                     dynamic_shapes=tuple({0: batch, 2: h, 3: w} for _ in example),
                                     opset_version=opset, verbose=False)
    finally:
        onnx_log.setLevel(level)
    return atomic_write(path, lambda t: prog.save(str(t)))
