"""Package shipped weights with their model card: the card's facts and figures come from the evaluation
files the recipes write, go into the weights' metadata, and MODEL_CARD.md is rendered from that.

    python recipes/cards.py photo RUN DEST --size 128 --photos EVAL_DIR [EVAL_DIR ...] --set PHOTO_SET
    python recipes/cards.py study RUN DEST --size 64 --test TEST_JSON --photos EVAL_DIR [EVAL_DIR ...]
    python recipes/cards.py hints RUN DEST --size 64 --photos EVAL_DIR [EVAL_DIR ...] --stages RUN [RUN ...]
    python recipes/cards.py render              # MODEL_CARD.md from the shipped weights' metadata
    python recipes/cards.py refigure NAME --photos EVAL_DIR [...]   # new figures, same tensors (NAME: default, hints)
"""

import argparse
import json
from pathlib import Path

from colorbench.card import package_weights, write_model_card
from colorbench.colorize import SHIPPED, shipped_weights

WEIGHTS = Path(__file__).resolve().parents[1] / "src" / "colorbench" / "weights"
LABELS = {"gray": "gray baseline (ab = 0)", "default": "photo weights (default)", "study": "study weights (CIFAR-10)",
          "hints": "hint weights, no hints"}


def photo_table(r: dict, this: str) -> dict:
    """A card table from `colorbench evaluate-photos` results: every method, this weights marked."""
    rows = []
    for m, s in r["summary"].items():
        label = LABELS.get(m, m) + (" (these weights)" if m == this else "")
        size = r["methods"][m]["size"]
        rows.append([label, size or "-", f"{s['psnr']:.2f}", f"{s['ssim']:.4f}", f"{s['ciede2000']:.2f}",
                     f"{s['colorfulness']:.1f} ({s['colorfulness_ratio']:.0%})"])
    src = Path(r["source"]).name if r["source"] != "skimage" else "scikit-image's colour samples"
    return {"title": f"{r['photos']} colour photos: {src} (truth colourfulness {r['truth_colorfulness']:.1f})",
            "columns": ["weights", "network size", "PSNR dB", "SSIM", "CIEDE2000", "colourfulness (of truth)"],
            "rows": rows, "note": "Full-size photos colorized from their own lightness (and its mirror image, averaged) by "
                                  "`colorbench evaluate-photos`; "
                                  "PSNR and SSIM on sRGB 0-255."}


def load_photo_results(dirs: list[str]) -> list[dict]:
    return [json.loads((Path(d) / "results.json").read_text()) for d in dirs]


def stage_rows(runs: list[str]) -> list[dict]:
    """What the card says of each stage: where it started, what it trained on, how long, on what."""
    from colorbench.persist import read_header, sha256_file

    rows = []
    for run in runs:
        if run == "shipped":  # the stages the shipped default records: a new stage's runs before it may be gone
            rows.extend(read_header(shipped_weights("default"))[1]["card"]["stages"])
            continue
        if not (Path(run) / "metrics.json").exists() and (Path(run) / "encoder.safetensors").exists():
            rows.append(pretext_row(Path(run) / "encoder.safetensors"))
            continue
        m = json.loads((Path(run) / "metrics.json").read_text())
        cfg = json.loads((Path(run) / "config.json").read_text())
        pre = m.get("pretext") or {}
        start = pre.get("sha256") or (sha256_file(pre["file"]) if Path(pre.get("file", "")).is_file() else None)
        labelled = f" of {labelled_view(cfg['data'])}" if cfg.get("label_weight") and (
            Path(cfg["data"]) / "train").is_dir() else ""
        grown = added_blocks(cfg)
        rows.append({"starts_from": (f"`{start[:12]}`" if start else "scratch")
                     + (f", {grown} residual blocks added (starting as the identity)" if grown else ""),
                     "data": f"{m['train_images']:,} photos"
                     + (f" ({cfg['classes']} only)" if cfg.get("classes") else "") + labelled
                     + {"none": ", unaugmented", "flip": ", flipped left-right"}.get(cfg.get("augment"), ""),
                     "size": cfg.get("size") or "native", "epochs": m["epochs"],
                     "lr": cfg["lr"] if cfg.get("encoder_lr", 1) == 1 else f"{cfg['lr']:g} (encoder {cfg['lr'] * cfg['encoder_lr']:g})",
                     "train_time_s": m["train_time_s"], "images_per_s": m["images_per_s"],
                     "machine": f"{m['device_name']}, {m['threads']} threads, {m['precision']}",
                     "val_loss": m["final_val_loss"], "sha256": sha256_file(Path(run) / "model.safetensors"),
                     "schedule": cfg.get("schedule", "constant"), "objective": objective_words(cfg, m)})
    return rows


