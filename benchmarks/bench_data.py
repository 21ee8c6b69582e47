"""Load all 60,000 CIFAR-10 images and convert them to normalised LAB: colorbench vs the notebook way.

colorbench: the decoded tensor cache (one file read) + batched `uint8_to_lab`.
notebook:   the same uint8 images as a numpy array, `skimage.color.rgb2lab` image by image, then /100, /128.
Both are timed in this run, on this machine; the ratio is what to compare across machines.

    python benchmarks/bench_data.py [--data ../shared/data/cifar10-jpeg.tar.gz]
"""

import argparse
import time
from pathlib import Path

import numpy as np
import torch

from colorbench.color import uint8_to_lab
from colorbench.data import load_dataset

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-jpeg.tar.gz"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEFAULT) if DEFAULT.exists() else "sample")
    args = ap.parse_args()
    from skimage.color import rgb2lab

    t = time.perf_counter()
    ds = load_dataset(args.data, progress=False)  # the first call decodes and fills the cache
    print(f"first load (decode or cache): {time.perf_counter() - t:.2f} s, torch threads {torch.get_num_threads()}")

    t = time.perf_counter()
    ds = load_dataset(args.data, progress=False)
    lab = [uint8_to_lab(ds.train.images), uint8_to_lab(ds.test.images)]  # reads every byte of the cache
    ours = time.perf_counter() - t
    lab = torch.cat(lab)
    images = torch.cat([ds.train.images, ds.test.images])
    n = len(images)

    arr = images.permute(0, 2, 3, 1).numpy()  # (N, H, W, 3), as keras' cifar10.load_data() gives
    t = time.perf_counter()
    out = np.empty((n, 3) + arr.shape[1:3], np.float32)
    for i in range(n):
        x = rgb2lab(arr[i] / 255.0)
        out[i, 0] = x[..., 0] / 100
        out[i, 1:] = (x[..., 1:] / 128).transpose(2, 0, 1)
    notebook = time.perf_counter() - t

    err = (lab - torch.from_numpy(out)).abs().max().item()
    print(f"{n:,} images of {ds.name}, {tuple(images.shape[-2:])}")
    print(f"colorbench  cache load + batched LAB: {ours:8.2f} s  ({n / ours:,.0f} img/s)")
    print(f"notebook    skimage image by image:   {notebook:8.2f} s  ({n / notebook:,.0f} img/s)")
    print(f"ratio: colorbench is {notebook / ours:.1f}x faster (max |diff| of normalised LAB {err:.1e})")


if __name__ == "__main__":
    main()
