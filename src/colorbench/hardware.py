"""Which device, and which precision pays on it: decided by measuring once per machine, then cached.

bf16 autocast runs the convolutions in bfloat16 and everything else (losses, metrics, optimiser state,
saved weights) in float32. It is about 3x faster on CPUs with bf16 matrix units (Intel AMX), about
2x on AVX-512 BF16 (AMD Zen 4), and about 11x *slower* on AVX2-only CPUs, so `auto` times a
representative convolution step in both precisions on this machine and keeps bf16 only where it is
clearly faster. The verdict is cached per CPU, torch version and thread count (it must not flip
between runs: the same seed has to give the same numbers).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import platform
import time

import torch

from .config import DEVICES, MEMORY_FORMATS, PRECISIONS, UsageError

MIN_SPEEDUP = 1.25  # bf16 must beat fp32 by this much to be chosen: noise must not decide


def _has(kind: str) -> int:
    """How many devices of this kind the machine has (1 for mps, which has no index)."""
    if kind == "cuda":
        return torch.cuda.device_count() if torch.cuda.is_available() else 0
    if kind == "mps":
        return int(torch.backends.mps.is_available())
    if kind == "xpu":
        return torch.xpu.device_count() if hasattr(torch, "xpu") and torch.xpu.is_available() else 0
    return 1 if kind == "cpu" else 0


def resolve_device(name: str = "auto") -> torch.device:
    """"auto": the GPU when there is one, else the CPU. The one device check every command uses: a
    device that is not here (or that colorbench does not run on) is one clear UsageError (exit 2)."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(name)
    except RuntimeError:
        raise UsageError(f"unknown device {name!r}; use {DEVICES}") from None
    if dev.type not in ("cpu", "cuda", "mps", "xpu"):
        raise UsageError(f"colorbench does not run on device {name!r}; use {DEVICES}")
    n = _has(dev.type)
    if not n:
        raise UsageError(f"device {name!r} asked for, but this machine has no usable {dev.type} device (or this "
                         f"torch, {torch.__version__}, was built without it); use --device cpu or auto")
    if dev.index is not None and dev.type != "cpu" and dev.index >= n:
        raise UsageError(f"device {name!r} asked for, but this machine has {n} {dev.type} device{'s' * (n != 1)} "
                         f"(numbered from 0)")
    return dev


def _cpu_flags() -> set[str]:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _time_step(bf16: bool, reps: int = 5) -> float:
    """Seconds for the best of `reps` training steps (forward + backward) of two 3x3 convolutions shaped
    like the study's U-Net middle (64 -> 128 -> 64 channels at 16x16, batch 64), after two warm-ups."""
    torch.manual_seed(0)
    net = torch.nn.Sequential(torch.nn.Conv2d(64, 128, 3, padding=1), torch.nn.ReLU(),
                              torch.nn.Conv2d(128, 64, 3, padding=1)).to(memory_format=torch.channels_last)
    x = torch.randn(64, 64, 16, 16).contiguous(memory_format=torch.channels_last)
    best = float("inf")
    for i in range(reps + 2):
        t = time.perf_counter()
        with torch.autocast("cpu", torch.bfloat16, enabled=bf16):
            y = net(x)
        y.float().square().mean().backward()
        if i >= 2:  # the first passes build oneDNN's kernels
            best = min(best, time.perf_counter() - t)
    return best


def cpu_bf16_speedup() -> float:
    """bf16 / fp32 speed of a training convolution on this CPU: measured once, then read from the cache."""
    flags = _cpu_flags()
    if flags and not ({"avx512_bf16", "amx_bf16"} & flags):
        return 0.0  # no bf16 arithmetic units: emulated bf16 is many times slower, no need to time it
    from .data import cache_dir
    from .persist import memo

    def measure() -> dict:
        fp32, bf16 = _time_step(False), _time_step(True)
        return {"cpu": _cpu_name(), "torch": torch.__version__, "threads": torch.get_num_threads(), "fp32_s": fp32,
                "bf16_s": bf16, "speedup": fp32 / bf16}

    key = hashlib.md5(f"{_cpu_name()}|{sorted(flags)}|{torch.__version__}|{torch.get_num_threads()}".encode()).hexdigest()
    return float(memo(cache_dir() / "hardware.json", key, measure)["speedup"])


