"""ONNX export: every model with every objective, the decode step inside the graph."""

import numpy as np
import pytest
import torch

from colorbench.colorize import mirrored
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


def _exports():
    """Every model with every distinct decode step; in the suite, each model once with the richest decode
    (the annealed mean: bins, upsampling) and the regressors' tanh once, the rest marked slow: each
    network's graph is then exported, and each decode step."""
    richest = DECODES[_decode_step("classification")]
    for loss in sorted(DECODES.values()):
        for i, name in enumerate(list_models()):
            slow = loss != richest and i > 0
            yield pytest.param(name, loss, marks=[pytest.mark.slow] if slow else [], id=f"{name}-{loss}")


@pytest.mark.parametrize("name, loss", list(_exports()))
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
            want = mirrored(m, x).numpy()  # as colorize: averaged with the mirror image
        assert got.shape == want.shape == (shape[0], 2, *shape[2:]) and np.abs(got - want).max() < 1e-4


def test_export_without_onnx_installed_is_one_clear_line(tmp_path, monkeypatch):
    import importlib.util

    from colorbench.export import export_onnx

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda n, *a: None if n in ("onnx", "onnxscript") else real(n, *a))
    with pytest.raises(ValueError, match=r"pip install 'colorbench\[onnx\]'"):
        export_onnx(None, tmp_path / "m.onnx")
    assert not (tmp_path / "m.onnx").exists()


def test_onnx_export_of_hint_weights_takes_the_hints_and_matches_pytorch(tmp_path):
    """Weights of colour hints: inputs L, hint_ab, hint_mask; the same ab as PyTorch with and without hints."""
    ort = pytest.importorskip("onnxruntime")
    from colorbench.export import export_onnx
    from colorbench.inputs import hint_map, network_input, simulate_hints

    torch.manual_seed(0)
    m = create_model("cnn", fitted("classification", head_stride=4), 4, width=8).eval()
    first = next(w for w in m.parameters() if w.dim() == 4)
    assert first.shape[1] == 4
    save_model(m, tmp_path / "w.safetensors")
    sess = ort.InferenceSession(str(export_onnx(tmp_path / "w.safetensors", tmp_path / "m.onnx")))
    assert [i.name for i in sess.get_inputs()] == ["L", "hint_ab", "hint_mask"]
    lab = torch.rand(3, 3, 37, 50) * 2 - 1
    lab[:, 0] = lab[:, 0].abs()
    drawn = simulate_hints(lab, torch.Generator().manual_seed(0))
    for hints in (drawn, torch.zeros(3, 3, 37, 50),
                  hint_map(torch.tensor([[0.2, 0.7]]), torch.tensor([[0.5, -0.4]]), 37, 50).expand(3, -1, -1, -1)):
        x = network_input(lab, 4, hints=hints)
        got = sess.run(None, {"L": x[:, :1].numpy(), "hint_ab": x[:, 1:3].numpy(), "hint_mask": x[:, 3:].numpy()})[0]
        with torch.no_grad():
            want = mirrored(m, x).numpy()  # as colorize: averaged with the mirror image
        assert got.shape == want.shape == (3, 2, 37, 50) and np.abs(got - want).max() < 1e-4
    with torch.no_grad():  # and the hints change the colours, beyond the tolerance (else parity proves little)
        assert (m(network_input(lab, 4, hints=drawn)) - m(network_input(lab, 4))).abs().max() > 1e-3  # 10x the tolerance


def test_onnx_export_at_another_temperature_decodes_there(tmp_path):
    """export --temperature: the graph decodes the bins at the T given, as the weights loaded at that T do."""
    ort = pytest.importorskip("onnxruntime")
    from colorbench.colorize import load_colorizer
    from colorbench.export import export_onnx

    torch.manual_seed(0)
    m = create_model("cnn", fitted("classification"), width=8).eval()
    [c for c in m.modules() if isinstance(c, torch.nn.Conv2d)][-1].weight.data *= 30  # T matters
    save_model(m, tmp_path / "w.safetensors")
    sess = ort.InferenceSession(str(export_onnx(tmp_path / "w.safetensors", tmp_path / "m.onnx", temperature=2.0)))
    x = torch.rand(2, 1, 24, 40)
    got = sess.run(None, {"L": x.numpy()})[0]
    with torch.no_grad():
        hot, own = mirrored(load_colorizer(tmp_path / "w.safetensors", temperature=2.0)[0], x), mirrored(m, x)
    assert np.abs(got - hot.numpy()).max() < 1e-4 and np.abs(got - own.numpy()).max() > 1e-2  # 100x apart
