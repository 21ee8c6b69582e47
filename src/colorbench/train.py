"""Training: a lean, seeded, resumable loop over tensor-resident data.

The dataset lives as tensors: the training split is converted to normalised LAB once (flips and
90-degree turns commute with the per-pixel colour conversion), then every step is a gather, a
batched augmentation and the model. No per-image Python, no DataLoader, no host sync per step.

A run folder holds:
  config.json        the TrainConfig
  log.jsonl          one JSON line per epoch (losses, a running training-loss curve, images/s, times)
  model.safetensors  latest weights + model spec, config and metrics (what evaluate/colorize load)
  state.pt           weights, optimiser, RNG states and history at the last finished epoch (--resume)
  metrics.json       written when the run completes
  pretrain.safetensors  with --init pretrain: the encoder its pretext wrote (pretrain.state.pt until it finished)
"""

from __future__ import annotations

import inspect
import math
import os
import time
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from . import __version__
from .augment import AUGMENTATIONS, epoch_batches, get_augment
from .color import uint8_to_lab
from .config import (MEMORY_FORMATS, PRECISIONS, RESUMABLE_CHANGES, SCHEDULES, TrainConfig, UsageError,
                     scheduled_lr)
from .data import Dataset, load_dataset, select_classes, stratified_split
from .distributed import SINGLE, World, check_batch, world_from_env
from .hardware import autocast, device_name, resolve_device, resolve_memory_format, resolve_precision
from .inputs import widen_inputs
from .models import MODELS, count_params, create_model, forward_flops, list_models, network_input, save_model
from .models.grow import widen
from .objectives import OBJECTIVES, LabelTerm, Objective, list_objectives, objective_from_spec
from .persist import (FolderLock, ReadError, claim_folder, load_state, load_tensors, read_json, rng_state, save_state,
                      set_rng_state, sha256_file, write_json, write_text)

RUN_FILES = ("state.pt", "model.safetensors", "log.jsonl", "metrics.json", "config.json", "pretrain.safetensors",
             "pretrain.state.pt")
CURVE_POINTS = 10  # running training-loss points logged per epoch (so even a 1-epoch run has a curve)


class TrainingError(Exception):
    """A run that cannot start or go on, explained in one line."""


