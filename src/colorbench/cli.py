"""The `colorbench` command: parses, calls one function, prints. No math here.

Exit codes: 0 done; 1 the command was valid but failed while running (a missing or unreadable file,
bad data, a full disk, training that diverged, nothing could be colorized); 2 the command line itself
is wrong (an unknown option, a bad value or name, a device this machine lacks), caught before any work;
130 interrupted. Every error is one line on stderr (`--debug`, anywhere on the line, shows the traceback).
A command's options are built only when it runs, and only commands that compute import torch, so
`--help` and `--version` answer at once.
"""

from __future__ import annotations

import argparse
import dataclasses
import difflib
import math
import os
import re
import sys
import textwrap
from pathlib import Path

EPILOG = ("Docs and examples: README.md. Errors print one line; --debug shows a traceback. "
          "Exit codes: 0 done, 1 failed while running, 2 bad command line, 130 interrupted.")
EXAMPLES = """examples:
  colorbench colorize old.jpg -o old-colour.jpg      one photo into one file
  colorbench colorize old-photos/ -o colorized/      files or folders, recursively, into a folder
  colorbench colorize film.mp4 -o colorized/         a video: same frames, timing and sound
  colorbench serve                                   a local page: drop a photo, download the result
  colorbench compare --preset smoke                  compare the CNN and U-Nets over 3 seeds
"""


