"""Colour points on the page: what `serve` does when a point is placed or moved (its /hints answer before
the PNG) and when one is clicked (/suggest), on a 1-megapixel photo, against the automatic colorization
of the same photo measured in the same run (the issue's target: about half a second on 2 cores).

    python benchmarks/bench_hints.py [--weights W] [--points 10] [--n 5]
"""

import argparse
import time

import numpy as np
import torch
from PIL import Image

from colorbench.colorize import (check_hints, colorize_strips, load_colorizer, network_lightness, recommended_size,
                                 suggest_colors)


def timed(fn, n: int) -> float:
    fn()  # warm-up
    t0 = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - t0) / n


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--weights", default=None, help="weights that take colour hints (default: the shipped ones)")
    ap.add_argument("--points", type=int, default=10)
    ap.add_argument("--n", type=int, default=5)
    args = ap.parse_args()
    model, info = load_colorizer(args.weights, hints=True)
    size = recommended_size(info)
    from skimage import data

    rgb = np.asarray(Image.fromarray(data.astronaut()).resize((1224, 816), Image.LANCZOS))  # 1.0 megapixels
    H, W = rgb.shape[:2]
    g = np.random.default_rng(0)
    pts = [(int(g.integers(W)), int(g.integers(H)), "#%02x%02x%02x" % tuple(g.integers(0, 256, 3))) for _ in
           range(args.points)]
    hints = check_hints(pts, W, H)
    auto = timed(lambda: colorize_strips(rgb, model, size), args.n)
    guided = timed(lambda: colorize_strips(rgb, model, size, hints=hints), args.n)
    suggest = timed(lambda: suggest_colors(model, network_lightness(rgb, size) / 100, 50.0, 0.5, 0.5, hints), args.n)
    print(f"{W}x{H} photo, network size {size}, {args.points} points, {torch.get_num_threads()} threads")
    print(f"automatic colorization        {auto * 1000:7.0f} ms")
    print(f"with colour points (/hints)   {guided * 1000:7.0f} ms  ({guided / auto:.2f}x the automatic)")
    print(f"suggested colours (/suggest)  {suggest * 1000:7.0f} ms  ({suggest / auto:.2f}x the automatic)")


if __name__ == "__main__":
    main()