def validate(cfg: TrainConfig) -> TrainConfig:
    """Every value checked before anything is created: a bad one is one clear line. It lives here, above the
    registries of models, objectives and augmentations that it checks names against (config sits below them)."""
    if cfg.model not in list_models():
        raise UsageError(f"unknown model {cfg.model!r}; choose one of: {', '.join(list_models())}")
    if cfg.loss not in list_objectives():
        raise UsageError(f"unknown loss {cfg.loss!r}; choose one of: {', '.join(list_objectives())}")
    if cfg.augment not in AUGMENTATIONS:
        raise UsageError(f"unknown augmentation {cfg.augment!r}; choose one of: {', '.join(AUGMENTATIONS)}")
    if cfg.precision not in PRECISIONS:
        raise UsageError(f"unknown precision {cfg.precision!r}; choose one of: {', '.join(PRECISIONS)}")
    if cfg.memory_format not in MEMORY_FORMATS:
        raise UsageError(f"unknown memory format {cfg.memory_format!r}; choose one of: {', '.join(MEMORY_FORMATS)}")
    for name in ("epochs", "batch_size", "eval_batch_size", "in_channels"):
        if getattr(cfg, name) < 1:
            raise UsageError(f"--{name.replace('_', '-')} must be at least 1, got {getattr(cfg, name)}")
    for name in ("train_limit", "val_limit", "threads", "size", "width", "blocks"):
        if getattr(cfg, name) < 0:
            raise UsageError(f"--{name.replace('_', '-')} must be 0 or more, got {getattr(cfg, name)}")
    if not 0 < cfg.val_fraction < 1:
        raise UsageError(f"--val-fraction must be between 0 and 1, got {cfg.val_fraction}")
    if not 0 <= cfg.label_weight < float("inf"):
        raise UsageError(f"--label-weight must be a number, 0 or more, got {cfg.label_weight}")
    if not cfg.lr > 0:
        raise UsageError(f"--lr must be positive, got {cfg.lr}")
    if not 0 <= cfg.encoder_lr <= 1:
        raise UsageError(f"--encoder-lr is a fraction of --lr, from 0 (frozen) to 1, got {cfg.encoder_lr}")
    deepens = [m for m in list_models() if "blocks" in inspect.signature(MODELS[m]).parameters]
    if cfg.blocks and cfg.model not in deepens:
        raise UsageError(f"--blocks: {cfg.model} has no residual blocks to add; only {', '.join(deepens)} has")
    if cfg.hints and cfg.in_channels != 4:
        raise UsageError(f"--hints needs --in-channels 4 (L, hint ab, hint mask), got {cfg.in_channels}")
    if cfg.precise_bn < 0:
        raise UsageError(f"--precise-bn is a number of images, 0 or more, got {cfg.precise_bn}")
    if not cfg.colour_target >= 0:
        raise UsageError(f"--colour-target is a share of the truth's colourfulness, 0 or more, got {cfg.colour_target}")
    if not cfg.pretrain_weight_decay >= 0:
        raise UsageError(f"--pretrain-weight-decay must be 0 or more, got {cfg.pretrain_weight_decay}")
    if not 0 <= cfg.pretrain_label_smoothing < 1:
        raise UsageError(f"--pretrain-label-smoothing must be from 0 to below 1, got {cfg.pretrain_label_smoothing}")
    for flag, schedule in (("--schedule", cfg.schedule), ("--pretrain-schedule", cfg.pretrain_schedule)):
        if schedule not in SCHEDULES:
            raise UsageError(f"{flag} must be constant or cosine, got {schedule!r}")
    for name in list_objectives():  # every objective's options checked, whichever --loss: the checks live in them
        try:
            OBJECTIVES[name].from_config(cfg)
        except ValueError as e:
            raise UsageError(str(e)) from None
    return cfg


@contextmanager
def run_threads(cfg: TrainConfig):
    """Within: the thread count a run trains and is evaluated on (one when deterministic, else --threads or
    the process's own). After: the process's count again, as a library call leaves it as it found it."""
    threads = torch.get_num_threads()
    try:
        torch.set_num_threads(1 if cfg.deterministic else cfg.threads or threads)
        yield
    finally:
        torch.set_num_threads(threads)


def run_name(arm: str, seed: int) -> str:
    """The default run folder name, as `colorbench train` and `compare` use it."""
    return f"{arm}-s{seed}"


def to_lab(images: torch.Tensor, device: torch.device, chunk: int = 8192) -> torch.Tensor:
    """uint8 (N, 3, H, W) -> normalised LAB float32 on `device`, converted in chunks to bound memory."""
    if images.device == torch.device(device):
        return uint8_to_lab(images)  # chunks internally, writing straight into its result
    out = torch.empty(images.shape, dtype=torch.float32, device=device)
    for i in range(0, len(images), chunk):
        out[i : i + chunk] = uint8_to_lab(images[i : i + chunk].to(device, non_blocking=True))
    return out


def load_config_data(cfg: TrainConfig, progress: bool = True) -> Dataset:
    """The data a config names: its source at its size, only its classes."""
    return select_classes(load_dataset(cfg.data, size=cfg.size or None, progress=progress), cfg.classes)


def split_indices(cfg: TrainConfig, ds: Dataset) -> tuple[torch.Tensor, torch.Tensor]:
    """(train, validation) indices into the dataset's training split: the seeded stratified split,
    then the preset's stratified subsets. `compare` uses the same function, so what it records is
    what was trained on."""
    train_idx, val_idx = stratified_split(ds.train.labels, cfg.val_fraction, seed=cfg.split_seed)
    for limit, name in ((cfg.train_limit, "train"), (cfg.val_limit, "val")):
        idx = train_idx if name == "train" else val_idx
        if limit and limit < len(idx):
            _, keep = stratified_split(ds.train.labels[idx], limit / len(idx), seed=cfg.split_seed)
            idx = idx[keep]
        train_idx, val_idx = (idx, val_idx) if name == "train" else (train_idx, idx)
    if len(train_idx) == 0 or len(val_idx) == 0:
        raise TrainingError(f"{ds.source}: too few training images ({len(ds.train)}) for a train/validation split")
    return train_idx, val_idx