class Parser(argparse.ArgumentParser):
    """argparse, with usage errors in one line (not a usage dump), exit code 2 and a suggestion for a
    misspelt choice; a command's options are added by `setup` when that command is parsed, so that the
    others' (and torch, which some of their help texts need) are never loaded."""

    def __init__(self, *args, setup=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.setup = setup

    def parse_known_args(self, args=None, namespace=None):
        if self.setup is not None:
            setup, self.setup = self.setup, None
            setup(self)
        return super().parse_known_args(args, namespace)

    def error(self, message: str):
        bad = re.search(r"invalid choice: '?([^' ]*)'? \(choose from (.*)\)", message)
        close = bad and difflib.get_close_matches(bad[1], [c.strip(" '") for c in bad[2].split(",")], n=1)
        if close:  # the likely one instead of the whole list
            message = f"{message[:bad.start()]}invalid choice: {bad[1]!r}; did you mean {close[0]!r}?"
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def number(kind: type, low: float, high: float | None = None, above: bool = False):
    """An argparse type: a `kind` (int or float) of at least `low` (more than `low` if `above`) and at most
    `high`; anything else is a one-line usage error (exit 2), never a silent default."""

    def parse(text: str):
        try:
            v = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not {'a whole number' if kind is int else 'a number'}") \
                from None
        if not math.isfinite(v) or (v <= low if above else v < low) or (high is not None and v > high):
            bound = f"between {low} and {high}" if high is not None else f"{'more than' if above else 'at least'} {low}"
            raise argparse.ArgumentTypeError(f"must be {bound}, not {text}")
        return v

    return parse


def unique_path(path: Path) -> Path:
    """`path`, or `name-1.ext`, `name-2.ext`, ... if it exists: never overwrite the user's files."""
    i = 1
    candidate = path
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{i}{path.suffix}")
        i += 1
    return candidate


def _preset_defaults(name: str, default) -> str:
    """What each preset sets a training field to, for --help: the default a user will actually get."""
    from .config import PRESETS

    per = {p: v.train[name] for p, v in PRESETS.items() if name in v.train}
    if not per:
        return f"default: {default}"
    rest = [p for p in PRESETS if p not in per]
    return "default: " + ", ".join([f"{p} {v}" for p, v in per.items()] + ([f"{'/'.join(rest)} {default}"] if rest else []))


def train_help() -> dict[str, str]:
    """What each training option does, for --help (the registries' names included): every TrainConfig
    field has one (tested)."""
    from .augment import AUGMENTATIONS
    from .config import DEVICES, PRECISIONS
    from .models import list_models
    from .objectives import list_objectives

    return {
        "model": f"the network: {', '.join(list_models())} (colorbench models describes them)",
        "width": "the network's width (channels of its first level); 0: the model's own (64 for the study's models); "
                 "wider than the --init weights: their channels keep their weights, the new ones grow from zero influence",
        "blocks": "photo_unet: residual blocks at the bottleneck, 0: none; more than the --init weights have: the new "
                  "ones start as the identity (a deeper network going on from a shallower one)",
        "in_channels": "channels the network sees: 1 is L; more are L then channels left for later inputs "
                       "(colour hints, a previous frame), zeros for now",
        "hints": "train with simulated colour hints (needs --in-channels 4: L, hint ab, hint mask): per image none "
                 "a quarter of the time, else a geometric number of points (p 1/8), each a patch's mean true colour",
        "loss": f"the objective: {', '.join(list_objectives())} (mse is the study's)",
        "rebalance": "classification: lambda of the class rebalancing, 0 to 1 (Zhang et al. 2016)",
        "temperature": "classification: annealed-mean temperature T; 0: chosen on the validation split",
        "colour_target": "classification, T chosen on the validation split: the lowest ab MSE among the T that beat "
                         "gray's and reach this share of the truth's colourfulness, else the lowest of all; 0: the "
                         "lowest ab MSE",
        "precise_bn": "after the last epoch, re-estimate the batch-norm statistics on this many unaugmented training "
                      "images (training's come from augmented batches, which resampling softens); 0: keep training's",
        "head_stride": "classification: score every n-th pixel, chroma upsampled (Zhang et al.: 4)",
        "mse_weight": "classification: add this x the MSE of the decoded ab to the cross-entropy; 0: none",
        "psnr_weight": "classification: add this x the mean over images of each one's -PSNR (dB) of the decoded ab, "
                       "which weighs an image by 1 / its error, as the mean PSNR of a photo set does; 0: none",
        "psnr_space": "classification, --psnr-weight: ab scores the PSNR of the ab error; rgb of the sRGB picture "
                      "it gives with L, clipped to the gamut, as photos are scored (an ab error at dark L counts less)",
        "label_weight": "add this x the cross-entropy of each training image's class (its folder), predicted by a "
                        "linear classifier from the network's summary of the whole image (Iizuka et al. 2016), so "
                        "the colours can use what the picture is; the classifier is not kept; 0: none",
        "ssim_weight": "ssim: weight of (1 - SSIM) beside the MSE",
        "init": "start from a pretrained encoder (a file from colorbench pretrain, or 'pretrain' to make one "
                "first), or go on from weights of this model (a run folder or .safetensors); none: random weights",
        "pretrain_epochs": "with --init pretrain: epochs of the pretext task (classifying the training split)",
        "pretrain_schedule": "with --init pretrain: the pretext's learning rate over its epochs, constant or cosine",
        "pretrain_weight_decay": "with --init pretrain: the pretext's decoupled weight decay (AdamW); 0: plain Adam",
        "pretrain_label_smoothing": "with --init pretrain: smooth the pretext's labels by this much (0 to 1); 0: none",
        "encoder_lr": "the encoder's learning rate as a fraction of --lr (e.g. 0.1 after --init of a pretrained encoder, "
                      "to keep more of what it learnt; 0 freezes it)",
        "data": "'cifar10' (downloaded once), 'sample' (shipped, 2,500 images), or a path (README: Data)",
        "classes": "use only these classes (folders) of the data, comma-separated, e.g. 'objects' of a photo set; "
                   "none: all",
        "size": "crop and resize images to SIZE x SIZE; 0: the source's own size",
        "epochs": "passes over the training split",
        "batch_size": "images per step (the global batch over all processes)",
        "lr": "Adam's learning rate",
        "schedule": "learning rate over the run: constant (the study's) or cosine (decays to 0 by the last step)",
        "val_fraction": "share of the training set held out for validation (the study's 80/20 split: 0.2)",
        "split_seed": "seed of the train/validation split, the same for every training seed",
        "train_limit": "train on a stratified subset of this many images; 0: all",
        "val_limit": "validate on a stratified subset of this many images (all when the split holds fewer); 0: all",
        "augment": f"augmentation: {', '.join(AUGMENTATIONS)} (study: flips and 90-degree turns; strong: also "
                   "crops and small rotations; photo: left-right flips and mild crops, never on its side; flip: "
                   "left-right flips alone, lossless)",
        "seed": "seed of the weights, shuffling and augmentation",
        "device": DEVICES,
        "precision": f"{', '.join(PRECISIONS)}: auto measures once whether bf16 autocast pays on this machine",
        "memory_format": "tensor layout of the convolutions: channels_last, contiguous (NCHW), or auto: the one "
                         "that trains this model faster on this machine (measured once, then cached)",
        "compile": "torch.compile the model (slower than eager on CPU here)",
        "threads": "CPU threads; 0: torch's default (one per physical core)",
        "deterministic": "one thread and deterministic kernels: bitwise repeatable anywhere, slower",
        "eval_batch_size": "images per batch when evaluating",
    }


def add_config_args(p: argparse.ArgumentParser, cls, skip: set[str] = frozenset(), by_preset: bool = False) -> None:
    """One --option per dataclass field, typed, with what it does; default None so presets fill what is
    not given."""
    from .config import PRESETS

    about = train_help()
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        default = f.default if f.default != "" else "none"
        shown = _preset_defaults(f.name, default) if by_preset and any(f.name in v.train for v in PRESETS.values()) \
            else f"default: {default}"
        text = f"{about[f.name]} ({shown})".replace("%", "%%")
        if f.type in (bool, "bool"):
            p.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=text)
        else:
            typ = {"int": int, "float": float, "str": str}.get(f.type if isinstance(f.type, str) else f.type.__name__, str)
            p.add_argument(flag, dest=f.name, type=typ, default=None, metavar=f.name.upper(), help=text)


