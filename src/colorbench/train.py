"""Training: a typed config whose defaults are the study's protocol, and a lean, seeded, resumable loop.

The dataset lives as tensors: the training split is converted to normalised LAB once (flips and
90-degree turns commute with the per-pixel colour conversion), then every step is a gather, a
batched augmentation and the model. No per-image Python, no DataLoader, no host sync per step.

A run folder holds:
  config.json        the TrainConfig
  log.jsonl          one JSON line per epoch (losses, images/s, times)
  model.safetensors  latest weights + model spec, config and metrics (what evaluate/colorize load)
  state.pt           weights, optimiser, RNG states and history at the last finished epoch (--resume)
  metrics.json       written when the run completes
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from . import __version__
from .color import uint8_to_lab
from .data import Dataset, load_dataset, stratified_split
from .models import count_params, create_model, forward_flops, save_model


@dataclass(frozen=True)
class TrainConfig:
    model: str = "cnn"
    data: str = "cifar10"  # "cifar10", "sample", or a path (see data.load_dataset)
    size: int = 0  # 0: the source's own size; else crop/resize to size x size
    epochs: int = 10
    batch_size: int = 64
    lr: float = 1e-3  # Adam, as in the study
    val_fraction: float = 0.2  # the study's 80/20 split of the training set
    split_seed: int = 0  # the split stays fixed across training seeds
    train_limit: int = 0  # 0: the whole training split; else a stratified subset of this many
    augment: bool = True  # random flips and 90-degree turns (the study: flips and rotations)
    seed: int = 0  # weights init, shuffling, augmentation; `compare` runs several
    device: str = "auto"  # "auto": cuda if available, else cpu
    amp: bool = True  # bf16 autocast on CUDA only (about 11x slower on this CPU: no AVX-512 bf16)
    channels_last: bool = True  # measured: ~1.3x faster on CPU for these convs
    compile: bool = False  # torch.compile: did not beat eager on CPU
    threads: int = 0  # 0: torch's default (one per physical core)
    eval_batch_size: int = 1000


# The study's protocol is the default; the others shrink it for a first look and for CI.
PRESETS: dict[str, dict] = {
    "study": {},
    "quick": {"epochs": 3, "train_limit": 10_000},
    "smoke": {"epochs": 1, "train_limit": 1_000, "data": "sample"},
}

# Fields a resumed run may change: they alter neither the data seen nor the order it is seen in.
RESUMABLE_CHANGES = {"epochs", "lr", "device", "threads", "compile", "eval_batch_size"}


def preset(name: str, **overrides) -> TrainConfig:
    if name not in PRESETS:
        raise ValueError(f"unknown preset {name!r}; choose one of: {', '.join(PRESETS)}")
    return dataclasses.replace(TrainConfig(), **{**PRESETS[name], **overrides})


class TrainingError(Exception):
    """A run that cannot start or go on, explained in one line."""


def resolve_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def augment(x: torch.Tensor, g: torch.Generator) -> torch.Tensor:
    """Random flips and 90-degree turns of a batch (B, C, H, W), one draw per image: with a
    transpose, all 8 symmetries of a square (flips only for non-square images)."""
    B = x.shape[0]

    def coin() -> torch.Tensor:
        return torch.rand(B, 1, 1, 1, generator=g, device=x.device) < 0.5  # (B,1,1,1), broadcasts

    x = torch.where(coin(), x.flip(-1), x)  # left-right
    x = torch.where(coin(), x.flip(-2), x)  # up-down
    if x.shape[-1] == x.shape[-2]:
        x = torch.where(coin(), x.transpose(-1, -2), x)
    return x


def run_name(model: str, seed: int) -> str:
    """The default run folder name, as `colorbench train` and `compare` use it."""
    return f"{model}-s{seed}"


def to_lab(images: torch.Tensor, device: torch.device, chunk: int = 8192) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> normalised LAB float32 on `device`, converted in chunks to bound memory."""
    if images.device == torch.device(device):
        return uint8_to_lab(images)  # chunks internally, writing straight into its result
    out = torch.empty(images.shape, dtype=torch.float32, device=device)
    for i in range(0, len(images), chunk):
        out[i : i + chunk] = uint8_to_lab(images[i : i + chunk].to(device, non_blocking=True))
    return out


@dataclass
class Prepared:
    """The tensors a run trains and validates on."""

    train: torch.Tensor  # (N, 3, H, W) float32 normalised LAB
    val: torch.Tensor
    train_idx: torch.Tensor  # indices into the dataset's training split
    val_idx: torch.Tensor
    dataset: Dataset


