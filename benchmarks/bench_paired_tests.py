"""Do the paired tests hold their 5% with few seeds? False positives, CI coverage and power, by simulation.

Simulated per-image differences A − B through `stats.paired_stats` (the report's code path), many tests at
once: d[s, i] = effect + seed_s + image_i + residual_si, all normal, with sd(image)^2 + sd(residual)^2 = 1.
rho = sd(seed) / (1 / sqrt(N)): the seed-to-seed spread of a run's mean difference over the image standard
error of one run's mean (issue 25's ratio). "image share" is the part of the per-image variance that every
seed shares (sd(image)^2): 0 when A and B differ by training noise only (the null "two arms from one
distribution", and what the study's per-image data show), 0.5 when they also differ image by image in a way
that averages out. Printed beside the new test, for 3 seeds: the bootstrap colorbench used before (seeds and
images resampled, 2,000 resamples; on 400 images as in the issue) and the textbook alternative, a t with
Satterthwaite's degrees of freedom for the same decomposition (too liberal: its degrees of freedom grow
when the seeds' spread is small by chance). Power: effects of 2, 3 and 4 true standard errors.

    python benchmarks/bench_paired_tests.py            # about 3 min of CPU on one core
    python benchmarks/bench_paired_tests.py --tests 1000 --images 2000   # a quicker look
"""

import argparse
import math
import time

import numpy as np
import torch
from scipy import stats as sps

from colorbench.stats import paired_stats

RHOS = [0, 1, 2, 4, 10, 30, 100]


def simulate(S: int, N: int, rho: float, share: float, tests: int, g: torch.Generator, effect_se: float = 0.0,
             chunk: int = 100) -> tuple[float, float, float]:
    """Shares of tests with p <= 0.05 and of CIs covering the true difference; the first for Satterthwaite's t."""
    sd_seed = rho / math.sqrt(N)
    se = math.sqrt(sd_seed**2 / S + share / N + (1 - share) / (S * N))  # the true standard error of the mean
    effect = effect_se * se
    rejected = covered = satterthwaite = 0
    for start in range(0, tests, chunk):
        T = min(chunk, tests - start)
        d = torch.randn(T, S, N, generator=g).double().mul_(math.sqrt(1 - share))  # float32 draws are 5x faster
        d += torch.randn(T, 1, N, generator=g).double() * math.sqrt(share)
        d += torch.randn(T, S, 1, generator=g, dtype=torch.float64) * sd_seed + effect
        st = paired_stats(d)
        rejected += int((st["p"] <= 0.05).sum())
        covered += int(((st["ci_low"] <= effect) & (effect <= st["ci_high"])).sum())
        satterthwaite += int((satterthwaite_p(st, S) <= 0.05).sum())
    return rejected / tests, covered / tests, satterthwaite / tests


def satterthwaite_p(st: dict, S: int) -> np.ndarray:
    """t with Satterthwaite's degrees of freedom: the mean's variance from the components (negative ones 0)."""
    n, a, b, e = st["images"], st["ms_seed"], st["ms_image"], st["ms_residual"]
    ca, cb = (a > e).astype(float), (b > e).astype(float)
    ce = 1 - ca - cb  # the residual's coefficient once a component is set to 0
    num = ca * a + cb * b + ce * e
    df = num**2 / ((ca * a) ** 2 / (S - 1) + (cb * b) ** 2 / (n - 1) + (ce * e) ** 2 / ((S - 1) * (n - 1)))
    return 2 * sps.t.sf(np.abs(st["mean"]) / np.sqrt(num / (S * n)), df)


