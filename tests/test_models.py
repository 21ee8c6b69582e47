import math

import pytest
import torch

from colorbench.models import (count_params, create_model, forward_flops, list_models, load_model, network_input,
                               save_model)
from colorbench.objectives import create_objective, list_objectives


def objective(loss: str):
    """An objective ready to build a model: classification needs its bins, fitted on some ab values."""
    obj = create_objective(loss)
    obj.fit(torch.rand(4, 2, 16, 16, generator=torch.Generator().manual_seed(0)) * 1.6 - 0.8)
    return obj


def conv_params(*pairs):
    """Hand count: a 3x3 conv from cin to cout has 9*cin*cout weights and cout biases."""
    return sum(9 * i * o + o for i, o in pairs)


def test_registry_lists_the_models_and_losses():
    assert {"cnn", "unet", "unet_noskip", "hybrid"} <= set(list_models())
    assert {"mse", "l1", "ssim", "classification"} <= set(list_objectives())
    with pytest.raises(ValueError, match="unknown loss 'nope'.*classification"):
        create_objective("nope")
    with pytest.raises(ValueError, match="unknown model 'nope'.*cnn"):
        create_model("nope")


def test_param_counts_match_hand_counts():
    assert count_params(create_model("cnn")) == conv_params((1, 64), (64, 128), (128, 128), (128, 64), (64, 2)) == 297_026
    # decoder convs of the U-Net see upsampled features concatenated with the encoder's
    assert count_params(create_model("unet")) == conv_params((1, 64), (64, 128), (128, 256), (256 + 128, 128),
                                                             (128 + 64, 64), (64, 2))
    assert count_params(create_model("unet_noskip")) == conv_params((1, 64), (64, 128), (128, 256), (256, 128),
                                                                    (128, 64), (64, 2))


def test_cnn_flops_match_hand_count():
    # 2 * 9 * cin * cout per output pixel, at the resolution each conv runs at (32, 16, 8, 16, 32)
    want = 2 * 9 * (1 * 64 * 32**2 + 64 * 128 * 16**2 + 128 * 128 * 8**2 + 128 * 64 * 16**2 + 64 * 2 * 32**2)
    assert forward_flops(create_model("cnn"), 32) == want


def test_hybrid_is_a_unet_at_the_cnns_cost():
    cnn, hybrid = create_model("cnn"), create_model("hybrid")
    assert forward_flops(hybrid, 32) <= 0.15e9 and forward_flops(hybrid, 32) < 1.3 * forward_flops(cnn, 32)
    assert hybrid.net.skips and any(isinstance(m, torch.nn.BatchNorm2d) for m in hybrid.modules())


@pytest.mark.parametrize("loss", list_objectives())
@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("hw", [(32, 32), (37, 50), (4, 8), (1, 1)])
def test_any_size_maps_L_to_ab_in_range(name, loss, hw):
    torch.manual_seed(0)
    m = create_model(name, objective(loss)).eval()
    L = torch.rand(2, 1, *hw)
    ab = m(L)
    assert ab.shape == (2, 2, *hw)
    assert ab.abs().max() <= 1
    with pytest.raises(ValueError, match="got"):
        m(torch.rand(2, 3, 8, 8))


@pytest.mark.parametrize("loss", list_objectives())
@pytest.mark.parametrize("name", list_models())
def test_every_objective_trains_every_parameter(name, loss):
    """One step of each objective's loss reaches every parameter, and it falls with a few Adam steps."""
    torch.manual_seed(0)
    obj = objective(loss)
    m = create_model(name, obj, width=8)
    L = torch.rand(4, 1, 16, 16)
    ab = torch.rand(4, 2, 16, 16) * 0.6 - 0.3
    first = obj.loss(m.raw(L), ab, L)
    first.backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters())
    opt = torch.optim.Adam(m.parameters(), lr=1e-2)
    for _ in range(15):
        opt.zero_grad()
        loss_ = obj.loss(m.raw(L), ab, L)
        loss_.backward()
        opt.step()
    assert loss_.item() < first.item()


def test_skip_connections_carry_encoder_features():
    """Cut the bottleneck (zero its conv): without skips the output loses all spatial detail (constant
    image); with skips the encoder's features still reach the decoder."""
    x = torch.rand(1, 1, 16, 16)
    spread = {}
    for name in ("unet", "unet_noskip"):
        torch.manual_seed(0)
        m = create_model(name).eval()
        m.net.enc[-1][0].weight.data.zero_()
        m.net.enc[-1][0].bias.data.zero_()
        spread[name] = m(x).std().item()
    assert spread["unet_noskip"] < 1e-6 < spread["unet"]