def added_blocks(cfg: dict) -> int:
    """How many residual blocks a stage added to the run it went on from (`train --init RUN/... --blocks N`)."""
    before = Path(cfg["init"]).parent / "config.json" if cfg.get("init") else None
    if before is None or not before.is_file():
        return 0
    return max(0, (cfg.get("blocks") or 0) - (json.loads(before.read_text()).get("blocks") or 0))


def labelled_view(data: str) -> str:
    """A labelled photo folder as the card names it: "`labelset` (200 labels)" (its label count while it exists)."""
    labels = Path(data) / "train"
    return f"`{Path(data).name}`" + (f" ({sum(1 for _ in labels.iterdir())} labels)" if labels.is_dir() else "")


def pretext_row(path: Path) -> dict:
    """The stage row of a `colorbench pretrain` encoder: the stage that trains the encoder alone, on labels.
    Encoders written before 2026-12-06 do not record their images, speed or machine: the card says '-'."""
    from colorbench.persist import read_header, sha256_file

    info = read_header(path, "encoder")[1]
    cfg = info["config"]
    n = info.get("train_images")
    seen = f", {info['train_accuracy']:.1%} on training" if "train_accuracy" in info else ""
    regular = "".join(f", {words} {info[k]:g}" for k, words in (("weight_decay", "AdamW weight decay"),
                                                                 ("label_smoothing", "labels smoothed by")) if info.get(k))
    return {"starts_from": "scratch", "data": (f"{n:,} photos" if n else "the training split")
            + f" of {labelled_view(cfg['data'])}",
            "size": cfg.get("size") or "native", "epochs": info["epochs"], "lr": cfg["lr"], "train_time_s": info["time_s"],
            "images_per_s": info.get("images_per_s"),
            "machine": f"{info['device_name']}, {info['threads']} threads, {info['precision']}" if "device_name" in info else "-",
            "val_loss": None, "sha256": sha256_file(path), "schedule": info.get("schedule", "constant"),
            "objective": f"pretext: the encoder names the labels from L ({info['val_accuracy']:.1%} right on "
                         f"validation{seen}, chance {info['chance']:.1%}){regular}"}


def objective_words(cfg: dict, metrics: dict) -> str:
    """A stage's objective as the card names it, e.g. 'classification (λ 0.6) + 5 x MSE + 0.1 x -PSNR, T 0.55'."""
    words = cfg["loss"] + (f" (λ {cfg['rebalance']})" if cfg["loss"] == "classification" else "")
    words += f" + {cfg['mse_weight']:g} x MSE" if cfg.get("mse_weight") else ""
    words += f" + {cfg['psnr_weight']:g} x -PSNR" if cfg.get("psnr_weight") else ""
    words += f" + {cfg['label_weight']:g} x label cross-entropy" if cfg.get("label_weight") else ""
    if cfg.get("precise_bn"):
        words += f", batch-norm statistics from {cfg['precise_bn']:,} unaugmented photos"
    if (metrics.get("decoding") or {}).get("chosen"):
        target = metrics["decoding"].get("colour_target", 0.7)
        words += f", T {metrics['decoding']['chosen']:g}" + (" (least validation error)" if not target else "")
    return words


def photo_tables(name: str, photos: list[dict]) -> list[dict]:
    """The card tables of `name` (default or hints) from `colorbench evaluate-photos` results, in order."""
    if name == "hints":
        return [t for r in photos for t in (photo_table(r, "hints"), hint_table(r))]
    return [photo_table(r, name) for r in photos]


SEEN = ("Seen in its gallery: skies and water come out blue and foliage green; sand, gravel and rock mostly stay beige "
        "or gray, though a road under a blue sky can still turn green; skin comes out warm. Strongly coloured objects "
        "(an orange spacesuit, a red cup, a snake's bands) come out pinkish, mauve, brown or pale.")


# what the held-out rule keeps out of training (the shipped chain was built on a set written with all three checks)
HELD_FIXED = ("Fixed before any training; extra training photos that copy a held-out one are dropped (the same bytes, a "
              "matching 32-px thumbnail, or the same ImageNet class).")
HINTS_HELD_OUT = ("The photo weights' held-out ImageNet and MiniPlaces photos. Their training set held re-encoded copies "
                  "of 2 of the held-out ImageNet photos and 4 of the held-out scenes (found 2026-12-07; a set written "
                  "since drops them).")
