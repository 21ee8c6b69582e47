"""ONNX export: every model with every objective, the decode step inside the graph."""

import numpy as np
import pytest
import torch

from colorbench.models import create_model, list_models, save_model
from colorbench.objectives import list_objectives
from helpers import fitted



def _decode_step(loss: str) -> tuple:
    """What an objective adds to the exported graph: its decode step, and the head it needs."""
    obj = fitted(loss)
    return type(obj.decoder()).__name__, obj.out_channels, obj.head_stride


# The graph is the network plus its objective's decode step: objectives that decode alike (the
# regressors' tanh) export the same graph, so each distinct decode step is exported once per model
# (a dynamo export costs seconds), and the next test checks that the others do build that same graph.
DECODES = {}
for _loss in list_objectives():
    DECODES.setdefault(_decode_step(_loss), _loss)


@pytest.mark.parametrize("name", list_models())
def test_objectives_that_decode_alike_build_the_same_graph(name):
    for loss in list_objectives():
        first = DECODES[_decode_step(loss)]
        a, b = create_model(name, fitted(loss), width=8), create_model(name, fitted(first), width=8)
        assert type(a.decode) is type(b.decode), (loss, first)
        assert {k: v.shape for k, v in a.state_dict().items()} == {k: v.shape for k, v in b.state_dict().items()}


@pytest.mark.parametrize("loss", sorted(DECODES.values()))
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
