import math

import numpy as np
import pytest
import torch
from skimage.color import deltaE_ciede2000
from skimage.metrics import structural_similarity

from colorbench.color import rgb_to_lab, uint8_to_lab
from colorbench.evaluate import (ciede2000, colorfulness, evaluate, gray_predictor, image_metrics,
                                 mean_ab, mean_color_predictor, psnr, ssim)


def rand_images(n=4, size=32, seed=0):
    g = torch.Generator().manual_seed(seed)
    # smooth + noise, so SSIM sees structure, not only noise
    base = torch.nn.functional.interpolate(torch.rand(n, 3, 4, 4, generator=g), size=size, mode="bilinear")
    return ((base * 200 + torch.rand(n, 3, size, size, generator=g) * 55)).round().clamp(0, 255)


def test_identical_images_are_perfect():
    x = rand_images()
    assert torch.isinf(psnr(x, x)).all()
    torch.testing.assert_close(ssim(x, x), torch.ones(4, dtype=torch.float64))
    lab = rgb_to_lab(x / 255)
    assert ciede2000(lab, lab).abs().max() == 0
    L, ab = uint8_to_lab(x.to(torch.uint8)).split([1, 2], 1)
    m, _ = image_metrics(L, ab, ab, x.to(torch.uint8))
    assert m["mse"].max() == 0 and m["ab_mse"].max() == 0 and m["auc"].min() == 1
    assert m["ciede2000"].max() == 0


def test_psnr_by_hand():
    a, b = torch.zeros(1, 3, 4, 4), torch.full((1, 3, 4, 4), 10.0)
    assert psnr(a, b).item() == pytest.approx(10 * math.log10(255**2 / 100))  # 28.13 dB


@pytest.mark.parametrize("size", [32, 80])  # the two blur paths: matrix products (small) and convolutions
def test_ssim_matches_skimage(size):
    a, b = rand_images(size=size, seed=1), rand_images(size=size, seed=2)
    got = ssim(a, b)
    for i in range(len(a)):
        want = structural_similarity(a[i].double().numpy(), b[i].double().numpy(), channel_axis=0, gaussian_weights=True, sigma=1.5,
                                     use_sample_covariance=False, data_range=255)
        assert got[i].item() == pytest.approx(want, abs=1e-9)


@pytest.mark.parametrize("size", [32, 80])
def test_ssim_in_the_images_own_dtype_is_the_loss_and_differentiable(size):
    """The SSIM loss trains with this same function in float32 (dtype=None): the float64 metric's
    values, and a gradient."""
    a, b = rand_images(size=size, seed=1) / 255, (rand_images(size=size, seed=2) / 255).requires_grad_()
    got = ssim(a, b, 1.0, dtype=None)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), ssim(a, b.detach(), 1.0), atol=1e-5, rtol=0)
    got.sum().backward()
    assert torch.isfinite(b.grad).all() and b.grad.abs().sum() > 0


# Sharma, Wu & Dalal (2005), Table 1: pairs 1, 2, 7, 17, 20 and 25 and their published differences
SHARMA = [((50.0, 2.6772, -79.7751), (50.0, 0.0, -82.7485), 2.0425),
          ((50.0, 3.1571, -77.2803), (50.0, 0.0, -82.7485), 2.8615),
          ((50.0, 0.0, 0.0), (50.0, -1.0, 2.0), 2.3669),
          ((50.0, 2.5, 0.0), (73.0, 25.0, -18.0), 27.1492),
          ((50.0, 2.5, 0.0), (50.0, 3.1736, 0.5854), 1.0000),
          ((60.2574, -34.0099, 36.2677), (60.4626, -34.1751, 39.4387), 1.2644)]


@pytest.mark.parametrize("lab1,lab2,want", SHARMA)
def test_ciede2000_published_values(lab1, lab2, want):
    a, b = (torch.tensor(v, dtype=torch.float64).view(3, 1, 1) for v in (lab1, lab2))
    assert ciede2000(a, b).item() == pytest.approx(want, abs=1e-4)
    assert ciede2000(b, a).item() == pytest.approx(want, abs=1e-4)  # symmetric


