"""The `colorbench` command: parses, calls one function, prints. No math here."""

from __future__ import annotations

import argparse
import dataclasses
import sys
from pathlib import Path

from .data import DataError

EPILOG = "Docs and examples: README.md. Errors print one line; add --debug for a traceback."


def unique_path(path: Path) -> Path:
    """`path`, or `name-1.ext`, `name-2.ext`, ... if it exists: never overwrite the user's files."""
    i = 1
    candidate = path
    while candidate.exists():
        candidate = path.with_name(f"{path.stem}-{i}{path.suffix}")
        i += 1
    return candidate


def add_config_args(p: argparse.ArgumentParser, cls, skip: set[str] = frozenset()) -> None:
    """One --option per dataclass field, typed; default None so presets fill what is not given."""
    for f in dataclasses.fields(cls):
        if f.name in skip:
            continue
        flag = "--" + f.name.replace("_", "-")
        default = f.default
        if f.type in (bool, "bool"):
            p.add_argument(flag, dest=f.name, action=argparse.BooleanOptionalAction, default=None,
                           help=f"(default: {default})")
        else:
            typ = {"int": int, "float": float, "str": str}.get(f.type if isinstance(f.type, str) else f.type.__name__, str)
            p.add_argument(flag, dest=f.name, type=typ, default=None, metavar=f.name.upper(),
                           help=f"(default: {default})")


def config_overrides(args: argparse.Namespace, cls) -> dict:
    return {f.name: getattr(args, f.name) for f in dataclasses.fields(cls)
            if getattr(args, f.name, None) is not None}


# ---------------------------------------------------------------------------------------------


def cmd_data(args) -> None:
    from .data import describe, load_dataset
    from .report import data_preview

    ds = load_dataset(args.data, size=args.size, progress=not args.quiet)
    print(describe(ds))
    out = Path(args.out) if args.out else unique_path(Path("colorbench-data.png"))
    data_preview(ds, out)
    print(f"sample grid (RGB | L per image, one row per class): {out}")


def cmd_models(args) -> None:
    from .models import MODELS, count_params, create_model, forward_flops, list_models

    print(f"{'model':<14}{'params':>12}{'GFLOPs @' + str(args.size):>14}  description")
    for name in list_models():
        m = create_model(name)
        doc = (MODELS[name].__doc__ or "").strip().splitlines()[0]
        print(f"{name:<14}{count_params(m):>12,}{forward_flops(m, args.size) / 1e9:>14.3f}  {doc}")


def cmd_train(args) -> None:
    from .train import TrainConfig, preset, run_name, train

    cfg = preset(args.preset, **config_overrides(args, TrainConfig))
    out = Path(args.out) if args.out else Path("runs") / run_name(cfg.model, cfg.seed)
    print(f"training {cfg.model} ({args.preset} preset: {cfg.epochs} epoch{'s' * (cfg.epochs != 1)}, batch {cfg.batch_size}, lr {cfg.lr}) "
          f"on {cfg.data} -> {out}")
    m = train(cfg, out, resume=args.resume, overwrite=args.overwrite, progress=not args.quiet)
    print(f"done: train loss {m['final_train_loss']:.5f}, val loss {m['final_val_loss']:.5f}, "
          f"{m['train_time_s']:.0f}s training, {m['images_per_s']:.0f} img/s; weights: {out / 'model.safetensors'}")


def cmd_compare(args) -> None:
    from .compare import CompareConfig, compare, default_out, latest_out
    from .train import TrainConfig

    cfg = CompareConfig(preset=args.preset, models=tuple(args.models or CompareConfig.models),
                        seeds=args.seeds or CompareConfig.seeds, test_limit=args.test_limit)
    out = Path(args.out) if args.out else None
    if out is None and args.resume:
        out = latest_out(args.preset)
        if out is None:
            raise FileNotFoundError(f"no earlier runs/compare-{args.preset}-* to resume; pass --out")
    out = out or default_out(args.preset)
    overrides = config_overrides(args, TrainConfig)
    report = compare(cfg, overrides, out, resume=args.resume, progress=not args.quiet)
    print(f"report: {report}")
    print(f"        {report.with_suffix('.md')}, results: {out / 'results.json'}")


def cmd_evaluate(args) -> None:
    from .compare import evaluate_checkpoint, write_json

    r = evaluate_checkpoint(args.checkpoint, data=args.data, test_limit=args.test_limit, device=args.device,
                            progress=not args.quiet)
    s = r["summary"]
    gray = r["baselines"]["gray"]
    print(f"{r['model']['name']} on {r['test_images']:,} test images of {r['data']}:")
    print(f"  {'':<18} {'model':>9} {'gray (ab = 0)':>14}")
    for k, v in s.items():
        print(f"  {k:<18} {v:9.5g} {gray[k]:14.5g}")
    print(f"  {'inference img/s':<18} {r['inference_images_per_s']:.0f}")
    if args.json:
        write_json(Path(args.json), r)
        print(f"all figures (per class, error curve): {args.json}")


