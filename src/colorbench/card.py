"""Shipping weights: fp16 safetensors with everything the model card says in their metadata, and
MODEL_CARD.md written from that metadata alone, so the two cannot disagree.

A card (the `card` entry of the metadata) holds: `title`, `summary`, `data` (what it learnt from, and
the licence terms), `held_out` (the rule), `evaluations` (tables of measured figures), `limits` and
`recipe`. The model, its size, parameters, protocol and version come from the rest of the metadata.
"""

from __future__ import annotations

import os
from pathlib import Path

from dataclasses import asdict

from . import __version__
from .config import TrainConfig
from .models import count_params, load_model, save_model
from .persist import write_text


def package_weights(run: str | os.PathLike, dest: str | os.PathLike, recommended_size: int, card: dict) -> Path:
    """Ship a trained run's weights: fp16 (half the size; outputs within one 8-bit level of fp32's on
    photos) with the model spec, recommended network size, version and card in the metadata."""
    model, info = load_model(run)
    meta = {k: info[k] for k in ("config", "epoch", "val_loss", "dataset", "precision", "decoding") if k in info}
    meta = {**meta, "params": count_params(model), "recommended_size": recommended_size, "card": card,
            "version": __version__}
    dest = Path(dest)
    save_model(model, dest, meta, half=True)
    return dest


def write_model_card(weights: dict[str, Path], path: Path) -> Path:
    """MODEL_CARD.md for every shipped set of weights, from their metadata."""
    return write_text(path, model_card(weights))


def model_card(weights: dict[str, Path]) -> str:
    from .models import load_model

    lines = ["# colorbench's shipped weights", "",
             "They ship inside the package; nothing is downloaded. This card is generated from the weights' own "
             "metadata (`colorbench.card.write_model_card`), so every figure below travels with the weights.", ""]
    names: dict[Path, list[str]] = {}  # one section per file, under every name it ships as
    for name, path in weights.items():
        names.setdefault(Path(path), []).append(name)
    for path, these in names.items():
        _, info = load_model(path)
        lines += _section(", ".join(f"`{n}`" for n in these), path, info)
    return "\n".join(lines)


def _num(x: float | None, fmt: str) -> str:
    """A stage table's figure, or '-' where the run did not record it (a pretext's loss, an old file's speed)."""
    return "-" if x is None else format(x, fmt)


def _table(t: dict) -> list[str]:
    out = [f"{t['title']}", "", "| " + " | ".join(t["columns"]) + " |", "|" + "---|" * len(t["columns"])]
    out += ["| " + " | ".join(str(c) for c in row) + " |" for row in t["rows"]]
    return out + ([""] + [t["note"]] if t.get("note") else []) + [""]


def _section(name: str, path: Path, info: dict) -> list[str]:
    card, spec = info["card"], info["model"]
    cfg = asdict(TrainConfig.from_dict(info.get("config", {})))  # older configs in today's words
    objective = (spec.get("objective") or {"name": "mse"})["name"]
    size_mb = path.stat().st_size / 2**20
    options = "".join(f"{k} {v}, " for k, v in spec.get("kwargs", {}).items())  # e.g. width 16, blocks 8
    lines = [f"## {name}: {card['title']}", "",
             f"`{path.name}`: the `{spec['name']}` model ({options}{info['params']:,} parameters, fp16, {size_mb:.1f} MB), "
             f"trained with the `{objective}` objective by colorbench {info.get('version', 'before 0.2')}; "
             f"`colorize` gives it L at a short side of {info['recommended_size']} pixels (`--size`). "
             + card["summary"], "",
             "### Training", "", f"- Data: {card['data']}",
             f"- Protocol: {cfg.get('epochs')} epoch{'s' if cfg.get('epochs') != 1 else ''}, batch {cfg.get('batch_size')}, Adam lr {cfg.get('lr')}, "
             f"augmentation `{cfg.get('augment')}`, seed {cfg.get('seed')}, {info.get('precision', 'fp32')} precision; "
             f"validation loss after the last epoch {info['val_loss']:.5f} (MSE of ab/128)."]
    if info.get("decoding"):
        d = info["decoding"]
        row = next((r for r in d.get("grid", []) if r["temperature"] == d["chosen"]), None)
        reached = row is None or row["colorfulness"] >= d["colour_target"] * d["truth_colorfulness"]
        if row is not None and not d["colour_target"]:  # asked for no colour share: the least error
            rule = (f"the lowest ab MSE of all (no share of colour asked for), "
                    f"{row['colorfulness'] / d['truth_colorfulness']:.0%} of the truth's colourfulness at ab MSE "
                    f"{row['ab_mse']:.1f} against gray's {d['gray_ab_mse']:.1f}; mean ab PSNR per image "
                    f"{row['ab_psnr']:.2f} dB against gray's {d['gray_ab_psnr']:.2f}")
        elif reached:
            rule = (f"the lowest ab MSE among the T reaching {d['colour_target']:.0%} of the truth's colourfulness"
                    + (" with an ab MSE below gray's" if "gray_ab_mse" in d else ""))
        else:
            lowest = row["ab_mse"] <= min(r["ab_mse"] for r in d["grid"])
            rule = (f"no T reached {d['colour_target']:.0%} of the truth's colourfulness under gray's ab MSE: "
                    + ("the lowest ab MSE of all" if lowest else
                       "the most colourful T with an ab MSE below gray's, the rule before 2026-12")
                    + f", {row['colorfulness'] / d['truth_colorfulness']:.0%} of it at ab MSE {row['ab_mse']:.1f} "
                      f"against gray's {d['gray_ab_mse']:.1f}")
            if "ab_psnr" in row:
                rule += f"; mean ab PSNR per image {row['ab_psnr']:.2f} dB against gray's {d['gray_ab_psnr']:.2f}"
        lines.append(f"- Decoding: annealed-mean temperature T = {d['chosen']}, chosen on the validation split "
                     f"({rule}).")
    if card.get("held_out"):
        lines.append(f"- Held out: {card['held_out']}")
    lines += [f"- Recipe: `{card['recipe']}` reproduces these weights, the figures below and this card "
              f"({card.get('recipe_time', '')}).", ""]
    if card.get("stages"):  # trained in stages, each going on from the last one's weights
        named = any("objective" in st for st in card["stages"])  # cards written before 2026-12 do not name it
        lines += ["### Stages", "", "Each stage starts from the weights the one before it ended with (by sha256) and "
                  "is sized to finish in about 100 minutes on the machine at hand.", "",
                  f"| stage | starts from | data (network size) | {'objective | ' * named}epochs | Adam lr | training time | "
                  "images/s | machine | validation loss | weights written (sha256) |", "|---" * (10 + named) + "|"]
        lines += [f"| {i} | {st['starts_from']} | {st['data']} ({st['size']} px) | "
                  f"{st.get('objective', '') + ' | ' if named else ''}{st['epochs']} | {st['lr']}{'' if st.get('schedule', 'constant') == 'constant' else ' ' + st['schedule']} | "
                  f"{st['train_time_s'] / 60:.0f} min | {_num(st['images_per_s'], '.0f')} | {st['machine']} | "
                  f"{_num(st['val_loss'], '.5f')} | `{st['sha256'][:12]}` |" for i, st in enumerate(card["stages"], 1)]
        lines.append("")
    if card.get("evaluations"):
        lines += ["### Measured", ""]
        for t in card["evaluations"]:
            lines += _table(t)
    lines += ["### Known limits", ""] + [f"- {x}" for x in card.get("limits", [])] + [""]
    return lines