@pytest.mark.parametrize("loss", list_objectives())
@pytest.mark.parametrize("name", list_models())
def test_weights_round_trip(tmp_path, name, loss):
    obj = objective(loss)
    m = create_model(name, obj, width=8)
    save_model(m, tmp_path / "w.safetensors", {"note": "hi"})
    m2, info = load_model(tmp_path / "w.safetensors")
    assert info["model"] == {"name": name, "kwargs": {"width": 8}, "objective": obj.spec()} and info["note"] == "hi"
    x = torch.rand(1, 1, 12, 12)
    torch.testing.assert_close(m.eval()(x), m2(x), rtol=0, atol=0)
    (tmp_path / "bad.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a colorbench weights file"):
        load_model(tmp_path / "bad.safetensors")


@pytest.mark.parametrize("name", list_models())
def test_what_the_network_sees_is_a_choice_that_travels_with_the_weights(tmp_path, name):
    """in_channels=4: L and three more channels (network_input: zeros until an input fills them);
    the spec records it (L alone keeps the spec it always had), the loader and FLOP count honour it."""
    m = create_model(name, width=8, in_channels=4).eval()
    assert m.in_channels == 4 and m.spec["kwargs"] == {"width": 8, "in_channels": 4}
    lab = torch.rand(2, 3, 12, 12)
    x = network_input(lab, 4)
    assert x.shape == (2, 4, 12, 12) and torch.equal(x[:, :1], lab[:, :1]) and not x[:, 1:].any()
    assert torch.equal(network_input(lab, 1), lab[:, :1])
    assert m(x).shape == (2, 2, 12, 12)
    with pytest.raises(ValueError, match=r"shaped \(B, 4, H, W\), got \(2, 1, 12, 12\)"):
        m(torch.rand(2, 1, 12, 12))
    save_model(m, tmp_path / "w.safetensors")
    m2, info = load_model(tmp_path / "w.safetensors")
    assert m2.in_channels == 4 and info["model"]["kwargs"]["in_channels"] == 4
    torch.testing.assert_close(m(x), m2(x), rtol=0, atol=0)
    assert forward_flops(m, 16) > forward_flops(create_model(name, width=8).eval(), 16)
    with pytest.raises(ValueError, match="in_channels must be"):
        create_model(name, in_channels=0)


def test_classification_with_mse_and_psnr_terms_adds_them_to_the_cross_entropy():
    """mse_weight: the loss is the cross-entropy plus w x the MSE of the annealed mean, computed here
    by hand from the bins (softmax at T, weighted bin centres, upsampled like the decoder)."""
    import torch.nn.functional as F

    from helpers import fitted

    plain, blend = fitted("classification", head_stride=2), fitted("classification", head_stride=2, mse_weight=0.5)
    g = torch.Generator().manual_seed(1)
    raw = torch.randn(2, plain.n_bins, 4, 4, generator=g)
    ab, L = torch.rand(2, 2, 8, 8, generator=g) - 0.5, torch.rand(2, 1, 8, 8, generator=g)
    p = torch.softmax(raw / 0.38, 1)
    pred = F.interpolate(torch.einsum("bqhw,qc->bchw", p, plain.bins), scale_factor=2, mode="bilinear")
    by_hand = plain.loss(raw, ab, L) + 0.5 * ((pred - ab) ** 2).mean()
    assert blend.loss(raw, ab, L).item() == pytest.approx(by_hand.item(), rel=1e-5)
    assert blend.spec()["kwargs"]["mse_weight"] == 0.5 and "mse_weight" not in plain.spec()["kwargs"]
    with pytest.raises(ValueError, match="mse_weight"):
        fitted("classification", mse_weight=-1)

    # psnr_weight: + w x the mean over images of -PSNR of the decoded ab/128 (peak 1), each image's MSE
    # floored at 2 LAB units rms; by hand, image by image, in float64
    tuned = fitted("classification", head_stride=2, mse_weight=0.5, psnr_weight=0.25)
    per_image = [((pred[i] - ab[i]) ** 2).double().mean().item() for i in range(2)]
    minus_psnr = sum(10 * math.log10(m + (2 / 128) ** 2) for m in per_image) / 2
    assert tuned.loss(raw, ab, L).item() == pytest.approx(by_hand.item() + 0.25 * minus_psnr, rel=1e-5)
    # the term weighs an image's error by 1 / its size: of two images, one 0.01 off everywhere and one
    # 0.3 off, the nearly right one gets the larger gradient (MSE alone gives it 30x less)
    only_psnr = fitted("classification", head_stride=2, psnr_weight=1.0)
    near = pred + torch.tensor([0.01, 0.3]).view(2, 1, 1, 1)
    raw_g = raw.clone().requires_grad_()
    (only_psnr.loss(raw_g, near, L) - plain.loss(raw_g, near, L)).backward()
    assert raw_g.grad[0].abs().sum() > 5 * raw_g.grad[1].abs().sum()
    assert tuned.spec()["kwargs"]["psnr_weight"] == 0.25 and "psnr_weight" not in blend.spec()["kwargs"]
    with pytest.raises(ValueError, match="psnr_weight"):
        fitted("classification", psnr_weight=-0.1)


