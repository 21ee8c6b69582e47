import math

import numpy as np
import pytest
import torch
from scipy import stats as sps

from colorbench.stats import _p_and_half_width, _pivot_sf, decompose, holm, mean_ci, paired_table, paired_test


def test_mean_ci_by_hand():
    mean, hw = mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0 and hw == pytest.approx(4.302653 * 1.0 / math.sqrt(3), rel=1e-5)  # t(0.975, 2) * sd / sqrt(n)
    assert math.isnan(mean_ci([5.0])[1])


def test_decompose_by_hand():
    # seeds x images [[1, 2, 6], [5, 4, 6]]: mean 4; seed means 3, 5; image means 3, 3, 6;
    # residuals d - seed - image + 4: [[-1, 0, 1], [1, 0, -1]]
    c = decompose(torch.tensor([[[1.0, 2, 6], [5, 4, 6]]]))
    assert c["mean"].item() == 4.0
    assert c["ms_seed"].item() == pytest.approx(3 * (1 + 1) / 1)  # N * sum (seed mean - mean)^2 / (S - 1)
    assert c["ms_image"].item() == pytest.approx(2 * (1 + 1 + 4) / 2)  # S * sum (image mean - mean)^2 / (N - 1)
    assert c["ms_residual"].item() == pytest.approx(4 / 2)  # sum residual^2 / ((S - 1)(N - 1))
    assert c["var_seed"].item() == pytest.approx((6 - 2) / 3) and c["var_image"].item() == pytest.approx((6 - 2) / 2)
    assert c["var_residual"].item() == pytest.approx(2)


def test_decompose_matches_the_covariances_between_seeds():
    """An independent route: across images, the mean covariance between two seeds is the image component and
    the mean variance minus it the residual; N times the variance of the seed means is the seed mean square."""
    g = torch.Generator().manual_seed(3)
    d = torch.randn(4, 50, generator=g, dtype=torch.float64) + torch.randn(1, 50, generator=g, dtype=torch.float64)
    d += torch.randn(4, 1, generator=g, dtype=torch.float64)
    cov = np.cov(d.numpy())
    off = cov[~np.eye(4, dtype=bool)].mean()
    c = decompose(d[None])
    assert c["var_image"].item() == pytest.approx(off) and off > 0
    assert c["var_residual"].item() == pytest.approx(np.diag(cov).mean() - off)
    assert c["ms_seed"].item() == pytest.approx(50 * np.var(d.numpy().mean(1), ddof=1))


def test_one_seed_is_students_t_over_images():
    g = torch.Generator().manual_seed(1)
    d = torch.randn(1, 500, generator=g, dtype=torch.float64) * 2 + 0.3
    res = paired_test(d, torch.zeros_like(d))
    want = sps.ttest_1samp(d[0].numpy(), 0.0)
    lo, hi = want.confidence_interval(0.95)
    assert res["sources"] == "images only" and math.isnan(res["rho"]) and res["seeds_to_halve_ci"] is None
    assert res["p"] == pytest.approx(want.pvalue, rel=1e-9)
    assert (res["ci_low"], res["ci_high"]) == pytest.approx((lo, hi), rel=1e-9)


def test_without_a_shared_image_part_it_is_students_t_on_the_seed_means():
    """Image means all equal (the seeds' noise cancels per image): no image component, and the test is the
    one-sample t-test on the 3 per-seed means, 2 degrees of freedom."""
    g = torch.Generator().manual_seed(2)
    e = torch.randn(2, 400, generator=g, dtype=torch.float64)
    e = torch.cat([e, -e.sum(0, keepdim=True)])  # every column sums to 0
    d = e + torch.tensor([[0.5], [3.0], [6.0]], dtype=torch.float64)
    res = paired_test(d, torch.zeros_like(d))
    want = sps.ttest_1samp(d.mean(1).numpy(), 0.0)
    lo, hi = want.confidence_interval(0.95)
    assert res["var_image"] == 0 and res["sources"] == "seeds and images"
    assert res["p"] == pytest.approx(want.pvalue, rel=1e-9)
    assert (res["ci_low"], res["ci_high"]) == pytest.approx((lo, hi), rel=1e-9)