PEOPLE = ("Faces and people are a small part of its data; old photos with scratches, sepia toning or strong grain "
          "are unlike anything it saw. On the 12 test photos of \"Bringing Old Photos Back to Life\" (Wan et al., "
          "CVPR 2020: 8 old colour photos, 4 scratched black-and-white portraits) faces come out with natural skin "
          "and foliage green, but plain studio backdrops and scratched areas take blotches of olive green or "
          "red-brown, and red things (an umbrella, the Moulin Rouge's windmill) come out dark or brown.")


def against_gray(photos: list[dict], this: str) -> str:
    """Where the weights beat leaving the photos gray, per held-out list, from the figures themselves."""
    def words(items: list[str]) -> str:
        return " and ".join(items) if len(items) < 3 else ", ".join(items[:-1]) + " and " + items[-1]

    lists, ratios = {}, []  # what it beats gray on -> the lists where it does
    for r in photos:
        if r["source"] == "skimage":
            continue
        s, g = r["summary"][this], r["summary"]["gray"]
        better = [n for n, k, lower in (("PSNR", "psnr", False), ("SSIM", "ssim", False), ("CIEDE2000", "ciede2000", True))
                  if (s[k] < g[k] if lower else s[k] > g[k])]
        lists.setdefault(words(better) or "nothing", []).append(Path(r["source"]).name)
        ratios.append(s["colorfulness_ratio"])
    if not lists:
        return ""
    parts = [f"{what} for {words(names)}" for what, names in lists.items()]
    lo, hi = f"{min(ratios):.0%}", f"{max(ratios):.0%}"
    return (f"On the held-out photos it beats leaving them gray on {'; '.join(parts)}, at "
            f"{lo if lo == hi else lo + '-' + hi} of the truth's colourfulness: more training stages are planned.")


def refigure(name: str, photos: list[dict]) -> Path:
    """New figures for shipped weights whose tensors stay as they are (e.g. after a change to how `colorize`
    runs them): each table the results rebuild replaces the card's table of the same title, and the default's
    held-out rule and limits take this file's words (`HELD_FIXED`, `PEOPLE`); bits unchanged."""
    from colorbench.persist import load_tensors, save_tensors

    path = shipped_weights(name)
    tensors, meta = load_tensors(path, "weights file")
    card = meta["card"]
    tables = photo_tables(name, photos)
    where = {t["title"]: i for i, t in enumerate(card["evaluations"])}
    for t in tables:
        if t["title"] not in where:
            raise SystemExit(f"refigure: {name}'s card has no table {t['title']!r}; evaluate the photos it was "
                             "measured on (its recipe's evaluate-photos lines)")
        card["evaluations"][where[t["title"]]] = t
    if name == "default":
        if photos:
            card["limits"][-1] = SEEN + " " + against_gray(photos, "default")
        card["held_out"] = card["held_out"].split(" Fixed before any training")[0] + " " + HELD_FIXED
        card["limits"] = [PEOPLE if t.startswith("Faces and people") else t for t in card["limits"]]
    if name == "hints":
        card["held_out"] = HINTS_HELD_OUT
    return save_tensors(path, tensors, meta)


