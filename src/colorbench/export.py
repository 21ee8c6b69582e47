"""ONNX export of trained weights: the decode step of any objective is inside the graph, so the
exported model maps L (and any further inputs the network sees) to ab whatever trained it."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .colorize import load_colorizer
from .models import network_input
from .persist import atomic_write


class NamedInputs(torch.nn.Module):
    """A colorizer whose inputs are named apart in the graph: "L" (batch, 1, height, width), and for a
    network that sees more, "extra" (batch, in_channels - 1, height, width), the channels after L
    (`models.network_input`: zeros where there is nothing to give)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, L: torch.Tensor, extra: torch.Tensor) -> torch.Tensor:
        return self.model(torch.cat([L, extra], 1))


def export_onnx(weights, path: str | os.PathLike, opset: int = 18) -> Path:
    """Export a checkpoint to ONNX: input "L" (batch, 1, height, width) normalised L in [0, 1] (and
    "extra", the further channels, for a network that sees more than L), output "ab" (batch, 2,
    height, width) in [-1, 1]; batch, height and width are dynamic."""
    import importlib.util
    import logging
    import warnings

    missing = [m for m in ("onnx", "onnxscript") if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(f"ONNX export needs {' and '.join(missing)}, which are not installed: "
                         "pip install 'colorbench[onnx]' (or pip install onnx onnxscript onnxruntime)")
    model, info = load_colorizer(weights, "cpu")
    path = Path(path)
    x = network_input(torch.rand(2, 1, 64, 48), model.in_channels)
    example = (x[:, :1], x[:, 1:]) if model.in_channels > 1 else (x,)
    names = ["L", "extra"][: len(example)]
    batch, h, w = (torch.export.Dim(n, min=1, max=16384) for n in ("batch", "height", "width"))
    onnx_log = logging.getLogger("torch.onnx")
    level = onnx_log.level
    onnx_log.setLevel(logging.ERROR)  # it warns about torchvision ops we never use
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            net = model if model.in_channels == 1 else NamedInputs(model)
            prog = torch.onnx.export(net, example, dynamo=True, input_names=names, output_names=["ab"],
                                     dynamic_shapes=tuple({0: batch, 2: h, 3: w} for _ in example),
                                     opset_version=opset, verbose=False)
    finally:
        onnx_log.setLevel(level)
    return atomic_write(path, lambda t: prog.save(str(t)))