def prepare(cfg: TrainConfig, device: torch.device, dataset: Dataset | None = None, progress: bool = True) -> Prepared:
    ds = dataset or load_dataset(cfg.data, size=cfg.size or None, progress=progress)
    train_idx, val_idx = stratified_split(ds.train.labels, cfg.val_fraction, seed=cfg.split_seed)
    if cfg.train_limit and cfg.train_limit < len(train_idx):
        _, keep = stratified_split(ds.train.labels[train_idx], cfg.train_limit / len(train_idx), seed=cfg.split_seed)
        train_idx = train_idx[keep]
    if len(train_idx) == 0 or len(val_idx) == 0:
        raise TrainingError(f"{ds.source}: too few training images ({len(ds.train)}) for a train/validation split")
    return Prepared(to_lab(ds.train.images[train_idx], device), to_lab(ds.train.images[val_idx], device),
                    train_idx, val_idx, ds)


@torch.no_grad()
def evaluate_loss(model: torch.nn.Module, lab: torch.Tensor, batch_size: int, amp: bool = False) -> float:
    """MSE on normalised ab over a whole LAB tensor (the study's validation loss)."""
    was_training = model.training
    model.eval()
    total = torch.zeros((), dtype=torch.float64, device=lab.device)
    for i in range(0, len(lab), batch_size):
        xb = lab[i : i + batch_size]
        with torch.autocast(lab.device.type, torch.bfloat16, enabled=amp):
            pred = model(xb[:, :1])
        total += F.mse_loss(pred.float(), xb[:, 1:], reduction="sum").double()
    model.train(was_training)
    return total.item() / lab[:, 1:].numel()


def _rng_state(g: torch.Generator) -> dict:
    s = {"cpu": torch.get_rng_state(), "gen": g.get_state()}
    if torch.cuda.is_available():
        s["cuda"] = torch.cuda.get_rng_state_all()
    return s


def _set_rng_state(g: torch.Generator, s: dict) -> None:
    torch.set_rng_state(s["cpu"])
    g.set_state(s["gen"])
    if "cuda" in s and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(s["cuda"])


def _atomic_torch_save(obj, path: Path) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    torch.save(obj, tmp)
    os.replace(tmp, path)


def _check_run_dir(out: Path, cfg: TrainConfig, resume: bool, overwrite: bool) -> dict | None:
    """Refuse to clobber another run; on resume, load its state and check the config matches."""
    state_file = out / "state.pt"
    if resume:
        if not state_file.exists():
            if out.exists() and any(out.iterdir()) and not (out / "config.json").exists():
                raise TrainingError(f"{out}: not a colorbench run folder; nothing to resume")
            return None  # nothing finished yet: start from scratch
        old = json.loads((out / "config.json").read_text())
        diff = {k for k, v in asdict(cfg).items() if old.get(k) != v} - RESUMABLE_CHANGES
        if diff:
            changes = ", ".join(f"{k}: {old.get(k)!r} -> {getattr(cfg, k)!r}" for k in sorted(diff))
            raise TrainingError(f"{out}: cannot resume with a different config ({changes}); use another --out")
        return torch.load(state_file, map_location="cpu", weights_only=True)
    if out.exists() and any(out.iterdir()):
        if not overwrite:
            raise TrainingError(f"{out} already holds a run; pass --resume to continue it, --overwrite to replace it, "
                                "or choose another --out")
        if not (out / "config.json").exists():
            raise TrainingError(f"{out}: not a colorbench run folder; refusing to overwrite it")
        for name in ("state.pt", "model.safetensors", "log.jsonl", "metrics.json", "config.json"):
            (out / name).unlink(missing_ok=True)
    return None