def config_overrides(args: argparse.Namespace, cls) -> dict:
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(cls) if getattr(args, f.name, None) is not None}


# ---------------------------------------------------------------------------------------------


def cmd_data(args) -> None:
    from .data import describe, load_dataset
    from .figures import data_preview

    ds = load_dataset(args.data, size=args.size, progress=not args.quiet)
    print(describe(ds))
    out = Path(args.out) if args.out else unique_path(Path("colorbench-data.png"))
    data_preview(ds, out)
    print(f"sample grid (RGB | gray version per image, one row per class): {out}")


def cmd_models(args) -> None:
    from .models import MODELS, count_params, create_model, forward_flops, list_models
    from .objectives import list_objectives

    print(f"{'model':<14}{'params':>12}{'GFLOPs @' + str(args.size):>14}  description")
    for name in list_models():
        m = create_model(name)
        doc = (MODELS[name].__doc__ or "").strip().splitlines()[0]
        print(f"{name:<14}{count_params(m):>12,}{forward_flops(m, args.size) / 1e9:>14.3f}  {doc}")
    print(f"losses (--loss): {', '.join(list_objectives())}")


def cmd_train(args) -> None:
    from .config import preset_train
    from .train import TrainConfig, run_name, train, validate

    cfg = validate(preset_train(args.preset, **config_overrides(args, TrainConfig)))  # before "training ..."
    out = Path(args.out) if args.out else Path("runs") / run_name(cfg.model, cfg.seed)
    main = os.environ.get("RANK", "0") in ("", "0")  # under torchrun, one process speaks for the run
    processes = int(os.environ.get("WORLD_SIZE", "1") or 1)
    if main:
        print(f"training {cfg.model} with {cfg.loss} ({args.preset} preset: {cfg.epochs} epoch{'s' * (cfg.epochs != 1)}, "
              f"batch {cfg.batch_size}, lr {cfg.lr}) on {cfg.data}"
              + (f", {processes} processes" if processes > 1 else "") + f" -> {out}")
    m = train(cfg, out, resume=args.resume, overwrite=args.overwrite, progress=not args.quiet)
    if main:
        print(f"done: train loss {m['final_train_loss']:.5f}, val loss {m['final_val_loss']:.5f}, "
              f"{m['train_time_s']:.0f}s training, {m['images_per_s']:.0f} img/s ({m['precision']}); "
              f"weights: {out / 'model.safetensors'}")


def cmd_pretrain(args) -> None:
    from .config import preset_train
    from .train import pretrain_only
    from .train import TrainConfig

    cfg = preset_train(args.preset, **config_overrides(args, TrainConfig))
    path = pretrain_only(cfg, Path(args.out), overwrite=args.overwrite, progress=not args.quiet, resume=args.resume)
    print(f"encoder: {path}  (use it: colorbench train --model {cfg.model} --init {path})")


def cmd_compare(args) -> None:
    from .compare import compare, default_out, latest_out
    from .config import preset_compare
    from .train import TrainConfig

    cfg = preset_compare(args.preset, arms=args.models, seeds=args.seeds, test_limit=args.test_limit, jobs=args.jobs)
    out = Path(args.out) if args.out else None
    if out is None and args.resume:
        out = latest_out(args.preset)
        if out is None:
            raise FileNotFoundError(f"no earlier runs/compare-{args.preset}-* to resume; pass --out")
    out = out or default_out(args.preset)
    report = compare(cfg, config_overrides(args, TrainConfig), out, resume=args.resume, progress=not args.quiet)
    print(f"report: {report}")
    print(f"        {report.with_suffix('.md')}, results: {out / 'results.json'}")


def cmd_evaluate(args) -> None:
    from .compare import evaluate_checkpoint
    from .persist import write_json

    r = evaluate_checkpoint(args.checkpoint, data=args.data, test_limit=args.test_limit, device=args.device,
                            precision=args.precision, progress=not args.quiet)
    s = r["summary"]
    gray = r["baselines"]["gray"]
    print(f"{r['model']['name']} on {r['test_images']:,} test images of {r['data']} ({r['precision']}):")
    print(f"  {'':<18} {'model':>9} {'gray (ab = 0)':>14}")
    for k, v in s.items():
        print(f"  {k:<18} {v:9.5g} {gray[k]:14.5g}")
    print(f"  {'inference img/s':<18} {r['inference_images_per_s']:.0f}")
    if args.json:
        write_json(Path(args.json), r)
        print(f"all figures (per class, error curve): {args.json}")


