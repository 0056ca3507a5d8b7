"""The WGAN / WGAN-GP / conditional presets: each builds, carries the papers' hyper-parameters, and trains.

Papers: Arjovsky et al. 2017 (WGAN: RMSProp 5e-5, clip 0.01, n_critic 5), Gulrajani et al. 2017 (WGAN-GP: λ 10,
Adam 1e-4 β=(0, 0.9), n_critic 5), Mirza & Osindero 2014 (cGAN by concatenation), Miyato & Koyama 2018 (projection
D, hinge, spectral norm, Adam 2e-4 β=(0, 0.9), n_dis 5), Odena et al. 2017 (AC-GAN, Adam 2e-4 β=(0.5, 0.999)).
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest
import torch

from ganforge.builder import build_models, build_objective
from ganforge.config import preset_names, resolve_config
from ganforge.data.base import DataSpec
from ganforge.losses.gan_objectives import ACGANObjective, HingeObjective, WGANGPObjective, WGANObjective
from ganforge.training.optim import build_optimizer
from ganforge.training.run import Run
from helpers import TINY, tiny_config

IMAGE_PRESETS = ["wgan-gp-mnist", "wgan-clip-mnist", "cgan-mnist", "cgan-proj-mnist", "acgan-mnist"]
TOY_PRESETS = ["wgan-gp-ring8", "wgan-gp-grid25"]
MNIST = DataSpec((1, 28, 28), num_classes=10)
TOY = DataSpec((2,))
BENCH = Path(__file__).resolve().parents[2] / "bench" / "conditional_accuracy.py"


def test_all_presets_are_listed() -> None:
    assert set(IMAGE_PRESETS + TOY_PRESETS) <= set(preset_names())


@pytest.mark.parametrize("name", IMAGE_PRESETS + TOY_PRESETS)
def test_preset_builds_and_discriminates(name: str) -> None:
    """Config, objective, G, D and both optimisers build; D's output has the shape the objective needs."""
    cfg = resolve_config(name)
    spec = MNIST if name in IMAGE_PRESETS else TOY
    assert cfg.data.name == ("mnist" if name in IMAGE_PRESETS else name.split("-")[-1])
    objective = build_objective(cfg)
    G, D = build_models(cfg, spec, objective).values()
    for opt, params in ((cfg.optim.g, G.parameters()), (cfg.optim.d, D.parameters())):
        build_optimizer(params, opt, torch.device("cpu"), "optim")
    n = 4
    c = torch.arange(n)
    x = G(G.sample_z(n), c) if G.c_dim else G(G.sample_z(n))
    assert x.shape == (n, *spec.shape)
    out = D(x, c) if D.c_dim else D(x)
    assert out.shape == ((n, 11) if isinstance(objective, ACGANObjective) else (n, 1))


@pytest.mark.parametrize(("name", "gp_weight", "beta1"), [("wgan-gp-mnist", 10.0, 0.0), ("wgan-gp-ring8", 0.1, 0.5),
                                                            ("wgan-gp-grid25", 1.0, 0.5)])
def test_wgan_gp_hyper_parameters(name: str, gp_weight: float, beta1: float) -> None:
    """Gulrajani et al. 2017, Algorithm 1: λ = 10, n_critic = 5, Adam(α = 1e-4, β1 = 0, β2 = 0.9); no BN in D.
    The toy presets follow the authors' gan_toy.py instead (β1 = 0.5; λ = 0.1 on the ring, 1 on the wider grid)."""
    cfg = resolve_config(name)
    objective = build_objective(cfg)
    assert isinstance(objective, WGANGPObjective)
    assert objective.gp_weight == gp_weight
    assert not objective.one_sided
    assert cfg.train.d_steps == 5
    for opt in (cfg.optim.g, cfg.optim.d):
        assert (opt.name, opt.lr, tuple(opt.betas)) == ("adam", 1e-4, (beta1, 0.9))
    D = build_models(cfg, MNIST if "mnist" in name else TOY, objective)["D"]
    assert not any(isinstance(m, (torch.nn.BatchNorm1d, torch.nn.BatchNorm2d)) for m in D.modules())


def test_wgan_clip_hyper_parameters() -> None:
    """Arjovsky et al. 2017, Algorithm 1: RMSProp α = 5e-5, c = 0.01, n_critic = 5, m = 64."""
    cfg = resolve_config("wgan-clip-mnist")
    objective = build_objective(cfg)
    assert isinstance(objective, WGANObjective)
    assert objective.clip == 0.01
    assert cfg.train.d_steps == 5
    assert cfg.train.batch_size == 64
    for opt in (cfg.optim.g, cfg.optim.d):
        assert (opt.name, opt.lr, opt.momentum) == ("rmsprop", 5e-5, 0.0)


