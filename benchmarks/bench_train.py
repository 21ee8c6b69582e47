"""Training throughput per model, in one run: colorbench's engine against a plain fp32 PyTorch loop on
the same tensors, and against this machine's measured matmul peak for the precision colorbench used.

For each model:
  ours     `colorbench.train.train` (precision as --precision decides, `auto` by default: bf16 autocast
           where this machine runs it faster; the layout, channels_last or NCHW, timed per model), images/s
           of its second epoch (warm)
  plain    the loop a PyTorch user writes first, on the same normalised LAB tensors: fp32, default
           (NCHW) memory layout, Adam, MSE, a random flip per batch; images/s after warm-up steps
  peak     achieved training FLOPs (forward + backward, counted by torch's FlopCounterMode) per image
           x images/s, as a fraction of a large square matmul's FLOP/s in the precision ours used

    python benchmarks/bench_train.py [--data ../shared/data/cifar10-jpeg.tar.gz] [--models cnn unet]
                                     [--precision auto|fp32|bf16]
"""

import argparse
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F
from torch.utils.flop_counter import FlopCounterMode

from colorbench.config import TrainConfig
from colorbench.data import load_dataset
from colorbench.hardware import device_name, resolve_device, resolve_precision, sync
from colorbench.models import create_model, list_models
from colorbench.train import to_lab, train

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "data" / "cifar10-jpeg.tar.gz"


def matmul_peak(device, dtype, n: int = 2048, reps: int = 10) -> float:
    """GFLOP/s of a square matmul in `dtype`, best of 5 timings (after a warm-up)."""
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
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


def plain_images_per_s(name: str, lab: torch.Tensor, steps: int, device, batch: int = 64) -> float:
    """The first loop one writes: fp32, NCHW, Adam, MSE, a random horizontal flip per batch."""
    torch.manual_seed(0)
    model = create_model(name).to(device)
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    done, t = 0, None
    for step in range(steps + 3):
        if step == 3:  # after warm-up steps
            sync(device)
            t, done = time.perf_counter(), 0
        idx = torch.randint(0, len(lab), (batch,), device=device)
        xb = lab[idx]
        if torch.rand(()) < 0.5:
            xb = xb.flip(-1)
        loss = F.mse_loss(model(xb[:, :1]), xb[:, 1:])
        opt.zero_grad()
        loss.backward()
        opt.step()
        done += batch
    sync(device)
    return done / (time.perf_counter() - t)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=str(DEFAULT) if DEFAULT.exists() else "sample")
    ap.add_argument("--models", nargs="+", default=list_models())
    ap.add_argument("--images", type=int, default=4096, help="training images per epoch for ours")
    ap.add_argument("--plain-steps", type=int, default=40)
    ap.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    ap.add_argument("--device", default="auto")
    args = ap.parse_args()
    device = resolve_device(args.device)
    precision = resolve_precision(args.precision, device)
    ds = load_dataset(args.data, progress=False)
    size = ds.image_size[0]
    lab = to_lab(ds.train.images[: args.images], device)
    peak = matmul_peak(device, torch.bfloat16 if precision == "bf16" else torch.float32)
    fp32_peak = peak if precision == "fp32" else matmul_peak(device, torch.float32)
    print(f"{device_name(device)}, torch {torch.__version__}, {torch.get_num_threads()} threads; precision {precision} "
          f"({args.precision}); matmul peak {peak:.0f} GFLOP/s in {precision}, {fp32_peak:.0f} in fp32; "
          f"data {ds.name}, {size}x{size}")
    print(f"{'model':<12}{'layout':>14}{'ours img/s':>11}{'plain fp32':>11}{'ours/plain':>11}{'GFLOP/s':>9}{'% peak':>8}")
    for name in args.models:
        cfg = TrainConfig(model=name, data=args.data, train_limit=args.images, epochs=2, device=args.device,
                          precision=precision, val_limit=1000)
        with tempfile.TemporaryDirectory() as tmp:
            m = train(cfg, tmp, dataset=ds, progress=False, log=lambda *_: None)
        ours = m["history"][-1]["images_per_s"]
        gflops = ours * train_flops_per_image(name, size) / 1e9
        plain = plain_images_per_s(name, lab, args.plain_steps, device)
        print(f"{name:<12}{m['memory_format']:>14}{ours:>11.0f}{plain:>11.0f}{ours / plain:>10.2f}x{gflops:>9.0f}{gflops / peak:>8.0%}")


if __name__ == "__main__":
    main()
