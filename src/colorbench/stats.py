"""Confidence intervals over seeds, paired tests between models across seeds and test images, and the
Holm-Bonferroni correction for the many tests of one table."""

from __future__ import annotations

import math

import numpy as np
import torch
from scipy import special
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


def decompose(d: torch.Tensor) -> dict[str, torch.Tensor]:
    """Two-way random-effects decomposition of paired differences d (T, S, N): T tests, S seeds, N test
    images, d[t, s, i] = mu + seed_s + image_i + residual_si. Each is a (T,) tensor:

    mean, images (those used: an image with a non-finite value in any seed is left out of its test),
    seed_means (T, S), ms_seed, ms_image, ms_residual (the ANOVA mean squares), and var_seed, var_image,
    var_residual (the components, negative estimates set to 0: variances are not negative). With S = 1
    seed and image cannot be told apart: var_image is then the whole per-image variance, the rest nan.
    """
    d = d.double()
    T, S, N = d.shape
    ok = torch.isfinite(d).all(1)  # (T, N)
    n = ok.sum(1).double()
    if not ok.all():
        d = torch.where(ok[:, None], d, 0.0)
    grand = d.sum((1, 2)) / (S * n)
    seed_m = d.sum(2) / n[:, None]  # (T, S)
    img_m = d.mean(1)  # (T, N), 0 where left out
    ms_image = S * ((img_m - grand[:, None]) ** 2 * ok).sum(1) / (n - 1)
    out = {"mean": grand, "images": n, "seed_means": seed_m, "ms_image": ms_image}
    if S == 1:
        nan = torch.full_like(grand, math.nan)
        return {**out, "ms_seed": nan, "ms_residual": nan, "var_seed": nan, "var_image": ms_image, "var_residual": nan}
    res = d - img_m[:, None, :]  # one (T, S, N) buffer, worked in place: the residual d - seed - image + grand
    res.sub_((seed_m - grand[:, None])[:, :, None]).mul_(ok[:, None]).square_()
    ms_seed = n * ((seed_m - grand[:, None]) ** 2).sum(1) / (S - 1)
    ms_res = res.sum((1, 2)) / ((S - 1) * (n - 1))
    # expected mean squares: seed sigma_r^2 + N sigma_s^2, image sigma_r^2 + S sigma_i^2, residual sigma_r^2
    return {**out, "ms_seed": ms_seed, "ms_residual": ms_res, "var_seed": ((ms_seed - ms_res) / n).clamp(min=0),
            "var_image": ((ms_image - ms_res) / S).clamp(min=0), "var_residual": ms_res}


_Z, _W = np.polynomial.legendre.leggauss(256)  # Gauss-Legendre nodes on [-1, 1]


def _pivot_sf(u: np.ndarray, v_seed: np.ndarray, k: np.ndarray, v_image: np.ndarray) -> np.ndarray:
    """P(|Z| sqrt(k v_seed / X + v_image) >= u) for Z ~ N(0, 1), X ~ chi2(k), elementwise.

    Over Z: the event is Z^2 >= u^2 / v_image, or X <= k v_seed Z^2 / (u^2 - v_image Z^2) below it, so
    p = 2 Phi(-z_c) + 2 int_0^z_c phi(z) F_k(...) dz, with z_c = u / sqrt(v_image). Checked against
    Student t (v_image = 0) and Monte Carlo in the tests."""
    with np.errstate(divide="ignore", invalid="ignore"):
        zc = np.where(v_image > 0, u / np.sqrt(v_image), np.inf)
        top = np.minimum(zc, 12.0)[..., None]  # phi(12) < 1e-31
        z = (_Z + 1) / 2 * top
        x = k[..., None] * v_seed[..., None] * z**2 / np.maximum(u[..., None] ** 2 - v_image[..., None] * z**2, 1e-300)
        phi = np.exp(-z**2 / 2) / math.sqrt(2 * math.pi)
        inner = (_W / 2 * top * phi * special.gammainc(k[..., None] / 2, x / 2)).sum(-1)
    return np.clip(2 * special.ndtr(-zc) + 2 * inner, 0.0, 1.0)