def cmd_report(args) -> None:
    from .compare import render

    print(f"report: {render(Path(args.folder))}")


def cmd_colorize(args) -> int:
    from .colorize import parse_hint_arg, read_hints, weights_path
    from .files import EXISTS, colorize_files, summary_line
    from .data import IMAGE_SUFFIXES, VIDEO_SUFFIXES, DataError

    if any(not str(x).strip() for x in args.inputs):  # Path("") is ".": an empty argument would colorize the cwd
        print("colorbench: error: an input path is empty; name image files or folders", file=sys.stderr)
        return 1
    weights_path(args.weights)  # an unknown name is a bad command line (exit 2), whatever the inputs
    hints = None
    if args.hints is not None or args.hint:  # read and shaped now; checked against the photo once it is read
        hints = (read_hints(args.hints) if args.hints is not None else []) + [parse_hint_arg(h) for h in args.hint or []]
    if not any(Path(x).exists() for x in args.inputs):  # nothing at all to do: one line, not skips and a summary
        raise DataError(f"no such file or folder: {', '.join(args.inputs)}")
    out = Path(args.output)
    outcomes = colorize_files(args.inputs, out, weights=args.weights, size=args.size, overwrite=args.overwrite,
                              allow_inside=args.inside_input, device=args.device, precision=args.precision,
                              progress=not args.quiet, hints=hints, temperature=args.temperature,
                              hints_from=f"--hints {args.hints}" if args.hints is not None else "--hint")
    if not outcomes:
        print(f"colorbench: error: no photos or videos found in {', '.join(args.inputs)} (looked for "
              f"{', '.join(sorted(IMAGE_SUFFIXES | VIDEO_SUFFIXES))})", file=sys.stderr)
        return 1
    print(summary_line(outcomes, out))
    # nothing done and something went wrong (not merely "already done"): a failure
    failed = [o for o in outcomes if not o.done and o.reason != EXISTS]
    return 1 if failed and not any(o.done for o in outcomes) else 0


def cmd_photo_set(args) -> None:
    from .photos import build_photo_set

    build_photo_set(args.imagenet, args.places, args.out, size=args.size, progress=not args.quiet,
                    extra_objects=args.extra_objects, extra_scenes=args.extra_scenes)


def cmd_evaluate_photos(args) -> None:
    import datetime as dt

    from .photos import PAIRED_METRICS, evaluate_photos

    out = Path(args.out) if args.out else Path("runs") / f"photos-{Path(args.source).name}-{dt.datetime.now():%Y%m%d-%H%M%S}"
    r = evaluate_photos(args.source, args.weights or ["default"], out, size=args.size, limit=args.limit,
                        precision=args.precision, progress=not args.quiet, hints=args.hints,
                        temperature=args.temperature)
    print(f"{r['photos']} colour photos from {args.source} ({len(r['left_out_without_colour'])} without colour left "
          f"out); truth colourfulness {r['truth_colorfulness']:.1f}")
    rows = {m: " = ".join([m] + [a for a, v in r["methods"].items() if v.get("same_as") == m])
            for m, v in r["methods"].items() if not v.get("same_as")}  # the same weights under two names: one row
    def titled(m, name):  # what the figures were measured at: network size, and T for weights that decode bins
        d = r["methods"][m]
        return name if d["size"] is None else f"{name} (size {d['size']}" + (
            f", T {d['temperature']:g})" if d["temperature"] is not None else ")")

    labels = {m: titled(m, name) for m, name in rows.items()}
    w = max(28, *(len(x) + 2 for x in labels.values()))
    print(f"  {'method':<{w}}{'PSNR dB':>9}{'SSIM':>8}{'CIEDE2000':>11}{'colourfulness':>15}")
    for m, label in labels.items():
        s = r["summary"][m]
        print(f"  {label:<{w}}{s['psnr']:>9.2f}{s['ssim']:>8.4f}{s['ciede2000']:>11.2f}"
              f"{s['colorfulness']:>9.1f} ({s['colorfulness_ratio']:.0%})")
    for m, name in rows.items():
        if " = " in name:
            print(f"  ({name.replace(' = ', ' and ')} are the same weights, {r['methods'][m]['weights']}: listed once)")
    if r.get("paired"):  # the same photos: differences per photo tell close weights apart where means cannot
        print(f"  minus {r['paired'][0]['b']}, photo by photo (95% interval, Holm-adjusted p):")
        for m in dict.fromkeys(p["a"] for p in r["paired"]):
            cells = [f"{PAIRED_METRICS[p['metric']]} {p['mean_diff']:+.2f} ({p['ci_low']:+.2f} to {p['ci_high']:+.2f}), "
                     f"p {p['p_holm']:.2g}" for p in r["paired"] if p["a"] == m]
            print(f"  {m:<{w}}" + "; ".join(cells))
    for m, per in r.get("hints", {}).get("summary", {}).items():
        print(f"  {m} with true-colour points:  points{'PSNR dB':>9}{'CIEDE2000':>11}{'colourfulness':>15}")
        for n, s in per.items():
            print(f"  {'':<{w}}{n:>6}{s['psnr']:>9.2f}{s['ciede2000']:>11.2f}{s['colorfulness']:>15.1f}")
    print(f"gallery: {out / 'gallery.html'}  results: {out / 'results.json'}")


