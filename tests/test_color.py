import pytest
import torch
from skimage.color import lab2rgb, rgb2lab

from colorbench.color import (denormalize_lab, lab_to_rgb, lab_to_uint8, normalize_lab, rgb_to_lab,
                              uint8_to_lab)


def sk_rgb2lab(x: torch.Tensor) -> torch.Tensor:
    """skimage reference on (N, 3, H, W), in one vectorised call."""
    return torch.from_numpy(rgb2lab(x.double().numpy(), channel_axis=1))


@pytest.mark.parametrize("shape", [(3, 5, 7), (4, 3, 8, 8), (2, 2, 3, 4, 4)])
def test_rgb_to_lab_matches_skimage(shape):
    rgb = torch.rand(shape, dtype=torch.float64)
    want = torch.from_numpy(rgb2lab(rgb.numpy(), channel_axis=-3))
    torch.testing.assert_close(rgb_to_lab(rgb), want, atol=1e-6, rtol=0)


def test_known_values():
    # white, black and pure sRGB red (CIE values, e.g. from skimage and brucelindbloom.com)
    rgb = torch.tensor([[1.0, 1, 1], [0, 0, 0], [1, 0, 0]], dtype=torch.float64).T.reshape(1, 3, 3, 1)
    lab = rgb_to_lab(rgb)[0, :, :, 0].T
    torch.testing.assert_close(lab[0], torch.tensor([100.0, 0, 0], dtype=torch.float64), atol=0.02, rtol=0)
    torch.testing.assert_close(lab[1], torch.zeros(3, dtype=torch.float64), atol=1e-6, rtol=0)
    torch.testing.assert_close(lab[2], torch.tensor([53.24, 80.09, 67.20], dtype=torch.float64), atol=0.01, rtol=0)


def test_lab_to_rgb_matches_skimage_including_out_of_gamut():
    g = torch.Generator().manual_seed(0)
    # L in [0, 100], ab far beyond the sRGB gamut (|ab| up to 160): exercises both clips
    lab = torch.rand(2, 3, 16, 16, generator=g, dtype=torch.float64) * torch.tensor([100, 320, 320]).view(3, 1, 1)
    lab -= torch.tensor([0, 160, 160]).view(3, 1, 1)
    got = lab_to_rgb(lab)
    with pytest.warns(UserWarning):  # skimage warns about the negative Z it clips
        want = torch.from_numpy(lab2rgb(lab.numpy(), channel_axis=1))
    assert torch.isfinite(got).all()
    assert got.min() >= 0 and got.max() <= 1
    torch.testing.assert_close(got, want, atol=1e-6, rtol=0)


@pytest.mark.slow  # 10,000 photos through skimage; 10 s (the colour maths is also checked on samples)
def test_float32_on_10000_real_images_matches_skimage(cifar_jpeg):
    x = cifar_jpeg.test.images  # (10000, 3, 32, 32) uint8, real photos
    assert len(x) == 10_000
    want = sk_rgb2lab(x.double() / 255)
    ours = rgb_to_lab(x.float() / 255).double()  # float32, differentiable
    err = (ours - want).abs().amax(dim=(0, 2, 3))
    assert err[0] < 1e-3 and err[1:].max() < 1e-3, f"max |diff| (L, a, b) = {err.tolist()}"
    fast = uint8_to_lab(x).double() * torch.tensor([100.0, 128, 128], dtype=torch.float64).view(3, 1, 1)
    err = (fast - want).abs().amax(dim=(0, 2, 3))  # the dataset path: lookup table, in place
    assert err[0] < 1e-3 and err[1:].max() < 1e-3, f"max |diff| (L, a, b) = {err.tolist()}"
    # round trip RGB -> LAB -> RGB within 1/255 everywhere
    back = lab_to_uint8(*normalize_lab(rgb_to_lab(x.float() / 255)))
    assert (back.int() - x.int()).abs().max() <= 1


def test_normalisation_is_the_studys():
    lab = torch.tensor([50.0, -64.0, 128.0]).view(1, 3, 1, 1)
    L, ab = normalize_lab(lab)
    assert L.item() == 0.5 and ab.flatten().tolist() == [-0.5, 1.0]
    torch.testing.assert_close(denormalize_lab(L, ab), lab)
    x = torch.randint(0, 256, (2, 3, 4, 4), dtype=torch.uint8)
    n = uint8_to_lab(x)
    assert n.shape == (2, 3, 4, 4) and n[:, :1].min() >= 0 and n[:, :1].max() <= 1
    assert n[:, 1:].abs().max() <= 1


def test_gradients_are_finite_and_correct():
    rgb = torch.rand(1, 3, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(rgb_to_lab, (rgb,))
    lab = torch.tensor([[[[60.0]], [[20.0]], [[-30.0]]]], dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(lab_to_rgb, (lab,))
    # at exact black and out of gamut the gradient stays finite
    z = torch.zeros(1, 3, 2, 2, requires_grad=True)
    rgb_to_lab(z).sum().backward()
    assert torch.isfinite(z.grad).all()
    far = torch.tensor([50.0, 200.0, -200.0]).view(1, 3, 1, 1).requires_grad_()
    lab_to_rgb(far).sum().backward()
    assert torch.isfinite(far.grad).all()


@pytest.mark.parametrize("bad", [torch.rand(4, 4), torch.rand(1, 4, 2, 2), torch.zeros(1, 3, 2, 2, dtype=torch.uint8)])
def test_bad_input_raises_with_the_shape(bad):
    with pytest.raises(ValueError, match="got"):
        rgb_to_lab(bad)
