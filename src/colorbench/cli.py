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
    from .train import TrainConfig, preset, train

    cfg = preset(args.preset, **config_overrides(args, TrainConfig))
    out = Path(args.out or f"runs/{cfg.model}-s{cfg.seed}")
    print(f"training {cfg.model} ({args.preset} preset: {cfg.epochs} epochs, batch {cfg.batch_size}, lr {cfg.lr}) "
          f"on {cfg.data} -> {out}")
    m = train(cfg, out, resume=args.resume, overwrite=args.overwrite, progress=not args.quiet)
    print(f"done: train loss {m['final_train_loss']:.5f}, val loss {m['final_val_loss']:.5f}, "
          f"{m['train_time_s']:.0f}s training, {m['images_per_s']:.0f} img/s; weights: {out / 'model.safetensors'}")


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
    return parser


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    from .train import TrainingError

    try:
        args.fn(args)
    except (DataError, TrainingError, FileNotFoundError, ValueError) as e:
        if args.debug:
            raise
        print(f"colorbench: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("colorbench: interrupted (runs continue with --resume)", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
