import math

import pytest
import torch

from colorbench.stats import holm, mean_ci, paired_table, paired_test


def test_mean_ci_by_hand():
    mean, hw = mean_ci([1.0, 2.0, 3.0])
    assert mean == 2.0 and hw == pytest.approx(4.302653 * 1.0 / math.sqrt(3), rel=1e-5)  # t(0.975, 2) * sd / sqrt(n)
    assert math.isnan(mean_ci([5.0])[1])


def test_paired_test_sees_real_and_null_differences():
    g = torch.Generator().manual_seed(0)
    a = torch.randn(3, 2000, generator=g) + 10
    b = a - 0.5 + 0.1 * torch.randn(3, 2000, generator=g)  # a is higher by 0.5
    res = paired_test(a, b, reps=2000)
    assert res["ci_low"] > 0.4 and res["seeds_a_higher"] == 3 and res["p_bootstrap"] == 1 / 2000
    assert res["mean_diff"] == pytest.approx(0.5, abs=0.02) and res["resampled"] == "seeds and images"
    null = paired_test(a, a + 0.1 * torch.randn(3, 2000, generator=g), reps=2000)
    assert null["ci_low"] < 0 < null["ci_high"] and null["p_bootstrap"] > 0.05


def test_bootstrap_interval_matches_theory_for_one_seed():
    """One seed: images only. The bootstrap CI of a mean of N iid values is about mean ± 1.96 sd / sqrt(N)."""
    g = torch.Generator().manual_seed(1)
    d = torch.randn(1, 5000, generator=g, dtype=torch.float64) * 2 + 0.3
    res = paired_test(d, torch.zeros_like(d), reps=4000)
    half = 1.96 * d.std().item() / math.sqrt(5000)
    assert res["resampled"] == "images only"
    assert res["ci_high"] - res["ci_low"] == pytest.approx(2 * half, rel=0.08)
    assert res["mean_diff"] == pytest.approx(d.mean().item())


def test_holm_by_hand():
    # sorted p: 0.01, 0.02, 0.03, 0.5 -> x4, x3, x2, x1 = 0.04, 0.06, 0.06 (monotone), 0.5
    assert holm([0.03, 0.01, 0.5, 0.02]) == pytest.approx([0.06, 0.04, 0.5, 0.06])
    assert holm([0.5, 0.9]) == [1.0, 1.0] and holm([]) == []
    assert holm([0.001]) == [0.001]


def test_paired_table_decides_significance_by_the_adjusted_p():
    """A difference with p about 0.01 alone is significant; among 31 tests, after Holm, it is not."""
    g = torch.Generator().manual_seed(0)
    a = torch.randn(3, 400, generator=g, dtype=torch.float64)
    b = a - (0.13 + torch.randn(3, 400, generator=g, dtype=torch.float64))  # mean difference 0.13, se about 0.03
    nulls = [("a", "c", f"m{i}", a, a + torch.randn(3, 400, generator=g, dtype=torch.float64)) for i in range(30)]
    alone = paired_table([("a", "b", "m", a, b)])[0]
    among = paired_table([("a", "b", "m", a, b)] + nulls)
    assert alone["significant"] and alone["p_holm"] == alone["p_bootstrap"] < 0.05
    assert among[0]["p_bootstrap"] < 0.05 and among[0]["p_holm"] >= 0.05 and not among[0]["significant"]
    assert all(r["significant"] == (r["p_holm"] < 0.05) for r in among)
