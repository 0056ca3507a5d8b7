"""The vanilla MLP GAN on MNIST (configs/gan-mlp-mnist.yaml): its networks layer by layer with hand-computed parameter
counts, its recipe, and a few end-to-end training steps with the digit-quality evaluation."""

from __future__ import annotations

from pathlib import Path

import torch
from torch import nn

from ganforge.builder import build_components
from ganforge.config import preset_names, resolve_config
from ganforge.models.base import count_parameters
from ganforge.training.run import Run
from helpers import MNIST_STANDIN


def dense(n_in: int, n_out: int) -> int:
    return n_in * n_out + n_out


def test_networks_match_the_documented_mlps() -> None:
    assert "gan-mlp-mnist" in preset_names()
    c = build_components(resolve_config("gan-mlp-mnist"), data=MNIST_STANDIN)
    # G: 100 -> 256 -> 512 -> 784 with BN (γ, β) on the hidden layers; D: 784 -> 512 -> 256 -> 1
    assert count_parameters(c.G) == dense(100, 256) + 2 * 256 + dense(256, 512) + 2 * 512 + dense(512, 784) == 561_168
    assert count_parameters(c.D) == dense(784, 512) + dense(512, 256) + dense(256, 1) == 533_505
    assert [m.out_features for m in c.G.modules() if isinstance(m, nn.Linear)] == [256, 512, 784]
    assert [m.out_features for m in c.D.modules() if isinstance(m, nn.Linear)] == [512, 256, 1]
    assert sum(isinstance(m, nn.BatchNorm1d) for m in c.G.modules()) == 2
    assert not any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in c.D.modules())
    assert [m.p for m in c.D.modules() if isinstance(m, nn.Dropout)] == [0.3, 0.3]
    assert c.G.output_range == (-1.0, 1.0)
    assert c.G.c_dim == 0  # unconditional: the labels of MNIST are not used
    with torch.no_grad():
        assert c.G.eval()(torch.zeros(3, 100)).shape == (3, 1, 28, 28)


def test_recipe_is_non_saturating_adam_with_ema() -> None:
    cfg = resolve_config("gan-mlp-mnist")
    assert (cfg.objective.name, cfg.objective.options) == ("logistic", {"g_cost": "nonsaturating"})
    for opt in (cfg.optim.g, cfg.optim.d):
        assert (opt.name, opt.lr, tuple(opt.betas)) == ("adam", 2e-4, (0.5, 0.999))
    assert (cfg.train.batch_size, cfg.train.d_steps, cfg.train.ema, cfg.train.steps) == (100, 1, 0.999, 40_000)


def test_trains_end_to_end_on_a_few_digits(tmp_path: Path) -> None:
    cfg = resolve_config("gan-mlp-mnist", ["data.options={'limit': 64}", "train.steps=4", "train.batch_size=16",
                                           "log.every=2", "log.sample_every=0", "log.tensorboard=False",
                                           "log.progress=False", "log.eval_samples=200"])
    summary = Run(cfg, tmp_path / "r", progress=False).train()
    assert summary["status"] == "finished"
    assert summary["step"] == 4
    assert 0.0 <= summary["metrics"]["confident_percent"] <= 100.0
    assert 0.0 <= summary["metrics"]["class_entropy"] <= 1.0