def cmd_evaluate_video(args) -> None:
    import datetime as dt

    from .video import evaluate_video

    out = Path(args.out) if args.out else Path("runs") / f"video-{dt.datetime.now():%Y%m%d-%H%M%S}"
    r = evaluate_video(args.clips, out, weights=args.weights, size=args.size, precision=args.precision,
                       progress=not args.quiet)
    print(f"{'clip':<22}{'':>11}{'PSNR dB':>9}{'CIEDE2000':>11}{'colourful.':>12}{'warp err.':>11}")
    for name, s in [*((c["clip"], c["summary"]) for c in r["clips"]), ("overall (mean of clips)", r["overall"])]:
        for k, m in enumerate(("truth", "gray", "per-frame", "stable")):
            psnr = "" if m == "truth" else f"{s[m]['psnr']:.2f}"
            de = "" if m == "truth" else f"{s[m]['ciede2000']:.2f}"
            print(f"{name if k == 0 else '':<22}{m:>11}{psnr:>9}{de:>11}{s[m]['colorfulness']:>12.1f}"
                  f"{s[m]['warp']:>11.2f}")
    q = r["ratios"]
    print(f"stable vs per-frame, overall: warping error {q['warp']:.2f}x (target at most 0.6x), colourfulness "
          f"{q['colorfulness']:.2f}x (at least 0.95x), PSNR {q['psnr_delta']:+.2f} dB (within 0.2 dB)")
    print(f"page: {out / 'page.html'}  results: {out / 'results.json'}")


def cmd_export(args) -> None:
    from .export import export_onnx

    target = Path(args.onnx)
    if target.exists() and not args.overwrite:
        raise ValueError(f"{target} exists; pass --overwrite to replace it")
    from .colorize import load_colorizer
    from .export import input_names

    path = export_onnx(args.weights, target, temperature=args.temperature)
    names = input_names(load_colorizer(args.weights)[0].in_channels)  # loaded once: load_colorizer caches
    more = {"hint_ab": "; hint_ab: batch x 2 x height x width, ab/128, 0 where no hint",
            "hint_mask": "; hint_mask: batch x 1 x height x width, 1 at a hint",
            "extra": "; extra: the channels after L"}
    print(f"ONNX model (input L: batch x 1 x height x width in [0, 1]{''.join(more.get(n, '') for n in names)}; "
          f"output ab in [-1, 1]): {path}")


def cmd_serve(args) -> None:
    from .serve import serve

    serve(host=args.host, port=args.port, weights=args.weights, size=args.size, max_upload_mb=args.max_upload_mb,
          max_megapixels=args.max_megapixels, temperature=args.temperature)


# ---------------------------------------------------------------------------------------------
# each command's options, added when it is parsed (Parser.setup)


def _quiet(p, what: str = "no progress bars") -> None:
    p.add_argument("--quiet", action="store_true", help=what)


def _weights(p, several: bool = False) -> None:
    from .config import SHIPPED

    shipped = " or ".join(repr(n) for n in SHIPPED)
    if several:
        p.add_argument("--weights", nargs="+", default=None, metavar="WEIGHTS", help="weights to compare: the "
                       f"shipped {shipped}, or .safetensors files or run folders colorbench wrote; NAME=PATH names "
                       "one in the table (default: default)")
    else:
        p.add_argument("--weights", default=None, help=f"the shipped {shipped} (see MODEL_CARD.md), or a "
                       ".safetensors file or run folder colorbench wrote (default: default)")


def _size(p, default: str) -> None:
    p.add_argument("--size", type=number(int, 1), default=None,
                   help=f"short side, in pixels, of the network's input (default: {default})")


def _setup_data(p) -> None:
    p.add_argument("--data", default="cifar10", help="'cifar10' (downloaded once), 'sample' (shipped), or a path: "
                   "an archive or folder (see README, Data) (default: cifar10)")
    p.add_argument("--size", type=number(int, 1), default=None, help="crop and resize images to SIZE x SIZE")
    p.add_argument("--out", default=None, help="PNG path (default: colorbench-data.png, never overwritten)")
    _quiet(p)


def _setup_models(p) -> None:
    p.add_argument("--size", type=number(int, 1), default=32, help="image side for the FLOP count (default: 32)")


