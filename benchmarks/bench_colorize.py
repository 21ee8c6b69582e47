"""Colorizing a 768x512 photo: colorbench's path vs the notebook way, per image, after start-up.

colorbench: read -> full-resolution L -> network on L shrunk (bicubic) to the recommended short side ->
            ab upsampled and joined with the full-resolution L -> gamut fit -> write (`colorize_files`)
notebook:   read -> skimage.color.rgb2lab on the full image -> network on the full-resolution L ->
            skimage.color.lab2rgb -> write

    python benchmarks/bench_colorize.py [--weights W] [--photo P] [--n 10]
"""

import argparse
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from colorbench.colorize import load_colorizer, recommended_size
from colorbench.files import colorize_files

IMAGENET = Path(__file__).resolve().parents[2] / "shared" / "data" / "imagenet-sample-1000.tar"


def test_photo(path: str | None, tmp: Path) -> Image.Image:
    if path:
        img = Image.open(path)
    elif IMAGENET.exists():
        with tarfile.open(IMAGENET) as tar:
            img = Image.open(tar.extractfile("imagenet-sample/n01530575_brambling.JPEG"))
            img.load()
    else:
        from skimage import data

        img = Image.fromarray(data.coffee())
    return img.convert("RGB").resize((768, 512), Image.LANCZOS)


def notebook_way(src: Path, dst: Path, model) -> None:
    from skimage.color import lab2rgb, rgb2lab

    rgb = np.asarray(Image.open(src).convert("RGB")) / 255.0
    lab = rgb2lab(rgb)
    L = torch.from_numpy(lab[..., 0] / 100).float()[None, None]
    with torch.no_grad():
        ab = model(L)[0].permute(1, 2, 0).numpy() * 128
    out = lab2rgb(np.dstack([lab[..., :1], ab]))
    Image.fromarray((out * 255).round().astype(np.uint8)).save(dst, quality=95)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=None, help="default: the shipped weights")
    ap.add_argument("--photo", default=None)
    ap.add_argument("--n", type=int, default=10, help="images per timing")
    args = ap.parse_args()
    model, info = load_colorizer(args.weights)
    size = recommended_size(info)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        src = tmp / "in"
        src.mkdir()
        photo = test_photo(args.photo, tmp)
        for i in range(args.n):
            photo.save(src / f"p{i}.jpg", quality=95)
        colorize_files([str(src / "p0.jpg")], tmp / "warm", weights=args.weights, progress=False)  # start-up
        t = time.perf_counter()
        res = colorize_files([str(src)], tmp / "ours", weights=args.weights, progress=False)
        ours = (time.perf_counter() - t) / args.n
        assert all(o.done for o in res) and Image.open(tmp / "ours" / "p0.jpg").size == (768, 512)
        (tmp / "nb").mkdir()
        notebook_way(src / "p0.jpg", tmp / "nb" / "warm.jpg", model)
        t = time.perf_counter()
        for i in range(args.n):
            notebook_way(src / f"p{i}.jpg", tmp / "nb" / f"p{i}.jpg", model)
        nb = (time.perf_counter() - t) / args.n
    print(f"{info['model']['name']} weights, network short side {size}, torch threads {torch.get_num_threads()}")
    print(f"colorbench colorize, 768x512:  {ours:.3f} s per image")
    print(f"notebook way (full-res skimage + model on the whole image): {nb:.3f} s per image")
    print(f"ratio: colorbench is {nb / ours:.1f}x faster")


if __name__ == "__main__":
    main()