def test_psnr_term_in_rgb_scores_the_picture_as_photos_are_scored():
    """psnr_space "rgb": the term is each image's PSNR of the sRGB picture (skimage's lab2rgb, clipped) that L
    and the decoded ab give, against the one L and the true ab give, MSE floored at 2 levels of 255 rms; an ab
    error at dark L costs less there than in ab, where L plays no part."""
    import numpy as np
    import torch.nn.functional as F
    from skimage.color import lab2rgb

    from colorbench.objectives import rgb_psnr
    from helpers import fitted

    plain = fitted("classification", head_stride=2)
    rgb = fitted("classification", head_stride=2, psnr_weight=0.5, psnr_space="rgb")
    g = torch.Generator().manual_seed(2)
    raw = torch.randn(2, plain.n_bins, 4, 4, generator=g)
    ab, L = (torch.rand(2, 2, 8, 8, generator=g) - 0.5) * 0.6, torch.rand(2, 1, 8, 8, generator=g)
    pred = F.interpolate(torch.einsum("bqhw,qc->bchw", torch.softmax(raw / 0.38, 1), plain.bins), scale_factor=2,
                         mode="bilinear")

    def picture(L_, ab_):  # (1, H, W) and (2, H, W) normalised -> sRGB (H, W, 3), by skimage
        lab = torch.cat([L_ * 100, ab_ * 128]).permute(1, 2, 0).double().numpy()
        return np.clip(lab2rgb(lab), 0, 1)

    mses = [((picture(L[i], pred[i]) - picture(L[i], ab[i])) ** 2).mean() for i in range(2)]
    minus_psnr = sum(10 * math.log10(m + (2 / 255) ** 2) for m in mses) / 2
    assert rgb.loss(raw, ab, L).item() == pytest.approx(plain.loss(raw, ab, L).item() + 0.5 * minus_psnr, rel=1e-4)
    assert rgb.spec()["kwargs"]["psnr_space"] == "rgb" and "psnr_space" not in plain.spec()["kwargs"]
    # the same ab error costs less at L 10 than at L 60 in sRGB; in ab the two cost the same
    off = ab + 0.1
    dark, mid = torch.full_like(L, 0.1), torch.full_like(L, 0.6)
    assert rgb_psnr(dark, off, ab).mean() > rgb_psnr(mid, off, ab).mean() + 3
    with pytest.raises(ValueError, match="psnr_space"):
        fitted("classification", psnr_space="lab")

def test_fp16_packaging_keeps_values_beyond_fp16_in_fp32(tmp_path):
    """A batch norm's running variance past 65,504 would become infinity in fp16 (and the weights be
    refused as broken): such a tensor stays fp32, the rest is halved."""
    from safetensors.torch import load_file

    m = create_model("photo_unet", width=4)
    bn = next(x for x in m.modules() if isinstance(x, torch.nn.BatchNorm2d))
    bn.running_var.fill_(75_000.0)
    save_model(m, tmp_path / "w.safetensors", half=True)
    raw = load_file(tmp_path / "w.safetensors")
    big = [k for k, v in raw.items() if v.dtype == torch.float32 and k.startswith("net.")]
    assert len(big) == 1 and big[0].endswith("running_var") and raw[big[0]].max() == 75_000.0
    loaded, _ = load_model(tmp_path / "w.safetensors")
    assert any(isinstance(x, torch.nn.BatchNorm2d) and x.running_var.max() == 75_000.0 for x in loaded.modules())


@pytest.mark.parametrize("name", ["cnn", "unet", "unet_noskip", "hybrid", "photo_unet"])
def test_weights_grown_wider_compute_what_the_narrow_network_did(name):
    """models.grow.widen: old channels keep their slots (each part of a concatenated input its own), new ones are
    read by no old channel, so the wider network's output is the narrow one's, whatever the weights and statistics."""
    from colorbench.models.grow import widen

    torch.manual_seed(0)
    kw = {"blocks": 2} if name == "photo_unet" else {}
    narrow = create_model(name, width=4, **kw)
    with torch.no_grad():  # no zero or unit values left for a misplaced channel to hide behind
        for p in narrow.parameters():
            p.add_(0.3 * torch.randn_like(p))
        for m in narrow.modules():
            if isinstance(m, torch.nn.BatchNorm2d):
                m.running_mean.normal_()
                m.running_var.uniform_(0.5, 2.0)
    wide = create_model(name, width=7, **kw)
    grown = widen(narrow.state_dict(), narrow, wide)
    wide.load_state_dict(grown)
    x = torch.rand(2, 1, 32, 48)
    with torch.no_grad():
        before, after = narrow.eval().raw(x), wide.eval().raw(x)
    torch.testing.assert_close(after, before, atol=1e-5 * before.abs().max().item(), rtol=0)
    old = narrow.state_dict()
    assert sum(grown[k].shape != old[k].shape for k in old) >= 4  # it did grow: every level is wider
    assert all(torch.equal(grown[k][: len(old[k])], old[k]) for k in old if old[k].dim() == 1)  # biases, statistics
    with pytest.raises(ValueError, match="does not fit"):
        widen(wide.state_dict(), wide, narrow)