@dataclass
class Prepared:
    """The tensors a run trains and validates on."""

    train: torch.Tensor  # (N, 3, H, W) float32 normalised LAB
    val: torch.Tensor
    train_idx: torch.Tensor  # indices into the dataset's training split
    val_idx: torch.Tensor
    dataset: Dataset


def prepare(cfg: TrainConfig, device: torch.device, dataset: Dataset | None = None, progress: bool = True) -> Prepared:
    ds = dataset or load_config_data(cfg, progress)
    if cfg.label_weight and len(ds.classes) < 2:
        raise TrainingError(f"{ds.source}: --label-weight classifies images by their class folder, and this data "
                            "has one class; use data in two or more class folders, or drop --label-weight")
    train_idx, val_idx = split_indices(cfg, ds)
    return Prepared(to_lab(ds.train.images[train_idx], device), to_lab(ds.train.images[val_idx], device),
                    train_idx, val_idx, ds)


@torch.no_grad()
def evaluate_loss(model: torch.nn.Module, lab: torch.Tensor, batch_size: int, precision: str = "fp32",
                  world: World = SINGLE) -> float:
    """MSE of the decoded ab/128 over a whole LAB tensor: the study's validation loss, comparable
    whatever the objective. In a distributed run each process takes every world.size-th image."""
    was_training = model.training
    model.eval()
    lab = lab[world.rank :: world.size] if world.active else lab
    total = torch.zeros(2, dtype=torch.float64, device=lab.device)  # sum of squared errors, values
    for i in range(0, len(lab), batch_size):
        xb = lab[i : i + batch_size]
        with autocast(lab.device, precision):
            pred = model(network_input(xb, model.in_channels))
        total[0] += F.mse_loss(pred.float(), xb[:, 1:], reduction="sum").double()
    total[1] = lab[:, 1:].numel()
    model.train(was_training)
    total = world.sum(total).tolist()
    return total[0] / total[1]


def objective_for(cfg: TrainConfig) -> Objective:
    return OBJECTIVES[cfg.loss].from_config(cfg)


def _warm_start(cfg: TrainConfig, state: dict | None) -> tuple[dict[str, torch.Tensor] | None, Path | None]:
    """The tensors of `cfg.init` when it names whole weights (not a pretrained encoder): a new run that
    starts where they stopped. They must be this model and objective, with as many --blocks or fewer (the new
    ones start as the identity) and a --width as wide or wider (models.grow); else one line."""
    if state is not None or not cfg.init or cfg.init == "pretrain":
        return None, None
    path = Path(cfg.init)
    if path.is_dir():
        path = path / "model.safetensors"
    tensors, info = load_tensors(path, "weights file")
    if "pretext" in info:  # an encoder from `colorbench pretrain`: load_encoder's job
        return None, None
    spec = info.get("model") or {}
    probe = create_model(cfg.model, objective_from_spec(spec.get("objective")), cfg.in_channels,
                         width=cfg.width or None, blocks=cfg.blocks or None)
    want = {k: v.shape for k, v in probe.state_dict().items()}
    inputs = (spec.get("kwargs") or {}).get("in_channels", 1)
    if spec.get("name") == cfg.model and inputs < cfg.in_channels:  # e.g. L -> L + hints: new inputs start at 0
        tensors = widen_inputs(tensors, want)
    elif spec.get("name") == cfg.model and inputs != cfg.in_channels:
        raise UsageError(f"{cfg.init}: weights of a network seeing {inputs} input channels, this run's sees "
                         f"{cfg.in_channels} (--in-channels); go on from weights with the same inputs")
    blocks = (spec.get("kwargs") or {}).get("blocks", 0)
    if spec.get("name") == cfg.model and isinstance(blocks, int) and blocks < cfg.blocks:
        # deeper than the weights: the new residual blocks keep their own start, the identity (the model's init)
        want = {k: v for k, v in want.items() if not _new_block(k, blocks)}
    elif spec.get("name") == cfg.model and blocks != cfg.blocks:
        raise UsageError(f"{cfg.init}: weights with {blocks} residual blocks, this run asks for {cfg.blocks} "
                         "(--blocks); go on from weights with as many blocks or fewer")
    width = (spec.get("kwargs") or {}).get("width")
    if spec.get("name") == cfg.model and isinstance(width, int) and 0 < width < cfg.width:
        # wider than the weights (--width): the old channels keep their weights, the new ones start read by none
        kwargs = {k: v for k, v in spec["kwargs"].items() if k != "in_channels"}
        narrow = create_model(cfg.model, objective_from_spec(spec.get("objective")), cfg.in_channels, **kwargs)
        tensors = widen(tensors, narrow, probe)
    if (spec.get("name") != cfg.model or (spec.get("objective") or {"name": "mse"})["name"] != cfg.loss
            or {k: v.shape for k, v in tensors.items()} != want):
        raise UsageError(f"{cfg.init}: weights of {spec.get('name')!r} {spec.get('kwargs', {})}, not of this "
                         f"--model {cfg.model} --width {cfg.width or 'default'} --loss {cfg.loss}; go on from weights "
                         "of the same model and objective, as wide as --width or narrower")
    return {k: v.float() if v.dtype == torch.float16 else v for k, v in tensors.items()}, path


