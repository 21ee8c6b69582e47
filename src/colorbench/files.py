"""Colorize files and folders, photos and films: where each output goes, what is refused before anything
is written (an input never replaced), what a re-run skips, and the one-line summary. Photos go through
`colorize`, films through `video` (which builds on `colorize`), so this sits above both.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

from .colorize import check_hints, colorize_array, hint_weights, load_colorizer, recommended_size, weights_path
from .config import UsageError
from .data import DEEP_GRAY, IMAGE_SUFFIXES, VIDEO_SUFFIXES, DataError, quiet_exif, read_image
from .hardware import resolve_device, resolve_precision
from .persist import atomic_write
from .video import colorize_video


@dataclass
class Outcome:
    src: Path
    dst: Path | None
    done: bool
    reason: str = ""


SAVE_AS = {".gif": ".png", ".ppm": ".png", ".pgm": ".png"}  # formats that cannot hold a colour photo well


def output_file(inputs: list, out: Path) -> bool:
    """Is `out` one output file rather than a folder? One input that is not a folder, and an `out` with
    an image or video suffix that is not an existing folder: `colorbench colorize photo.jpg -o photo-colour.jpg`."""
    return len(inputs) == 1 and not Path(inputs[0]).is_dir() and out.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES \
        and not out.is_dir()


def plan(inputs: Iterable[str | os.PathLike], out: Path) -> tuple[list[tuple[Path, Path]], list[Outcome]]:
    """(source, destination) pairs, and inputs refused up front (missing paths).

    One file and `out` an image file name (`output_file`): that file. One folder: out/<path inside it>.
    Several inputs: out/<input name>/<path inside it> for folders, out/<file name> for files. Explicitly
    named files are tried whatever their suffix; inside folders, only image and video suffixes are taken
    (hidden files skipped).
    """
    inputs = [Path(p) for p in inputs]
    if output_file(inputs, out):
        if not inputs[0].exists():
            return [], [Outcome(inputs[0], None, False, "no such file or folder")]
        return [(inputs[0], out)], []
    pairs, refused = [], []
    single_folder = len(inputs) == 1 and inputs[0].is_dir()
    out_r = out.resolve()
    for inp in inputs:
        if not inp.exists():
            refused.append(Outcome(inp, None, False, "no such file or folder"))
            continue
        if inp.is_file():
            pairs.append((inp, out / inp.name))
            continue
        for p in sorted(inp.rglob("*")):
            if not p.is_file() or any(part.startswith(".") for part in p.relative_to(inp).parts):
                continue
            if out_r in p.resolve().parents:
                continue  # never colorize our own output again
            if p.suffix.lower() in IMAGE_SUFFIXES | VIDEO_SUFFIXES:
                rel = p.relative_to(inp)
                pairs.append((p, out / rel if single_folder else out / inp.name / rel))
    pairs = [(s, d.with_suffix(SAVE_AS.get(d.suffix.lower(), d.suffix or ".png"))) for s, d in pairs]
    once = {}  # a photo named twice (or inside a folder also given) is colorized once, at its first place
    for s, d in pairs:
        once.setdefault(s.resolve(), (s, d))
    return list(once.values()), refused


def check_output(inputs: list, out: Path, allow_inside: bool, overwrite: bool = False) -> None:
    """Refuse, before anything is read or written, an `out` that cannot be what the inputs need: a file
    where a folder is needed, a folder inside an input folder (unless `--inside-input`), an input folder
    itself (its photos would be replaced: never), or an output file that is the input or exists."""
    if output_file(inputs, out):
        if out.suffix.lower() in SAVE_AS:
            raise UsageError(f"-o {out}: a {out.suffix} file cannot hold a colour photo well; "
                             "name a .png, .jpg, .tif or .webp file")
        if not Path(inputs[0]).exists():
            return  # said by plan, as for any missing input
        if out.resolve() == Path(inputs[0]).resolve():
            raise DataError(f"-o {out} is the input photo itself, and an input is never replaced: choose another -o")
        if out.exists() and not overwrite:
            raise DataError(f"{out} exists; pass --overwrite to replace it")
        return
    if out.exists() and not out.is_dir():
        raise DataError(f"-o {out} is an existing file, but an output folder is needed: pass -o with a folder name "
                        "(one input file may have -o NEW-NAME.png)")
    if out.suffix.lower() in IMAGE_SUFFIXES and not out.exists():
        what = f"{len(inputs)} inputs need" if len(inputs) > 1 else "a folder input needs"
        raise UsageError(f"-o {out} names an image file, but {what} an output folder: pass -o with a folder name "
                         "(only one input file may have -o FILE)")
    out_r = out.resolve()
    for inp in map(Path, inputs):
        if not inp.is_dir():
            continue
        if out_r == inp.resolve():
            n = sum(p.suffix.lower() in IMAGE_SUFFIXES for p in inp.rglob("*") if p.is_file())
            raise DataError(f"-o {out} is the input folder {inp} itself: each of its {n} photos would be replaced "
                            "by its colorized version, and an input is never replaced; choose another -o")
        if not allow_inside and (out_r == inp.resolve() or inp.resolve() in out_r.parents):
            raise DataError(f"{out} is inside the input folder {inp}: pass -o with a folder elsewhere, "
                            "or --inside-input to write there anyway")


def _save(img: Image.Image, dst: Path, **meta) -> None:
    """Written atomically: a crash or a full disk never leaves a half-written photo under the real name.
    meta: what `_carried` keeps of the input (formats that cannot hold an item ignore it)."""
    fmt = Image.registered_extensions().get(dst.suffix.lower(), "PNG")
    if fmt == "JPEG":
        atomic_write(dst, lambda t: img.convert("RGB").save(t, fmt, quality=95, **meta))
    else:
        atomic_write(dst, lambda t: img.save(t, fmt, **meta))


def _carried(src: Path, dst: Path, alpha: bool) -> tuple[dict, list[str]]:
    """What of a photo's metadata its colour version keeps, as save() options, and what it cannot keep, as notes
    (alpha: the photo has transparency, as `read_image` found).
    An album's EXIF (date taken, camera, caption) and scan resolution are kept; the orientation tag is dropped,
    because the pixels are written upright. An RGB colour profile is kept (L is taken in the photo's own
    encoding); a gray or CMYK one would describe other channels, so it is dropped."""
    meta, notes = {}, []
    with quiet_exif():
        with Image.open(src) as img:
            try:
                exif = img.getexif()
                if exif:
                    exif.pop(0x0112, None)  # Orientation
                    meta["exif"] = exif.tobytes()
            except Exception:  # damaged EXIF (the pixels decoded): the colour photo matters more than its tags
                notes.append(f"{src}'s EXIF could not be read; {dst} is written without it")
            icc = img.info.get("icc_profile")
            if icc and icc[16:20] == b"RGB ":
                meta["icc_profile"] = icc
            if "dpi" in img.info:
                meta["dpi"] = tuple(float(d) for d in img.info["dpi"])
            if img.mode in DEEP_GRAY:
                notes.append(f"{src} has more than 8 bits a gray level; {dst} is written with 8 bits a channel")
    if alpha and Image.registered_extensions().get(dst.suffix.lower()) == "JPEG":
        notes.append(f"{src} has transparency, which a JPEG cannot hold: {dst} is opaque (name a .png to keep it)")
    return meta, notes


EXISTS = "output exists (use --overwrite to replace it)"


def colorize_files(inputs: list[str], out: str | os.PathLike, weights=None, size: int | None = None,
                   overwrite: bool = False, allow_inside: bool = False, device: str = "cpu", precision: str = "fp32",
                   progress: bool = True, log: Callable[[str], None] = print, hints: list | None = None,
                   hints_from: str = "hints", temperature: float | None = None) -> list[Outcome]:
    """Colorize files and folders into `out` (a folder, or for one input file an image file name); a
    bad file is skipped with a one-line reason. Videos (by suffix) go to `video.colorize_video`, with colour
    carried along the motion. The model is loaded, and a progress bar shown, only when there is something
    to colorize. hints: colour points (`check_hints`) for one input photo, checked against it before
    anything is written; `hints_from` names where they came from in errors. temperature: as `colorize`'s."""
    from tqdm import tqdm

    out = Path(out)
    if hints is not None and (len(inputs) != 1 or Path(inputs[0]).is_dir()):
        what = "a folder" if len(inputs) == 1 else f"{len(inputs)} inputs"
        raise UsageError(f"{hints_from}: colour hints are points of one photo, but {what} were given; colorize "
                         "one input file with hints")
    if hints is not None and weights in (None, "default"):
        weights = hint_weights()
    path = weights_path(weights)
    check_output(inputs, out, allow_inside, overwrite)
    pairs, refused = plan(inputs, out)
    for o in refused:
        log(f"skipped {o.src}: {o.reason}")
    seen: set[Path] = set()
    sources = {s.resolve() for s, _ in pairs}
    outcomes: list[Outcome | None] = []  # in the order of `pairs`; None: to colorize
    for src, dst in pairs:
        reason = (f"the output {dst} would replace an input photo; choose another -o" if dst.resolve() in sources
                  else f"another input also maps to {dst}" if dst in seen
                  else EXISTS if dst.exists() and not overwrite else "")
        if reason and reason != EXISTS:  # a re-run's outputs are counted in the summary only
            log(f"skipped {src}: {reason}")
        outcomes.append(Outcome(src, dst, False, reason) if reason else None)
        seen.add(dst)
    todo = [i for i, o in enumerate(outcomes) if o is None]
    if todo:
        model, info = load_colorizer(weights if hints is not None else path, device, hints=hints is not None,
                                     temperature=temperature)
        size = size or recommended_size(info)
        precision = resolve_precision(precision, resolve_device(device))
    bar = tqdm(todo, desc="colorizing", unit="file", disable=not progress or not todo)
    for i in bar:
        src, dst = pairs[i]
        try:
            if src.suffix.lower() in VIDEO_SUFFIXES:
                if hints is not None:
                    raise DataError(f"{src}: colour hints apply to photos, not videos; colorize the video without them")
                colorize_video(src, dst, path, size, device=device, precision=precision, overwrite=True,
                               progress=progress, temperature=temperature)  # an existing dst: refused above
            else:
                rgb, alpha = read_image(src, str(src))
                points = None if hints is None else check_hints(hints, rgb.shape[1], rgb.shape[0], hints_from)
                col = colorize_array(rgb, model, size, precision, points)
                img = Image.fromarray(np.dstack([col, alpha]), "RGBA") if alpha is not None else Image.fromarray(col)
                meta, notes = _carried(src, dst, alpha is not None)
                _save(img, dst, **meta)
                for note in notes:
                    (bar.write if progress else log)(f"note: {note}")
            outcomes[i] = Outcome(src, dst, True)
        except DataError as e:
            outcomes[i] = Outcome(src, dst, False, str(e).split(": ", 1)[-1])
        except MemoryError:
            outcomes[i] = Outcome(src, dst, False, "too large to colorize in memory")
        if not outcomes[i].done:
            (bar.write if progress else log)(f"skipped {src}: {outcomes[i].reason}")
    return refused + outcomes


def summary_line(outcomes: list[Outcome], out: Path) -> str:
    from collections import Counter

    done = sum(o.done for o in outcomes)
    reasons = Counter("already done (--overwrite to redo)" if o.reason == EXISTS else
                      "would replace an input photo (choose another -o)" if "would replace an input" in o.reason else
                      "unreadable" if "cannot read" in o.reason else o.reason for o in outcomes if not o.done)
    skipped = sum(reasons.values())
    why = ", ".join(f"{n} {r}" for r, n in reasons.most_common())
    return f"done {done}, skipped {skipped}" + (f": {why}" if why else "") + f"; output in {out}"