def test_pivot_matches_student_t_and_monte_carlo():
    u = np.array([0.3, 1.0, 2.5, 4.3, 10.0, 100.0])
    for k in (1, 2, 4):  # no image part: Student t, through the integral
        got = _pivot_sf(u, np.ones(6), np.full(6, float(k)), np.full(6, 1e-12))
        assert got == pytest.approx(2 * sps.t.sf(u, k), rel=2e-3)
    rng = np.random.default_rng(0)
    for k, v_seed, v_image in ((2, 1.0, 1.0), (2, 0.01, 1.0), (1, 0.1, 1.0), (4, 1.0, 3.0)):
        piv = np.abs(rng.standard_normal(10**6)) * np.sqrt(k * v_seed / rng.chisquare(k, 10**6) + v_image)
        for q in (0.5, 0.95, 0.99):
            x = np.quantile(piv, q)
            got = _pivot_sf(np.array([x]), np.array([v_seed]), np.array([float(k)]), np.array([v_image]))[0]
            assert got == pytest.approx(1 - q, abs=4 * math.sqrt(q * (1 - q) / 10**6) + 1e-4)
        p, hw = _p_and_half_width(np.array([0.0]), np.array([v_seed]), np.array([float(k)]), np.array([v_image]), 0.95)
        assert p[0] == pytest.approx(1.0) and (piv <= hw[0]).mean() == pytest.approx(0.95, abs=1e-3)


def test_paired_test_sees_real_and_null_differences():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(3, 2000, generator=g) + 10
    b = a - 0.5 + 0.1 * torch.randn(3, 2000, generator=g)  # a is higher by 0.5
    res = paired_test(a, b)
    assert res["ci_low"] > 0.4 and res["seeds_a_higher"] == 3 and res["p"] < 1e-3
    assert res["mean_diff"] == pytest.approx(0.5, abs=0.02) and res["sources"] == "seeds and images"
    null = paired_test(a, a + 0.1 * torch.randn(3, 2000, generator=g))
    assert null["ci_low"] < 0 < null["ci_high"] and null["p"] > 0.05


def test_seeds_that_agree_in_sign_under_a_null_are_not_a_verdict():
    """Issue 25: training noise much larger than the image noise, and all 3 seeds on one side (a quarter of the
    time under the null). The bootstrap before said p = 1e-4, significant even after Holm over 12 tests; the
    spread of 3 seed means says p 0.18."""
    g = torch.Generator().manual_seed(4)
    a = torch.randn(3, 2000, generator=g, dtype=torch.float64) + 10
    b = a + torch.tensor([[0.02], [0.12], [0.24]], dtype=torch.float64)  # seed noise; image se of a seed ~0.002
    b += 0.1 * torch.randn(3, 2000, generator=g, dtype=torch.float64)
    rows = paired_table([("a", "b", "m", a, b)] + [("a", "c", f"m{i}", a, a + 0.1 * torch.randn(
        3, 2000, generator=g, dtype=torch.float64)) for i in range(11)])
    r = rows[0]
    assert r["seeds_a_higher"] == 0 and r["rho"] > 10 and r["seed_share"] > 0.9
    assert 0.1 < r["p"] < 0.3 and not r["significant"]


def test_seeds_to_halve_the_interval():
    """Seeds only: the half-width goes as t(0.975, S - 1) / sqrt(S), and 4.30 / sqrt(3) halves at 5 seeds
    (2.78 / sqrt(5)); a shared image part that is most of the variance cannot be halved by seeds."""
    g = torch.Generator().manual_seed(5)
    e = torch.randn(2, 400, generator=g, dtype=torch.float64)
    d = torch.cat([e, -e.sum(0, keepdim=True)]) + torch.tensor([[0.5], [3.0], [6.0]], dtype=torch.float64)
    assert paired_test(d, torch.zeros_like(d))["seeds_to_halve_ci"] == 5
    images = 5 * torch.randn(1, 400, generator=g, dtype=torch.float64) + 0.01 * torch.randn(3, 400, generator=g)
    res = paired_test(images, torch.zeros_like(images))
    assert res["seed_share"] < 0.01 and res["seeds_to_halve_ci"] is None


