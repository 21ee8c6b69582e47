"""`colorbench compare`: train each arm over several seeds, evaluate all on the test set, save every
figure to results.json, and render the report. Interrupted runs continue with `resume=True`.

Folder layout:
  compare.json                 the config
  runs/<arm>-s<seed>/          training runs (see train.py) + eval.json and per_image.safetensors
  baselines/<name>/            the same evaluation files for "gray" and "mean_color"
  samples.safetensors          fixed, best and worst test images with every arm's prediction
  parts.json                   each part of the comparison (the first, each --resume): start, wall time, layout
  peak.json                    optional: the machine's matmul peak (benchmarks/bench_peak.py --out FOLDER)
  results.json                 every figure, config, versions, data source and hash
  report.html, report.md       rendered from results.json (report.py)

Everything in results.json but the provenance (data, machine, versions, dates) is computed from the
saved evaluations, so `render` recomputes it with the current code from a folder without weights
(a published one): `colorbench report FOLDER` is the one step that brings a folder up to date.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import platform
import sys
import time
from dataclasses import asdict
from pathlib import Path

import torch

from . import __version__
from .color import gray_uint8, lab_to_uint8, uint8_to_lab
from .config import RESUMABLE_CHANGES, CompareConfig, TrainConfig, parse_arm, preset_train
from .data import Dataset, Split, load_dataset, select_classes
from .evaluate import METRICS, evaluate, gray_predictor, mean_ab, mean_color_predictor, model_predictor
from .hardware import device_name, resolve_device, resolve_precision
from .models import load_model
from .persist import ReadError, claim_folder, load_tensors, read_header, read_json, save_tensors, write_json
from .stats import mean_ci, paired_table
from .study import STUDY
from .train import TrainingError, load_config_data, run_name, run_threads, split_indices, train, validate

PAIRED_METRICS = ["ab_mse", "psnr", "ssim", "ciede2000"]  # every pair of arms
AGAINST_FIRST = ["ab_mse", "colorfulness", "ciede2000", "auc"]  # every arm against the first (directions)
AGAINST_BASELINES = ["ab_mse", "psnr", "ciede2000", "colorfulness"]  # every arm against each baseline


def _save_eval(folder: Path, result: dict, extra: dict) -> None:
    save_tensors(folder / "per_image.safetensors", result["per_image"])
    body = {k: v for k, v in result.items() if k != "per_image"}
    write_json(folder / "eval.json", {**body, **extra})  # written last: its presence means the evaluation is complete


def _load_eval(folder: Path) -> dict | None:
    if not (folder / "eval.json").exists():
        return None
    r = read_json(folder / "eval.json", "evaluation")
    r["per_image"], _ = load_tensors(folder / "per_image.safetensors", "evaluation")
    return r


def default_out(preset_name: str) -> Path:
    return Path("runs") / f"compare-{preset_name}-{dt.datetime.now():%Y%m%d-%H%M%S}"


def latest_out(preset_name: str) -> Path | None:
    found = sorted(Path("runs").glob(f"compare-{preset_name}-*"))
    return found[-1] if found else None


def _same_config(old: dict, cfg: CompareConfig, base: TrainConfig) -> bool:
    """Is a saved compare.json this comparison? Filled with today's defaults, so a folder written by an
    older colorbench resumes. Free: `jobs`, the training fields a resumed run may change, and `seeds`
    (runs are per seed: more seeds add runs to a finished comparison, fewer report the first ones)."""
    old_cmp = dataclasses.replace(CompareConfig.from_dict(old.get("compare", {})), jobs=cfg.jobs, seeds=cfg.seeds)
    old_train = TrainConfig.from_dict(old.get("train", {}))
    free = {k: getattr(base, k) for k in RESUMABLE_CHANGES - {"epochs", "lr"}}
    return old_cmp == cfg and dataclasses.replace(old_train, **free) == base


def check_before_start(cfg: CompareConfig, base: TrainConfig, out: Path, resume: bool) -> tuple[dict, bool]:
    """Validate everything that can be before anything is created: arms, options, the output folder.
    Returns each arm's TrainConfig (seed 0) and whether `out` holds a comparison to continue."""
    validate(base)
    resolve_device(base.device)
    arms = {a: validate(parse_arm(a, base)) for a in cfg.arms}
    try:
        continuing = claim_folder(out, "compare.json", "comparison folder", resume, overwrite=None)
    except ReadError as e:
        raise TrainingError(str(e)) from None
    if continuing and not _same_config(read_json(out / "compare.json", "comparison config"), cfg, base):
        raise TrainingError(f"{out} was started with another config; resume it with the same options "
                            "or choose another --out")
    return arms, continuing