def _p_and_half_width(mean: np.ndarray, v_seed: np.ndarray, k: np.ndarray, v_image: np.ndarray,
                      level: float) -> tuple[np.ndarray, np.ndarray]:
    """Two-sided p of mean = 0 and the CI half-width from the pivot |Z| sqrt(k v_seed / X + v_image).

    With v_image = 0 it is exactly Student t with k degrees of freedom (computed so: it needs no
    integral); the half-width is found by bisection between bounds that always hold."""
    a = 1 - level
    p, hw = np.empty_like(mean), np.empty_like(mean)
    t = v_image <= 0
    se = np.sqrt(v_seed[t])
    with np.errstate(divide="ignore", invalid="ignore"):
        p[t] = np.where(se > 0, 2 * special.stdtr(k[t], -np.abs(mean[t]) / se), (mean[t] == 0).astype(float))
    hw[t] = special.stdtrit(k[t], 1 - a / 2) * se
    g = ~t
    if g.any():
        m, vs, kk, vi = mean[g], v_seed[g], k[g], v_image[g]
        p[g] = _pivot_sf(np.abs(m), vs, kk, vi)
        # sqrt(k v_s / X + v_i) <= sqrt(k v_s / X) + sqrt(v_i): each alone at its 1 - a/2 (a/4 each side) bounds it
        lo = np.maximum(special.stdtrit(kk, 1 - a / 2) * np.sqrt(vs), special.ndtri(1 - a / 2) * np.sqrt(vi))
        hi = special.stdtrit(kk, 1 - a / 4) * np.sqrt(vs) + special.ndtri(1 - a / 4) * np.sqrt(vi)
        for _ in range(32):  # hi / lo < 3: 2^-32 of it
            mid = (lo + hi) / 2
            above = _pivot_sf(mid, vs, kk, vi) > a
            lo, hi = np.where(above, mid, lo), np.where(above, hi, mid)
        hw[g] = (lo + hi) / 2
    return p, hw


def _seeds_to_halve(c: dict[str, np.ndarray], S: int, level: float, most: int = 100) -> np.ndarray:
    """How many seeds would halve the CI's half-width, at the estimated components (Satterthwaite's t
    for the planning); 0 where even `most` would not (the test images limit it)."""
    n = c["images"]
    theta = np.maximum(c["ms_seed"], c["ms_residual"])  # E ms_seed = sigma_r^2 + N sigma_s^2 >= sigma_r^2
    v_img = c["var_image"] / n

    def width(s):
        v_seed = theta / (s * n)
        df = (s - 1) * (v_seed + v_img) ** 2 / v_seed**2
        return special.stdtrit(df, 1 - (1 - level) / 2) * np.sqrt(v_seed + v_img)

    now, out = width(S), np.zeros(len(n), dtype=int)
    for s in range(S + 1, most + 1):
        out = np.where((out == 0) & (width(s) <= now / 2), s, out)
    return out


def paired_stats(d: torch.Tensor, level: float = 0.95) -> dict[str, np.ndarray]:
    """Paired tests of mean(d) = 0 for d (T, S, N) = A − B per test, seed and test image, vectorised over
    the T tests: the decomposition's figures (see `decompose`), the p, the CI, and

    v_seed: the squared standard error of the S per-seed means (it holds training noise, and has only
    S − 1 degrees of freedom); v_image: what the test images shared by every seed add (var_image / N,
    invisible in the seeds' spread as all seeds see the same images). The mean's variance is their sum.
    The test is a generalized pivot (Tsui & Weerahandi 1989): the seed part as Student's t with S − 1
    degrees of freedom, the image part as known (it has N − 1). With no image part it is the t-test on
    the per-seed means; with no seed part the normal test over images. Chosen by simulation
    (benchmarks/bench_paired_tests.py): with 2, 3 or 5 seeds its false positives stay at 5% (within the
    simulation's noise) at every seed-to-image ratio, below it where a large shared image part meets
    little seed noise; Satterthwaite's t for the same split reaches 7%, the bootstrap before 26%.
    With one seed: Student t over the images, training noise not measured.
    """
    T, S, N = d.shape
    c = {k: v.numpy() for k, v in decompose(d).items()}
    n = c["images"]
    if S > 1:
        v_seed, k, v_image = c["ms_seed"] / (S * n), np.full(T, S - 1.0), c["var_image"] / n
    else:
        v_seed, k, v_image = c["ms_image"] / n, n - 1, np.zeros(T)
    with np.errstate(divide="ignore", invalid="ignore"):
        p, hw = _p_and_half_width(c["mean"], v_seed, k, v_image, level)
        if S > 1:
            c["rho"] = np.sqrt(c["var_seed"] / ((c["var_image"] + c["var_residual"]) / n))
            c["seed_share"] = v_seed / (v_seed + v_image)
            c["seeds_to_halve_ci"] = _seeds_to_halve(c, S, level)
    bad = n < 2  # nothing (or one image) left to test
    p[bad], hw[bad] = math.nan, math.nan
    return {**c, "p": p, "ci_low": c["mean"] - hw, "ci_high": c["mean"] + hw, "v_seed": v_seed, "v_image": v_image}


