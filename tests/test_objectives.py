"""Objectives against hand-computed values: the colour bins, their prior, the soft-encoding table and
the rebalancing weights of Zhang et al.'s classification, and the hooks any objective gets."""

import math

import pytest
import torch

from colorbench.models import create_model
from colorbench.objectives import AB_SCALE, LabelTerm, create_objective


def _ab(pixels):
    """A (1, 2, 1, n) batch of normalised ab from LAB (a, b) pairs."""
    return (torch.tensor(pixels, dtype=torch.float32).T / AB_SCALE)[None, :, None, :]


def fitted(rebalance=0.5):
    """Three pixels at (0, 0), one at (10, -20): two grid cells seen, so two bins."""
    obj = create_objective("classification", rebalance=rebalance)
    obj.fit(_ab([(0, 0), (0, 0), (0, 0), (10, -20)]))
    return obj


def test_bins_are_the_grid_cells_seen_in_training():
    obj = fitted()
    assert obj.n_bins == 2
    torch.testing.assert_close(obj.bins * AB_SCALE, torch.tensor([[0.0, 0.0], [10.0, -20.0]]))


def test_prior_is_the_frequency_smoothed_by_a_gaussian_of_sigma_5():
    # hand count: the 5x5 kernel over offsets -20..20 in steps of 10 has weights e^(-r^2/50) per axis
    # (1, e^-2, e^-8), so each cell keeps 1/S^2 of its own count and passes e^-2 * e^-8 / S^2 to a
    # cell one step away in a and two in b (the offset between the two bins)
    S = 1 + 2 * math.exp(-2) + 2 * math.exp(-8)
    own, across = 1 / S**2, math.exp(-2) * math.exp(-8) / S**2
    s0, s1 = 0.75 * own + 0.25 * across, 0.25 * own + 0.75 * across
    obj = fitted()
    torch.testing.assert_close(obj.prior, torch.tensor([s0, s1]) / (s0 + s1))


def test_soft_encoding_weights_the_nearest_bins_by_a_gaussian_of_the_distance():
    obj = fitted()
    half = 128
    f = (0 + half) * 256 + (0 + half)  # table row of the pixel (a, b) = (0, 0)
    assert obj.lut_idx[f].tolist() == [0, 1]  # at most 5 neighbours; only 2 bins exist
    far = math.exp(-(10**2 + 20**2) / (2 * 5**2))  # the other bin is sqrt(500) away
    torch.testing.assert_close(obj.lut_w[f], torch.tensor([1 / (1 + far), far / (1 + far)]))


def test_rebalancing_weights_at_both_ends_of_lambda():
    # lambda 0: w ~ 1/p, scaled so E_p[w] = 1 -> w = 1 / (Q p); lambda 1: uniform, w = 1
    obj = fitted(rebalance=0.0)
    torch.testing.assert_close(obj.class_weight, 1 / (2 * obj.prior))
    torch.testing.assert_close(fitted(rebalance=1.0).class_weight, torch.ones(2))
    half = fitted(rebalance=0.5)
    w = 1 / (0.5 * half.prior + 0.5 / 2)
    torch.testing.assert_close(half.class_weight, w / (half.prior * w).sum())


def test_cross_entropy_of_flat_scores_is_log_q_times_the_pixels_weight():
    obj = fitted()
    ab = _ab([(0, 0)] * 4)
    raw = torch.zeros(1, 2, 1, 4)  # both bins equally likely: -log(1/2) whatever the soft target
    assert obj.loss(raw, ab, torch.zeros(1, 1, 1, 4)).item() == pytest.approx(math.log(2) * obj.class_weight[0].item())


def test_restore_takes_back_what_fit_learnt_from_saved_weights():
    from colorbench.models import create_model

    obj = fitted()
    state = create_model("cnn", obj, width=4).state_dict()
    again = create_objective("classification")
    again.restore(state)
    assert again.n_bins == 2 and torch.equal(again.bins, obj.bins) and torch.equal(again.lut_idx, obj.lut_idx)
    # (a, b) far from every bin have no weight at all (0/0): never a training pixel, whose own cell is a bin
    torch.testing.assert_close(again.lut_w, obj.lut_w, equal_nan=True)
    torch.testing.assert_close(again.class_weight, obj.class_weight)


def test_label_term_classifies_the_global_context_vector():
    """photo_unet's label term scores the vector its global context fuses back (Iizuka et al.'s design),
    computed here by hand from the network's parts."""
    model = create_model("photo_unet", width=4)
    term = LabelTerm(model, 3, 0.5)
    x, labels = torch.rand(2, 1, 32, 32), torch.tensor([0, 2])
    model.raw(x)  # a training step's forward pass
    loss, ce, hits = term.loss(labels)
    with torch.no_grad():  # the same batch (so the same batch-norm statistics), by hand
        logits = term.classifier(model.net.bottleneck.mlp(model.net.encode(x)[-1].mean((2, 3))))
    assert torch.allclose(loss, 0.5 * torch.nn.functional.cross_entropy(logits, labels)) and torch.allclose(loss, 0.5 * ce)
    assert hits == (logits.argmax(1) == labels).sum()
    with torch.no_grad():
        model.eval().raw(x)  # validation passes keep nothing
    with pytest.raises(ValueError, match="did not run in this step"):
        term.loss(labels)
    term.close()
    model.train().raw(x)  # nor does any pass once the term is closed
    assert term._seen is None