def photo_card(photos: list[dict], photo_set: Path, recipe_time: str, stages: list[str] = ()) -> dict:
    m = json.loads((photo_set / "manifest.json").read_text())
    c = m["counts"]
    extras = {k[6:]: v for k, v in c.items() if k.startswith("extra:")}
    more = "".join(f"; {v['train_images']:,} {k.replace('_', ' ')} photos ({v['duplicates']} with the bytes of a "
                   f"photo already in the set, {v.get('near_copies', 0)} copies of a held-out photo, "
                   f"{v.get('held_out_class', 0)} of a held-out photo's ImageNet class and "
                   f"{v['colourless']} without colour dropped)" for k, v in extras.items())
    total = sum(v["train_images"] for v in c.values())
    rows = stage_rows(list(stages))
    stage_size = rows[-1]["size"] if rows else m["size"]
    return {
        "title": "photos, in colour",
        "summary": "Made for colorizing photos (objects, animals, scenes); the default of `colorize`, `serve`, "
                   "`export` and `colorbench.colorize()`.",
        "data": (f"{c['imagenet']['train_images']:,} crops of {c['imagenet']['photos'] - c['imagenet']['held_out'] - c['imagenet']['colourless']} "
                 "ImageNet photos (one per class, `imagenet-sample-1000.tar`) and "
                 f"{c['places']['train_images']:,} MiniPlaces scene photos (`miniplaces-20k.tar.gz`), {m['size']}x{m['size']}; "
                 f"{c['imagenet']['colourless'] + c['places']['colourless']} photos without colour left out "
                 f"({c['imagenet']['colourless']} ImageNet, {c['places']['colourless']} MiniPlaces){more}. "
                 f"{total:,} training images in all. Licence terms: "
                 "ImageNet images are for non-commercial research; Places is for non-commercial research and "
                 "education (Zhou et al., \"Places: A 10 million Image Database for Scene Recognition\", TPAMI 2018). "
                 "The weights inherit those terms: non-commercial research and education."),
        "held_out": f"ImageNet: a photo is {m['rule']['imagenet']}; MiniPlaces: {m['rule']['places']} "
                    f"({c['imagenet']['held_out']} and {c['places']['held_out']} photos). " + HELD_FIXED,
        "evaluations": photo_tables("default", photos),
        "limits": [
            "Colours are guesses from lightness alone, never evidence of what a scene looked like: a red car may come "
            "out blue, a dress any colour. Skies, foliage, water and skin are what it knows best.",
            f"It learnt from small crops ({stage_size} px) of about {total // 1000:,},000 photos: "
            "small and uncommon objects, and any colour that depends on things it cannot see (paint, clothes, flags), "
            "are often wrong or left pale.",
            "Per-pixel scores punish a plausible wrong colour more than a dull gray: PSNR and CIEDE2000 can favour "
            "leaving a photo gray even when the colorized photo looks better. Look at the gallery.",
            PEOPLE,
            SEEN + " " + against_gray(photos, "default"),
        ],
        "recipe": "bash recipes/photo-weights.sh",
        "recipe_time": recipe_time,
        "stages": rows,
    }


def study_card(test: dict, photos: list[dict]) -> dict:
    t, g = test["summary"], test["baselines"]["gray"]
    rows = [[name, f"{t[k]:{fmt}}", f"{g[k]:{fmt}}"] for name, k, fmt in (
        ("ab MSE (LAB units²)", "ab_mse", ".1f"), ("PSNR dB (sRGB)", "psnr", ".2f"), ("SSIM (sRGB)", "ssim", ".4f"),
        ("CIEDE2000", "ciede2000", ".2f"), (f"colourfulness (truth {t['colorfulness_true']:.1f})", "colorfulness", ".1f"),
        ("AuC of ab error 0-150", "auc", ".4f"))]
    return {
        "title": "the study's U-Net on CIFAR-10",
        "summary": "The study's protocol and model, kept by name (`--weights study`) so its results can be reproduced; "
                   "it was the default before the photo weights.",
        "data": "CIFAR-10 (JPEG copy: `cifar10-jpeg.tar.gz`, JPEG quality 75, 32x32, 10 classes), seeded stratified "
                "80/20 split of the 50,000 training images: 40,000 to train on, 10,000 to validate.",
        "held_out": "the CIFAR-10 test split (10,000 images).",
        "evaluations": [{"title": f"CIFAR-10 test set ({test['test_images']:,} images)",
                         "columns": ["metric", "these weights", "gray baseline (ab = 0)"], "rows": rows},
                        *[photo_table(r, "study") for r in photos]],
        "limits": [
            "It learnt colour from 32x32 thumbnails of 10 classes with MSE: on photos it gives muted, sepia-tinted tones; "
            "grass comes out olive, strongly coloured objects stay dull.",
            "MSE averages the colours an object could have, so results are desaturated (colourfulness "
            f"{t['colorfulness']:.1f} against {t['colorfulness_true']:.1f} for the truth on the test set).",
        ],
        "recipe": "bash recipes/study-weights.sh",
        "recipe_time": "about 50 min on 2 CPU cores",
    }


def hint_table(r: dict, this: str = "hints") -> dict:
    """A card table from `colorbench evaluate-photos --hints` results: each count of true-colour points."""
    s = r["hints"]["summary"][this]
    src = Path(r["source"]).name if r["source"] != "skimage" else "scikit-image's colour samples"
    return {"title": f"{r['photos']} colour photos: {src}, given true-colour points",
            "columns": ["points per photo", "PSNR dB", "CIEDE2000", "colourfulness"],
            "rows": [[n, f"{v['psnr']:.2f}", f"{v['ciede2000']:.2f}", f"{v['colorfulness']:.1f}"] for n, v in s.items()],
            "note": "Random pixels of each photo with their true colour as hints (seeded by the photo's name: the same "
                    "points for every set of weights; a larger count adds to the smaller's), "
                    "`colorbench evaluate-photos --hints`. Photo weights without hints: "
                    f"{r['summary']['default']['psnr']:.2f} dB." if "default" in r["summary"] else ""}


