"""Photos: the training set behind the shipped weights, and the evaluation colorbench owns on full-size
photos (with a gallery page that opens offline).

  colorbench photo-set --imagenet ../shared/data/imagenet-sample-1000.tar \\
                       --places ../shared/data/miniplaces-20k.tar.gz --out photos
  colorbench evaluate-photos photos/heldout/imagenet --weights default study

Held-out rule (fixed before any training; no training ever sees these photos): a photo is held out
when the md5 of its file name, read as a number, is divisible by 10 (ImageNet sample: about 100 of
1,000) or by 20 (MiniPlaces: about 1,000 of 20,000). Photos without colour (grayscale, or nearly:
mean |R - G| + |G - B| under 2 levels, the data README's rule) are left out of training and counted.
"""

from __future__ import annotations

import base64
import hashlib
import html
import io
import os
import re
import tarfile
import time
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from .color import gray_of_lightness, rgb_to_lab
from .config import UsageError
from .data import IMAGE_SUFFIXES, DataError, read_image
from .evaluate import PSNR_CAP, colorfulness, picture_metrics
from .persist import write_bytes, write_json, write_text

HELD_OUT_EVERY = {"imagenet": 10, "places": 20}
SKIMAGE = ["astronaut", "chelsea", "coffee", "rocket", "immunohistochemistry", "hubble_deep_field", "retina"]
NEAR_COPY = 0.985  # thumbnails' cosine above which two photos are one (`_thumbs`): re-encoded copies of a held-out
# MiniPlaces scene in its training scenes score 0.986-0.9999, the nearest different photo 0.978
WNID = re.compile(r"n\d{8}")  # an ImageNet class (WordNet id), as file and folder names carry it
RULE = ("held out when the md5 of the file name (no folders), read as a hexadecimal number, is divisible by {k}")


def held_out(name: str, every: int) -> bool:
    return int(hashlib.md5(Path(name).name.encode()).hexdigest(), 16) % every == 0


def colourless(rgb: np.ndarray) -> bool:
    """Grayscale, or nearly: mean |R - G| + |G - B| under 2 levels (8-bit)."""
    a = rgb.astype(np.int16)
    return float(np.abs(a[..., 0] - a[..., 1]).mean() + np.abs(a[..., 1] - a[..., 2]).mean()) < 2


def _members(source: Path, relative: bool = False) -> Iterator[tuple[str, bytes]]:
    """(name, bytes) of every image file in a folder or a tar archive, in a fixed order; with
    `relative`, a folder's files are named by their path inside it (names repeat across folders)."""
    if source.is_dir():
        for p in sorted(source.rglob("*")):
            if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES and not p.name.startswith("."):
                yield (p.relative_to(source).as_posix() if relative else p.name), p.read_bytes()
        return
    if not source.is_file() or not tarfile.is_tarfile(source):
        raise DataError(f"{source}: not a folder or .tar of photos")
    with tarfile.open(source) as tar:
        for m in tar:
            if m.isfile() and Path(m.name).suffix.lower() in IMAGE_SUFFIXES and m.size < 64 << 20:
                yield Path(m.name).name, tar.extractfile(m).read()


