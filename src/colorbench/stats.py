"""Confidence intervals over seeds, paired tests between models across seeds and test images, and the
Holm-Bonferroni correction for the many tests of one table."""

from __future__ import annotations

import math

import torch
from scipy import stats as sps


def mean_ci(values: list[float], level: float = 0.95) -> tuple[float, float]:
    """Mean and half-width of its Student-t confidence interval (nan half-width for one value: with
    one seed, training noise is not measured).

    With 3 seeds the t quantile is 4.30: wide intervals are the honest price of few seeds.
    """
    v = [x for x in values if x is not None]
    n = len(v)
    if n == 0:
        return float("nan"), float("nan")
    mean = sum(v) / n
    if n == 1 or any(math.isinf(x) for x in v):
        return mean, float("nan")
    sd = math.sqrt(sum((x - mean) ** 2 for x in v) / (n - 1))
    return mean, sps.t.ppf(0.5 + level / 2, n - 1) * sd / math.sqrt(n)


def _bootstrap_means(d: torch.Tensor, reps: int, g: torch.Generator, chunk: int = 250) -> torch.Tensor:
    """Means of `reps` two-level resamples of each d[t] (T, S, N): seeds drawn with replacement, and images
    drawn with replacement (the same draw for every seed: they are the same test images). As counts:
    mean = sum_s sum_i w_s c_i d[t, s, i] / (S N) with w, c the draw counts, so a chunk of resamples is
    one matrix product, and one draw serves every test of a table (drawing was 95% of the time). (T, reps)."""
    T, S, N = d.shape
    out = []
    for start in range(0, reps, chunk):
        r = min(chunk, reps - start)
        c = torch.zeros(r, N, dtype=torch.float64).scatter_add_(
            1, torch.randint(0, N, (r, N), generator=g), torch.ones(r, N, dtype=torch.float64))
        if S > 1:
            w = torch.zeros(r, S, dtype=torch.float64).scatter_add_(
                1, torch.randint(0, S, (r, S), generator=g), torch.ones(r, S, dtype=torch.float64))
        else:
            w = torch.ones(r, 1, dtype=torch.float64)
        out.append((torch.einsum("rn,tsn->trs", c, d) * w).sum(-1) / (S * N))  # per-seed sums over drawn images
    return torch.cat(out, 1)


def paired_test(a: torch.Tensor, b: torch.Tensor, reps: int = 10_000, level: float = 0.95, seed: int = 0) -> dict:
    """Is A's mean per-image metric different from B's?

    a, b: (seeds, images) per-image values on the same test images; seed i of A is paired with seed i
    of B (same split and data order). With several seeds the bootstrap resamples seeds and images, so
    the interval covers training noise as well as which images were drawn. With one seed it can only
    resample images: the interval then says nothing about training noise (`resampled` says which).
    Also reported: a paired t-test over images on seed-averaged values, and in how many seeds A was higher.
    """
    return _paired_tests([(a, b)], reps, level, seed)[0]


def _paired_tests(pairs: list[tuple[torch.Tensor, torch.Tensor]], reps: int = 10_000, level: float = 0.95,
                  seed: int = 0) -> list[dict]:
    """paired_test for each (A, B); pairs of the same shape share one set of resamples."""
    diffs = [a.double() - b.double() for a, b in pairs]  # (S, N) each
    means: list[torch.Tensor | None] = [None] * len(diffs)
    for shape in dict.fromkeys(d.shape for d in diffs):
        idx = [k for k, d in enumerate(diffs) if d.shape == shape]
        g = torch.Generator().manual_seed(seed)
        for k, m in zip(idx, _bootstrap_means(torch.stack([diffs[k] for k in idx]), reps, g)):
            means[k] = m
    q = torch.tensor([(1 - level) / 2, (1 + level) / 2], dtype=torch.float64)
    rows = []
    for d, m in zip(diffs, means):
        S, N = d.shape
        lo, hi = torch.quantile(m, q).tolist()
        # two-sided; a bootstrap cannot resolve p below 1/reps, so that is its floor (never a bare 0)
        p_boot = min(1.0, max(1.0 / reps, 2 * min((m <= 0).double().mean().item(), (m >= 0).double().mean().item())))
        t = sps.ttest_1samp(d.mean(0).numpy(), 0.0) if N > 1 else None
        rows.append({
            "mean_diff": d.mean().item(),
            "ci_low": lo,
            "ci_high": hi,
            "p_bootstrap": p_boot,
            "p_ttest_images": float(t.pvalue) if t is not None else float("nan"),
            "seeds_a_higher": int((d.mean(1) > 0).sum()),
            "seeds": S,
            "resampled": "seeds and images" if S > 1 else "images only",
            "bootstrap_reps": reps,
        })
    return rows


def holm(pvalues: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (Holm 1979): the k-th smallest of m is multiplied by m - k + 1,
    kept monotone, capped at 1. A test is significant at level alpha when its adjusted p < alpha; this
    controls the chance of any false positive among all m tests of a table."""
    m = len(pvalues)
    order = sorted(range(m), key=lambda i: pvalues[i])
    adjusted, running = [0.0] * m, 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (m - k) * pvalues[i]))
        adjusted[i] = running
    return adjusted


def paired_table(pairs: list[tuple[str, str, str, torch.Tensor, torch.Tensor]], alpha: float = 0.05) -> list[dict]:
    """Paired tests for (a, b, metric, A, B) rows, with Holm-adjusted p over all rows of the table;
    `significant` is decided by the adjusted p."""
    tests = _paired_tests([(A, B) for *_, A, B in pairs])
    rows = [{"a": a, "b": b, "metric": m, **t} for (a, b, m, _, _), t in zip(pairs, tests)]
    for r, p in zip(rows, holm([r["p_bootstrap"] for r in rows])):
        r["p_holm"] = p
        r["significant"] = bool(p < alpha)
    return rows
