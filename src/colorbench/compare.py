"""`colorbench compare`: train each model over several seeds, evaluate all on the test set, save
every figure to results.json, and render the report. Interrupted runs continue with `resume=True`.

Folder layout:
  compare.json                 the config
  runs/<model>-s<seed>/        training runs (see train.py) + eval.json and per_image.safetensors
  baselines/<name>/            the same evaluation files for "gray" and "mean_color"
  samples.safetensors          fixed, best and worst test images with every model's prediction
  results.json                 every figure, config, versions, data source and hash
  report.html, report.md       rendered from results.json (report.py)
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import math
import os
import platform
import sys
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from . import __version__
from .color import lab_to_uint8, uint8_to_lab
from .data import Dataset, Split, atomic_write_text, load_dataset, stratified_split
from .evaluate import METRICS, evaluate, gray_predictor, mean_color_predictor, model_predictor
from .models import count_params, create_model, forward_flops, load_model
from .stats import mean_ci, paired_test
from .train import TrainingError, preset, resolve_device, run_name, train

# What the study published (one seed; "average MSE" in ab units from 5 test images; official CIFAR-10)
STUDY = {
    "cnn": {"val_loss": 0.0093, "ab_mse": 138.58},
    "unet": {"val_loss": 0.0091, "ab_mse": 156.44},  # its code had no skip connections: our unet_noskip
}

# Test images per compare preset; training sizes come from train.PRESETS.
TEST_LIMITS = {"study": 0, "quick": 0, "smoke": 1000}
PAIRED_METRICS = ["ab_mse", "psnr", "ssim", "ciede2000"]
BASELINES = ["gray", "mean_color"]


@dataclass(frozen=True)
class CompareConfig:
    preset: str = "smoke"
    models: tuple[str, ...] = ("cnn", "unet", "unet_noskip")
    seeds: int = 3  # seeds 0..seeds-1 per model; the report gives mean and 95% CI over them
    test_limit: int | None = None  # None: the preset's (0 = the whole test set)
    samples_per_class: int = 1  # fixed test images in the sample grid


def strict_json(x):
    """Non-finite floats as the strings "inf", "-inf", "nan": results.json stays strict JSON
    (a browser's JSON.parse rejects Infinity); float("inf") reads them back."""
    if isinstance(x, float) and not math.isfinite(x):
        return str(x)
    if isinstance(x, dict):
        return {k: strict_json(v) for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [strict_json(v) for v in x]
    return x


def write_json(path: Path, obj) -> None:
    """Strict JSON (see `strict_json`), written atomically."""
    atomic_write_text(Path(path), json.dumps(strict_json(obj), indent=1, allow_nan=False))


def from_strict_json(x):
    """Inverse of `strict_json`."""
    if isinstance(x, str) and x in ("inf", "-inf", "nan"):
        return float(x)
    if isinstance(x, dict):
        return {k: from_strict_json(v) for k, v in x.items()}
    if isinstance(x, list):
        return [from_strict_json(v) for v in x]
    return x


def _save_eval(folder: Path, result: dict, extra: dict) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    save_file({k: v.contiguous() for k, v in result["per_image"].items()}, str(folder / "per_image.safetensors"))
    body = {k: v for k, v in result.items() if k != "per_image"}
    write_json(folder / "eval.json", {**body, **extra})  # written last: its presence means the evaluation is complete


def _load_eval(folder: Path) -> dict | None:
    if not (folder / "eval.json").exists():
        return None
    r = from_strict_json(json.loads((folder / "eval.json").read_text()))
    r["per_image"] = load_file(str(folder / "per_image.safetensors"))
    return r


def _test_split(ds: Dataset, limit: int) -> Split:
    if limit and limit < len(ds.test):
        _, keep = stratified_split(ds.test.labels, limit / len(ds.test), seed=0)
        return ds.test.take(keep)
    return ds.test


def default_out(preset_name: str) -> Path:
    return Path("runs") / f"compare-{preset_name}-{dt.datetime.now():%Y%m%d-%H%M%S}"


def latest_out(preset_name: str) -> Path | None:
    found = sorted(Path("runs").glob(f"compare-{preset_name}-*"))
    return found[-1] if found else None


def compare(cfg: CompareConfig, train_overrides: dict, out: Path, resume: bool = False, progress: bool = True,
            log=print) -> Path:
    """Run the whole comparison into `out`; returns the path of report.html."""
    t_start = time.perf_counter()
    for m in cfg.models:
        create_model(m)  # unknown names fail now, not after an hour of training
    if cfg.seeds < 1:
        raise ValueError(f"seeds must be at least 1, got {cfg.seeds}")
    base = preset(cfg.preset, **train_overrides)
    test_limit = TEST_LIMITS.get(cfg.preset, 0) if cfg.test_limit is None else cfg.test_limit
    cfg = dataclasses.replace(cfg, test_limit=test_limit)
    config = {"compare": asdict(cfg), "train": asdict(base)}
    if out.exists() and any(out.iterdir()):
        if not resume:
            raise TrainingError(f"{out} already holds a comparison; pass --resume to continue it or choose another --out")
        if not (out / "compare.json").exists():
            raise TrainingError(f"{out}: not a colorbench comparison folder; choose another --out")
        if json.loads((out / "compare.json").read_text()) != json.loads(json.dumps(config)):
            raise TrainingError(f"{out} was started with another config; resume it with the same options "
                                "or choose another --out")
    out.mkdir(parents=True, exist_ok=True)
    (out / "compare.json").write_text(json.dumps(config, indent=2))
    prior_wall = json.loads((out / "results.json").read_text()).get("wall_time_s", 0) if (
        resume and (out / "results.json").exists()) else 0.0

    ds = load_dataset(base.data, size=base.size or None, progress=progress)
    test = _test_split(ds, test_limit)
    device = resolve_device(base.device)
    log(f"comparing {', '.join(cfg.models)} x {cfg.seeds} seeds ({cfg.preset} preset: {base.epochs} epoch{'s' * (base.epochs != 1)} on "
        f"{base.train_limit or 'all'} training images; {len(test):,} test images of {ds.name}) -> {out}")

    # baselines: no training, evaluated on validation (the study's loss) and test
    train_idx, val_idx = stratified_split(ds.train.labels, base.val_fraction, seed=base.split_seed)
    predictors = {"gray": gray_predictor(), "mean_color": mean_color_predictor(ds.train.images[train_idx])}
    baselines = {}
    for name, predict in predictors.items():
        folder = out / "baselines" / name
        r = _load_eval(folder) if resume else None
        if r is None:
            val = evaluate(predict, ds.train.images[val_idx], ds.train.labels[val_idx], ds.classes, device=device)
            r = evaluate(predict, test.images, test.labels, ds.classes, device=device)
            _save_eval(folder, r, {"val_loss": val["summary"]["mse"]})
            r = _load_eval(folder)
        baselines[name] = r

    runs: dict[str, list[dict]] = {m: [] for m in cfg.models}
    total, k = len(cfg.models) * cfg.seeds, 0
    for seed in range(cfg.seeds):  # seed-major: an interrupted compare has every model at some seeds
        for m in cfg.models:
            k += 1
            folder = out / "runs" / run_name(m, seed)
            r = _load_eval(folder) if resume else None
            if r is None:
                log(f"[{k}/{total}] {m} seed {seed}: training")
                tcfg = dataclasses.replace(base, model=m, seed=seed)
                metrics = train(tcfg, folder, resume=resume, dataset=ds, progress=progress, log=log)
                model, _ = load_model(folder, device)
                r = evaluate(model_predictor(model, device, amp=base.amp and device.type == "cuda"), test.images,
                             test.labels, ds.classes, device=device)
                _save_eval(folder, r, {"train": metrics})
                r = _load_eval(folder)
                log(f"[{k}/{total}] {m} seed {seed}: val loss {metrics['final_val_loss']:.5f}, test ab MSE "
                    f"{r['summary']['ab_mse']:.1f}, PSNR {r['summary']['psnr']:.2f} dB")
            else:
                log(f"[{k}/{total}] {m} seed {seed}: done earlier, kept")
            runs[m].append(r)

    _save_samples(out, cfg, ds, test, runs, device)
    results = _results(cfg, base, ds, test, runs, baselines, len(train_idx), len(val_idx), device)
    results["wall_time_s"] = prior_wall + time.perf_counter() - t_start
    write_json(out / "results.json", results)

    from .report import write_report

    return write_report(out)


def _summarise(values: list[float]) -> dict:
    mean, ci = mean_ci(values)
    return {"mean": mean, "ci": ci, "values": values}


def _results(cfg, base, ds, test, runs, baselines, n_train, n_val, device) -> dict:
    models = {}
    for m, rs in runs.items():
        probe = create_model(m)
        trains = [r["train"] for r in rs]
        summary = {k: _summarise([r["summary"][k] for r in rs]) for k in rs[0]["summary"]}
        summary["val_loss"] = _summarise([t["final_val_loss"] for t in trains])
        summary["train_loss"] = _summarise([t["final_train_loss"] for t in trains])
        summary["train_time_s"] = _summarise([t["train_time_s"] for t in trains])
        summary["train_images_per_s"] = _summarise([t["images_per_s"] for t in trains])
        summary["inference_images_per_s"] = _summarise([r["inference_images_per_s"] for r in rs])
        models[m] = {
            "params": count_params(probe),
            "forward_flops": forward_flops(probe, ds.image_size[0]),
            "summary": summary,
            "per_class": {k: [sum(v) / len(v) for v in zip(*(r["per_class"][k] for r in rs))]
                          for k in rs[0]["per_class"]},
            "curve": [sum(v) / len(v) for v in zip(*(r["curve"] for r in rs))],
            "histories": [t["history"] for t in trains],
        }
    base_out = {}
    for name, r in baselines.items():
        base_out[name] = {"summary": {**r["summary"], "val_loss": r["val_loss"]}, "per_class": r["per_class"],
                          "curve": r["curve"]}
    paired = []
    names = list(runs)
    for i, a in enumerate(names):
        for b in names[i + 1 :]:
            for metric in PAIRED_METRICS:
                A = torch.stack([r["per_image"][metric] for r in runs[a]])
                B = torch.stack([r["per_image"][metric] for r in runs[b]])
                paired.append({"a": a, "b": b, "metric": metric, **paired_test(A, B)})
    return {
        "colorbench_version": __version__,
        "created": dt.datetime.now().isoformat(timespec="seconds"),
        "versions": {"python": sys.version.split()[0], "torch": torch.__version__, "platform": platform.platform()},
        "device": str(device) if device.type != "cuda" else torch.cuda.get_device_name(device),
        "threads": torch.get_num_threads(),
        "config": {"compare": asdict(cfg), "train": asdict(base)},
        "data": {"name": ds.name, "source": ds.source, "digest_md5": ds.digest, "classes": ds.classes,
                 "image_size": list(ds.image_size), "train_images": n_train if not base.train_limit else
                 min(base.train_limit, n_train), "val_images": n_val, "test_images": len(test)},
        "metrics": METRICS + ["colorfulness_gap"],
        "models": models,
        "baselines": base_out,
        "paired": paired,
        "study": STUDY,
    }


@torch.no_grad()
def _save_samples(out: Path, cfg: CompareConfig, ds: Dataset, test: Split, runs: dict, device) -> None:
    """Fixed test images (the first of each class) and each model's best and worst by ab MSE (seed 0),
    as uint8: L input, truth, and every model's seed-0 prediction."""
    fixed = torch.cat([(test.labels == c).nonzero().flatten()[: cfg.samples_per_class] for c in range(len(ds.classes))])
    tensors = {"fixed_index": fixed}
    for m, rs in runs.items():
        order = rs[0]["per_image"]["ab_mse"].argsort()
        tensors[f"best_index.{m}"] = order[:4].clone()
        tensors[f"worst_index.{m}"] = order[-4:].flip(0).clone()
    every = torch.unique(torch.cat(list(tensors.values())))  # sorted: the report finds rows by searchsorted
    images = test.images[every]
    lab = uint8_to_lab(images)
    tensors["index"] = every
    tensors["truth"] = images
    tensors["labels"] = test.labels[every]
    tensors["gray"] = lab_to_uint8(lab[:, :1], torch.zeros_like(lab[:, 1:]))
    for m in runs:
        model, _ = load_model(out / "runs" / run_name(m, 0), device)
        ab = model(lab[:, :1].to(device)).float().cpu()
        tensors[f"pred.{m}"] = lab_to_uint8(lab[:, :1], ab)
    save_file({k: v.contiguous() for k, v in tensors.items()}, str(out / "samples.safetensors"))


def evaluate_checkpoint(path: str | os.PathLike, data: str | None = None, test_limit: int = 0,
                        device: str = "auto", progress: bool = True) -> dict:
    """`colorbench evaluate`: the compare metrics for one trained model on its data's test set."""
    dev = resolve_device(device)
    model, info = load_model(path, dev)
    cfg = info.get("config") or {}
    source = data or cfg.get("data") or "cifar10"
    ds = load_dataset(source, size=cfg.get("size") or None, progress=progress)
    test = _test_split(ds, test_limit)
    r = evaluate(model_predictor(model, dev), test.images, test.labels, ds.classes, device=dev)
    r.pop("per_image")
    # the gray baseline on the same images, so a reader sees what the model adds
    gray = evaluate(gray_predictor(), test.images, test.labels, ds.classes, device=dev)["summary"]
    return {"checkpoint": str(path), "model": info["model"], "data": ds.name, "test_images": len(test), **r,
            "baselines": {"gray": gray}}
