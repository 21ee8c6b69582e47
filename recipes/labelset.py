"""A labelled view of a photo set, for `train --label-weight` (recipes/photo-weights.sh):

    python recipes/labelset.py runs/photo-set runs/labelset

train/<label>/ holds hard links (copies where links fail) to the photo set's training crops whose names carry
their source's class: mini-ImageNet's and Tiny ImageNet's synset (`mini_imagenet-train-<wnid>-...`,
`tiny_imagenet-<wnid>-images-...` -> obj-<wnid>) and MiniPlaces' training category
(`miniplaces_train-<letter>-<category>-...` -> scene-<category>). Other crops (the ImageNet sample, MiniPlaces'
20,000) carry no class the sources share and are left out. test/<label>/ holds one training crop
per label: the loader wants a test split, and training never reads it. Nothing is rewritten if `out` exists.
"""

import errno
import os
import re
import shutil
import sys
from pathlib import Path

LABELS = [(re.compile(r"mini_imagenet-train-(n\d{8})-"), "obj-{}"),
          (re.compile(r"tiny_imagenet-(n\d{8})-images-"), "obj-{}"),  # one label per synset, whichever source
          (re.compile(r"miniplaces_train-[a-z]-(.+)-\d{8}-\d+\.png$"), "scene-{}")]


def label_of(name: str) -> str | None:
    for pattern, label in LABELS:
        if m := pattern.match(name):
            return label.format(m.group(1))
    return None


def link(src: Path, dst: Path) -> None:
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError as e:
        if e.errno not in (errno.EXDEV, errno.EPERM, errno.EMLINK):  # another file system, or no links there
            raise
        shutil.copy2(src, dst)


def main(photo_set: str, out: str) -> None:
    src, dst = Path(photo_set) / "train", Path(out)
    if dst.exists():
        sys.exit(f"labelset: {dst} exists; remove it to build it again")
    if not src.is_dir():
        sys.exit(f"labelset: {src} not found; build the photo set first (colorbench photo-set)")
    tmp = dst.with_name(dst.name + ".partial")
    shutil.rmtree(tmp, ignore_errors=True)
    firsts: dict[str, Path] = {}
    for p in sorted(src.glob("*/*.png")):
        label = label_of(p.name)
        if label is not None:
            link(p, tmp / "train" / label / p.name)
            firsts.setdefault(label, p)
    if not firsts:
        sys.exit(f"labelset: no crop in {src} names a class (mini_imagenet-train-<wnid>-..., miniplaces_train-<letter>-"
                 "<category>-...); build the photo set with --extra-objects and --extra-scenes")
    for label, p in firsts.items():
        link(p, tmp / "test" / label / p.name)
    tmp.rename(dst)  # whole or not at all
    print(f"labelset: {sum(1 for _ in dst.glob('train/*/*.png')):,} photos in {len(firsts)} labels -> {dst}")


if __name__ == "__main__":
    if len(sys.argv) != 3:
        sys.exit(__doc__)
    main(*sys.argv[1:])