def compare(cfg: CompareConfig, train_overrides: dict, out: Path, resume: bool = False, progress: bool = True,
            log=print) -> Path:
    """Run the whole comparison into `out`; returns the path of report.html."""
    t_start = time.perf_counter()
    out = Path(out)
    base = preset_train(cfg.preset, **train_overrides)
    arms, continuing = check_before_start(cfg, base, out, resume)
    ds = load_config_data(base, progress)  # bad data fails before mkdir
    test = ds.test_subset(cfg.test_limit)
    train_idx, val_idx = split_indices(base, ds)
    device = resolve_device(base.device)
    precision = resolve_precision(base.precision, device)

    out.mkdir(parents=True, exist_ok=True)
    write_json(out / "compare.json", {"compare": asdict(cfg), "train": asdict(base)})
    e = base.epochs
    log(f"comparing {', '.join(cfg.arms)} x {cfg.seeds} seed{'s' * (cfg.seeds != 1)} ({cfg.preset} preset: {e} "
        f"epoch{'s' * (e != 1)} on {len(train_idx):,} training images, {len(val_idx):,} validation, {len(test):,} test "
        f"images of {ds.name}; {precision}) -> {out}")

    # baselines: no training, evaluated on validation (the study's loss) and test
    mean = mean_ab(ds.train.images[train_idx])
    predictors = {"gray": gray_predictor(), "mean_color": mean_color_predictor(mean)}
    for name in BASELINES:
        folder = out / "baselines" / name
        if not (continuing and (folder / "eval.json").exists()):
            predict = predictors[name]
            val = evaluate(predict, ds.train.images[val_idx], ds.train.labels[val_idx], ds.classes, device=device)
            r = evaluate(predict, test.images, test.labels, ds.classes, device=device)
            _save_eval(folder, r, {"val_loss": val["summary"]["mse"], "mean_ab": mean.tolist() if name != "gray" else None})

    todo = [(seed, arm) for seed in range(cfg.seeds) for arm in cfg.arms]  # seed-major: a stop leaves whole seeds
    runs: dict[str, list[dict]] = {a: [None] * cfg.seeds for a in cfg.arms}
    pending = []
    for k, (seed, arm) in enumerate(todo, 1):
        r = _load_eval(out / "runs" / run_name(arm, seed)) if continuing else None
        if r is None:
            pending.append((k, seed, arm))
        else:
            log(f"[{k}/{len(todo)}] {arm} seed {seed}: done earlier, kept")
            runs[arm][seed] = r

    at_once = min(cfg.jobs, len(pending)) if len(pending) > 1 else 1
    part = {"started": dt.datetime.now().isoformat(timespec="seconds"), "wall_time_s": 0.0, "finished": False,
            "runs_at_once": at_once, "threads_per_run": _threads_per_run(base, at_once), "trained": []}

    def record_part(finished: bool = False) -> None:
        part.update(wall_time_s=time.perf_counter() - t_start, finished=finished)
        _record_part(out, part)

    def done(k: int, seed: int, arm: str) -> None:
        r = runs[arm][seed] = _load_eval(out / "runs" / run_name(arm, seed))
        part["trained"].append(run_name(arm, seed))
        record_part()
        log(f"[{k}/{len(todo)}] {arm} seed {seed}: val loss {r['train']['final_val_loss']:.5f}, test ab MSE "
            f"{r['summary']['ab_mse']:.1f}, colourfulness {r['summary']['colorfulness']:.1f}")

    record_part()
    try:
        if at_once > 1:
            _run_parallel(cfg, arms, pending, out, base, continuing, progress, done)
        else:
            for k, seed, arm in pending:
                log(f"[{k}/{len(todo)}] {arm} seed {seed}: training")
                run_one(dataclasses.replace(arms[arm], seed=seed), out / "runs" / run_name(arm, seed), ds, test,
                        resume=continuing, progress=progress, log=log)
                done(k, seed, arm)
        # the samples need only the seed-0 runs: kept when none was trained now (a published folder has no weights)
        if any(seed == 0 for _, seed, _ in pending) or not _samples_cover(out, cfg.arms):
            _save_samples(out, cfg, ds, test, runs, mean, device)
    finally:  # an interrupted part keeps its wall time too
        record_part()
    provenance = _provenance(cfg, base, ds, test, len(train_idx), len(val_idx), device)
    record_part(finished=True)
    write_json(out / "results.json", {**provenance, **analyse(out, provenance)})

    from .report import write_report

    return write_report(out)


