"""ONNX export: every model with every objective, the decode step inside the graph."""

import numpy as np
import pytest
import torch

from colorbench.models import create_model, list_models, save_model
from colorbench.objectives import list_objectives
from helpers import fitted



@pytest.mark.parametrize("loss", list_objectives())
@pytest.mark.parametrize("name", list_models())
def test_onnx_export_matches_pytorch(name, loss, tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from colorbench.export import export_onnx

    torch.manual_seed(0)
    m = create_model(name, fitted(loss), width=8).eval()
    save_model(m, tmp_path / "w.safetensors")
    path = export_onnx(tmp_path / "w.safetensors", tmp_path / "m.onnx")
    sess = ort.InferenceSession(str(path))
    for shape in [(1, 1, 32, 32), (3, 1, 37, 50), (2, 1, 5, 7)]:  # dynamic batch, height, width
        x = torch.rand(shape)
        got = sess.run(None, {"L": x.numpy()})[0]
        with torch.no_grad():
            want = m(x).numpy()
        assert got.shape == want.shape == (shape[0], 2, *shape[2:]) and np.abs(got - want).max() < 1e-4


def test_export_without_onnx_installed_is_one_clear_line(tmp_path, monkeypatch):
    import importlib.util

    from colorbench.export import export_onnx

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n in ("onnx", "onnxscript") else real(n, *a))
    with pytest.raises(ValueError, match=r"pip install 'colorbench\[onnx\]'"):
        export_onnx(None, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()