def _new_block(key: str, blocks: int) -> bool:
    """Whether a tensor name belongs to a residual block past the first `blocks` (`photo_unet`'s bottleneck)."""
    parts = key.split(".")
    return any(a == "blocks" and b.isdigit() and int(b) >= blocks for a, b in zip(parts, parts[1:]))


def _resume_state(out: Path, cfg: TrainConfig) -> dict | None:
    """The checkpoint of an earlier run in `out`, after checking it was trained with this config."""
    state_file = out / "state.pt"
    if not state_file.exists():
        return None  # nothing finished yet: start from scratch
    old = TrainConfig.from_dict(read_json(out / "config.json", "run config"))
    diff = {k for k, v in asdict(cfg).items() if getattr(old, k) != v} - RESUMABLE_CHANGES
    if diff:
        changes = ", ".join(f"{k}: {getattr(old, k)!r} -> {getattr(cfg, k)!r}" for k in sorted(diff))
        what = "another objective" if "loss" in diff else "a different config"
        raise TrainingError(f"{out}: cannot resume with {what} ({changes}); use another --out")
    state = load_state(state_file, "training checkpoint")
    if not {"model", "optimizer", "rng", "epoch", "history"} <= set(state):
        raise ReadError(f"{state_file}: not a colorbench training checkpoint; start again with --overwrite")
    return state


def check_before_start(cfg: TrainConfig, out: Path, resume: bool, overwrite: bool, world: World = SINGLE) -> bool:
    """Everything that can be checked before a folder is created or data is read. Returns whether
    `out` holds a run to continue."""
    validate(cfg)
    resolve_device(cfg.device)
    check_batch(world, cfg.batch_size)
    init = Path(cfg.init)
    if cfg.init and cfg.init != "pretrain" and not (init.is_file() or (init / "model.safetensors").is_file()):
        raise TrainingError(f"--init {cfg.init}: no such file; pass weights written by `colorbench pretrain`, "
                            "a run folder or weights of this model to go on from, or 'pretrain' to pretrain here")
    try:
        return claim_folder(out, "config.json", "run folder", resume, overwrite, RUN_FILES)
    except ReadError as e:
        raise TrainingError(str(e)) from None