def _thumbs(rgb: np.ndarray, centre: bool = False) -> np.ndarray:
    """(k, 1024) zero-mean, unit 32x32 gray thumbnails: the whole photo squashed square and, with `centre`,
    its centre square (a photo shrunk to a square set's size is one or the other)."""
    img = Image.fromarray(rgb).convert("L")
    w, h = img.size
    views = [img] + ([img.crop(((w - min(w, h)) // 2, (h - min(w, h)) // 2,
                                (w + min(w, h)) // 2, (h + min(w, h)) // 2))] if centre else [])
    a = np.stack([np.asarray(v.resize((32, 32), Image.BOX), np.float32).ravel() for v in views])
    a -= a.mean(1, keepdims=True)
    return a / np.maximum(np.linalg.norm(a, axis=1, keepdims=True), 1e-6)


def _crops(rgb: np.ndarray, size: int, extra: bool) -> list[np.ndarray]:
    """The centre square at `size`; with `extra`, two more from the photo at 1.5x (objects are few:
    three views of each)."""
    def square(img: Image.Image, side: int, where: float) -> np.ndarray:
        w, h = img.size
        s = side / min(w, h)
        img = img.resize((max(side, round(w * s)), max(side, round(h * s))), Image.BICUBIC, reducing_gap=2.0)
        w, h = img.size
        left, top = round((w - size) * where), round((h - size) * where)
        return np.asarray(img.crop((left, top, left + size, top + size)))

    img = Image.fromarray(rgb)
    out = [square(img, size, 0.5)]
    if extra:
        out += [square(img, round(size * 1.5), 0.2), square(img, round(size * 1.5), 0.8)]
    return out


def build_photo_set(imagenet: str | os.PathLike, places: str | os.PathLike, out: str | os.PathLike, size: int = 128,
                    progress: bool = True, log=print, extra_objects: list | tuple = (),
                    extra_scenes: list | tuple = ()) -> dict:
    """Write the photo training set (train/objects, train/scenes at size x size), the held-out photos
    at full size (heldout/imagenet, heldout/places) and their 128-pixel copies (test/...), and
    PHOTOS.md saying what is where and why. Never writes into an existing set.

    `extra_objects` / `extra_scenes`: more folders or archives of photos (mini-ImageNet, MiniPlaces'
    training scenes), for training only: the held-out lists stay those of the two sources above, and
    an extra photo whose bytes equal any of theirs is dropped (counted), so none is ever trained on. So is one
    whose thumbnail matches a held-out photo's (`NEAR_COPY`: a re-encoded or resized copy), and every extra
    photo whose path names the ImageNet class of a held-out photo: ImageNet's derived sets (mini-ImageNet, Tiny
    ImageNet) re-crop and shrink its photos, so their copies need not match either way."""
    from tqdm import tqdm

    out = Path(out)
    if out.exists() and any(out.iterdir()):
        raise FileExistsError(f"{out} is not empty; choose another --out (a photo set is written once)")
    sources = [("imagenet", Path(imagenet), "objects"), ("places", Path(places), "scenes")]
    sources += [(f"extra:{Path(e).name}", Path(e), "objects") for e in extra_objects]
    sources += [(f"extra:{Path(e).name}", Path(e), "scenes") for e in extra_scenes]
    for _, source, _ in sources:  # all checked before anything is written
        if not source.exists():
            raise DataError(f"{source}: no such file or folder")
    counts: dict[str, dict[str, int]] = {}
    seen: set[bytes] = set()  # content hashes of every photo read so far
    held_classes: set[str] = set()  # ImageNet classes of the held-out photos
    held_thumbs: list[np.ndarray] = []
    for kind, source, cls in sources:
        extra = kind.startswith("extra:")
        c = counts[kind] = {"photos": 0, "held_out": 0, "colourless": 0, "unreadable": 0, "train_images": 0}
        if extra:
            c["duplicates"] = c["near_copies"] = c["held_out_class"] = 0
            held = np.concatenate(held_thumbs) if held_thumbs else np.zeros((0, 1024), np.float32)
        for name, data in tqdm(_members(source, relative=extra), desc=f"reading {source.name}", unit="photo",
                               disable=not progress):
            c["photos"] += 1
            digest = hashlib.sha256(data).digest()
            if extra and digest in seen:
                c["duplicates"] += 1  # the same bytes as a photo already in the set (held out, maybe)
                continue
            seen.add(digest)
            if extra and held_classes.intersection(WNID.findall(name)):
                c["held_out_class"] += 1  # maybe a held-out photo, re-cropped
                continue
            try:
                rgb, _ = read_image(data, name)
            except DataError:
                c["unreadable"] += 1
                continue
            stem = Path(name).stem
            if extra:  # folders repeat file names: the path inside the source names it
                stem = f"{source.name}-" + Path(name).with_suffix("").as_posix().replace("/", "-")
            if not extra and held_out(name, HELD_OUT_EVERY[kind]):
                c["held_out"] += 1
                held_classes.update(WNID.findall(name))
                held_thumbs.append(_thumbs(rgb, centre=True))
                write_bytes(out / "heldout" / kind / name, data)  # original bytes, full size
                write_bytes(out / "test" / cls / f"{stem}.png", _png(_crops(rgb, size, False)[0]))
            elif colourless(rgb):
                c["colourless"] += 1  # no colour to learn from
            elif extra and len(held) and float((held @ _thumbs(rgb)[0]).max()) > NEAR_COPY:
                c["near_copies"] += 1  # a held-out photo re-encoded or resized
            else:
                for i, crop in enumerate(_crops(rgb, size, extra=kind == "imagenet")):
                    write_bytes(out / "train" / cls / f"{stem}-{i}.png", _png(crop))
                    c["train_images"] += 1
    info = {"size": size, "sources": {k: str(src) for k, src, _ in sources}, "counts": counts,
            "rule": {k: RULE.format(k=v) for k, v in HELD_OUT_EVERY.items()}}
    write_json(out / "manifest.json", info)
    write_text(out / "PHOTOS.md", _photo_set_readme(info))
    log(f"photo set: {sum(c['train_images'] for c in counts.values()):,} training images, held out "
        f"{counts['imagenet']['held_out']} ImageNet and {counts['places']['held_out']} MiniPlaces photos, left out "
        f"{sum(c['colourless'] for c in counts.values())} without colour -> {out}")
    return info


def _png(a: np.ndarray) -> bytes:
    buf = io.BytesIO()
    Image.fromarray(a).save(buf, "PNG", compress_level=1)
    return buf.getvalue()


def _photo_set_readme(info: dict) -> str:
    c, s = info["counts"], info["size"]
    return "\n".join([
        "# colorbench photo set", "",
        "Written by `colorbench photo-set`; what the shipped photo weights are trained on. Not for redistribution: "
        "ImageNet images are for non-commercial research, and Places (MiniPlaces) is for non-commercial research "
        "and education (cite Zhou et al., \"Places: A 10 million Image Database for Scene Recognition\", TPAMI 2018).",
        "",
        f"- `train/objects`: ImageNet sample photos, 3 crops each at {s}x{s} (centre; two from the photo at 1.5x): "
        f"{c['imagenet']['train_images']:,} images.",
        f"- `train/scenes`: MiniPlaces scenes, centre {s}x{s}: {c['places']['train_images']:,} images.",
        f"- `heldout/imagenet` ({c['imagenet']['held_out']} photos) and `heldout/places` ({c['places']['held_out']}): "
        "full size, original bytes; `test/` has their centre crops. A photo is " +
        "; ".join(f"{k}: {r}" for k, r in info["rule"].items()) + ". No training ever sees them.",
        f"- Left out of training for having no colour (mean |R-G| + |G-B| under 2 levels): "
        f"{c['imagenet']['colourless']} ImageNet, {c['places']['colourless']} MiniPlaces; unreadable: "
        f"{c['imagenet']['unreadable'] + c['places']['unreadable']}.",
        *[f"- More training photos from `{info['sources'][k]}` ({k[6:]}): {v['train_images']:,} centre crops at {s}x{s}; "
          f"dropped {v['duplicates']} with the same bytes as a photo above (held-out ones included), "
          f"{v.get('near_copies', 0)} matching a held-out photo's thumbnail, "
          f"{v.get('held_out_class', 0)} of a held-out photo's ImageNet class, "
          f"{v['colourless']} without colour, {v['unreadable']} unreadable." for k, v in c.items() if k.startswith("extra:")],
        ""])


# ---------------------------------------------------------------------------------------------
# evaluation on full-size photos


def photo_source(source: str, limit: int = 0) -> Iterator[tuple[str, np.ndarray]]:
    """(name, uint8 RGB) of colour photos: a folder, a .tar, or "skimage" (scikit-image's samples)."""
    if source == "skimage":
        from skimage import data

        for name in SKIMAGE:
            yield name, getattr(data, name)()
        return
    n = 0
    for name, data in _members(Path(source)):
        if limit and n >= limit:
            return
        try:
            rgb, _ = read_image(data, name)
        except DataError:
            continue
        n += 1
        yield name, rgb


def _thumb(rgb: np.ndarray, side: int = 320) -> str:
    img = Image.fromarray(rgb)
    img.thumbnail((side, side), Image.BICUBIC)
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=88)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


HINT_SEED = 0  # the revealed points of a photo depend on this and its name alone: the same for every set of weights


def true_hints(name: str, rgb: np.ndarray, count: int, seed: int = HINT_SEED) -> list[tuple[int, int, str]]:
    """`count` distinct random pixels of a photo with their true colour, as a user gives hints: (x, y,
    "#rrggbb"). Seeded by the photo's name, and nested: the first n of a larger count are the n points."""
    import zlib

    H, W = rgb.shape[:2]
    rng = np.random.default_rng([seed, zlib.crc32(name.encode())])
    where = rng.permutation(H * W)[:count]  # a permutation, so every count takes a prefix of the same order
    return [(int(i % W), int(i // W), "#{:02x}{:02x}{:02x}".format(*rgb[i // W, i % W])) for i in where]


PAIRED_METRICS = {"psnr": "PSNR", "ciede2000": "CIEDE2000", "colorfulness": "colourfulness"}  # key: printed name


def paired_against_first(rows: dict[str, dict[str, list[float]]], weights: list[str]) -> list[dict]:
    """Each later set of weights minus the first, photo by photo: mean difference, 95% interval and
    Holm-adjusted p over the whole table (stats.paired_table, one build: the photos are the sample).
    Two builds a few tenths of a dB apart are told apart by this, not by their means."""
    from .stats import paired_table

    if len(weights) < 2:
        return []

    def build(m: str, k: str) -> torch.Tensor:  # (1 build, photos), in double: a p of 1e-6 keeps its digits
        return torch.tensor([rows[m][k]], dtype=torch.float64)

    first = weights[0]
    return paired_table([(m, first, k, build(m, k), build(first, k)) for m in weights[1:] for k in PAIRED_METRICS])


@torch.no_grad()
def evaluate_photos(source: str, weights: list[str], out: str | os.PathLike, size: int | None = None,
                    limit: int = 0, precision: str = "fp32", progress: bool = True,
                    hints: list[int] | None = None, temperature: float | None = None) -> dict:
    """Colorize every colour photo from its own lightness with each set of weights; PSNR, SSIM (sRGB
    0-255), CIEDE2000 and colourfulness against the truth, beside the gray baseline; results.json
    and gallery.html (gray | each set of weights | truth) in `out`.

    hints: point counts (e.g. 0 1 2 5 10 20 50 100): weights that take colour hints are also given that
    many of each photo's true colours (`true_hints`: seeded, the same points for every set of weights,
    through the same `check_hints` as a user's) and scored per count; weights of L alone give the
    automatic figures beside them (their count 0).

    temperature: decode the weights that score colour bins at this annealed-mean T (`load_colorizer`);
    weights that predict ab directly are measured as they are. Each one's T is in results.json."""
    from tqdm import tqdm

    from .colorize import check_hints, colorize_lightness, load_colorizer, recommended_size, decodes_bins
    from .inputs import HINT_CHANNELS

    models, same = {}, {}  # label -> (model, size, info); a label whose weights an earlier one has -> that label
    for w in weights or ["default"]:
        label, _, path = w.rpartition("=") if "=" in w else (_label(w), "", w)  # "name=path", or a short name
        base, i = label, 2
        while label in models or label in same or label == "gray":  # two run folders both named "run"
            label, i = f"{base}-{i}", i + 1
        model, info = load_colorizer(path)
        if temperature is not None and decodes_bins(model):
            model, info = load_colorizer(path, temperature=temperature)
        s = size or recommended_size(info)
        first = next((k for k, (_, ks, ki) in models.items()
                      if Path(ki["path"]).resolve() == Path(info["path"]).resolve() and ks == s), None)
        if first is None:
            models[label] = (model, s, info)
        else:
            same[label] = first  # the same file at the same size: computed once, said so
    methods = ["gray", *models]
    rows = {m: {"psnr": [], "ssim": [], "ciede2000": [], "colorfulness": []} for m in methods}
    counts = sorted(set(hints or []))
    guided = [m for m, (model, _, _) in models.items() if model.in_channels == HINT_CHANNELS] if counts else []
    if counts and not guided:
        raise UsageError(f"--hints: none of the weights ({', '.join(models)}) take colour hints; add weights that "
                         "do (--weights default hints)")
    curve = {m: {n: {"psnr": [], "ciede2000": [], "colorfulness": []} for n in counts} for m in guided}
    truth_colour, names, skipped, gallery = [], [], [], []
    t0 = time.perf_counter()
    for name, rgb in tqdm(photo_source(source, limit), desc="photos", unit="photo", disable=not progress):
        if colourless(rgb):
            skipped.append(name)
            continue
        x = torch.from_numpy(np.array(rgb)).permute(2, 0, 1)[None].double() / 255  # an own, writable copy
        lab = rgb_to_lab(x)
        L = lab[:, :1].float()
        truth = (x * 255).round()
        outs = {"gray": gray_of_lightness(L)}
        for label, (model, s, _) in models.items():
            outs[label] = colorize_lightness(L, model, s, precision=precision)
        if counts:
            pts = true_hints(name, rgb, max(counts))
            for m in guided:
                model, s, _ = models[m]
                for n in counts:
                    if n == 0:  # no points: the automatic figures of these weights, already measured below
                        continue
                    o = (colorize_lightness(L, model, s, precision=precision, hints=check_hints(
                        pts[:n], rgb.shape[1], rgb.shape[0], name)).double() * 255).round()
                    scores = picture_metrics(o, truth, rgb_to_lab(o / 255), lab)
                    scores["psnr"] = scores["psnr"].clamp(max=PSNR_CAP)
                    for k in ("psnr", "ciede2000", "colorfulness"):
                        curve[m][n][k].append(scores[k].item())
        names.append(name)
        truth_colour.append(colorfulness(truth).item())
        pics = []
        for m, o in outs.items():
            o = (o.double() * 255).round()
            scores = picture_metrics(o, truth, rgb_to_lab(o / 255), lab)
            scores["psnr"] = scores["psnr"].clamp(max=PSNR_CAP)  # as evaluate counts an exact match
            for k, v in scores.items():
                rows[m][k].append(v.item())
            pics.append(o[0].permute(1, 2, 0).byte().numpy())
        gallery.append((name, [_thumb(p) for p in pics] + [_thumb(rgb)], {m: rows[m]["psnr"][-1] for m in methods}))
    if not names:
        raise DataError(f"{source}: no colour photos found to evaluate")
    n = len(names)
    summary = {m: {k: sum(v) / n for k, v in r.items()} for m, r in rows.items()}
    truth_mean = sum(truth_colour) / n
    for m in methods:
        summary[m]["colorfulness_ratio"] = summary[m]["colorfulness"] / truth_mean
    described = {m: {"weights": models[m][2]["path"] if m != "gray" else None,
                     "size": models[m][1] if m != "gray" else None,
                     "temperature": round(float(models[m][0].decode.temperature), 6)
                     if m != "gray" and decodes_bins(models[m][0]) else None} for m in methods}
    for label, first in same.items():  # every name asked for keeps its figures, marked as another's
        described[label] = {**described[first], "same_as": first}
        summary[label], rows[label] = summary[first], rows[first]
    result = {"source": source, "photos": n, "left_out_without_colour": skipped, "truth_colorfulness": truth_mean,
              "methods": described, "summary": summary, "paired": paired_against_first(rows, list(models)),
              "per_photo": {"names": names, **{m: rows[m] for m in described}}, "seconds": time.perf_counter() - t0}
    if counts:  # per method that takes hints, per count: the means, and every photo's figures
        for m in curve:
            if 0 in curve[m]:
                curve[m][0] = {k: rows[m][k] for k in curve[m][0]}
        result["hints"] = {"counts": counts, "seed": HINT_SEED, "points": "random pixels with the photo's true colour",
                           "summary": {m: {str(n): {k: sum(v) / n_ for k, v in c.items()} for n, c in per.items()}
                                       for m, per in curve.items() for n_ in [len(names)]},
                           "per_photo": {m: {str(n): c for n, c in per.items()} for m, per in curve.items()}}
    out = Path(out)
    write_json(out / "results.json", result)
    write_text(out / "gallery.html", _gallery(result, gallery, methods))
    return result


def _label(weights: str) -> str:
    """A short table label for weights: a shipped name as it is, a run folder by its name, a file by its
    stem (a run's model.safetensors by its folder's name)."""
    p = Path(weights)
    name = p.stem if p.suffix == ".safetensors" else p.name
    return p.parent.name if name == "model" and p.parent.name else name or weights


def _gallery(r: dict, gallery: list, methods: list[str]) -> str:
    names = {m: " = ".join([m] + [a for a, v in r["methods"].items() if v.get("same_as") == m]) for m in methods}
    head = "".join(f"<th>{html.escape(names[m] if m != 'gray' else 'gray input')}</th>" for m in methods) + "<th>truth</th>"
    rows = []
    for name, pics, scores in gallery:
        cells = "".join(f'<td><img src="{p}" alt="{html.escape(name)}: {html.escape(m)}">'
                        + (f"<br><small>{scores[m]:.2f} dB</small>" if m in scores else "") + "</td>"
                        for p, m in zip(pics, [*methods, "truth"]))
        rows.append(f"<tr><th class=n>{html.escape(name)}</th>{cells}</tr>")
    s = r["summary"]
    table = "".join(f"<tr><td>{html.escape(names[m])}</td><td>{s[m]['psnr']:.2f}</td><td>{s[m]['ssim']:.4f}</td>"
                    f"<td>{s[m]['ciede2000']:.2f}</td><td>{s[m]['colorfulness']:.1f} "
                    f"({s[m]['colorfulness_ratio']:.0%})</td></tr>" for m in methods)
    css = ("body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}table{border-collapse:collapse}"
           "td,th{padding:4px;vertical-align:top;text-align:center}th.n{font-weight:normal;font-size:.8em;"
           "max-width:9em;word-break:break-all;text-align:right}img{max-width:240px;max-height:240px;display:block}"
           ".sum td,.sum th{border:1px solid #ccc;padding:4px 10px}small{color:#555}")
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>colorbench photos: '
            f'{html.escape(r["source"])}</title><style>{css}</style></head><body>'
            f"<h1>{r['photos']} photos from {html.escape(r['source'])}</h1>"
            f"<p>Each photo colorized from its own lightness; the number under each is its PSNR against the truth. "
            f"Truth colourfulness {r['truth_colorfulness']:.1f}. Left out without colour: "
            f"{len(r['left_out_without_colour'])}"
            + (f" ({html.escape(', '.join(r['left_out_without_colour']))})" if r["left_out_without_colour"] else "")
            + "." + "".join(f" {html.escape(names[m].replace(' = ', ' and '))} are the same weights: one column."
                            for m in methods if " = " in names[m]) + "</p>"
            f'<table class="sum"><tr><th>method</th><th>PSNR dB</th><th>SSIM</th><th>CIEDE2000</th>'
            f"<th>colourfulness (of truth)</th></tr>{table}</table>{_hint_section(r)}<h2>Gallery</h2>"
            f"<table><tr><th></th>{head}</tr>{''.join(rows)}</table></body></html>\n")


COLOURS = ("#c03020", "#2060c0", "#208040", "#a040a0")  # one per curve


def _hint_section(r: dict) -> str:
    """The colour-hint curve (PSNR against the number of true-colour points, an inline SVG: the page stays
    one offline file) and its table; nothing when the evaluation gave no hints."""
    h = r.get("hints")
    if not h:
        return ""
    counts, summ = h["counts"], h["summary"]
    auto = {m: v["psnr"] for m, v in r["summary"].items() if m not in summ and not r["methods"][m].get("same_as")}
    values = [summ[m][str(n)]["psnr"] for m in summ for n in counts] + list(auto.values())
    lo, hi = np.floor(min(values)) - 0.5, np.ceil(max(values)) + 0.5
    W, H, left, bottom, top, right = 560, 300, 50, 40, 15, 150
    X = lambda i: left + (W - left - right) * (i / max(1, len(counts) - 1))  # noqa: E731  counts evenly spaced
    Y = lambda v: top + (H - top - bottom) * (hi - v) / (hi - lo)  # noqa: E731
    parts = [f'<line x1="{left}" y1="{H - bottom}" x2="{W - right}" y2="{H - bottom}" stroke="#888"/>',
             f'<line x1="{left}" y1="{top}" x2="{left}" y2="{H - bottom}" stroke="#888"/>',
             f'<text x="{(left + W - right) / 2}" y="{H - 5}" text-anchor="middle">true-colour points per photo</text>',
             f'<text x="12" y="{(top + H - bottom) / 2}" transform="rotate(-90 12 {(top + H - bottom) / 2})" '
             'text-anchor="middle">PSNR dB</text>']
    for i, n in enumerate(counts):
        parts.append(f'<text x="{X(i):.1f}" y="{H - bottom + 15}" text-anchor="middle">{n}</text>')
    for v in np.arange(lo + 0.5, hi, 1.0 if hi - lo < 12 else 2.0):
        parts.append(f'<text x="{left - 5}" y="{Y(v) + 4:.1f}" text-anchor="end">{v:.0f}</text>'
                     f'<line x1="{left}" y1="{Y(v):.1f}" x2="{W - right}" y2="{Y(v):.1f}" stroke="#eee"/>')
    for j, m in enumerate(summ):
        c = COLOURS[j % len(COLOURS)]
        pts = " ".join(f"{X(i):.1f},{Y(summ[m][str(n)]['psnr']):.1f}" for i, n in enumerate(counts))
        parts.append(f'<polyline points="{pts}" fill="none" stroke="{c}" stroke-width="2"/>'
                     + "".join(f'<circle cx="{X(i):.1f}" cy="{Y(summ[m][str(n)]["psnr"]):.1f}" r="3" fill="{c}"/>'
                               for i, n in enumerate(counts))
                     + f'<text x="{W - right + 8}" y="{Y(summ[m][str(counts[-1])]["psnr"]) + 4:.1f}" fill="{c}">'
                     f"{html.escape(m)}</text>")
    for m, v in auto.items():  # weights of L alone: their one figure, as a level line
        parts.append(f'<line x1="{left}" y1="{Y(v):.1f}" x2="{W - right}" y2="{Y(v):.1f}" stroke="#555" '
                     f'stroke-dasharray="4 3"/><text x="{W - right + 8}" y="{Y(v) + 4:.1f}" fill="#555">'
                     f"{html.escape(m)} (no hints)</text>")
    svg = (f'<svg width="{W}" height="{H}" font-size="12" '
           f'role="img" aria-label="PSNR against the number of colour hints">{"".join(parts)}</svg>')
    head = "".join(f"<th>{html.escape(m)} PSNR dB</th><th>CIEDE2000</th><th>colourfulness</th>" for m in summ)
    rows = "".join(f"<tr><td>{n}</td>" + "".join(
        f"<td>{summ[m][str(n)]['psnr']:.2f}</td><td>{summ[m][str(n)]['ciede2000']:.2f}</td>"
        f"<td>{summ[m][str(n)]['colorfulness']:.1f}</td>" for m in summ) + "</tr>" for n in counts)
    return (f"<h2>Colour hints</h2><p>Each photo given that many random pixels of its own true colour as hints "
            f"(seed {h['seed']} and the photo's name: the same points for every set of weights; a larger count "
            f"adds points to the smaller one's). Dashed: weights that take no hints.</p>{svg}"
            f'<table class="sum"><tr><th>points</th>{head}</tr>{rows}</table>')
