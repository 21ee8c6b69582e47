"""The `colorbench` command: parses, calls one function, prints. No math here.

Exit codes: 0 done; 1 the command was valid but failed while running (a missing or unreadable file,
bad data, a full disk, training that diverged, nothing could be colorized); 2 the command line itself
is wrong (an unknown option, a bad value or name), caught before any work; 130 interrupted.
Every error is one line on stderr (`--debug` shows the traceback).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
from pathlib import Path

EPILOG = ("Docs and examples: README.md. Errors print one line; --debug shows a traceback. "
          "Exit codes: 0 done, 1 failed while running, 2 bad command line, 130 interrupted.")


class Parser(argparse.ArgumentParser):
    """argparse, with usage errors in one line (not a usage dump) and exit code 2."""

    def error(self, message: str):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


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


def add_config_args(p: argparse.ArgumentParser, cls, skip: set[str] = frozenset(), by_preset: bool = False) -> None:
    """One --option per dataclass field, typed; default None so presets fill what is not given."""
    from .config import PRESETS

    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        default = f.default
        shown = _preset_defaults(f.name, default) if by_preset and any(f.name in v.train for v in PRESETS.values()) \
            else f"default: {default}"
        if f.type in (bool, "bool"):
            p.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None, help=f"({shown})")
        else:
            typ = {"int": int, "float": float, "str": str}.get(f.type if isinstance(f.type, str) else f.type.__name__, str)
            p.add_argument(flag, dest=f.name, type=typ, default=None, metavar=f.name.upper(), help=f"({shown})")


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
    from .train import TrainConfig, run_name, train

    cfg = preset_train(args.preset, **config_overrides(args, TrainConfig))
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
    path = pretrain_only(cfg, Path(args.out), overwrite=args.overwrite, progress=not args.quiet)
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
    from .evaluate import evaluate_checkpoint
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
    from .colorize import colorize_files, summary_line
    from .data import IMAGE_SUFFIXES

    if any(not str(x).strip() for x in args.inputs):  # Path("") is ".": an empty argument would colorize the cwd
        print("colorbench: error: an input path is empty; name image files or folders", file=sys.stderr)
        return 1
    out = Path(args.output)
    outcomes = colorize_files(args.inputs, out, weights=args.weights, size=args.size, overwrite=args.overwrite,
                              allow_inside=args.inside_input, device=args.device, precision=args.precision,
                              progress=not args.quiet)
    if not outcomes:
        print(f"colorbench: error: no photos found in {', '.join(args.inputs)} (looked for "
              f"{', '.join(sorted(IMAGE_SUFFIXES))})", file=sys.stderr)
        return 1
    print(summary_line(outcomes, out))
    # nothing done and something went wrong (not merely "already done"): a failure
    failed = [o for o in outcomes if not o.done and not o.reason.startswith("output exists")]
    return 1 if failed and not any(o.done for o in outcomes) else 0


def cmd_photo_set(args) -> None:
    from .photos import build_photo_set

    build_photo_set(args.imagenet, args.places, args.out, size=args.size, progress=not args.quiet)


def cmd_evaluate_photos(args) -> None:
    import datetime as dt

    from .photos import evaluate_photos

    out = Path(args.out) if args.out else Path("runs") / f"photos-{Path(args.source).name}-{dt.datetime.now():%Y%m%d-%H%M%S}"
    r = evaluate_photos(args.source, args.weights or ["default"], out, size=args.size, limit=args.limit,
                        precision=args.precision, progress=not args.quiet)
    print(f"{r['photos']} colour photos from {args.source} ({len(r['left_out_without_colour'])} without colour left "
          f"out); truth colourfulness {r['truth_colorfulness']:.1f}")
    print(f"  {'method':<28}{'PSNR dB':>9}{'SSIM':>8}{'CIEDE2000':>11}{'colourfulness':>15}")
    for m, s in r["summary"].items():
        size = r["methods"][m]["size"]
        label = m if size is None else f"{m} (size {size})"
        print(f"  {label:<28}{s['psnr']:>9.2f}{s['ssim']:>8.4f}{s['ciede2000']:>11.2f}"
              f"{s['colorfulness']:>9.1f} ({s['colorfulness_ratio']:.0%})")
    print(f"gallery: {out / 'gallery.html'}  results: {out / 'results.json'}")


def cmd_export(args) -> None:
    from .export import export_onnx

    if not args.onnx:
        raise ValueError("say what to export: --onnx FILE")
    target = Path(args.onnx)
    if target.exists() and not args.overwrite:
        raise ValueError(f"{target} exists; pass --overwrite to replace it")
    print(f"ONNX model (input L: batch x 1 x height x width in [0, 1]; output ab in [-1, 1]): "
          f"{export_onnx(args.weights, target)}")


def cmd_serve(args) -> None:
    from .serve import serve

    serve(host=args.host, port=args.port, weights=args.weights, size=args.size, max_upload_mb=args.max_upload_mb,
          max_megapixels=args.max_megapixels)


def build_parser() -> argparse.ArgumentParser:
    from . import __version__
    from .config import PRESETS, TrainConfig
    from .hardware import PRECISIONS

    presets = "; ".join(f"{k}: {v.about}" for k, v in PRESETS.items())
    parser = Parser(prog="colorbench", epilog=EPILOG,
                    description="Learned image colorization, and an honest benchmark of it.")
    parser.add_argument("--version", action="version", version=f"colorbench {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=Parser)

    p = sub.add_parser("data", help="what a data source holds, and a PNG of samples")
    p.add_argument("--data", default="cifar10", help="'cifar10' (download), 'sample' (shipped), or a path")
    p.add_argument("--size", type=int, default=None, help="crop and resize images to SIZE x SIZE")
    p.add_argument("--out", default=None, help="PNG path (default: colorbench-data.png, never overwritten)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(fn=cmd_data)

    p = sub.add_parser("models", help="list models with parameters and FLOPs, and the losses")
    p.add_argument("--size", type=int, default=32, help="image side for the FLOP count")
    p.set_defaults(fn=cmd_models)

    for name, fn, helptext in (("train", cmd_train, "train one model"),
                               ("pretrain", cmd_pretrain, "pretrain a model's encoder by classifying the training "
                                                          "split (no download), for --init")):
        p = sub.add_parser(name, help=helptext, epilog=EPILOG)
        p.add_argument("--preset", default="study", choices=list(PRESETS),
                       help=f"start from this protocol (default: study). {presets}")
        p.add_argument("--out", default=None, help="run folder (default: runs/<model>-s<seed>)" if name == "train"
                       else "folder for encoder.safetensors (required)", required=name == "pretrain")
        if name == "train":
            p.add_argument("--resume", action="store_true", help="continue the run in --out from its last epoch")
        p.add_argument("--overwrite", action="store_true", help="replace the run in --out")
        p.add_argument("--quiet", action="store_true", help="no progress bars")
        add_config_args(p, TrainConfig, by_preset=False)
        p.set_defaults(fn=fn, resume=False)

    p = sub.add_parser("compare", help="train models over seeds, evaluate on the test set, write a report",
                       epilog=EPILOG)
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
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_config_args(p, TrainConfig, skip={"model", "seed"}, by_preset=True)
    p.set_defaults(fn=cmd_compare)

    p = sub.add_parser("evaluate", help="test-set metrics of one trained model")
    p.add_argument("checkpoint", help="a run folder or .safetensors file that colorbench wrote")
    p.add_argument("--data", default=None, help="data source (default: the one it was trained on)")
    p.add_argument("--test-limit", type=int, default=0, help="evaluate on this many test images (0: all)")
    p.add_argument("--device", default="auto")
    p.add_argument("--precision", default="auto", choices=PRECISIONS, help="forward pass precision (default: auto)")
    p.add_argument("--json", default=None, help="also write every figure to this JSON file")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(fn=cmd_evaluate)

    p = sub.add_parser("colorize", help="colorize photos (files or folders) with the shipped or given weights",
                       epilog=EPILOG)
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="image files or folders (searched recursively)")
    p.add_argument("-o", "--output", default="colorized", help="output folder (default: ./colorized)")
    p.add_argument("--weights", default=None, help="a .safetensors file or run folder colorbench wrote "
                   "(default: the shipped weights)")
    p.add_argument("--size", type=int, default=None, help="short side of the network's input "
                   "(default: the weights' recommendation)")
    p.add_argument("--overwrite", action="store_true", help="replace outputs that exist")
    p.add_argument("--inside-input", action="store_true", help="allow -o inside an input folder")
    p.add_argument("--device", default="cpu")
    p.add_argument("--precision", default="fp32", choices=PRECISIONS,
                   help="forward pass precision (default: fp32; bf16 is within one 8-bit level)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(fn=cmd_colorize)

    p = sub.add_parser("evaluate-photos", help="colorize a folder of colour photos from their lightness and score "
                       "them against the truth, beside the gray baseline; writes a gallery page", epilog=EPILOG)
    p.add_argument("source", help="a folder or .tar of colour photos, or 'skimage' (scikit-image's samples)")
    p.add_argument("--weights", nargs="+", default=None, help="weights to compare: files, run folders, or the "
                   "shipped 'default' and 'study' (default: default)")
    p.add_argument("--size", type=int, default=None, help="network input short side (default: each weights' own)")
    p.add_argument("--limit", type=int, default=0, help="at most this many photos (0: all)")
    p.add_argument("--precision", default="fp32", choices=PRECISIONS)
    p.add_argument("--out", default=None, help="folder for results.json and gallery.html "
                   "(default: runs/photos-<source>-<time>)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(fn=cmd_evaluate_photos)

    p = sub.add_parser("photo-set", help="build the photo training set (fixed held-out lists, gray photos left "
                       "out) from the ImageNet sample and MiniPlaces")
    p.add_argument("--imagenet", required=True, help="imagenet-sample-1000.tar (or a folder of its photos)")
    p.add_argument("--places", required=True, help="miniplaces-20k.tar.gz (or a folder of its photos)")
    p.add_argument("--out", required=True, help="a new folder for the set")
    p.add_argument("--size", type=int, default=128, help="side of the training crops (default: 128)")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(fn=cmd_photo_set)

    p = sub.add_parser("export", help="export weights to ONNX (dynamic batch, height and width)")
    p.add_argument("--onnx", metavar="FILE", help="write an ONNX model here")
    p.add_argument("--weights", default=None, help="checkpoint (default: the shipped weights)")
    p.add_argument("--overwrite", action="store_true")
    p.set_defaults(fn=cmd_export)

    p = sub.add_parser("serve", help="a local web page: drop a photo, see it colorized")
    p.add_argument("--host", default="127.0.0.1", help="address to bind (default: this machine only)")
    p.add_argument("--port", type=int, default=8000)
    p.add_argument("--weights", default=None, help="checkpoint (default: the shipped weights)")
    p.add_argument("--size", type=int, default=None, help="short side of the network's input "
                   "(default: the weights' recommendation)")
    p.add_argument("--max-upload-mb", type=float, default=20.0, help="largest upload accepted (default: 20)")
    p.add_argument("--max-megapixels", type=float, default=40.0,
                   help="largest photo accepted, in megapixels (default: 40); memory stays bounded either way")
    p.set_defaults(fn=cmd_serve)

    p = sub.add_parser("report", help="compute results.json's figures and tests again from a compare folder's saved "
                                      "evaluations (no training), then render report.html and report.md")
    p.add_argument("folder")
    p.set_defaults(fn=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .config import UsageError
    from .data import DataError
    from .persist import ReadError
    from .train import TrainingError

    try:
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
        print("colorbench: interrupted (runs continue with --resume)", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
