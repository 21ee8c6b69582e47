"""ONNX export of trained weights: the decode step of any objective is inside the graph, so the
exported model maps L to ab whatever trained it."""

from __future__ import annotations

import os
from pathlib import Path

import torch

from .colorize import load_colorizer
from .persist import atomic_write


def export_onnx(weights, path: str | os.PathLike, opset: int = 18) -> Path:
    """Export a checkpoint to ONNX: input "L" (batch, 1, height, width) normalised L in [0, 1],
    output "ab" (batch, 2, height, width) in [-1, 1]; batch, height and width are dynamic."""
    import importlib.util
    import logging
    import warnings

    missing = [m for m in ("onnx", "onnxscript") if importlib.util.find_spec(m) is None]
    if missing:
        raise ValueError(f"ONNX export needs {' and '.join(missing)}, which are not installed: "
                         "pip install 'colorbench[onnx]' (or pip install onnx onnxscript onnxruntime)")
    model, info = load_colorizer(weights, "cpu")
    path = Path(path)
    example = torch.rand(2, 1, 64, 48)
    batch, h, w = (torch.export.Dim(n, min=1, max=16384) for n in ("batch", "height", "width"))
    onnx_log = logging.getLogger("torch.onnx")
    level = onnx_log.level
    onnx_log.setLevel(logging.ERROR)  # it warns about torchvision ops we never use
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            prog = torch.onnx.export(model, (example,), dynamo=True, input_names=["L"], output_names=["ab"],
                                     dynamic_shapes=({0: batch, 2: h, 3: w},), opset_version=opset, verbose=False)
    finally:
        onnx_log.setLevel(level)
    return atomic_write(path, lambda t: prog.save(str(t)))