def train(cfg: TrainConfig, out: str | os.PathLike, resume: bool = False, overwrite: bool = False,
          dataset: Dataset | None = None, progress: bool = True, log=print) -> dict:
    """Train one model; returns the run's metrics (also written to out/metrics.json)."""
    out = Path(out)
    world = world_from_env(resolve_device(cfg.device).type)
    # the main process checks (and later writes) the folder; every process learns its verdict
    continuing = world.decide(lambda: check_before_start(cfg, out, resume, overwrite, world))
    state = _resume_state(out, cfg) if continuing else None
    if state is not None and state["epoch"] >= cfg.epochs and (out / "metrics.json").exists():
        return read_json(out / "metrics.json", "run metrics")  # already finished
    strict = torch.are_deterministic_algorithms_enabled()
    with run_threads(cfg):  # deterministic: one thread, so no reduction is split differently between runs
        try:
            if cfg.deterministic:  # deterministic kernels (and cuBLAS's workspace rule) for the GPU
                os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
                torch.use_deterministic_algorithms(True)
            return _train(cfg, out, state, dataset, progress if world.main else False, log if world.main else _quiet,
                          world)
        finally:  # a library call leaves the process as it found it
            torch.use_deterministic_algorithms(strict)


def _quiet(*_) -> None:
    pass


def _train(cfg: TrainConfig, out: Path, state: dict | None, dataset: Dataset | None, progress: bool, log,
           world: World) -> dict:
    device = resolve_device(cfg.device)
    if device.type == "cuda" and world.active:  # one GPU per process
        device = torch.device("cuda", world.local_rank)
        torch.cuda.set_device(device)
    precision = resolve_precision(cfg.precision, device)
    # a bad data source fails here, before any folder exists; the main process decodes and caches the
    # data first, the others read its cache (or stop with its error)
    box: dict = {}
    world.decide(lambda: box.setdefault("data", prepare(cfg, device, dataset, progress)) and None)
    data = box["data"] if world.main else prepare(cfg, device, dataset, progress)
    if world.main:
        out.mkdir(parents=True, exist_ok=True)
        with FolderLock(out):
            write_json(out / "config.json", asdict(cfg))
            return _train_loop(cfg, out, state, data, device, precision, progress, log, world)
    return _train_loop(cfg, out, state, data, device, precision, progress, log, world)


def _set_lr(opt: torch.optim.Optimizer, lr: float) -> None:
    """Every group at `lr` times its scale (the encoder's --encoder-lr; groups of checkpoints older than it: 1)."""
    for group in opt.param_groups:
        group["lr"] = lr * group.get("scale", 1.0)


