"""BiGAN / ALI as a family with three networks (G, E, D) and two optimiser groups, added without touching the
trainer: networks and shapes, the objective against its equations, the CLI end to end, and exact resume."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from ganforge.cli import main
from ganforge.data.base import DataSpec
from ganforge.losses.bigan import BiGANObjective
from ganforge.losses.objectives import Batch
from ganforge.models.base import count_parameters
from ganforge.models.bigan import BiGANConfig
from ganforge.options import ConfigError
from ganforge.training.run import Run
from helpers import assert_same_models, tiny_config, train_straight_and_resumed

SPEC = DataSpec((1, 28, 28), num_classes=10)
TINY = ["model.name=bigan", "model.options={'z_dim': 4, 'g_hidden': [16], 'e_hidden': [16], 'd_hidden': [16]}",
        "objective.name=bigan", "objective.options={}", "data.name=mnist", "data.options={'limit': 64}",
        "train.batch_size=8", "train.ema=0.9", "log.eval_samples=50"]


def test_networks_shapes_and_parameter_counts() -> None:
    nets = BiGANConfig(z_dim=5, g_hidden=(7,), e_hidden=(6,), d_hidden=(3,)).build(SPEC)
    assert list(nets) == ["G", "E", "D"]
    G, E, D = nets.values()
    z = G.sample_z(4, torch.Generator().manual_seed(0))
    assert z.shape == (4, 5)
    assert z.abs().max() <= 1  # U(−1, 1), as BiGAN
    x = G(z)
    assert x.shape == (4, 1, 28, 28)
    assert x.abs().max() <= 1  # tanh
    assert E(x).shape == (4, 5)
    assert D(x, z).shape == (4, 1)
    # hand counts: G 5→7 (+BN) →784; E 784→6 (+BN) →5; D (784+5)→3 →1
    assert count_parameters(G) == (5 * 7 + 7) + 2 * 7 + (7 * 784 + 784)
    assert count_parameters(E) == (784 * 6 + 6) + 2 * 6 + (6 * 5 + 5)
    assert count_parameters(D) == (789 * 3 + 3) + (3 + 1)


def test_bad_options_are_one_line_config_errors() -> None:
    with pytest.raises(ConfigError, match="e_hidden needs at least one layer"):
        Run(tiny_config(*TINY, "model.options.e_hidden=[]"), Path("/nonexistent/never-written"))


def test_objective_declares_networks_groups_ema_and_phases() -> None:
    obj = BiGANObjective()
    nets = BiGANConfig(z_dim=3, g_hidden=(4,), e_hidden=(4,), d_hidden=(4,)).build(SPEC)
    assert obj.networks() == ("G", "E", "D")
    assert obj.groups() == {"g": ("G", "E"), "d": ("D",)}
    assert obj.ema_networks() == ("G", "E")
    phases = obj.phases(nets, d_steps=2)
    assert [(p.name, p.groups, p.repeats, p.needs_real) for p in phases] == [
        ("D", ("d",), 2, True), ("EG", ("g",), 1, True)]


def test_losses_follow_the_paper() -> None:
    """L_D = softplus(−D(x, E(x))) + softplus(D(G(z), z)); L_EG swaps the labels; L_D leaves E and G untouched."""
    torch.manual_seed(0)
    G, E, D = BiGANConfig(z_dim=3, g_hidden=(4,), e_hidden=(4,), d_hidden=(4,), d_dropout=0.0).build(SPEC).values()
    x, z = torch.rand(6, 1, 28, 28) * 2 - 1, torch.rand(6, 3) * 2 - 1
    batch = Batch(real=x, z=z)
    for m in (G, E, D):
        m.eval()  # BN/dropout deterministic for the reference computation
    real, fake = D(x, E(x)), D(G(z), z)
    obj = BiGANObjective()
    d = obj.d_loss_pairs(G, E, D, batch)
    torch.testing.assert_close(d.total, F.softplus(-real).mean() + F.softplus(fake).mean())
    d.total.backward()
    assert all(p.grad is None for p in [*G.parameters(), *E.parameters()])
    assert all(p.grad is not None for p in D.parameters())
    eg = obj.eg_loss(G, E, D, batch)
    torch.testing.assert_close(eg.total, F.softplus(real).mean() + F.softplus(-fake).mean())


def test_trains_from_the_cli_and_resumes_exactly(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sets = [a for o in [*TINY, "log.sample_every=0", "log.tensorboard=False", "train.checkpoint_every=2"]
            for a in ("--set", o)]
    straight = tmp_path / "straight"
    a, b = train_straight_and_resumed("bigan-mnist", sets, 4, 2, tmp_path)
    assert sorted(a["models"]) == ["D", "E", "E_ema", "G", "G_ema"]
    assert_same_models(a, b)
    assert sorted(a["trainer"]["optimizers"]) == ["d", "g"]
    # the sample command uses G (its EMA copy) like any other family
    assert main(["sample", str(straight), "--n", "5", "--format", "npz", "--out", str(tmp_path / "s.npz")]) == 0
    assert (tmp_path / "s.npz").is_file()
    capsys.readouterr()
