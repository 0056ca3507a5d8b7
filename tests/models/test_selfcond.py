"""Self-conditioned GAN (models/selfcond.py): G draws its cluster from the stored prior through its own latent,
is unconditional to every reader (c_dim 0), hands D the clusters it drew, and its preset trains, resumes exactly and
samples from a checkpoint."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
import torch

from ganforge.cli import main
from ganforge.config import resolve_config
from ganforge.data.base import DataSpec
from ganforge.models.base import conditioning_dim
from ganforge.models.mlp import MLPConfig
from ganforge.models.selfcond import SelfConditioned
from ganforge.training.run import Run
from ganforge.training.rundir import load_run
from helpers import assert_same_models, train_straight_and_resumed

PRIOR = (0.5, 0.3, 0.2)
SPEC = DataSpec((1, 28, 28), num_classes=3, class_prior=PRIOR)
SMALL = {"z_dim": 6, "g_hidden": [8], "d_hidden": [8], "conditioning": "projection", "self_conditioning": True,
         "embedding": "learned", "embed_dim": 4}
# the preset shrunk: 300 digits in 3 k-means clusters, 8-unit MLPs, d_steps 2
TINY = ["data.options.limit=300", "data.options.clusters=3", "data.options.cluster_dim=5",
        "model.options.z_dim=6", "model.options.g_hidden=[8]", "model.options.d_hidden=[8]",
        "model.options.embed_dim=4",
        "train.batch_size=16", "train.d_steps=2", "train.checkpoint_every=2", "log.every=2", "log.sample_every=0",
        "log.eval_every=0", "log.eval_samples=200", "log.tensorboard=False", "log.progress=False"]


def build() -> tuple[SelfConditioned, torch.nn.Module]:
    G, D = MLPConfig(**SMALL).build(SPEC).values()
    return G, D


def test_unconditional_outside_conditional_inside() -> None:
    G, D = build()
    assert isinstance(G, SelfConditioned)
    assert conditioning_dim(G) == 0
    assert conditioning_dim(D) == 3
    assert G.z_dim == 7  # z_dim + the cluster coordinate u
    z = G.sample_z(5, torch.Generator().manual_seed(0))
    k = G.latent_labels(z)
    G.eval()
    assert torch.equal(G(z), G.G(z[:, :-1], k))  # same path, same numbers: G([z, u]) = G_c(z, k(u))
    assert G(z).shape == (5, 1, 28, 28)


def test_clusters_follow_the_stored_prior() -> None:
    G, _ = build()
    cdf = torch.tensor([0.5, 0.8, 1.0], dtype=torch.float64)
    assert torch.allclose(G.cdf, cdf, rtol=0, atol=1e-15)  # cumsum of 3 doubles: a few ulps at most
    # k(u) is the inverse CDF at Φ(u): u just below / above Φ⁻¹(0.5) = 0 and Φ⁻¹(0.8) = 0.8416
    u = torch.tensor([-1e-6, 1e-6, 0.8416 - 1e-3, 0.8416 + 1e-3, 9.0, -9.0])
    z = torch.zeros(6, 7)
    z[:, -1] = u
    assert G.latent_labels(z).tolist() == [0, 1, 1, 2, 2, 0]
    n = 20_000
    k = G.latent_labels(G.sample_z(n, torch.Generator().manual_seed(1)))
    shares = torch.bincount(k, minlength=3).double() / n
    for share, p in zip(shares.tolist(), PRIOR, strict=True):
        assert abs(share - p) < 5 * math.sqrt(p * (1 - p) / n)  # 5 binomial standard deviations


def test_rebuilt_without_a_prior_starts_uniform_and_needs_conditioning() -> None:
    G, _ = MLPConfig(**SMALL).build(DataSpec((1, 28, 28), num_classes=4)).values()
    assert torch.allclose(G.cdf, torch.tensor([0.25, 0.5, 0.75, 1.0], dtype=torch.float64), rtol=0, atol=1e-15)
    with pytest.raises(ValueError, match="self_conditioning needs conditioning"):
        MLPConfig(**{**SMALL, "conditioning": "none"})


def test_d_judges_each_fake_with_the_cluster_g_drew(tmp_path: Path) -> None:
    """In the G phase, the labels D gets with G(z) are G.latent_labels(z); real batches bring their cluster ids."""
    cfg = resolve_config("selfcond-mnist", [*TINY, "train.steps=1"])
    run = Run(cfg, tmp_path / "run")
    G, D = run.components.G, run.components.nets["D"]
    seen: dict[str, list] = {"z": [], "c": []}
    G.register_forward_pre_hook(lambda m, args: seen["z"].append(args[0].detach().clone()))
    D.register_forward_pre_hook(lambda m, args: seen["c"].append(args[1].clone()))
    run.trainer.train_step()
    assert len(seen["z"]) == 3  # two D steps and one G step
    assert torch.equal(seen["c"][-1], G.latent_labels(seen["z"][-1]))  # G phase: D(G(z), k(z))
    assert torch.equal(G.cdf, torch.cumsum(torch.tensor(run.components.spec.class_prior, dtype=torch.float64), 0))


def test_preset_resumes_exactly_and_samples_as_unconditional(tmp_path: Path) -> None:
    a, b = train_straight_and_resumed("selfcond-mnist", [a for s in TINY for a in ("--set", s)], 4, 2, tmp_path)
    assert_same_models(a, b)
    run = tmp_path / "straight"
    _, sampler, _, _ = load_run(run, device="cpu")
    assert conditioning_dim(sampler) == 0
    # the trained prior came back from the checkpoint (not the uniform placeholder of a rebuilt G)
    assert torch.equal(sampler.nets["G"].cdf, a["models"]["G_ema"]["cdf"])
    assert main(["sample", str(run), "--n", "6", "--format", "npz", "--out", str(tmp_path / "s.npz")]) == 0
    with np.load(tmp_path / "s.npz") as data:
        assert set(data.files) == {"images"}
        assert data["images"].shape == (6, 1, 28, 28)