def paired_test(a: torch.Tensor, b: torch.Tensor, level: float = 0.95) -> dict:
    """Is A's mean per-image metric different from B's?

    a, b: (seeds, images) per-image values on the same test images; seed i of A is paired with seed i
    of B (same split and data order). The interval and p count training noise (the seeds) and which
    images were drawn (see `paired_stats`); with one seed only the images (`sources` says which).
    Images with a non-finite value in either arm are left out and counted (`images_excluded`).
    """
    return _paired_tests([(a, b)], level)[0]


def _paired_tests(pairs: list[tuple[torch.Tensor, torch.Tensor]], level: float = 0.95) -> list[dict]:
    """paired_test for each (A, B); pairs of the same shape are computed together."""
    diffs = [a.double() - b.double() for a, b in pairs]  # (S, N) each
    rows: list[dict | None] = [None] * len(diffs)
    for shape in dict.fromkeys(d.shape for d in diffs):
        idx = [k for k, d in enumerate(diffs) if d.shape == shape]
        st = paired_stats(torch.stack([diffs[k] for k in idx]), level)
        S, N = shape
        for j, k in enumerate(idx):
            f = {key: v[j] for key, v in st.items()}
            halve = int(f.get("seeds_to_halve_ci", 0))
            rows[k] = {
                "mean_diff": float(f["mean"]),
                "ci_low": float(f["ci_low"]),
                "ci_high": float(f["ci_high"]),
                "p": float(f["p"]),
                "seeds_a_higher": int((f["seed_means"] > 0).sum()),
                "seeds": S,
                "images": int(f["images"]),
                "images_excluded": N - int(f["images"]),
                "sources": "seeds and images" if S > 1 else "images only",
                "var_seed": float(f["var_seed"]),
                "var_image": float(f["var_image"]),
                "var_residual": float(f["var_residual"]),
                "rho": float(f.get("rho", math.nan)),
                "seed_share": float(f.get("seed_share", math.nan)),
                "seeds_to_halve_ci": halve or None,  # None: one seed, or more than 100 seeds would not
            }
    return rows


def holm(pvalues: list[float]) -> list[float]:
    """Holm-Bonferroni adjusted p-values (Holm 1979): the k-th smallest of m is multiplied by m - k + 1,
    kept monotone, capped at 1. A test is significant at level alpha when its adjusted p <= alpha; this
    controls the chance of any false positive among all m tests of a table. A nan p (a test that could
    not be done) still counts in m, as a p of 1, and its adjusted p stays nan."""
    m = len(pvalues)
    p = [x if math.isfinite(x) else math.inf for x in pvalues]
    order = sorted(range(m), key=lambda i: p[i])
    adjusted, running = [0.0] * m, 0.0
    for k, i in enumerate(order):
        running = max(running, min(1.0, (m - k) * p[i]))
        adjusted[i] = running if math.isfinite(p[i]) else math.nan
    return adjusted


def paired_table(pairs: list[tuple[str, str, str, torch.Tensor, torch.Tensor]], alpha: float = 0.05) -> list[dict]:
    """Paired tests for (a, b, metric, A, B) rows, with Holm-adjusted p over all rows of the table;
    `significant` is decided by the adjusted p (p_holm <= alpha)."""
    tests = _paired_tests([(A, B) for *_, A, B in pairs])
    rows = [{"a": a, "b": b, "metric": m, **t} for (a, b, m, _, _), t in zip(pairs, tests)]
    for r, p in zip(rows, holm([r["p"] for r in rows])):
        r["p_holm"] = p
        r["significant"] = bool(p <= alpha)
    return rows