def test_ciede2000_matches_skimage():
    g = torch.Generator().manual_seed(0)
    lab1 = torch.rand(2, 3, 16, 16, generator=g, dtype=torch.float64) * torch.tensor([100, 200, 200]).view(3, 1, 1)
    lab1 -= torch.tensor([0, 100, 100]).view(3, 1, 1)
    lab2 = lab1 + torch.randn(2, 3, 16, 16, generator=g, dtype=torch.float64) * 10
    lab2[:, 1:, :2] = 0  # achromatic pixels: the hue special cases
    want = deltaE_ciede2000(lab1.numpy(), lab2.numpy(), channel_axis=1)
    torch.testing.assert_close(ciede2000(lab1, lab2), torch.from_numpy(want), atol=1e-8, rtol=0)


def test_colorfulness_by_hand():
    red = torch.zeros(1, 3, 4, 4)
    red[:, 0] = 255  # rg = 255, yb = 127.5 everywhere: no spread, only the mean term
    assert colorfulness(red).item() == pytest.approx(0.3 * math.hypot(255, 127.5))
    assert colorfulness(torch.full((1, 3, 4, 4), 128.0)).item() == 0  # gray has none
    x = rand_images(1)[0].numpy().astype(np.float64)
    rg, yb = x[0] - x[1], 0.5 * (x[0] + x[1]) - x[2]
    want = np.sqrt(rg.std() ** 2 + yb.std() ** 2) + 0.3 * np.sqrt(rg.mean() ** 2 + yb.mean() ** 2)
    assert colorfulness(torch.from_numpy(x)[None]).item() == pytest.approx(want)


def test_ab_error_curve_and_auc_by_hand():
    L = torch.full((1, 1, 2, 2), 0.5)
    truth = torch.zeros(1, 2, 2, 2)
    pred = truth.clone()
    pred[0, 0, 0, :] = 200 / 128  # two of four pixels 200 ab units off: never within 150
    rgb = torch.full((1, 3, 2, 2), 119, dtype=torch.uint8)
    m, within = image_metrics(L, pred, truth, rgb)
    assert within[0].tolist() == [0.5] * 151 and m["auc"].item() == pytest.approx(0.5)
    pred = torch.full_like(truth, 0)
    pred[:, 0] = 10 / 128  # every pixel exactly 10 off: within from t = 10 on
    m, within = image_metrics(L, pred, truth, rgb)
    assert within[0, :10].max() == 0 and within[0, 10:].min() == 1
    assert m["auc"].item() == pytest.approx(141 / 151)
    assert m["ab_mse"].item() == pytest.approx(100 / 2)  # (10^2 + 0^2) / 2 channels


def test_evaluate_baselines_and_per_class():
    g = torch.Generator().manual_seed(0)
    images = torch.randint(0, 256, (12, 3, 8, 8), generator=g, dtype=torch.uint8)
    images[:4] = images[:4, :1]  # class 0: gray images (R = G = B)
    labels = torch.tensor([0] * 4 + [1] * 8)
    r = evaluate(gray_predictor(), images, labels, ["gray", "colour"], batch_size=5)
    assert r["per_image"]["mse"].shape == (12,)
    assert r["per_class"]["mse"][0] < 1e-9 and r["per_class"]["mse"][1] > 1e-3  # gray is right on gray images
    assert r["per_class"]["psnr"][0] == 100  # exact matches count as 100 dB in means...
    assert math.isfinite(r["summary"]["psnr"])
    exact = evaluate(gray_predictor(), images[:4], labels[:4], ["gray", "colour"])
    assert math.isinf(exact["summary"]["psnr"])  # ...and a set reproduced exactly is reported as inf
    assert exact["summary"]["ssim"] == pytest.approx(1) and exact["summary"]["ciede2000"] < 0.01  # true ab of gray is ~0.005, not 0
    assert r["summary"]["mse"] == pytest.approx(r["per_image"]["mse"].mean().item())
    assert len(r["curve"]) == 151 and r["curve"][-1] <= 1
    # the mean-colour baseline predicts the training set's mean ab everywhere
    pred = mean_color_predictor(mean_ab(images[4:]))(torch.zeros(1, 1, 2, 2))
    want = uint8_to_lab(images[4:])[:, 1:].double().mean((0, 2, 3))
    torch.testing.assert_close(pred[0, :, 0, 0].double(), want, atol=1e-6, rtol=0)
