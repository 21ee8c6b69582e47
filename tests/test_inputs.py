"""inputs.py: what a network sees; colour hints (simulated in training, placed by users), and weights of
L alone widened to take them."""

import pytest
import torch

from colorbench.inputs import (HINT_CHANNELS, NO_HINT_SHARE, _patch_hints, hint_map, network_input,
                               simulate_hints, widen_inputs)


def _patch_hints_by_loop(ab, y, x, size, used):
    """The reference, one point at a time: mean ab of each patch, averaged where patches overlap."""
    B, _, H, W = ab.shape
    total, count = torch.zeros(B, 2, H, W, dtype=torch.float64), torch.zeros(B, 1, H, W, dtype=torch.float64)
    for b in range(B):
        for k in range(y.shape[1]):
            if not used[b, k]:
                continue
            r, c, s = int(y[b, k]), int(x[b, k]), int(size[b, k])
            mean = ab[b, :, r:r + s, c:c + s].double().mean((1, 2))
            total[b, :, r:r + s, c:c + s] += mean[:, None, None]
            count[b, :, r:r + s, c:c + s] += 1
    return torch.cat([total / count.clamp(min=1), (count > 0).double()], 1)


def test_patch_hints_match_a_loop_over_points():
    g = torch.Generator().manual_seed(3)
    ab = torch.rand(3, 2, 12, 15, generator=g) * 2 - 1
    size = torch.randint(1, 6, (3, 7), generator=g)
    y = (torch.rand(3, 7, generator=g) * (12 - size + 1)).long()
    x = (torch.rand(3, 7, generator=g) * (15 - size + 1)).long()
    used = torch.rand(3, 7, generator=g) < 0.7
    used[2] = False  # an image without hints: all zeros
    got = _patch_hints(ab, y, x, size, used)
    torch.testing.assert_close(got.double(), _patch_hints_by_loop(ab, y, x, size, used), atol=1e-6, rtol=0)
    assert got[2].abs().sum() == 0


def test_simulated_hints_are_seeded_patch_means_with_a_share_of_none():
    lab = torch.zeros(1000, 3, 16, 16)
    lab[:, 1], lab[:, 2] = 0.25, -0.5  # one colour everywhere: every patch's mean is it
    h = simulate_hints(lab, torch.Generator().manual_seed(0))
    assert h.shape == (1000, 3, 16, 16)
    torch.testing.assert_close(h, simulate_hints(lab, torch.Generator().manual_seed(0)))  # same seed, same hints
    assert not torch.equal(h, simulate_hints(lab, torch.Generator().manual_seed(1)))
    mask = h[:, 2] > 0
    assert set(h[:, 2].unique().tolist()) <= {0.0, 1.0}
    assert (h[:, 0][mask] == 0.25).all() and (h[:, 1][mask] == -0.5).all()
    assert (h[:, :2][~mask[:, None].expand(-1, 2, -1, -1)] == 0).all()  # 0 where there is no hint
    none = (~mask.flatten(1).any(1)).float().mean().item()
    assert abs(none - NO_HINT_SHARE) < 0.05  # P(geometric >= 1 covers nothing) is 0: only the drawn share
    covered = mask.flatten(1).float().sum(1)
    assert covered.max() > 100  # many large patches on some images, a single pixel on others
    assert (covered[covered > 0].min()) == 1


def test_network_input_with_and_without_hints():
    lab = torch.rand(2, 3, 8, 8)
    assert torch.equal(network_input(lab, 1), lab[:, :1])
    zeros = network_input(lab, HINT_CHANNELS)
    assert torch.equal(zeros[:, :1], lab[:, :1]) and zeros[:, 1:].abs().sum() == 0
    hinted = network_input(lab, HINT_CHANNELS, torch.Generator().manual_seed(0))
    assert torch.equal(hinted[:, :1], lab[:, :1]) and hinted.shape == (2, 4, 8, 8)
    with pytest.raises(ValueError, match="network that sees L alone"):
        network_input(lab[:, :1], 1, hints=torch.zeros(2, 3, 8, 8))


