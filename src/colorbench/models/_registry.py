"""The model registry, and the wrapper every model shares: (B, 1, H, W) L -> (B, 2, H, W) ab."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path

import torch
import torch.nn.functional as F
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn

MODELS: dict[str, Callable[..., nn.Module]] = {}


def register(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """File a model function under its own name: the function name is the CLI name."""
    MODELS[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    return sorted(MODELS)


def create_model(name: str, **kwargs) -> Colorizer:
    """Any registered model by name; kwargs that are None are dropped, so CLI defaults never
    override a model's own defaults."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(list_models())}")
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    model = MODELS[name](**kwargs)
    model.spec = {"name": name, "kwargs": kwargs}  # travels with the weights in checkpoints
    return model


def conv_relu(cin: int, cout: int) -> nn.Sequential:
    """3x3 convolution, same padding, ReLU: the study's only building block."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True))


def head(cin: int) -> nn.Sequential:
    """Final 3x3 convolution to the two ab channels, tanh into [-1, 1] (ab/128)."""
    return nn.Sequential(nn.Conv2d(cin, 2, 3, padding=1), nn.Tanh())


class Colorizer(nn.Module):
    """Normalised L (B, 1, H, W) in [0, 1] -> ab (B, 2, H, W) in [-1, 1], for any H, W.

    `net` sees sizes padded up to a multiple of `stride` (edge-replicated, so no false borders);
    the output is cropped back to the input's size.
    """

    def __init__(self, net: nn.Module, stride: int):
        super().__init__()
        self.net = net
        self.stride = stride
        self.spec: dict = {}
        for m in self.modules():  # the study used Keras: Glorot-uniform weights, zero biases
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight)
                nn.init.zeros_(m.bias)

    def forward(self, L: torch.Tensor) -> torch.Tensor:
        if L.dim() != 4 or L.shape[1] != 1:
            raise ValueError(f"expected L shaped (B, 1, H, W), got {tuple(L.shape)}")
        H, W = L.shape[-2:]
        # unconditional (a zero pad is a cheap copy of the 1-channel input), so an exported graph
        # keeps the padding rule for every height and width rather than the example's
        L = F.pad(L, (0, (-W) % self.stride, 0, (-H) % self.stride), mode="replicate")
        return self.net(L)[..., :H, :W]


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def forward_flops(model: nn.Module, size: int = 32) -> int:
    """FLOPs (multiply and add counted apart) of one forward pass on one size x size image."""
    from torch.utils.flop_counter import FlopCounterMode

    p = next(model.parameters())
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(torch.zeros(1, 1, size, size, device=p.device, dtype=p.dtype))
    return fc.get_total_flops()


# ---------------------------------------------------------------------------------------------
# Weights on disk: safetensors, with what is needed to rebuild the model in its metadata


def save_model(model: Colorizer, path, meta: dict | None = None, half: bool = False) -> None:
    """Write weights atomically (temp file + rename); `meta` (config, metrics) rides along as JSON."""
    path = Path(path)
    state = {k: (v.half() if half else v).detach().cpu().contiguous() for k, v in model.state_dict().items()}
    info = {"model": model.spec, **(meta or {})}
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    save_file(state, str(tmp), metadata={"colorbench": json.dumps(info)})
    os.replace(tmp, path)


def load_model(path, device: str | torch.device = "cpu") -> tuple[Colorizer, dict]:
    """A model from a `.safetensors` file colorbench wrote, or from a run folder holding one."""
    path = Path(path)
    if path.is_dir():
        path = path / "model.safetensors"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such weights file; pass a .safetensors file or a run folder")
    try:
        with safe_open(str(path), "pt") as f:
            info = json.loads((f.metadata() or {})["colorbench"])
        state = load_file(str(path))
    except (SafetensorError, KeyError, ValueError, OSError) as e:
        raise ValueError(f"{path}: not a colorbench weights file ({type(e).__name__}: {e})") from None
    model = create_model(info["model"]["name"], **info["model"]["kwargs"])
    model.load_state_dict({k: v.float() for k, v in state.items()})
    return model.to(device).eval(), info