def test_non_finite_values_are_left_out_and_counted():
    g = torch.Generator().manual_seed(6)
    a = torch.randn(3, 300, generator=g, dtype=torch.float64)
    b = torch.randn(3, 300, generator=g, dtype=torch.float64)
    a[0, 5], a[2, 7], b[1, 7], b[1, 9] = math.nan, math.inf, -math.inf, math.nan
    keep = torch.ones(300, dtype=torch.bool)
    keep[[5, 7, 9]] = False
    res, want = paired_test(a, b), paired_test(a[:, keep], b[:, keep])
    assert res["images_excluded"] == 3 and res["images"] == 297 and math.isfinite(res["p"])
    for k in ("mean_diff", "ci_low", "ci_high", "p", "var_seed", "var_image", "var_residual"):
        assert res[k] == pytest.approx(want[k], rel=1e-9), k
    none = torch.full((3, 300), math.nan, dtype=torch.float64)
    rows = paired_table([("a", "b", "m", a, b), ("a", "n", "m", a, none)])
    assert math.isnan(rows[1]["p"]) and math.isnan(rows[1]["p_holm"]) and not rows[1]["significant"]
    assert rows[1]["images_excluded"] == 300 and rows[0]["p_holm"] == min(1.0, 2 * rows[0]["p"])  # counted in m


def test_holm_by_hand():
    # sorted p: 0.01, 0.02, 0.03, 0.5 -> x4, x3, x2, x1 = 0.04, 0.06, 0.06 (monotone), 0.5
    assert holm([0.03, 0.01, 0.5, 0.02]) == pytest.approx([0.06, 0.04, 0.5, 0.06])
    assert holm([0.5, 0.9]) == [1.0, 1.0] and holm([]) == []
    assert holm([0.001]) == [0.001]
    adj = holm([0.02, math.nan, 0.001])  # a test that could not be done counts as p = 1
    assert adj[0] == pytest.approx(0.04) and math.isnan(adj[1]) and adj[2] == pytest.approx(0.003)


def test_holm_rejects_at_exactly_alpha(monkeypatch):
    """p <= alpha rejects: an adjusted p of exactly 0.05 is significant."""
    import colorbench.stats as st

    assert holm([0.025, 0.025]) == [0.05, 0.05] and holm([0.05]) == [0.05]
    monkeypatch.setattr(st, "_paired_tests", lambda pairs: [{"p": p} for p in (0.025, 0.025, 0.5)])
    rows = st.paired_table([("a", "b", "m", None, None)] * 3)
    assert [r["p_holm"] for r in rows] == pytest.approx([0.075, 0.075, 0.5]) and not any(r["significant"] for r in rows)
    monkeypatch.setattr(st, "_paired_tests", lambda pairs: [{"p": p} for p in (0.025, 0.025)])
    assert all(r["significant"] and r["p_holm"] == 0.05 for r in st.paired_table([("a", "b", "m", None, None)] * 2))


def test_paired_table_decides_significance_by_the_adjusted_p():
    """A difference with p about 0.01 alone is significant; among 31 tests, after Holm, it is not."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(3, 400, generator=g, dtype=torch.float64)
    b = a - (0.08 + torch.randn(1, 400, generator=g, dtype=torch.float64))  # the same per image in every seed: se 0.05
    b += 0.01 * torch.randn(3, 400, generator=g, dtype=torch.float64)
    nulls = [("a", "c", f"m{i}", a, a + torch.randn(3, 400, generator=g, dtype=torch.float64)) for i in range(30)]
    alone = paired_table([("a", "b", "m", a, b)])[0]
    among = paired_table([("a", "b", "m", a, b)] + nulls)
    assert alone["significant"] and alone["p_holm"] == alone["p"] < 0.05
    assert among[0]["p"] < 0.05 and among[0]["p_holm"] > 0.05 and not among[0]["significant"]
    assert all(r["significant"] == (r["p_holm"] <= 0.05) for r in among)