def _setup_train(p, pretrain: bool = False) -> None:
    from .config import PRESETS, SCHEDULES, TrainConfig

    presets = "; ".join(f"{k}: {v.about}" for k, v in PRESETS.items())
    p.add_argument("--preset", default="study", choices=list(PRESETS),
                   help=f"start from this protocol (default: study). {presets}")
    if pretrain:
        p.add_argument("--out", required=True, help="folder for encoder.safetensors (required)")
    else:
        p.add_argument("--out", default=None, help="run folder (default: runs/<model>-s<seed>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last finished epoch")
    p.add_argument("--overwrite", action="store_true", help="replace the run in --out")
    _quiet(p)
    skip = frozenset()
    if pretrain:  # the pretext reads neither the colour objective's options nor a start: not offered
        skip = PRETEXT_IGNORES | {"epochs", "pretrain_epochs", "schedule", "pretrain_schedule", "pretrain_weight_decay",
                                  "pretrain_label_smoothing"}
        p.add_argument("--epochs", dest="pretrain_epochs", type=number(int, 1), default=None,
                       metavar="EPOCHS", help="epochs of the pretext task (default: 3)")
        p.add_argument("--schedule", dest="pretrain_schedule", default=None, choices=SCHEDULES,
                       help="learning rate over the pretext: constant (default) or cosine (decays to 0 by the last step)")
        p.add_argument("--weight-decay", dest="pretrain_weight_decay", type=number(float, 0), default=None,
                       help="decoupled weight decay (AdamW) (default: 0, plain Adam)")
        p.add_argument("--label-smoothing", dest="pretrain_label_smoothing", type=number(float, 0, 1), default=None,
                       help="smooth the labels by this much, 0 to 1 (default: 0)")
    add_config_args(p, TrainConfig, skip=skip, by_preset=False)


# TrainConfig fields `colorbench pretrain` has no use for (pretrain.pretrain_encoder reads none of them)
PRETEXT_IGNORES = frozenset({"loss", "rebalance", "temperature", "colour_target", "precise_bn", "head_stride",
                             "mse_weight", "psnr_weight", "psnr_space", "label_weight", "ssim_weight", "init",
                             "encoder_lr"})


def _setup_compare(p) -> None:
    from .config import PRESETS, TrainConfig

    presets = "; ".join(f"{k}: {v.about}" for k, v in PRESETS.items())
    p.add_argument("--preset", default="smoke", choices=list(PRESETS), help=f"(default: smoke). {presets}")
    p.add_argument("--models", nargs="+", default=None, metavar="ARM",
                   help="arms to compare: a model, or MODEL,field=value,... (e.g. cnn,loss=classification); "
                        "default: the preset's (" + "; ".join(f"{k}: {' '.join(v.arms)}" for k, v in PRESETS.items()) + ")")
    p.add_argument("--seeds", type=int, default=None, help="seeds per arm (default: 3)")
    p.add_argument("--test-limit", type=int, default=None, help="test images, a fixed stratified subset (0: all; "
                   "default: " + ", ".join(f"{k} {v.test_limit or 'all'}" for k, v in PRESETS.items()) + ")")
    p.add_argument("--jobs", type=int, default=None, help="runs trained at once, each in its own process (default: 1)")
    p.add_argument("--out", default=None, help="folder (default: runs/compare-<preset>-<time>)")
    p.add_argument("--resume", action="store_true", help="continue --out (default: the latest) without redoing runs")
    _quiet(p)
    add_config_args(p, TrainConfig, skip={"model", "seed"}, by_preset=True)


def _setup_evaluate(p) -> None:
    from .config import DEVICES, PRECISIONS

    p.add_argument("checkpoint", help="a run folder or .safetensors file that colorbench wrote")
    p.add_argument("--data", default=None, help="data source (default: the one it was trained on)")
    p.add_argument("--test-limit", type=number(int, 0), default=0, help="evaluate on this many test images (0: all)")
    p.add_argument("--device", default="auto", help=f"where to run: {DEVICES} (default: auto)")
    p.add_argument("--precision", default="auto", choices=PRECISIONS, help="forward pass precision (default: auto)")
    p.add_argument("--json", default=None, help="also write every figure to this JSON file")
    _quiet(p)


