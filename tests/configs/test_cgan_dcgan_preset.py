"""``cgan-dcgan-mnist``: issue 24's comparator for SAGAN / BigGAN — ``dcgan-mnist`` with the label (one-hot into G
with z, projection D), and nothing else changed."""

from __future__ import annotations

import torch

from ganforge.builder import build_models, build_objective
from ganforge.config import preset_names, resolve_config
from ganforge.data.base import DataSpec

MNIST = DataSpec((1, 28, 28), num_classes=10)


def test_it_is_dcgan_mnist_plus_the_label_only() -> None:
    assert "cgan-dcgan-mnist" in preset_names()
    cond, plain = resolve_config("cgan-dcgan-mnist"), resolve_config("dcgan-mnist")
    assert cond.model.options.pop("conditioning") == "projection"
    assert "conditioning" not in plain.model.options
    for part in ("model", "objective", "optim", "train", "data"):
        assert getattr(cond, part) == getattr(plain, part), part


def test_the_label_reaches_g_and_d() -> None:
    """G's dense layer takes [z 100, onehot(c) 10]; D's logit moves with the label (projection ⟨V_c, φ(x)⟩)."""
    torch.manual_seed(0)
    cfg = resolve_config("cgan-dcgan-mnist")
    nets = build_models(cfg, MNIST, build_objective(cfg))
    G, D = nets["G"].eval(), nets["D"].eval()
    assert G.c_dim == 10
    z = torch.randn(1, 100).repeat(2, 1)
    a, b = G(z, torch.tensor([0, 1]))
    assert (a - b).abs().max() > 0  # same z, different label: different images
    x = a[None].repeat(2, 1, 1, 1)
    logits = D(x, torch.tensor([0, 1]))  # [2, 1]
    assert logits.shape == (2, 1)
    assert logits[0] != logits[1]