def old_bootstrap_rejects(S: int, N: int, rho: float, share: float, tests: int, g: torch.Generator,
                          reps: int = 2000) -> tuple[float, float]:
    """The bootstrap before issue 25 (seeds and images resampled, one draw shared by every test), under the null."""
    d = torch.randn(tests, S, N, generator=g, dtype=torch.float64) * math.sqrt(1 - share)
    d += torch.randn(tests, 1, N, generator=g, dtype=torch.float64) * math.sqrt(share)
    d += torch.randn(tests, S, 1, generator=g, dtype=torch.float64) * rho / math.sqrt(N)
    means = []
    for _ in range(0, reps, 250):
        c = torch.zeros(250, N, dtype=torch.float64).scatter_add_(
            1, torch.randint(0, N, (250, N), generator=g), torch.ones(250, N, dtype=torch.float64))
        w = torch.zeros(250, S, dtype=torch.float64).scatter_add_(
            1, torch.randint(0, S, (250, S), generator=g), torch.ones(250, S, dtype=torch.float64))
        means.append((torch.einsum("rn,tsn->trs", c, d) * w).sum(-1) / (S * N))
    m = torch.cat(means, 1)
    p = (2 * torch.minimum((m <= 0).double().mean(1), (m >= 0).double().mean(1))).clamp(1 / reps, 1)
    lo, hi = torch.quantile(m, torch.tensor([0.025, 0.975], dtype=torch.float64), dim=1)
    return float((p < 0.05).double().mean()), float(((lo <= 0) & (0 <= hi)).double().mean())


def pct(x: float) -> str:
    return f"{100 * x:.1f}%"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tests", type=int, default=4000, help="simulated tests per row (SE of 5%%: 0.34%% at 4,000)")
    ap.add_argument("--images", type=int, default=10_000, help="test images for the 3-seed rows")
    ap.add_argument("--small", type=int, default=1000, help="test images for the 2- and 5-seed rows and for power")
    args = ap.parse_args()
    g = torch.Generator().manual_seed(0)
    t0, cpu0 = time.perf_counter(), time.process_time()
    print(f"torch threads {torch.get_num_threads()}; {args.tests:,} tests per row; p <= 0.05 counts as significant\n")
    for share in (0.0, 0.5):
        print(f"### Null true, image share {share}: false positives (CI coverage)\n")
        print("| seeds | images | " + " | ".join(f"ρ {r}" for r in RHOS) + " |")
        print("|---|---|" + "---|" * len(RHOS))
        for S, N in ((2, args.small), (3, args.images), (5, args.small)):
            cells = [simulate(S, N, rho, share, args.tests, g) for rho in RHOS]
            print(f"| {S} | {N:,} | " + " | ".join(f"{pct(fp)} ({pct(cv)})" for fp, cv, _ in cells) + " |", flush=True)
            if S == 3:
                satt = " | ".join(pct(x) for *_, x in cells)
        old = [old_bootstrap_rejects(3, 400, rho, share, args.tests // 4, g) for rho in RHOS]
        print(f"| 3, Satterthwaite t | {args.images:,} | {satt} |")
        print("| 3, bootstrap before | 400 | " + " | ".join(f"{pct(fp)} ({pct(cv)})" for fp, cv in old) + " |\n",
              flush=True)
    print(f"### Power: tests with p <= 0.05 when A − B is 2, 3 or 4 true standard errors ({args.small:,} images, "
          "image share 0 / 0.5)\n")
    print("| seeds | ρ | 2 SE | 3 SE | 4 SE |")
    print("|---|---|---|---|---|")
    for S in (2, 3, 5):
        for rho in (0, 4, 100):
            cells = [[simulate(S, args.small, rho, share, args.tests // 2, g, effect_se=k)[0] for share in (0.0, 0.5)]
                     for k in (2, 3, 4)]
            print(f"| {S} | {rho} | " + " | ".join(f"{pct(a)} / {pct(b)}" for a, b in cells) + " |", flush=True)
    z = [1 - float(np.mean(np.abs(np.random.default_rng(k).standard_normal(10**6) + k) < 1.959964)) for k in (2, 3, 4)]
    print(f"\n(a normal test that knew the variance: {', '.join(pct(x) for x in z)})")
    print(f"\n{time.perf_counter() - t0:.0f} s, {time.process_time() - cpu0:.0f} s of CPU")


if __name__ == "__main__":
    main()