def resolve_precision(requested: str, device: torch.device) -> str:
    """"auto" -> "bf16" where it pays on `device`, else "fp32"; "fp32" and "bf16" are taken as asked."""
    if requested not in PRECISIONS:
        raise ValueError(f"unknown precision {requested!r}; choose one of: {', '.join(PRECISIONS)}")
    if requested != "auto":
        if requested == "bf16" and device.type == "cuda" and not torch.cuda.is_bf16_supported():
            raise ValueError("this GPU has no bf16 support; use --precision fp32")
        return requested
    if os.environ.get("COLORBENCH_PRECISION") in ("fp32", "bf16"):  # a whole test run or cluster, pinned
        return os.environ["COLORBENCH_PRECISION"]
    if device.type == "cuda":
        return "bf16" if torch.cuda.is_bf16_supported() else "fp32"
    if device.type == "cpu":
        return "bf16" if cpu_bf16_speedup() >= MIN_SPEEDUP else "fp32"
    return "fp32"


def _time_layouts(model: torch.nn.Module, x: torch.Tensor, device: torch.device, precision: str,
                  reps: int = 3) -> dict[str, float]:
    """Seconds for the best of `reps` training steps (forward + backward) of a copy of `model` on `x` in
    each layout, taken in turns so that a busy machine slows both alike, after two warm-ups each."""
    import copy

    runs = {}
    for fmt in ("channels_last", "contiguous"):
        layout = torch.channels_last if fmt == "channels_last" else torch.contiguous_format
        m = copy.deepcopy(model).to(device=device, memory_format=layout).train()
        runs[fmt] = (getattr(m, "raw", m), x.to(device).contiguous(memory_format=layout))
    best = dict.fromkeys(runs, float("inf"))
    for i in range(reps + 2):
        for fmt, (f, xb) in runs.items():
            sync(device)
            t = time.perf_counter()
            with autocast(device, precision):
                y = f(xb)
            y.float().square().mean().backward()
            sync(device)
            if i >= 2:
                best[fmt] = min(best[fmt], time.perf_counter() - t)
    return best


def resolve_memory_format(requested: str, model: torch.nn.Module, x: torch.Tensor, device: torch.device,
                          precision: str) -> str:
    """"auto" -> the layout that trains `model` on batches like `x` faster on this machine: channels_last
    wins for some networks and CPUs (the CNN here, 1.4x) and loses for others (the U-Net, up to 0.9x a plain
    NCHW loop on AVX2-only CPUs), so it is timed, once per machine, model and batch shape, then cached (the
    choice must not flip between runs of the same seed). GPUs: channels_last (tensor cores want it)."""
    if requested not in MEMORY_FORMATS:
        raise ValueError(f"unknown memory format {requested!r}; choose one of: {', '.join(MEMORY_FORMATS)}")
    if requested != "auto":
        return requested
    if os.environ.get("COLORBENCH_MEMORY_FORMAT") in MEMORY_FORMATS[1:]:  # a whole test run or cluster, pinned
        return os.environ["COLORBENCH_MEMORY_FORMAT"]
    if device.type != "cpu":
        return "channels_last"
    from .data import cache_dir
    from .persist import memo

    shapes = [tuple(p.shape) for p in model.parameters()]
    what = f"{type(model).__name__}|{shapes}|{tuple(x.shape)}|{precision}"
    key = hashlib.md5(f"{_cpu_name()}|{sorted(_cpu_flags())}|{torch.__version__}|{torch.get_num_threads()}|"
                      f"{what}".encode()).hexdigest()

    def measure() -> dict:
        t = _time_layouts(model, x, device, precision)
        return {"cpu": _cpu_name(), "torch": torch.__version__, "threads": torch.get_num_threads(), "model": what,
                **{f"{k}_s": v for k, v in t.items()}, "choice": min(t, key=t.get)}

    return memo(cache_dir() / "hardware.json", key, measure)["choice"]


def autocast(device: torch.device, precision: str):
    """The context the forward pass runs in: bf16 autocast, or nothing for fp32."""
    if precision == "bf16":
        return torch.autocast(device.type, torch.bfloat16)
    return contextlib.nullcontext()


def device_name(device: torch.device) -> str:
    """What to call the device in reports: the GPU's or CPU's name."""
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"CPU: {_cpu_name()}"


def sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)