def train(cfg: TrainConfig, out: str | os.PathLike, resume: bool = False, overwrite: bool = False,
          dataset: Dataset | None = None, progress: bool = True, log=print) -> dict:
    """Train one model; returns the run's metrics (also written to out/metrics.json)."""
    from tqdm import tqdm

    out = Path(out)
    state = _check_run_dir(out, cfg, resume, overwrite)
    if state is not None and state["epoch"] >= cfg.epochs and (out / "metrics.json").exists():
        return json.loads((out / "metrics.json").read_text())  # already finished
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.json").write_text(json.dumps(asdict(cfg), indent=2))

    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    amp = cfg.amp and device.type == "cuda"
    data = prepare(cfg, device, dataset, progress)
    n = len(data.train)

    torch.manual_seed(cfg.seed)
    model = create_model(cfg.model).to(device)
    params, flops = count_params(model), forward_flops(model, data.train.shape[-1])
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    opt = torch.optim.Adam(model.parameters(), lr=cfg.lr)
    g = torch.Generator(device=device).manual_seed(cfg.seed)  # shuffling and augmentation
    step_fn = torch.compile(model) if cfg.compile else model

    history: list[dict] = []
    start, train_time = 0, 0.0
    if state is not None:
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["optimizer"])
        for group in opt.param_groups:
            group["lr"] = cfg.lr
        _set_rng_state(g, state["rng"])
        start, history, train_time = state["epoch"], state["history"], state["train_time_s"]
        log(f"resuming {out} after epoch {start}")
    # the log always matches the checkpoint: lines past it (a killed epoch) are dropped
    (out / "log.jsonl").write_text("".join(json.dumps(h) + "\n" for h in history))

    def meta(epoch: int) -> dict:
        last = history[-1] if history else {}
        return {"config": asdict(cfg), "epoch": epoch, "val_loss": last.get("val_loss"),
                "dataset": {"name": data.dataset.name, "digest": data.dataset.digest}, "version": __version__}

    sync_every = 25  # steps between host reads of the running loss (progress bar, NaN check)
    steps = math.ceil(n / cfg.batch_size)
    model.train()
    for epoch in range(start + 1, cfg.epochs + 1):
        t0 = time.perf_counter()
        perm = torch.randperm(n, generator=g, device=device)
        loss_sum = torch.zeros((), device=device)
        bar = tqdm(total=steps, desc=f"{cfg.model} s{cfg.seed} epoch {epoch}/{cfg.epochs}", unit="step",
                   disable=not progress, leave=False)
        for step, i in enumerate(range(0, n, cfg.batch_size), 1):
            xb = data.train[perm[i : i + cfg.batch_size]]
            if cfg.augment:
                xb = augment(xb, g)
            L, ab = xb[:, :1], xb[:, 1:]
            if cfg.channels_last:
                L = L.contiguous(memory_format=torch.channels_last)
            with torch.autocast(device.type, torch.bfloat16, enabled=amp):
                pred = step_fn(L)
            loss = F.mse_loss(pred.float(), ab)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            loss_sum += loss.detach() * len(xb)
            if step % sync_every == 0 or step == steps:
                running = loss_sum.item() / min(i + cfg.batch_size, n)
                if not math.isfinite(running):
                    bar.close()
                    where = f"epoch {epoch - 1} in {out / 'model.safetensors'}" if history else "none was written"
                    raise TrainingError(f"loss became {running} at epoch {epoch}, step {step}: stopped; last good "
                                        f"checkpoint: {where} (try a lower --lr)")
                bar.set_postfix(loss=f"{running:.5f}", refresh=False)
                bar.update(step - bar.n)
        bar.close()
        epoch_time = time.perf_counter() - t0
        train_time += epoch_time
        val_loss = evaluate_loss(model, data.val, cfg.eval_batch_size, amp)
        if not math.isfinite(val_loss):
            raise TrainingError(f"validation loss became {val_loss} at epoch {epoch}: stopped (try a lower --lr)")
        history.append({"epoch": epoch, "train_loss": loss_sum.item() / n, "val_loss": val_loss,
                        "images_per_s": n / epoch_time, "epoch_time_s": epoch_time, "train_time_s": train_time})
        # state first, weights second: if killed between, resume still finds a consistent state
        _atomic_torch_save({"model": model.state_dict(), "optimizer": opt.state_dict(), "rng": _rng_state(g),
                            "epoch": epoch, "history": history, "train_time_s": train_time}, out / "state.pt")
        save_model(model, out / "model.safetensors", meta(epoch))
        with open(out / "log.jsonl", "a") as f:
            f.write(json.dumps(history[-1]) + "\n")
        h = history[-1]
        log(f"{cfg.model} s{cfg.seed} epoch {epoch}/{cfg.epochs}: train {h['train_loss']:.5f}  "
            f"val {h['val_loss']:.5f}  {h['images_per_s']:.0f} img/s  {h['epoch_time_s']:.1f}s")

    metrics = {"model": cfg.model, "seed": cfg.seed, "epochs": cfg.epochs, "train_images": n,
               "val_images": len(data.val), "params": params, "forward_flops": flops,
               "final_train_loss": history[-1]["train_loss"], "final_val_loss": history[-1]["val_loss"],
               "train_time_s": train_time, "images_per_s": n * len(history) / train_time if train_time else None,
               "device": str(device), "history": history, "dataset": data.dataset.name}
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2))
    return metrics