def _threads_per_run(base: TrainConfig, at_once: int) -> int:
    """The threads each run trains on (as run_threads sets them): one when deterministic, else --threads, else
    this process's share of its threads when runs train at once."""
    return 1 if base.deterministic else base.threads or max(1, torch.get_num_threads() // at_once)


def _record_part(out: Path, part: dict) -> None:
    """parts.json: one entry per part of the comparison (its first run, each --resume), with its wall time so
    far and how runs shared the machine, so a comparison that was stopped and resumed reports its whole cost."""
    parts = [p for p in _read_parts(out) if p.get("started") != part["started"]]
    write_json(out / "parts.json", parts + [part])


def _read_parts(out: Path) -> list[dict]:
    return read_json(out / "parts.json", "record of the comparison's parts") if (out / "parts.json").exists() else []


def _samples_cover(out: Path, arms) -> bool:
    """Does the folder's samples file hold every arm's seed-0 predictions?"""
    if not (out / "samples.safetensors").exists():
        return False
    names, _ = read_header(out / "samples.safetensors", "sample file")
    return all(f"pred.{a}" in names for a in arms)


def _run_parallel(cfg: CompareConfig, arms: dict, pending: list, out: Path, base: TrainConfig, resume: bool,
                  progress: bool, done) -> None:
    """The pending (arm, seed) runs in `cfg.jobs` worker processes: one GPU each where there are
    several, the CPU threads shared out otherwise; one progress bar here, the workers stay quiet."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor, as_completed

    from tqdm import tqdm

    jobs = min(cfg.jobs, len(pending))
    gpus = torch.cuda.device_count() if resolve_device(base.device).type == "cuda" else 0
    threads = _threads_per_run(base, jobs)
    with ProcessPoolExecutor(jobs, mp_context=mp.get_context("spawn"), initializer=_worker_start,
                             initargs=(threads,)) as pool:
        futures = {}
        for i, (k, seed, arm) in enumerate(pending):
            run_cfg = dataclasses.replace(arms[arm], seed=seed)
            if gpus > 1:
                run_cfg = dataclasses.replace(run_cfg, device=f"cuda:{i % gpus}")
            futures[pool.submit(_worker_run, run_cfg, out / "runs" / run_name(arm, seed), cfg.test_limit, resume)] = (
                k, seed, arm)
        bar = tqdm(total=len(futures), desc=f"runs ({jobs} at once)", unit="run", disable=not progress)
        for f in as_completed(futures):
            f.result()  # a worker's error stops the comparison here, with its message
            bar.update(1)
            (bar.write if progress else lambda m: None)(f"finished {futures[f][2]} seed {futures[f][1]}")
            done(*futures[f])
        bar.close()


def _worker_start(threads: int) -> None:
    """A worker: its share of the threads, and it ends with the comparison (no orphan keeps training)."""
    torch.set_num_threads(threads)
    if sys.platform.startswith("linux"):
        import ctypes
        import signal

        ctypes.CDLL(None).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG: killed when the parent dies


def _worker_run(cfg: TrainConfig, folder: Path, test_limit: int, resume: bool) -> None:
    ds = load_config_data(cfg, progress=False)  # from the cache the parent wrote
    run_one(cfg, folder, ds, ds.test_subset(test_limit), resume=resume, progress=False, log=lambda *_: None)


def run_one(cfg: TrainConfig, folder: Path, ds: Dataset, test: Split, resume: bool, progress: bool, log) -> dict:
    """Train one (arm, seed) and evaluate it on the test images; the evaluation is saved beside the run."""
    metrics = train(cfg, folder, resume=resume, dataset=ds, progress=progress, log=log)
    device = resolve_device(cfg.device)
    model, _ = load_model(folder, device)
    with run_threads(cfg):  # evaluated on the run's thread count too: --jobs N gives --jobs 1's figures
        r = evaluate(model_predictor(model, device, metrics["precision"]), test.images, test.labels, ds.classes,
                     device=device)
    _save_eval(folder, r, {"train": metrics})
    return _load_eval(folder)


def _summarise(values: list[float], per_image: torch.Tensor | None = None) -> dict:
    """Mean and 95% CI over seeds; with per-image values (seeds, N), also the 95% CI over test images
    of the seed-averaged values (normal approximation): the only interval one seed can give."""
    mean, ci = mean_ci(values)
    out = {"mean": mean, "ci": ci, "values": values}
    if per_image is not None:
        v = per_image.double().mean(0)
        out["ci_images"] = 1.959964 * v.std().item() / len(v) ** 0.5 if len(v) > 1 else float("nan")
    return out


def _changes(arm: TrainConfig, base: TrainConfig) -> dict:
    """What an arm changes against the comparison's base config (its model aside)."""
    return {k: v for k, v in asdict(arm).items() if k not in ("model", "seed") and getattr(base, k) != v}


PROVENANCE = ("colorbench_version", "created", "versions", "device", "threads", "config", "data", "wall_time_s")
BASELINES = ("gray", "mean_color")
TRAIN_FLOPS_PER_FORWARD = 3  # a training step ~ 3 forward passes: backward costs about twice the forward


def _provenance(cfg, base, ds, test, n_train, n_val, device) -> dict:
    """What results.json records of where and on what the comparison ran: kept when it is rendered again."""
    return {
        "colorbench_version": __version__,
        "created": dt.datetime.now().isoformat(timespec="seconds"),
        "versions": {"python": sys.version.split()[0], "torch": torch.__version__, "platform": platform.platform()},
        "device": device_name(device),
        "threads": torch.get_num_threads(),
        "config": {"compare": asdict(cfg), "train": asdict(base)},
        "data": {"name": ds.name, "source": ds.source, "digest_md5": ds.digest, "classes": ds.classes,
                 "image_size": list(ds.image_size), "train_split_images": len(ds.train),
                 "train_images": n_train, "val_images": n_val, "test_images": len(test),
                 "test_split_images": len(ds.test)},
    }


def render(out: Path) -> Path:
    """`colorbench report`: results.json's figures and tests computed again by this code from the saved
    evaluations (no training, no data, no weights: a published folder is enough), then the report."""
    out = Path(out)
    if (out / "results.json").exists() and (out / "runs").is_dir():
        old = read_json(out / "results.json", "results file")
        provenance = {k: old[k] for k in PROVENANCE if k in old}
        write_json(out / "results.json", {**provenance, **analyse(out, provenance)})
    from .report import write_report

    return write_report(out)


def _peak(out: Path) -> dict | None:
    """The machine's matmul peak, where it was measured for this folder (benchmarks/bench_peak.py --out)."""
    return read_json(out / "peak.json", "peak record") if (out / "peak.json").exists() else None


def _peak_fraction(peak: dict | None, precision: str, threads: int, gflops: float) -> float | None:
    value = ((peak or {}).get("gflops", {}).get(precision) or {}).get(str(threads))
    return gflops / value if value else None


def analyse(out: Path, provenance: dict) -> dict:
    """Every figure and test of results.json but its provenance, from the evaluations saved in `out` (runs/,
    baselines/), parts.json and peak.json: the seeds and arms of `provenance`'s config."""
    cfg = CompareConfig.from_dict(provenance["config"]["compare"])
    base = TrainConfig.from_dict(provenance["config"]["train"])
    arms = {a: validate(parse_arm(a, base)) for a in cfg.arms}
    runs = {a: [_load_eval(out / "runs" / run_name(a, seed)) for seed in range(cfg.seeds)] for a in cfg.arms}
    baselines = {b: _load_eval(out / "baselines" / b) for b in BASELINES}
    missing = [run_name(a, seed) for a, rs in runs.items() for seed, r in enumerate(rs) if r is None] + [
        f"baseline {b}" for b, r in baselines.items() if r is None]
    if missing:
        raise ReadError(f"{out}: no saved evaluation of {', '.join(missing)}; finish the comparison with --resume")
    peak = _peak(out)
    models = {}
    for arm, rs in runs.items():
        trains = [r["train"] for r in rs]
        summary = {k: _summarise([r["summary"][k] for r in rs],
                                 torch.stack([r["per_image"][k] for r in rs]) if k in rs[0]["per_image"] else None)
                   for k in rs[0]["summary"]}
        summary["val_loss"] = _summarise([t["final_val_loss"] for t in trains])
        summary["train_loss"] = _summarise([t["final_train_loss"] for t in trains])
        summary["train_time_s"] = _summarise([t["train_time_s"] for t in trains])
        summary["train_images_per_s"] = _summarise([t["images_per_s"] for t in trains])
        summary["inference_images_per_s"] = _summarise([r["inference_images_per_s"] for r in rs])
        gflops = [TRAIN_FLOPS_PER_FORWARD * t["forward_flops"] * t["images_per_s"] / 1e9 for t in trains]
        summary["train_gflops_per_s"] = _summarise(gflops)
        fractions = [_peak_fraction(peak, t.get("precision", "fp32"), t.get("threads"), g) for t, g in zip(trains, gflops)]
        if all(f is not None for f in fractions):
            summary["peak_fraction"] = _summarise(fractions)
        pretrain_time = [(t.get("pretext") or {}).get("time_s", 0.0) for t in trains]
        models[arm] = {
            "model": arms[arm].model,
            "loss": arms[arm].loss,
            "changes": _changes(arms[arm], base),
            "params": trains[0]["params"],
            "forward_flops": trains[0]["forward_flops"],
            "precision": trains[0].get("precision", "fp32"),
            "threads": sorted({t.get("threads") for t in trains}, key=str),  # each run's, as it trained
            "summary": summary,
            "pretrain_time_s": _summarise(pretrain_time) if any(pretrain_time) else None,
            "per_class": {k: [sum(v) / len(v) for v in zip(*(r["per_class"][k] for r in rs))]
                          for k in rs[0]["per_class"]},
            "per_class_seeds": {k: [r["per_class"][k] for r in rs] for k in ("ab_mse", "colorfulness")},
            "curve": [sum(v) / len(v) for v in zip(*(r["curve"] for r in rs))],
            "histories": [t["history"] for t in trains],
            "decoding": [t.get("decoding") for t in trains] if arms[arm].loss == "classification" else None,
            "pretext": [t.get("pretext") for t in trains] if arms[arm].init else None,
        }
    base_out = {}
    for name, r in baselines.items():
        base_out[name] = {"summary": {**r["summary"], "val_loss": r["val_loss"]}, "per_class": r["per_class"],
                          "curve": r["curve"]}

    def per_image(arm: str, metric: str) -> torch.Tensor:
        return torch.stack([r["per_image"][metric] for r in runs[arm]])

    names = list(runs)
    paired = paired_table([(a, b, m, per_image(a, m), per_image(b, m)) for i, a in enumerate(names)
                           for b in names[i + 1 :] for m in PAIRED_METRICS])
    first = names[0]
    against_first = paired_table([(a, first, m, per_image(a, m), per_image(first, m)) for a in names[1:]
                                  for m in AGAINST_FIRST]) if len(names) > 1 else []
    against_baselines = paired_table([(a, b, m, per_image(a, m),
                                       baselines[b]["per_image"][m].expand(len(runs[a]), -1))
                                      for a in names for b in baselines for m in AGAINST_BASELINES])
    precisions = sorted({m["precision"] for m in models.values()})
    parts = _read_parts(out)
    return {
        "precision": precisions[0] if len(precisions) == 1 else "mixed: " + ", ".join(precisions),
        "parts": parts,
        "wall_time_s": sum(p["wall_time_s"] for p in parts) if parts else provenance.get("wall_time_s"),
        "peak": peak,
        "train_flops_per_forward": TRAIN_FLOPS_PER_FORWARD,
        "metrics": METRICS + ["colorfulness_gap"],
        "models": models,
        "baselines": base_out,
        "paired": paired,
        "against_first": against_first,
        "against_baselines": against_baselines,
        "study": STUDY,
    }


@torch.no_grad()
def _save_samples(out: Path, cfg: CompareConfig, ds: Dataset, test: Split, runs: dict, mean: torch.Tensor,
                  device) -> None:
    """Fixed test images (the first of each class) and each arm's 4 best and 4 worst by ab MSE (seed 0),
    as uint8: gray input, truth, both baselines and every arm's seed-0 prediction, with every arm's
    per-image ab MSE on them."""
    fixed = torch.cat([(test.labels == c).nonzero().flatten()[: cfg.samples_per_class] for c in range(len(ds.classes))])
    tensors = {"fixed_index": fixed}
    for arm, rs in runs.items():
        order = rs[0]["per_image"]["ab_mse"].argsort()
        tensors[f"best_index.{arm}"] = order[:4].clone()
        tensors[f"worst_index.{arm}"] = order[-4:].flip(0).clone()
    every = torch.unique(torch.cat(list(tensors.values())))  # sorted: the report finds rows by searchsorted
    images = test.images[every]
    lab = uint8_to_lab(images)
    tensors.update({"index": every, "truth": images, "labels": test.labels[every], "gray": gray_uint8(images),
                    "pred.mean_color": lab_to_uint8(lab[:, :1], mean.view(1, 2, 1, 1).expand(len(lab), 2, *lab.shape[2:]))})
    tensors["ab_mse.gray"] = (lab[:, 1:] * 128).pow(2).flatten(1).mean(1).double()
    tensors["ab_mse.mean_color"] = ((lab[:, 1:] - mean.view(1, 2, 1, 1)) * 128).pow(2).flatten(1).mean(1).double()
    for arm, rs in runs.items():
        folder = out / "runs" / run_name(arm, 0)
        model, _ = load_model(folder, device)
        predict = model_predictor(model, device, rs[0]["train"].get("precision", "fp32"))
        ab = predict(lab[:, :1].to(device)).cpu()
        tensors[f"pred.{arm}"] = lab_to_uint8(lab[:, :1], ab)
        tensors[f"ab_mse.{arm}"] = rs[0]["per_image"]["ab_mse"][every]
    save_tensors(out / "samples.safetensors", tensors)


def evaluate_checkpoint(path, data: str | None = None, test_limit: int = 0, device: str = "auto",
                        precision: str = "auto", progress: bool = True) -> dict:
    """`colorbench evaluate`: the compare metrics for one trained model on its data's test set, with
    the gray baseline on the same images so a reader sees what the model adds. Here, above the models:
    evaluate holds the metrics that objectives use, below them."""
    dev = resolve_device(device)
    prec = resolve_precision(precision, dev)
    model, info = load_model(path, dev)
    cfg = info.get("config") or {}
    source = data or cfg.get("data") or "cifar10"
    ds = load_dataset(source, size=cfg.get("size") or None, progress=progress)
    ds = select_classes(ds, cfg.get("classes", "") if source == cfg.get("data") else "")
    test = ds.test_subset(test_limit)
    r = evaluate(model_predictor(model, dev, prec), test.images, test.labels, ds.classes, device=dev)
    r.pop("per_image")
    gray = evaluate(gray_predictor(), test.images, test.labels, ds.classes, device=dev)["summary"]
    return {"checkpoint": str(path), "model": info["model"], "data": ds.name, "test_images": len(test),
            "precision": prec, **r, "baselines": {"gray": gray}}
