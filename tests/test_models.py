import pytest
import torch

from colorbench.models import count_params, create_model, forward_flops, list_models, load_model, save_model


def conv_params(*pairs):
    """Hand count: a 3x3 conv from cin to cout has 9*cin*cout weights and cout biases."""
    return sum(9 * i * o + o for i, o in pairs)


def test_registry_lists_the_three_models():
    assert {"cnn", "unet", "unet_noskip"} <= set(list_models())
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


@pytest.mark.parametrize("name", list_models())
@pytest.mark.parametrize("hw", [(32, 32), (37, 50), (4, 8), (1, 1)])
def test_any_size_maps_L_to_ab_in_range(name, hw):
    torch.manual_seed(0)
    m = create_model(name).eval()
    L = torch.rand(2, 1, *hw)
    ab = m(L)
    assert ab.shape == (2, 2, *hw)
    assert ab.abs().max() <= 1
    with pytest.raises(ValueError, match="got"):
        m(torch.rand(2, 3, 8, 8))


@pytest.mark.parametrize("name", list_models())
def test_gradients_reach_every_parameter(name):
    m = create_model(name)
    m(torch.rand(2, 1, 16, 16)).pow(2).mean().backward()
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.parameters())


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


@pytest.mark.parametrize("name", list_models())
def test_weights_round_trip(tmp_path, name):
    m = create_model(name, width=8)
    save_model(m, tmp_path / "w.safetensors", {"note": "hi"})
    m2, info = load_model(tmp_path / "w.safetensors")
    assert info["model"] == {"name": name, "kwargs": {"width": 8}} and info["note"] == "hi"
    x = torch.rand(1, 1, 12, 12)
    torch.testing.assert_close(m.eval()(x), m2(x), rtol=0, atol=0)
    (tmp_path / "bad.safetensors").write_bytes(b"garbage")
    with pytest.raises(ValueError, match="not a colorbench weights file"):
        load_model(tmp_path / "bad.safetensors")
