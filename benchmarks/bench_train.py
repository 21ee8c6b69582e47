"""Training throughput per model: colorbench's engine vs the tutorial way, and vs this machine's peak.

For each model, in one run:
  ours     `colorbench.train.train` (whole split as LAB tensors, batched augmentation), images/s of
           its second epoch (warm)
  achieved training FLOPs per image (forward + backward, counted by torch's FlopCounterMode) x images/s,
           as a fraction of the fp32 matmul peak measured at the start of this run
  naive    the usual tutorial loop: a torch Dataset converting each image with skimage in
           __getitem__ (plus a random flip), behind a DataLoader, same model and optimiser

    python benchmarks/bench_train.py [--data ../shared/data/cifar10-jpeg.tar.gz] [--models cnn unet]
"""

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from colorbench.data import load_dataset
from colorbench.models import create_model, list_models
from colorbench.train import TrainConfig, resolve_device, train

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-jpeg.tar.gz"


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize()


def matmul_peak(device, n: int = 2048, reps: int = 10) -> float:
    """fp32 GFLOP/s of a square matmul, best of 5 timings (after a warm-up)."""
    a, b = torch.randn(n, n, device=device), torch.randn(n, n, device=device)
    a @ b
    best = float("inf")
    for _ in range(5):
        sync(device)
        t = time.perf_counter()
        for _ in range(reps):
            a @ b
        sync(device)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 * reps / best / 1e9


def train_flops_per_image(name: str, size: int, batch: int = 64) -> float:
    m = create_model(name)
    x, y = torch.rand(batch, 1, size, size), torch.rand(batch, 2, size, size)
    with FlopCounterMode(display=False) as fc:
        F.mse_loss(m(x), y).backward()
    return fc.get_total_flops() / batch


class NaiveDataset(torch.utils.data.Dataset):
    """The tutorial way: one image at a time, converted with skimage in __getitem__."""

    def __init__(self, images: torch.Tensor):
        self.images = images.permute(0, 2, 3, 1).numpy()  # (N, H, W, 3) uint8

    def __len__(self):
        return len(self.images)

    def __getitem__(self, i):
        from skimage.color import rgb2lab

        img = self.images[i]
        if np.random.rand() < 0.5:
            img = img[:, ::-1]
        lab = rgb2lab(img / 255.0).astype(np.float32)
        L = torch.from_numpy(lab[..., :1].transpose(2, 0, 1) / 100)
        ab = torch.from_numpy(lab[..., 1:].transpose(2, 0, 1) / 128)
        return L, ab


def naive_images_per_s(name: str, images: torch.Tensor, steps: int, batch: int = 64) -> float:
    torch.manual_seed(0)
    model = create_model(name)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    loader = torch.utils.data.DataLoader(NaiveDataset(images), batch_size=batch, shuffle=True)
    it = iter(loader)
    done, t = 0, None
    for step in range(steps + 2):
        if step == 2:  # skip warm-up steps
            t, done = time.perf_counter(), 0
        L, ab = next(it)
        loss = F.mse_loss(model(L), ab)
        opt.zero_grad()
        loss.backward()
        opt.step()
        done += len(L)
    return done / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEFAULT) if DEFAULT.exists() else "sample")
    ap.add_argument("--models", nargs="+", default=list_models())
    ap.add_argument("--images", type=int, default=4096, help="training images per epoch for ours")
    ap.add_argument("--naive-steps", type=int, default=30)
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    device = resolve_device(args.device)
    ds = load_dataset(args.data, progress=False)
    size = ds.image_size[0]
    peak = matmul_peak(device)
    print(f"device {device}, torch {torch.__version__}, threads {torch.get_num_threads()}; "
          f"fp32 matmul peak {peak:.0f} GFLOP/s; data {ds.name}, {size}x{size}")
    print(f"{'model':<12}{'ours img/s':>11}{'GFLOP/s':>9}{'% peak':>8}{'naive img/s':>13}{'ours/naive':>11}")
    for name in args.models:
        cfg = TrainConfig(model=name, data=args.data, train_limit=args.images, epochs=2, device=args.device)
        with tempfile.TemporaryDirectory() as tmp:
            m = train(cfg, tmp, dataset=ds, progress=False, log=lambda *_: None)
        ours = m["history"][-1]["images_per_s"]
        gflops = ours * train_flops_per_image(name, size) / 1e9
        naive = naive_images_per_s(name, ds.train.images, args.naive_steps) if device.type == "cpu" else float("nan")
        print(f"{name:<12}{ours:>11.0f}{gflops:>9.0f}{gflops / peak:>8.0%}{naive:>13.0f}{ours / naive:>10.1f}x")


if __name__ == "__main__":
    main()