def _train_loop(cfg: TrainConfig, out: Path, state: dict | None, data: Prepared, device: torch.device,
                precision: str, progress: bool, log, world: World) -> dict:
    from tqdm import tqdm

    n = len(data.train)

    objective = objective_for(cfg)
    warm, warm_path = _warm_start(cfg, state)  # weights of this model to go on from (a stage of a longer training)
    start_from = state["model"] if state is not None else warm
    if start_from is None:
        objective.fit(data.train[:, 1:])  # e.g. classification's bins and prior: from the training split only
    else:  # what it learnt travels with the weights it goes on from
        objective.restore(start_from)
    torch.manual_seed(cfg.seed)
    model = create_model(cfg.model, objective, cfg.in_channels, width=cfg.width or None,
                         blocks=cfg.blocks or None).to(device)
    params, flops = count_params(model), forward_flops(model, data.train.shape[-1])
    asked = "channels_last" if cfg.deterministic and cfg.memory_format == "auto" else cfg.memory_format  # same anywhere
    layout = resolve_memory_format(asked, model, network_input(data.train[: cfg.batch_size].float(),
                                   cfg.in_channels), device, precision)
    channels_last = layout == "channels_last"
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    term, labels = None, None  # the label term: a classifier trained beside the colour, never saved with it
    if cfg.label_weight:
        term = LabelTerm(model, len(data.dataset.classes), cfg.label_weight)
        labels = data.dataset.train.labels[data.train_idx].to(device)
        for p in term.parameters():  # DDP starts every process from the main one's model; the classifier too
            world.broadcast(p.data)
    weights = [*model.parameters(), *(term.parameters() if term else ())]
    enc = set()
    if cfg.encoder_lr != 1:  # the encoder in a group of its own, at its fraction of every step's lr
        from .pretrain import encoder_parameters

        enc = encoder_parameters(model)
    groups = [{"params": [q for q in weights if id(q) not in enc], "scale": 1.0}]
    if enc:
        groups.append({"params": [q for q in weights if id(q) in enc], "scale": cfg.encoder_lr})
    opt = torch.optim.Adam(groups, lr=cfg.lr)
    _set_lr(opt, cfg.lr)
    g = torch.Generator(device=device).manual_seed(cfg.seed)  # shuffling and augmentation
    step_fn = torch.compile(model.raw) if cfg.compile else model.raw
    if world.active:  # gradients averaged across processes as they are computed
        from torch.nn.parallel import DistributedDataParallel

        step_fn = DistributedDataParallel(RawOutput(model), device_ids=[device.index] if device.type == "cuda" else None)
    augment = get_augment(cfg.augment)

    history: list[dict] = []
    start, train_time, pretext = 0, 0.0, None
    if state is not None:
        model.load_state_dict(state["model"])
        if term is not None:
            term.load_state_dict(state["label_term"])
        opt.load_state_dict(state["optimizer"])
        _set_lr(opt, cfg.lr)
        set_rng_state(g, state["rng"])
        start, history, train_time = state["epoch"], state["history"], state["train_time_s"]
        pretext = state.get("pretext")
        log(f"resuming {out} after epoch {start}")
    elif warm is not None:
        model.load_state_dict({**model.state_dict(), **warm})  # blocks the weights lack (--blocks) keep their start
        pretext = {"weights": str(warm_path), "sha256": sha256_file(warm_path)}
        log(f"{cfg.model}: going on from the weights in {cfg.init}")
    elif cfg.init:
        from .pretrain import load_encoder, pretrain_encoder

        path = Path(cfg.init)
        if cfg.init == "pretrain":
            path = out / "pretrain.safetensors"
            if not path.exists():  # a pretext cut short goes on (--overwrite deleted any checkpoint of another run)
                pretrain_encoder(cfg, data, path, device, precision, progress=progress, log=log, resume=True)
        pretext = load_encoder(model, path)
        log(f"{cfg.model}: encoder initialised from {path} ({pretext['tensors']} tensors)")
    # the log always matches the checkpoint: lines past it (a killed epoch) are dropped
    if world.main:
        write_text(out / "log.jsonl", "".join(_line(h) for h in history))

    def meta(epoch: int) -> dict:
        last = history[-1] if history else {}
        return {"config": asdict(cfg), "epoch": epoch, "val_loss": last.get("val_loss"), "precision": precision,
                "dataset": {"name": data.dataset.name, "digest": data.dataset.digest}, "version": __version__}

    steps = math.ceil(n / cfg.batch_size)
    sync_every = max(1, steps // CURVE_POINTS)  # host reads of the running loss: curve, progress, NaN check
    model.train()
    for epoch in range(start + 1, cfg.epochs + 1):
        t0 = time.perf_counter()
        loss_sum = torch.zeros((), dtype=torch.float64, device=device)
        curve, seen_at_last, sum_at_last = [], 0, 0.0
        # the label term's cross-entropy and correct guesses, apart: train_loss stays the colour objective's
        label_sum = torch.zeros((), dtype=torch.float64, device=device)
        right = torch.zeros((), dtype=torch.int64, device=device)
        bar = tqdm(total=steps, desc=f"{cfg.model} s{cfg.seed} epoch {epoch}/{cfg.epochs}", unit="step",
                   disable=not progress, leave=False)
        # every process draws the shuffle and augmentation for the whole global batch: the same draws
        for step, (idx, xb) in enumerate(epoch_batches(data.train, cfg.batch_size, g, augment), 1):
            global_count = len(xb)
            if world.active:
                xb = xb.tensor_split(world.size)[world.rank]  # this process's share
                idx = idx.tensor_split(world.size)[world.rank]
            x, L, ab = network_input(xb, cfg.in_channels, g if cfg.hints else None), xb[:, :1], xb[:, 1:]
            if channels_last:
                x = x.contiguous(memory_format=torch.channels_last)
            with autocast(device, precision):
                raw = step_fn(x)
            colour = loss = objective.loss(raw, ab, L)  # in float32, outside autocast
            if term is not None and len(xb):
                extra, ce, hits = term.loss(labels[idx])
                loss, label_sum, right = loss + extra, label_sum + ce.double() * len(xb), right + hits
            opt.zero_grad(set_to_none=True)
            if cfg.schedule == "cosine":  # a function of the step alone: a resumed run continues the same curve
                done = ((epoch - 1) * steps + step - 1) / (cfg.epochs * steps)
                _set_lr(opt, scheduled_lr(cfg.lr, cfg.schedule, done))
            if world.active:  # the mean over the global batch, once DDP averages over processes
                (loss * (len(xb) * world.size / global_count) if len(xb) else raw.sum() * 0).backward()
            else:
                loss.backward()
            if world.active and term is not None:  # DDP averages the model's gradients; the classifier's here
                for p in term.parameters():
                    p.grad = world.sum(p.grad if p.grad is not None else torch.zeros_like(p)) / world.size
            opt.step()
            if len(xb):
                loss_sum += colour.detach().double() * len(xb)
            if step % sync_every == 0 or step == steps:
                seen = min(step * cfg.batch_size, n)
                total = world.sum(loss_sum.clone()).item()
                running = (total - sum_at_last) / (seen - seen_at_last)
                if not math.isfinite(running):
                    bar.close()
                    where = f"epoch {epoch - 1} in {out / 'model.safetensors'}" if history else "none was written"
                    raise TrainingError(f"loss became {running} at epoch {epoch}, step {step}: stopped; last good "
                                        f"checkpoint: {where} (try a lower --lr)")
                curve.append([round(epoch - 1 + seen / n, 4), running])
                seen_at_last, sum_at_last = seen, total
                bar.set_postfix(loss=f"{running:.5f}", refresh=False)
                bar.update(step - bar.n)
        bar.close()
        epoch_time = time.perf_counter() - t0
        train_time += epoch_time
        val_loss = evaluate_loss(model, data.val, cfg.eval_batch_size, precision, world)
        if not math.isfinite(val_loss):
            raise TrainingError(f"validation loss became {val_loss} at epoch {epoch}: stopped (try a lower --lr)")
        history.append({"epoch": epoch, "train_loss": world.sum(loss_sum).item() / n, "val_loss": val_loss,
                        "images_per_s": n / epoch_time, "epoch_time_s": epoch_time, "train_time_s": train_time,
                        "curve": curve})
        if term is not None:  # on the training batches as they were drawn, while the classifier learnt
            history[-1] |= {"train_label_loss": world.sum(label_sum).item() / n,
                            "train_label_accuracy": world.sum(right).item() / n}
        if world.main:  # state first, weights second: if killed between, resume still finds a consistent state
            save_state({"model": model.state_dict(), "optimizer": opt.state_dict(), "rng": rng_state(g),
                        "epoch": epoch, "history": history, "train_time_s": train_time, "pretext": pretext,
                        "world_size": world.size, **({"label_term": term.state_dict()} if term else {})}, out / "state.pt")
            save_model(model, out / "model.safetensors", meta(epoch))
            with open(out / "log.jsonl", "a") as f:
                f.write(_line(history[-1]))
        h = history[-1]
        labelled = f"  labels {h['train_label_accuracy']:.1%} right" if term is not None else ""
        log(f"{cfg.model} s{cfg.seed} epoch {epoch}/{cfg.epochs}: train {h['train_loss']:.5f}  "
            f"val {h['val_loss']:.5f}{labelled}  {h['images_per_s']:.0f} img/s  {h['epoch_time_s']:.1f}s")

    if term is not None:
        term.close()
    if cfg.precise_bn:  # before T is chosen: the decoding is chosen for the statistics the weights ship with
        count = precise_batch_norm(model, data.train, cfg.precise_bn, cfg.batch_size, precision, channels_last)
        log(f"{cfg.model} s{cfg.seed}: batch-norm statistics re-estimated on {count} unaugmented training images")
    decoding = None
    if world.main:  # decoding choices (a classifier's T) are made on the validation split, never the test set
        decoding = objective.calibrate(model.eval(), data.val, cfg.eval_batch_size,
                                       lambda line: log(f"{cfg.model} s{cfg.seed}: {line}"))
    if decoding is not None or (cfg.precise_bn and world.main):
        history[-1]["val_loss"] = evaluate_loss(model, data.val, cfg.eval_batch_size, precision)
        save_model(model, out / "model.safetensors", {**meta(cfg.epochs), "decoding": decoding})

    metrics = {"model": cfg.model, "loss": cfg.loss, "seed": cfg.seed, "epochs": cfg.epochs, "train_images": n,
               "val_images": len(data.val), "params": params, "forward_flops": flops,
               "final_train_loss": history[-1]["train_loss"], "final_val_loss": history[-1]["val_loss"],
               "train_time_s": train_time, "images_per_s": n * len(history) / train_time if train_time else None,
               "device": str(device), "device_name": device_name(device), "precision": precision, "memory_format": layout,
               "threads": torch.get_num_threads(), "history": history, "dataset": data.dataset.name,
               "decoding": decoding, "pretext": pretext, "world_size": world.size}
    if world.main:
        write_json(out / "metrics.json", metrics)
    world.barrier()  # no process reports done before the run's last files are written
    return metrics


@torch.no_grad()
def precise_batch_norm(model: torch.nn.Module, images: torch.Tensor, count: int, batch_size: int,
                       precision: str = "fp32", channels_last: bool = False) -> int:
    """Every batch norm's running statistics re-estimated as the plain average over `count` evenly spaced
    training images, unaugmented (Wu and Johnson 2021, "precise BN"). Training's running statistics are an
    average of its last few batches, and those were augmented: crops enlarged and turned, which resampling
    softens, so they describe softer images than any photo the weights will see (on the shipped photo weights'
    validation, ab MSE 160.7 at the best T against 163.7). Returns how many images were used (0: no batch norm)."""
    norms = [m for m in model.modules() if isinstance(m, torch.nn.modules.batchnorm._BatchNorm)]
    if not norms:
        return 0
    keep = torch.linspace(0, len(images) - 1, min(count, len(images)), device=images.device).round().long()
    momenta, training = [m.momentum for m in norms], model.training
    for m in norms:
        m.reset_running_stats()
        m.momentum = None  # a cumulative average over the batches below
    model.train()
    try:
        for i in range(0, len(keep), batch_size):
            x = network_input(images[keep[i : i + batch_size]], model.in_channels)
            with autocast(images.device, precision):
                model.raw(x.contiguous(memory_format=torch.channels_last) if channels_last else x)
    finally:
        for m, momentum in zip(norms, momenta):
            m.momentum = momentum
        model.train(training)
    return len(keep)


class RawOutput(torch.nn.Module):
    """A colorizer's `raw` as a module's forward, for DistributedDataParallel (which wraps forward)."""

    def __init__(self, model: torch.nn.Module):
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.model.raw(x)


def _line(h: dict) -> str:
    from .persist import dumps

    return dumps(h, indent=None) + "\n"


def pretrain_only(cfg: TrainConfig, out: Path, overwrite: bool = False, progress: bool = True, log=print,
                  resume: bool = False) -> Path:
    """`colorbench pretrain`: out/encoder.safetensors for `--init` (never replaces one unless asked); `resume`
    continues a pretext cut short from its last finished epoch (and leaves a finished one as it is)."""
    from .pretrain import pretrain_encoder, state_path

    validate(cfg)
    path = out / "encoder.safetensors"
    if resume and overwrite:
        raise UsageError("--resume and --overwrite contradict each other: pass one")
    if path.exists() and resume:
        log(f"{path} is finished: nothing to resume")
        return path
    if path.exists() and not overwrite:
        raise FileExistsError(f"{path} exists; pass --overwrite to replace it, or choose another --out")
    if state_path(path).exists() and not (resume or overwrite):
        raise FileExistsError(f"{out} holds an unfinished pretext ({state_path(path).name}); pass --resume to "
                              "continue it, or --overwrite to start again")
    if overwrite:
        state_path(path).unlink(missing_ok=True)
    device = resolve_device(cfg.device)
    data = prepare(cfg, device, progress=progress)
    pretrain_encoder(cfg, data, path, device, resolve_precision(cfg.precision, device), progress, log, resume)
    return path