def cmd_report(args) -> None:
    from .report import write_report

    print(f"report: {write_report(Path(args.folder))}")


def cmd_colorize(args) -> None:
    from .colorize import colorize_files, summary_line

    out = Path(args.output)
    outcomes = colorize_files(args.inputs, out, weights=args.weights, size=args.size, overwrite=args.overwrite,
                              allow_inside=args.inside_input, device=args.device, progress=not args.quiet)
    print(summary_line(outcomes, out))


def cmd_export(args) -> None:
    from .colorize import export_onnx

    if not args.onnx:
        raise ValueError("say what to export: --onnx FILE")
    target = Path(args.onnx)
    if target.exists() and not args.overwrite:
        raise ValueError(f"{target} exists; pass --overwrite to replace it")
    print(f"ONNX model (input L: batch x 1 x height x width in [0, 1]; output ab in [-1, 1]): "
          f"{export_onnx(args.weights, target)}")


def cmd_serve(args) -> None:
    from .serve import serve

    serve(host=args.host, port=args.port, weights=args.weights, size=args.size, max_upload_mb=args.max_upload_mb)


def build_parser() -> argparse.ArgumentParser:
    from .train import PRESETS, TrainConfig

    parser = argparse.ArgumentParser(prog="colorbench", epilog=EPILOG,
                                     description="Learned image colorization, and an honest benchmark of it.")
    parser.add_argument("--debug", action="store_true", help="show tracebacks")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("data", help="what a data source holds, and a PNG of samples")
    p.add_argument("--data", default="cifar10", help="'cifar10' (download), 'sample' (shipped), or a path")
    p.add_argument("--size", type=int, default=None, help="crop and resize images to SIZE x SIZE")
    p.add_argument("--out", default=None, help="PNG path (default: colorbench-data.png, never overwritten)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(fn=cmd_data)

    p = sub.add_parser("models", help="list models with parameters and FLOPs")
    p.add_argument("--size", type=int, default=32, help="image side for the FLOP count")
    p.set_defaults(fn=cmd_models)

    p = sub.add_parser("train", help="train one model", epilog=EPILOG)
    p.add_argument("--preset", default="study", choices=list(PRESETS), help="start from this protocol")
    p.add_argument("--out", default=None, help="run folder (default: runs/<model>-s<seed>)")
    p.add_argument("--resume", action="store_true", help="continue the run in --out from its last epoch")
    p.add_argument("--overwrite", action="store_true", help="replace the run in --out")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_config_args(p, TrainConfig)
    p.set_defaults(fn=cmd_train)

    p = sub.add_parser("compare", help="train models over seeds, evaluate on the test set, write a report",
                       epilog=EPILOG)
    p.add_argument("--preset", default="smoke", choices=list(PRESETS),
                   help="smoke: minutes on a CPU (default); quick: about an hour; study: the full protocol")
    p.add_argument("--models", nargs="+", default=None, help="models to compare (default: cnn unet unet_noskip)")
    p.add_argument("--seeds", type=int, default=None, help="seeds per model (default: 3)")
    p.add_argument("--test-limit", type=int, default=None, help="test images (0: all; smoke default: 1000)")
    p.add_argument("--out", default=None, help="folder (default: runs/compare-<preset>-<time>)")
    p.add_argument("--resume", action="store_true", help="continue --out (default: the latest) without redoing runs")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    add_config_args(p, TrainConfig, skip={"model", "seed"})
    p.set_defaults(fn=cmd_compare)

    p = sub.add_parser("evaluate", help="test-set metrics of one trained model")
    p.add_argument("checkpoint", help="a run folder or .safetensors file that colorbench wrote")
    p.add_argument("--data", default=None, help="data source (default: the one it was trained on)")
    p.add_argument("--test-limit", type=int, default=0, help="evaluate on this many test images (0: all)")
    p.add_argument("--device", default="auto")
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
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.set_defaults(fn=cmd_colorize)

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
    p.set_defaults(fn=cmd_serve)

    p = sub.add_parser("report", help="render report.html and report.md again from a compare folder")
    p.add_argument("folder")
    p.set_defaults(fn=cmd_report)
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .train import TrainingError

    try:
        args.fn(args)
    except (DataError, TrainingError, OSError, ValueError) as e:
        if args.debug:
            raise
        # OSError covers FileNotFoundError, permissions, a full disk, a port in use
        msg = f"{e.strerror}: {e.filename}" if isinstance(e, OSError) and e.filename and e.strerror else e
        print(f"colorbench: error: {msg}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("colorbench: interrupted (runs continue with --resume)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
