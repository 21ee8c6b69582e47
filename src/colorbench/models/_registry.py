"""The model registry, and the wrapper every model shares: (B, in_channels, H, W) -> (B, 2, H, W) ab.

A model function builds the network body for a given number of output channels (2 for the
regression objectives, one per colour bin for classification); the objective supplies the decode
step that turns those outputs into ab. So any model trains with any objective, and every trained
model maps L to ab for evaluate, colorize, serve and ONNX alike.

What a network sees is a choice too (timm's `in_chans`): `in_channels` (default 1, L alone), recorded
with the weights; `network_input` is the one place that builds it from a batch.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import contextvars

import torch
import torch.nn.functional as F
from torch import nn

from ..inputs import network_input  # noqa: F401 (re-exported: models.network_input)
from ..objectives import Objective, create_objective, objective_from_spec
from ..persist import ReadError, load_tensors, read_header, save_tensors

MODELS: dict[str, Callable[..., nn.Module]] = {}
MAX_PARAMS = 200_000_000  # weights metadata asking for more is damaged or crafted: refused before building


def register(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
    """File a model function under its own name: the function name is the CLI name."""
    MODELS[fn.__name__] = fn
    return fn


def list_models() -> list[str]:
    return sorted(MODELS)


def create_model(name: str, objective: str | dict | Objective | None = None, in_channels: int = 1,
                 **kwargs) -> Colorizer:
    """Any registered model by name, trained for `objective` (default: the study's MSE), seeing
    `in_channels` input channels (L first); kwargs that are None are dropped, so CLI defaults never
    override a model's own defaults."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; choose one of: {', '.join(list_models())}")
    obj = objective if isinstance(objective, Objective) else (
        objective_from_spec(objective) if isinstance(objective, dict) else create_objective(objective or "mse"))
    kwargs = {k: v for k, v in kwargs.items() if v is not None}
    if not isinstance(in_channels, int) or in_channels < 1:
        raise ValueError(f"in_channels must be a whole number of at least 1 (L), got {in_channels!r}")
    if in_channels != 1:  # recorded in the spec; weights of L alone keep the spec they always had
        kwargs["in_channels"] = in_channels
    token = _HEAD_STRIDE.set(obj.head_stride)  # read by `head` while the model function builds the net
    try:
        model = MODELS[name](out_channels=obj.out_channels, **kwargs)
    finally:
        _HEAD_STRIDE.reset(token)
    model.head_stride = obj.head_stride
    model.in_channels = in_channels
    model.decode = obj.decoder()
    model.spec = {"name": name, "kwargs": kwargs, "objective": obj.spec()}  # travels with the weights
    return model


def conv_relu(cin: int, cout: int) -> nn.Sequential:
    """3x3 convolution, same padding, ReLU: the study's only building block."""
    return nn.Sequential(nn.Conv2d(cin, cout, 3, padding=1), nn.ReLU(inplace=True))


_HEAD_STRIDE: contextvars.ContextVar[int] = contextvars.ContextVar("head_stride", default=1)


def head(cin: int, out_channels: int = 2) -> nn.Sequential:
    """The final convolution to the objective's outputs: 3x3 to the two ab channels (the study's);
    1x1 to a wide set of colour-bin scores, where a 3x3 would cost more than the whole CNN. An
    objective that scores at a lower resolution (`head_stride`, as Zhang et al. do at 1/4) gets
    its features average-pooled first: a 1x1 convolution commutes with the pooling, so this is the
    same head at a fraction of the cost."""
    k = 3 if out_channels <= 8 else 1
    conv = nn.Conv2d(cin, out_channels, k, padding=k // 2)
    stride = _HEAD_STRIDE.get()
    return nn.Sequential(conv) if stride == 1 else nn.Sequential(nn.AvgPool2d(stride, ceil_mode=True), conv)


class Colorizer(nn.Module):
    """The network input (B, in_channels, H, W) (`network_input`: normalised L in [0, 1] first) ->
    ab (B, 2, H, W) in [-1, 1], for any H, W.

    `net` sees sizes padded up to a multiple of `stride` (edge-replicated, so no false borders); its
    output is cropped back to the input's size (`raw`), and `decode` (the objective's: tanh for
    regression, an annealed mean over colour bins for classification) turns it into ab.
    `encoder` names the part of `net` that `colorbench pretrain` trains on a pretext task: a
    module mapping L to features (B, encoder_channels, h, w). `context` names the module of `net` whose output
    (encoder_channels wide, averaged over positions if it has any) summarises the whole image: what a label
    term (`train --label-weight`) classifies.
    """

    def __init__(self, net: nn.Module, stride: int, encoder: nn.Module | None = None, encoder_channels: int = 0,
                 context: nn.Module | None = None):
        super().__init__()
        self.net = net
        self.stride = stride
        self.decode: nn.Module = nn.Tanh()
        self.head_stride = 1  # set by create_model from the objective
        self.in_channels = 1  # set by create_model
        self.spec: dict = {}
        self._encoder = [encoder]  # a list: not registered twice (its modules already live in net)
        self._context = [context]
        self.encoder_channels = encoder_channels
        for m in self.modules():  # the study used Keras: Glorot-uniform weights, zero biases
            if isinstance(m, nn.Conv2d):
                nn.init.xavier_uniform_(m.weight)
                if m.bias is not None:
                    nn.init.zeros_(m.bias)

    @property
    def encoder(self) -> nn.Module | None:
        return self._encoder[0]

    @property
    def context(self) -> nn.Module | None:
        return self._context[0]

    def raw(self, x: torch.Tensor) -> torch.Tensor:
        """The network's own output (B, C, H/s, W/s) (s: the objective's head stride, usually 1),
        before the objective's decode: what losses see. x: the network input (B, in_channels, H, W)."""
        if x.dim() != 4 or x.shape[1] != self.in_channels:
            what = "L" if self.in_channels == 1 else f"L and {self.in_channels - 1} more channels"
            raise ValueError(f"expected the network input ({what}) shaped (B, {self.in_channels}, H, W), "
                             f"got {tuple(x.shape)}")
        H, W = x.shape[-2:]
        s = self.head_stride
        # unconditional (a zero pad is a cheap copy of the input), so an exported graph
        # keeps the padding rule for every height and width rather than the example's
        x = F.pad(x, (0, (-W) % self.stride, 0, (-H) % self.stride), mode="replicate")
        return self.net(x)[..., : (H + s - 1) // s, : (W + s - 1) // s]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        H, W = x.shape[-2:]
        return self.decode(self.raw(x))[..., :H, :W]


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


def forward_flops(model: nn.Module, size: int = 32) -> int:
    """FLOPs (multiply and add counted apart) of one forward pass on one size x size image."""
    from torch.utils.flop_counter import FlopCounterMode

    p = next(model.parameters())
    with torch.no_grad(), FlopCounterMode(display=False) as fc:
        model(torch.zeros(1, model.in_channels, size, size, device=p.device, dtype=p.dtype))
    return fc.get_total_flops()


# ---------------------------------------------------------------------------------------------
# Weights on disk: safetensors, with what is needed to rebuild the model in its metadata


def _fits_half(v: torch.Tensor) -> bool:
    """fp16 holds it without overflow (a batch norm's running variance can exceed 65,504: kept fp32)."""
    return bool(torch.isfinite(v.half()).all()) or not bool(torch.isfinite(v).all())


def save_model(model: Colorizer, path, meta: dict | None = None, half: bool = False) -> None:
    """Write weights atomically; `meta` (config, metrics) rides along as JSON beside the model spec.
    `half` stores floating-point weights as fp16 (colour-bin tables, and any tensor beyond fp16's range,
    stay fp32)."""
    state = {k: (v.half() if half and v.is_floating_point() and k.startswith("net.") and _fits_half(v) else v)
             for k, v in model.state_dict().items()}
    save_tensors(path, state, {"model": model.spec, **(meta or {})})


def _build_checked(path: Path, info: dict, header: dict[str, tuple[torch.dtype, tuple]]) -> Colorizer:
    """The model `info` describes, checked against the file's tensor names and shapes before any
    memory is spent on it (built on the meta device first: no allocation, no RNG use)."""
    spec = info.get("model") if isinstance(info, dict) else None
    if not isinstance(spec, dict) or not isinstance(spec.get("name"), str):
        raise ReadError(f"{path}: its metadata has no model entry; pass weights colorbench wrote")
    name, kwargs, objective = spec["name"], spec.get("kwargs", {}), spec.get("objective")
    if name not in MODELS:
        raise ReadError(f"{path}: made for model {name!r}, which this colorbench does not have "
                        f"(known: {', '.join(list_models())}); upgrade colorbench or retrain")
    if not isinstance(kwargs, dict) or not all(isinstance(v, (int, float, str, bool)) for v in kwargs.values()):
        raise ReadError(f"{path}: its model options are not a mapping of plain values; the file is damaged")
    if objective is not None and not isinstance(objective, dict):
        raise ReadError(f"{path}: its objective entry is not a mapping; the file is damaged")
    try:
        with torch.device("meta"):
            probe = create_model(name, objective, **kwargs)
    except (TypeError, ValueError, RuntimeError, KeyError) as e:
        raise ReadError(f"{path}: cannot build {name!r} from its metadata ({e}); the file is damaged or from "
                        "another colorbench version") from None
    if count_params(probe) > MAX_PARAMS:
        raise ReadError(f"{path}: its metadata asks for a {count_params(probe):,}-parameter model, far past any "
                        "colorbench model; the file is damaged or crafted")
    want = {k: (v.dtype, tuple(v.shape)) for k, v in probe.state_dict().items()}
    missing, unexpected = sorted(set(want) - set(header)), sorted(set(header) - set(want))
    if missing or unexpected:
        what = "; ".join(s for s in (f"missing {', '.join(missing[:3])}" if missing else "",
                                     f"unexpected {', '.join(unexpected[:3])}" if unexpected else "") if s)
        raise ReadError(f"{path}: its tensors do not match a {name!r} model ({what})")
    for k, (dtype, shape) in want.items():
        got_dtype, got = header[k]
        if got != shape or got_dtype.is_floating_point != dtype.is_floating_point:
            kind = "float" if dtype.is_floating_point else "integer"
            raise ReadError(f"{path}: tensor {k} is {got_dtype} {list(got)}, a {name!r} model needs {kind} {list(shape)}")
    return probe


def load_model(path, device: str | torch.device = "cpu") -> tuple[Colorizer, dict]:
    """A model from a `.safetensors` file colorbench wrote, or from a run folder holding one.

    Everything is checked before it is trusted: the metadata, the tensor names and shapes against
    the model it describes (before that model is built), and that every weight is finite."""
    path = Path(path)
    if path.is_dir():
        if not (path / "model.safetensors").exists():
            runs = sorted(p.parent.name for p in path.glob("*/*/model.safetensors"))
            hint = (f"; it holds run folders: {', '.join(runs[:6])}{' ...' if len(runs) > 6 else ''} "
                    f"(pass one, e.g. {path / 'runs' / runs[0]})" if runs else "")
            raise FileNotFoundError(f"{path}: no model.safetensors in this folder{hint}")
        path = path / "model.safetensors"
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such weights file; pass a .safetensors file or a run folder")
    header, info = read_header(path, "weights file")
    probe = _build_checked(path, info, header)
    state, _ = load_tensors(path, "weights file")
    bad = [k for k, v in state.items() if v.is_floating_point() and not torch.isfinite(v).all()]
    if bad:
        raise ReadError(f"{path}: weights {', '.join(bad[:3])} hold NaN or infinity; these weights are broken, "
                        "use an earlier checkpoint")
    model = probe.to_empty(device="cpu")
    model.load_state_dict(state)  # copies into the model's own dtypes (fp16 files become fp32)
    model.spec = probe.spec
    return model.to(device).eval(), info