def test_cgan_concat_preset() -> None:
    """Mirza & Osindero 2014: the label is concatenated to G's and D's inputs."""
    cfg = resolve_config("cgan-mnist")
    assert cfg.model.name == "mlp"
    assert cfg.model.options["conditioning"] == "concat"
    G, D = build_models(cfg, MNIST, build_objective(cfg)).values()
    assert G.c_dim == 10
    assert D.c_dim == 10
    assert D.body[0].in_features == 784 + 10


def test_projection_preset_hyper_parameters() -> None:
    """Miyato & Koyama 2018: projection D, hinge loss, spectral norm, Adam 2e-4 β = (0, 0.9), n_dis = 5."""
    cfg = resolve_config("cgan-proj-mnist")
    assert isinstance(build_objective(cfg), HingeObjective)
    assert cfg.model.options["conditioning"] == "projection"
    assert cfg.model.options["spectral_norm"] is True
    assert cfg.train.d_steps == 5
    for opt in (cfg.optim.g, cfg.optim.d):
        assert (opt.name, opt.lr, tuple(opt.betas)) == ("adam", 2e-4, (0.0, 0.9))


def test_acgan_preset_hyper_parameters() -> None:
    """Odena et al. 2017: auxiliary classifier with weight 1, Adam 2e-4 β1 = 0.5, batch 100."""
    cfg = resolve_config("acgan-mnist")
    objective = build_objective(cfg)
    assert isinstance(objective, ACGANObjective)
    assert objective.class_weight == 1.0
    assert cfg.train.batch_size == 100
    for opt in (cfg.optim.g, cfg.optim.d):
        assert (opt.name, opt.lr, tuple(opt.betas)) == ("adam", 2e-4, (0.5, 0.999))


def _fake_mnist(path: Path, n: int = 64) -> Path:
    """A tiny labelled 1×28×28 array file, so the image smoke test does not read the 70k MNIST digits."""
    rng = np.random.default_rng(0)
    np.savez(path, x=rng.integers(0, 256, (n, 1, 28, 28), dtype=np.uint8), y=np.arange(n) % 10)
    return path


@pytest.mark.parametrize("name", ["cgan-mnist", "acgan-mnist"])
def test_image_preset_smoke_train(tmp_path: Path, name: str) -> None:
    """The conditional image presets run end to end (tiny MLP, fake 28×28 digits); the bench judges the result."""
    data = _fake_mnist(tmp_path / "digits.npz")
    keep_model = [o for o in TINY if not o.startswith("model.options=")]  # TINY would drop `conditioning`
    cfg = resolve_config(name, [
        *keep_model, "model.options.z_dim=4", "model.options.g_hidden=[16]", "model.options.d_hidden=[16]",
        "data.name=npz", f"data.options={{'path': '{data}'}}", "train.steps=4", "train.batch_size=16",
    ])
    assert cfg.model.options["conditioning"] in ("concat", "acgan")  # the preset's options are kept
    summary = Run(cfg, tmp_path / "run").train()
    assert summary["status"] == "finished"
    assert summary["step"] == 4
    assert (tmp_path / "run" / "samples" / "final.png").is_file()

    spec = importlib.util.spec_from_file_location("conditional_accuracy", BENCH)
    bench = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(bench)
    result = bench.main([str(tmp_path / "run" / "config.yaml"), "--run", str(tmp_path / "run"), "--n", "3"])
    assert set(result["per_class_percent"]) == {str(k) for k in range(10)}
    assert 0.0 <= result["overall_percent"] <= 100.0


def test_toy_preset_smoke_train(tmp_path: Path) -> None:
    """wgan-gp-ring8 with its objective, optimisers and n_critic, on a 16-unit MLP: trains and reports mode metrics."""
    cfg = tiny_config(preset="wgan-gp-ring8")
    assert cfg.train.d_steps == 5
    summary = Run(cfg, tmp_path / "run").train()
    assert summary["status"] == "finished"
    assert set(summary["metrics"]) == {"modes", "modes_20", "hq_percent", "reverse_kl"}
    lines = (tmp_path / "run" / "metrics.jsonl").read_text()
    assert "reg/gp" in lines
    assert "wasserstein" in lines