def _setup_colorize(p) -> None:
    from .config import DEVICES, PRECISIONS

    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image or video files, or folders (searched "
                   "recursively); videos need the video extra: pip install 'colorbench[video]'")
    p.add_argument("-o", "--output", default="colorized", help="output folder, made if needed (default: ./colorized); "
                   "for one input file it may be an image file name (-o photo-colour.jpg)")
    _weights(p)
    _size(p, "the weights' recommendation")
    p.add_argument("--overwrite", action="store_true", help="replace outputs that exist (never an input photo)")
    p.add_argument("--inside-input", action="store_true", help="allow -o inside an input folder")
    p.add_argument("--hints", metavar="FILE", help="colour hints for one input photo: a JSON list like "
                   '[{"x": 120, "y": 80, "color": "#c03020"}], x and y in pixels of the photo as displayed '
                   "(origin top-left); only each colour's chroma is used, the photo keeps its lightness")
    p.add_argument("--hint", action="append", metavar="X,Y,#RRGGBB", help="one colour hint, e.g. 120,80,#c03020 "
                   "(repeatable; added to --hints)")
    _temperature(p)
    p.add_argument("--device", default="cpu", help=f"where to run: {DEVICES} (default: cpu)")
    p.add_argument("--precision", default="fp32", choices=PRECISIONS,
                   help="forward pass precision (default: fp32; bf16 is within one 8-bit level)")
    _quiet(p, "no progress bar")


def _temperature(p) -> None:
    p.add_argument("--temperature", type=number(float, 0, above=True), default=None, metavar="T",
                   help="weights that score colour bins (default, hints): the annealed-mean temperature that "
                        "averages them; for the shipped default, higher gives more colour and more error (1.0: 64%% "
                        "of the true colourfulness; its own 0.45: 52%%; 0.38: 48%%, the least colour error; README), "
                        "default: the weights' own (serve: where the page's colour slider starts)")


def _setup_evaluate_photos(p) -> None:
    from .config import PRECISIONS

    p.add_argument("source", help="a folder or .tar of colour photos, or 'skimage' (scikit-image's samples)")
    _weights(p, several=True)
    _size(p, "each weights' own")
    p.add_argument("--limit", type=number(int, 0), default=0, help="at most this many photos (0: all)")
    p.add_argument("--precision", default="fp32", choices=PRECISIONS, help="forward pass precision (default: fp32)")
    _temperature(p)
    p.add_argument("--hints", nargs="+", type=number(int, 0), metavar="N", help="also give weights that take colour "
                   "hints this many random points of each photo's true colour (seeded: the same points for every "
                   "set of weights), e.g. --hints 0 1 2 5 10 20 50 100; a table and a curve per count")
    p.add_argument("--out", default=None, help="folder for results.json and gallery.html "
                   "(default: runs/photos-<source>-<time>)")
    _quiet(p)


def _setup_evaluate_video(p) -> None:
    from .config import PRECISIONS

    p.add_argument("clips", nargs="+", metavar="CLIP", help="colour video files: their own colour is the truth")
    _weights(p)
    _size(p, "the weights' recommendation")
    p.add_argument("--precision", default="fp32", choices=PRECISIONS, help="forward pass precision (default: fp32)")
    p.add_argument("--out", default=None, help="folder for results.json and page.html (default: runs/video-<time>)")
    _quiet(p)


def _setup_photo_set(p) -> None:
    p.add_argument("--imagenet", required=True, help="imagenet-sample-1000.tar (or a folder of its photos)")
    p.add_argument("--places", required=True, help="miniplaces-20k.tar.gz (or a folder of its photos)")
    p.add_argument("--out", required=True, help="a new folder for the set")
    p.add_argument("--extra-objects", action="append", default=[], metavar="DIR",
                   help="more photos of objects for training only (e.g. mini-ImageNet), repeatable; photos with the "
                        "same bytes as any photo already in the set, a thumbnail matching a held-out photo's, or a "
                        "held-out photo's ImageNet class (n01234567) in their path are dropped")
    p.add_argument("--extra-scenes", action="append", default=[], metavar="DIR",
                   help="more scene photos for training only (e.g. MiniPlaces' training scenes), repeatable")
    p.add_argument("--size", type=number(int, 1), default=128, help="side of the training crops (default: 128)")
    _quiet(p)


def _setup_export(p) -> None:
    p.add_argument("--onnx", metavar="FILE", required=True, help="write an ONNX model here (required; needs the "
                   "onnx extra: pip install 'colorbench[onnx]')")
    _weights(p)
    _temperature(p)
    p.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")


def _setup_serve(p) -> None:
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default: 127.0.0.1, this computer "
                   "only; 0.0.0.0: every network this computer is on)")
    p.add_argument("--port", type=number(int, 1, 65535), default=8000, help="port to listen on, 1 to 65535 "
                   "(default: 8000; the page is http://127.0.0.1:PORT)")
    _weights(p)
    _size(p, "the weights' recommendation")
    _temperature(p)
    p.add_argument("--max-upload-mb", type=number(float, 0, above=True), default=20.0,
                   help="largest upload accepted, in MB (default: 20)")
    p.add_argument("--max-megapixels", type=number(float, 0, above=True), default=40.0,
                   help="largest photo accepted, in megapixels (default: 40); memory stays bounded either way")


def _setup_report(p) -> None:
    p.add_argument("folder", help="a folder colorbench compare wrote (it holds results.json)")