def hints_card(photos: list[dict], recipe_time: str, stages: list[str]) -> dict:
    return {
        "title": "photos, in colour, with colour hints",
        "summary": "The first photo weights (stage 1 of the shallow chain, `default` until 2026-11-30) fine-tuned to "
                   "take colour hints as well as the gray photo: L, the "
                   "hints' ab (ab/128, 0 where there is none) and a hint mask (Zhang, Zhu, Isola et al., SIGGRAPH "
                   "2017). `colorize --hints`/`--hint`, `colorbench.colorize(img, hints=...)` and the points of "
                   "`colorbench serve` use them; without hints `colorize` keeps the default weights.",
        "data": "The photo weights' training set (see `default`): 8,000 of its 163,753 photos per epoch in stages a "
                "and b, 100,000 in stage c, all of them in stage d, 64x64, each "
                "given simulated hints per batch: none for a quarter of them, else a geometric number of points "
                "(p = 1/8), each the mean true ab of a 1-9 px square at a random place; annealed-mean T kept at the photo "
                "weights' 0.38. Four stages: (a) from the shallow chain's stage 1 (sha256 `4e1a510b0a0f`), 2 epochs, batch 32, Adam lr 3e-4 on "
                "a cosine planned for 4 epochs and stopped after 2 for time (validation loss 0.01199, then 0.01260); "
                "(b) 1 epoch, batch 8 (four times the steps, for the zero-started hint weights), lr 1e-3, cosine to 0; "
                "(c) from b, 100,000 photos, batch 32, lr 5e-4, cosine to 0 (validation loss without hints 0.01216, "
                "the photo weights' 0.01218); (d) from c, 3 epochs of all 163,753 photos, batch 32, lr 5e-4, cosine to 0 "
                "(training loss 2.92 in its first epoch, 2.77 in its last). A user's point fills a 3x3 square at the "
                "network's size (`inputs.HINT_RADIUS`, chosen on training photos). The stage table lists b, c and d "
                "as 1, 2 and 3 (a was cut short and wrote no metrics). "
                "Licence terms as `default`'s: non-commercial research and education.",
        "held_out": HINTS_HELD_OUT,
        "evaluations": photo_tables("hints", photos),
        "limits": [
            "Trained for under three hours on 2 CPU cores, not days: a point's colour spreads over its object but "
            "also past its edges onto a plain background (one red point on a car's bonnet turned the car orange-red "
            "and a blue backdrop reddish; gray points on the backdrop held it back only partly).",
            "A hint sets chroma only: the photo keeps its lightness, so a light colour asked on a dark area comes out "
            "dark.",
            "Without hints these weights are the first photo weights after further training with hints, not today's "
            "`default`; `colorize` uses the default weights when no hints are given.",
        ],
        "recipe": "bash recipes/hint-weights.sh",
        "recipe_time": recipe_time,
        "stages": stage_rows(stages),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("which", choices=["photo", "study", "hints", "render", "refigure"])
    ap.add_argument("run", nargs="?")
    ap.add_argument("dest", nargs="?")
    ap.add_argument("--size", type=int)
    ap.add_argument("--photos", nargs="*", default=[])
    ap.add_argument("--test")
    ap.add_argument("--set", dest="photo_set")
    ap.add_argument("--time", default="")
    ap.add_argument("--stages", nargs="*", default=[], help="the run folders of the stages, first to last; "
                    "'shipped' first: the stages the shipped default records, then the runs that went on from it")
    args = ap.parse_args()
    if args.which == "photo":
        card = photo_card(load_photo_results(args.photos), Path(args.photo_set), args.time, args.stages)
        package_weights(args.run, args.dest, args.size, card)
    elif args.which == "hints":
        package_weights(args.run, args.dest, args.size, hints_card(load_photo_results(args.photos), args.time, args.stages))
    elif args.which == "refigure":
        refigure(args.run, load_photo_results(args.photos))
    elif args.which == "study":
        card = study_card(json.loads(Path(args.test).read_text()), load_photo_results(args.photos))
        package_weights(args.run, args.dest, args.size, card)
    print(write_model_card({name: shipped_weights(name) for name in SHIPPED}, WEIGHTS / "MODEL_CARD.md"))


if __name__ == "__main__":
    main()
