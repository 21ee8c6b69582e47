"""Pre-training without a hub: train a colorizer's encoder on a pretext task colorbench can run itself
(classifying the training split's images, from their lightness alone, by the dataset's own labels),
then start colorization from it. Nothing is downloaded; the test set is never touched.

    colorbench pretrain --model cnn --out runs/pretrain-cnn      # writes encoder.safetensors
    colorbench train --model cnn --init runs/pretrain-cnn/encoder.safetensors
    colorbench train --model cnn --init pretrain                 # both in one run folder
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import nn

from .augment import epoch_batches, get_augment
from .config import TrainConfig, scheduled_lr
from .hardware import autocast, device_name
from .models import Colorizer, create_model, network_input
from .persist import (ReadError, load_state, load_tensors, rng_state, save_state, save_tensors, set_rng_state,
                      sha256_file)


def encoder_parameters(model: Colorizer) -> set[int]:
    """The ids of the parameters a forward pass of the encoder reaches (found by one backward pass, in
    eval mode: the probe's random input must not move the batch-norm statistics of weights in training)."""
    model.zero_grad(set_to_none=True)
    p, training = next(model.parameters()), model.training
    model.eval()
    try:
        model.encoder(torch.rand(2, model.in_channels, 16, 16, device=p.device, dtype=p.dtype)).float().sum().backward()
    finally:
        model.train(training)
    used = {id(q) for q in model.parameters() if q.grad is not None}
    model.zero_grad(set_to_none=True)
    return used


def encoder_state(model: Colorizer) -> dict[str, torch.Tensor]:
    """The colorizer's tensors that belong to its encoder: its parameters (`encoder_parameters`), and the
    buffers (batch-norm statistics) of their modules."""
    used = encoder_parameters(model)
    keep = {}
    for mod_name, mod in model.named_modules():
        own = list(mod.parameters(recurse=False))
        if own and all(id(q) in used for q in own):
            for k, v in [*mod.named_parameters(recurse=False), *mod.named_buffers(recurse=False)]:
                keep[f"{mod_name}.{k}"] = v.detach()
    return keep


def state_path(path: Path) -> Path:
    """Where the pretext writing `path` keeps its last finished epoch (removed once `path` is written)."""
    return path.with_name(path.stem + ".state.pt")


def pretrain_encoder(cfg: TrainConfig, data, path: Path, device: torch.device, precision: str,
                     progress: bool = True, log=print, resume: bool = False) -> dict:
    """Train `cfg.model`'s encoder + a linear classifier (global average pool) on the training split's
    labels for `cfg.pretrain_epochs` epochs; write the encoder's weights to `path`. Every epoch is
    checkpointed beside it (`state_path`); `resume` continues from there, to the same bits."""
    from tqdm import tqdm

    ds = data.dataset
    labels = ds.train.labels[data.train_idx].to(device)
    val_labels = ds.train.labels[data.val_idx].to(device)
    n_classes = len(ds.classes)
    if n_classes < 2:
        raise ValueError(f"{ds.source}: pretraining classifies images by class, and this data has only one class")
    torch.manual_seed(cfg.seed + 10_000)  # its own stream: the colorizer's init is untouched
    model = create_model(cfg.model, in_channels=cfg.in_channels, width=cfg.width or None,
                         blocks=cfg.blocks or None).to(device)
    classifier = nn.Linear(model.encoder_channels, n_classes).to(device)
    params = list(model.parameters()) + list(classifier.parameters())
    # Adam, or AdamW when decayed (tried on the photo pretext: wd 0.05 with smoothing 0.1 gave 18.6% on validation,
    # 20.8% on training, below plain Adam's 24.1%: that pretext does not overfit; recipes/photo-weights.sh)
    opt = (torch.optim.AdamW(params, lr=cfg.lr, weight_decay=cfg.pretrain_weight_decay) if cfg.pretrain_weight_decay
           else torch.optim.Adam(params, lr=cfg.lr))
    g = torch.Generator(device=device).manual_seed(cfg.seed + 10_000)
    augment = get_augment(cfg.augment)

    def logits(L: torch.Tensor) -> torch.Tensor:
        with autocast(device, precision):
            f = model.encoder(L)
        return classifier(f.float().mean((2, 3)))

    n, steps = len(data.train), math.ceil(len(data.train) / cfg.batch_size)
    checkpoint, start, trained = state_path(path), 0, 0.0  # trained: seconds in epochs, over every resume
    if resume and checkpoint.exists():
        state = load_state(checkpoint, "pretext checkpoint")
        if state["config"] != asdict(cfg):
            changed = sorted(k for k, v in asdict(cfg).items() if state["config"].get(k) != v)
            raise ReadError(f"{checkpoint}: an unfinished pretext with another config ({', '.join(changed)}); "
                            "run it with its own options, or pass --overwrite to start again")
        model.load_state_dict(state["model"])
        classifier.load_state_dict(state["classifier"])
        opt.load_state_dict(state["optimizer"])
        set_rng_state(g, state["rng"])
        start, trained = state["epoch"], state["trained_s"]
        log(f"resuming the pretext in {checkpoint} after epoch {start} of {cfg.pretrain_epochs}")
    model.train()
    for epoch in range(start + 1, cfg.pretrain_epochs + 1):
        t0 = time.perf_counter()
        bar = tqdm(epoch_batches(data.train, cfg.batch_size, g, augment), total=steps,
                   desc=f"pretrain {cfg.model} epoch {epoch}/{cfg.pretrain_epochs}", unit="step",
                   disable=not progress, leave=False)
        for step, (idx, xb) in enumerate(bar):
            for group in opt.param_groups:
                group["lr"] = scheduled_lr(cfg.lr, cfg.pretrain_schedule,
                                           ((epoch - 1) * steps + step) / (cfg.pretrain_epochs * steps))
            x = network_input(xb, model.in_channels).contiguous(memory_format=torch.channels_last)
            loss = F.cross_entropy(logits(x), labels[idx], label_smoothing=cfg.pretrain_label_smoothing)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        if not math.isfinite(loss.item()):
            raise ValueError(f"pretraining loss became {loss.item()}: try a lower --lr")
        trained += time.perf_counter() - t0  # images/s counts the epochs, not the validation pass after them
        save_state({"epoch": epoch, "trained_s": trained, "config": asdict(cfg), "model": model.state_dict(),
                    "classifier": classifier.state_dict(), "optimizer": opt.state_dict(),
                    "rng": rng_state(g)}, checkpoint)
    t0 = time.perf_counter()
    model.eval()

    @torch.no_grad()
    def accuracy(images: torch.Tensor, truth: torch.Tensor) -> float:
        return sum((logits(network_input(images[i : i + 1000], model.in_channels)).argmax(1)
                    == truth[i : i + 1000]).sum().item() for i in range(0, len(images), 1000)) / len(images)

    # as many training images as validation ones, unaugmented: the gap between the two shows overfitting
    seen = torch.linspace(0, n - 1, min(n, len(data.val)), device=device).long()
    info = {"pretext": f"{n_classes}-class classification of the training split's images from L",
            "epochs": cfg.pretrain_epochs, "schedule": cfg.pretrain_schedule,
            "weight_decay": cfg.pretrain_weight_decay, "label_smoothing": cfg.pretrain_label_smoothing,
            "val_accuracy": accuracy(data.val, val_labels), "train_accuracy": accuracy(data.train[seen], labels[seen]),
            "chance": 1 / n_classes, "time_s": trained + time.perf_counter() - t0, "train_images": n,
            "images_per_s": n * cfg.pretrain_epochs / trained,
            "device_name": device_name(device), "threads": torch.get_num_threads(), "precision": precision,
            "model": model.spec, "config": asdict(cfg)}
    save_tensors(path, encoder_state(model), info)
    checkpoint.unlink(missing_ok=True)  # the encoder is the product; its optimiser state is no longer needed
    log(f"pretrained {cfg.model}'s encoder: validation accuracy {info['val_accuracy']:.1%} "
        f"(training {info['train_accuracy']:.1%}, chance {info['chance']:.1%}), {info['time_s']:.0f}s -> {path}")
    return info


def load_encoder(model: Colorizer, path: str | Path) -> dict:
    """Copy a pretrained encoder into `model` (same architecture and width); returns its pretext info."""
    state, info = load_tensors(path, "pretrained encoder")
    if not isinstance(info, dict) or info.get("model", {}).get("name") != model.spec["name"]:
        raise ReadError(f"{path}: an encoder for {info.get('model', {}).get('name')!r}, not for {model.spec['name']!r}")
    inputs = (info["model"].get("kwargs") or {}).get("in_channels", 1)
    if inputs != model.in_channels:
        raise ReadError(f"{path}: an encoder seeing {inputs} input channels, this {model.spec['name']} sees "
                        f"{model.in_channels}; pretrain with the same inputs")
    own = model.state_dict()
    bad = [k for k, v in state.items() if k not in own or own[k].shape != v.shape]
    if bad or not state:
        raise ReadError(f"{path}: its tensors do not fit this {model.spec['name']} (first: {bad[:1]}); "
                        "pretrain with the same --model and --width")
    with torch.no_grad():
        for k, v in state.items():
            own[k].copy_(v)
    return {k: info[k] for k in ("pretext", "epochs", "val_accuracy", "chance", "time_s") if k in info} | {
        "tensors": len(state), "file": str(path), "sha256": sha256_file(path)}