# name, function, what it does (the command list and the command's own --help), its options
COMMANDS = [
    ("data", cmd_data, "what a data source holds, and a PNG of samples", _setup_data),
    ("models", cmd_models, "list models with parameters and FLOPs, and the losses", _setup_models),
    ("train", cmd_train, "train one model", _setup_train),
    ("pretrain", cmd_pretrain, "pretrain a model's encoder by classifying the training split (no download), for "
                               "--init", lambda p: _setup_train(p, pretrain=True)),
    ("compare", cmd_compare, "train models over seeds, evaluate on the test set, write a report", _setup_compare),
    ("evaluate", cmd_evaluate, "test-set metrics of one trained model, beside the gray baseline", _setup_evaluate),
    ("colorize", cmd_colorize, "colorize photos and videos (files or folders) with the shipped or given weights; "
                               "never overwrites a file unless told, never replaces an input", _setup_colorize),
    ("evaluate-photos", cmd_evaluate_photos, "colorize a folder of colour photos from their lightness and score "
                                             "them against the truth, beside the gray baseline; writes a gallery "
                                             "page", _setup_evaluate_photos),
    ("evaluate-video", cmd_evaluate_video, "colorize colour videos from their lightness, per frame and with "
                                           "colour carried along the motion; score both against the truth "
                                           "(PSNR, CIEDE2000, colourfulness, warping error); writes a page",
     _setup_evaluate_video),
    ("photo-set", cmd_photo_set, "build the photo training set (fixed held-out lists, gray photos left out) from "
                                 "the ImageNet sample and MiniPlaces", _setup_photo_set),
    ("export", cmd_export, "export weights to ONNX (dynamic batch, height and width)", _setup_export),
    ("serve", cmd_serve, "a local web page: drop a photo, see it colorized, download it", _setup_serve),
    ("report", cmd_report, "compute results.json's figures and tests again from a compare folder's saved "
                           "evaluations (no training), then render report.html and report.md", _setup_report),
]


def build_parser() -> argparse.ArgumentParser:
    from . import __version__

    parser = Parser(prog="colorbench", epilog=EXAMPLES + "\n" + textwrap.fill(EPILOG, 100),
                    formatter_class=argparse.RawDescriptionHelpFormatter,
                    description="Learned image colorization, and an honest benchmark of it.")
    parser.add_argument("--version", action="version", version=f"colorbench {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks (also accepted after the command)")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND",
                                title="commands (colorbench COMMAND --help for each one's options)")
    for name, fn, about, setup in COMMANDS:
        p = sub.add_parser(name, help=about, description=about[0].upper() + about[1:] + ".", epilog=EPILOG,
                           setup=setup)
        p.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help="show tracebacks")
        p.set_defaults(fn=fn)
    return parser


# what to say after Ctrl-C, where there is something to say
INTERRUPTED = {"train": "the last finished epoch is kept: run the same command with --resume to continue",
               "pretrain": "the last finished epoch is kept: run the same command with --resume to continue",
               "compare": "finished runs are kept: run the same command with --resume to continue",
               "colorize": "every photo or video written is complete: run the same command again to do the rest"}


def main(argv: list[str] | None = None) -> int:
    code = _main(argv)
    from .distributed import leave

    leave(code)  # a process of a distributed run exits here; otherwise nothing happens
    return code


def _main(argv: list[str] | None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .config import UsageError
    from .data import DataError
    from .persist import ReadError
    from .train import TrainingError

    try:
        if getattr(args, "device", None) is not None:  # every command's --device, through one check
            from .hardware import resolve_device

            resolve_device(args.device)
        return args.fn(args) or 0
    except UsageError as e:
        if args.debug:
            raise
        if not getattr(e, "echo", False):
            print(f"colorbench: error: {e} (see colorbench {args.command} --help)", file=sys.stderr)
        return 2
    except RuntimeError as e:
        from .distributed import DistributedError, lost_contact

        if args.debug or not (isinstance(e, DistributedError) or lost_contact(e)):
            raise
        if getattr(e, "echo", False):
            return 1
        msg = str(e) if isinstance(e, DistributedError) else (
            "lost contact with another process of this distributed run (it stopped or was killed); the last "
            "checkpoint is intact: run the same command with --resume")
        print(f"colorbench: error: {msg}", file=sys.stderr)
        return 1
    except (DataError, TrainingError, ReadError, OSError, ValueError) as e:
        if args.debug:
            raise
        # OSError covers FileNotFoundError, permissions, a full disk, a port in use
        msg = f"{e.strerror}: {e.filename}" if isinstance(e, OSError) and e.filename and e.strerror else e
        print(f"colorbench: error: {msg}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        after = INTERRUPTED.get(args.command)
        print("colorbench: interrupted" + (f"; {after}" if after else ""), file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
