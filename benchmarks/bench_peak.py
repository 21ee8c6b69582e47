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


def matmul_gflops(dtype: torch.dtype, threads: int, n: int = 2048, timings: int = 5,
                  budget_s: float = 0.3) -> tuple[float, int]:
    """(GFLOP/s, side): best of `timings` timings of side x side matmuls (2 side³ FLOPs each), each timing
    repeating the matmul for about `budget_s`, after a warm-up.

    The side grows from 256 to `n`, doubling while one matmul would still take under a second: bf16 on a CPU
    without bf16 units runs near 1 GFLOP/s, where a single 2048² matmul takes 18 s; such a rate hardly
    depends on the side, and the benchmark stays within a minute."""
    old = torch.get_num_threads()
    torch.set_num_threads(threads)
    try:
        g = torch.Generator().manual_seed(0)
        side = min(256, n)
        while True:
            a, b = (torch.randn(side, side, generator=g).to(dtype) for _ in range(2))
            a @ b  # the first call builds the kernel
            t = time.perf_counter()
            a @ b
            once = time.perf_counter() - t
            if side >= n or once * 8 > 1.0:
                break
            side *= 2
        reps = max(1, round(budget_s / once))
        best = float("inf")
        for _ in range(timings):
            t = time.perf_counter()
            for _ in range(reps):
                a @ b
            best = min(best, time.perf_counter() - t)
        return 2 * side**3 * reps / best / 1e9, side
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
    peak, sizes = {"fp32": {}, "bf16": {}}, {"fp32": {}, "bf16": {}}
    for t in args.threads:
        (fp32, n32), (bf16, n16) = (matmul_gflops(d, t, args.size) for d in (torch.float32, torch.bfloat16))
        peak["fp32"][str(t)], peak["bf16"][str(t)] = round(fp32, 1), round(bf16, 1)
        sizes["fp32"][str(t)], sizes["bf16"][str(t)] = n32, n16
        shrunk = "".join(f"  ({d} at {m}x{m}: a larger matmul would take over a second)"
                         for d, m in (("fp32", n32), ("bf16", n16)) if m != args.size)
        print(f"{t:>7}{fp32:>14.0f}{bf16:>14.0f}{bf16 / fp32:>10.2f}x{shrunk}")
    if args.out:
        path = write_json(args.out / "peak.json", {
            "cpu": device_name(torch.device("cpu")), "size": args.size, "sizes": sizes, "gflops": peak,
            "how": f"benchmarks/bench_peak.py, torch {torch.__version__}, {time.strftime('%Y-%m-%d')}"})
        print(f"written: {path}")


if __name__ == "__main__":
    main()
