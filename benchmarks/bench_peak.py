"""This CPU's matmul peak: GFLOP/s of a large square matmul in fp32 and bf16, on one thread and on all of
them, with the bf16/fp32 ratio. The yardstick for the report's "% of peak": a training run's achieved
GFLOP/s (3 x forward FLOPs x images/s) over the peak in its precision on its thread count.

Measure on an idle machine (a second job halves what this sees). `--out FOLDER` writes FOLDER/peak.json,
the record `colorbench report FOLDER` reads for a comparison trained on this machine.

    python benchmarks/bench_peak.py [--size 2048] [--threads 1 2] [--out runs/compare-study-<time>]
"""

import argparse
import time
from pathlib import Path

import torch

from colorbench.hardware import _cpu_flags, device_name
from colorbench.persist import write_json


def matmul_gflops(dtype: torch.dtype, threads: int, n: int = 2048, reps: int = 5, timings: int = 5) -> float:
    """Best of `timings` timings of `reps` n x n matmuls (2 n³ FLOPs each), after a warm-up."""
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        g = torch.Generator().manual_seed(0)
        a, b = (torch.randn(n, n, generator=g).to(dtype) for _ in range(2))
        a @ b  # the first call builds the kernel
        best = float("inf")
        for _ in range(timings):
            t = time.perf_counter()
            for _ in range(reps):
                a @ b
            best = min(best, time.perf_counter() - t)
        return 2 * n**3 * reps / best / 1e9
    finally:
        torch.set_num_threads(old)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--size", type=int, default=2048, help="matrix side (default 2048)")
    ap.add_argument("--threads", type=int, nargs="+", default=sorted({1, torch.get_num_threads()}),
                    help="thread counts to measure (default: 1 and this process's default)")
    ap.add_argument("--out", type=Path, default=None, help="a comparison folder: write its peak.json")
    args = ap.parse_args()
    bf16_units = bool({"avx512_bf16", "amx_bf16"} & _cpu_flags())
    print(f"{device_name(torch.device('cpu'))}, torch {torch.__version__}, {args.size}x{args.size} matmul; "
          f"bf16 arithmetic units: {'yes' if bf16_units else 'no (bf16 is emulated)'}")
    print(f"{'threads':>7}{'fp32 GFLOP/s':>14}{'bf16 GFLOP/s':>14}{'bf16/fp32':>11}")
    peak = {"fp32": {}, "bf16": {}}
    for t in args.threads:
        fp32 = matmul_gflops(torch.float32, t, args.size)
        bf16 = matmul_gflops(torch.bfloat16, t, args.size)
        peak["fp32"][str(t)], peak["bf16"][str(t)] = round(fp32, 1), round(bf16, 1)
        print(f"{t:>7}{fp32:>14.0f}{bf16:>14.0f}{bf16 / fp32:>10.2f}x")
    if args.out:
        path = write_json(args.out / "peak.json", {
            "cpu": device_name(torch.device("cpu")), "size": args.size, "gflops": peak,
            "how": f"benchmarks/bench_peak.py, torch {torch.__version__}, {time.strftime('%Y-%m-%d')}"})
        print(f"written: {path}")


if __name__ == "__main__":
    main()