def test_hint_map_puts_each_point_in_its_pixel():
    pts = torch.tensor([[0.0, 0.0], [0.99, 0.5], [0.5, 0.2]])  # (x, y) fractions of width and height
    ab = torch.tensor([[0.1, 0.2], [0.3, -0.4], [-0.5, 0.6]])
    m = hint_map(pts, ab, 10, 20, radius=0)
    assert m.shape == (1, 3, 10, 20) and m[0, 2].sum() == 3
    assert m[0, :, 0, 0].tolist() == pytest.approx([0.1, 0.2, 1])
    assert m[0, :, 5, 19].tolist() == pytest.approx([0.3, -0.4, 1])
    assert m[0, :, 2, 10].tolist() == pytest.approx([-0.5, 0.6, 1])
    assert hint_map(torch.zeros(0, 2), torch.zeros(0, 2), 4, 4).abs().sum() == 0


def test_a_hint_fills_a_square_cut_at_the_edge_and_overlaps_average():
    # a corner point: its 3x3 square keeps the 2x2 inside the image; two points one pixel apart share 2x3
    m = hint_map(torch.tensor([[0.0, 0.0], [0.5, 0.5], [0.6, 0.5]]),
                 torch.tensor([[0.1, 0.2], [0.4, 0.0], [0.0, -0.4]]), 10, 10, radius=1)
    mask = torch.zeros(10, 10)
    mask[:2, :2] = 1
    mask[4:7, 4:8] = 1
    assert torch.equal(m[0, 2], mask)
    assert m[0, :2, 0, 0].tolist() == pytest.approx([0.1, 0.2]) and m[0, :2, 1, 1].tolist() == pytest.approx([0.1, 0.2])
    assert m[0, :2, 5, 4].tolist() == pytest.approx([0.4, 0.0])  # the first point's alone
    assert m[0, :2, 5, 5].tolist() == pytest.approx([0.2, -0.2])  # both: the mean
    assert m[0, :2, 5, 7].tolist() == pytest.approx([0.0, -0.4])  # the second's alone
    assert m[0, :2][:, mask == 0].abs().sum() == 0


@pytest.mark.parametrize("name", ["photo_unet", "unet", "cnn"])
def test_widened_weights_without_hints_are_exactly_the_automatic_model(name):
    from colorbench.models import create_model
    from helpers import fitted

    torch.manual_seed(0)
    objective = fitted("classification", head_stride=4) if name == "photo_unet" else "mse"
    auto = create_model(name, objective, width=8).eval()
    guided = create_model(name, objective, HINT_CHANNELS, width=8).eval()
    wide = widen_inputs(auto.state_dict(), {k: v.shape for k, v in guided.state_dict().items()})
    changed = [k for k in wide if wide[k].shape != auto.state_dict()[k].shape]
    assert len(changed) == 1 and wide[changed[0]][:, 1:].abs().sum() == 0  # the first convolution only
    guided.load_state_dict(wide)
    L = torch.rand(2, 1, 20, 36)
    with torch.no_grad():
        assert torch.equal(guided(network_input(L, HINT_CHANNELS)), auto(L))
        hints = hint_map(torch.tensor([[0.5, 0.5]]), torch.tensor([[0.4, -0.3]]), 20, 36).expand(2, -1, -1, -1)
        assert torch.equal(guided(network_input(L, HINT_CHANNELS, hints=hints)), auto(L))  # until trained


def test_training_with_hints_goes_on_from_weights_of_L_alone(tmp_path):
    """train --in-channels 4 --hints --init <weights of L alone>: widened, the run moves the hint weights."""
    from colorbench.config import TrainConfig, UsageError
    from colorbench.train import validate
    from colorbench.models import load_model
    from colorbench.train import train

    tiny = dict(model="unet", width=8, data="sample", train_limit=64, val_limit=32, epochs=1, batch_size=16,
                eval_batch_size=200)
    kw = dict(progress=False, log=lambda *_: None)
    train(TrainConfig(**tiny), tmp_path / "auto", **kw)
    train(TrainConfig(**tiny, in_channels=4, hints=True, init=str(tmp_path / "auto")), tmp_path / "guided", **kw)
    auto, _ = load_model(tmp_path / "auto")
    guided, info = load_model(tmp_path / "guided")
    first = next(k for k, v in guided.state_dict().items() if v.dim() == 4)
    assert info["config"]["hints"] and guided.state_dict()[first][:, 1:].abs().sum() > 0
    with pytest.raises(UsageError, match="--hints needs --in-channels 4"):
        validate(TrainConfig(hints=True))
