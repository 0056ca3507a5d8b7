"""LAPGAN (models/lapgan.py, losses/lapgan.py, data/pyramid.py): the pyramid, the chained sampler, the per-stage
losses against their equations, training from the CLI with exact resume and the per-stage grids."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from ganforge.cli import main
from ganforge.data.base import DataSpec
from ganforge.losses.lapgan import LAPGANObjective, real_stages
from ganforge.losses.objectives import Batch
from ganforge.models.lapgan import LAPGANConfig, down, laplacian_pyramid, reconstruct, up
from helpers import assert_same_models, one_line_error, train_straight_and_resumed

SPEC = DataSpec((1, 16, 16))
TINY = dict(levels=3, z_dim=3, g_hidden=(8,), d_hidden=(8,), g_channels=4, g_layers=2, d_channels=4, kernel=3,
            d_dropout=0.0)


def test_pyramid_reconstructs_the_image_exactly() -> None:
    x = torch.rand(2, 3, 16, 16, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    coeffs = laplacian_pyramid(x, 3)
    assert [tuple(c.shape[-2:]) for c in coeffs] == [(4, 4), (8, 8), (16, 16)]
    torch.testing.assert_close(coeffs[0], down(down(x)), rtol=0, atol=0)  # h_K = I_K
    # (I − u(d I)) + u(d I): one float64 rounding per level, so a few ulps of 1.0 at most
    torch.testing.assert_close(reconstruct(coeffs), x, rtol=0, atol=8 * torch.finfo(torch.float64).eps)
    # the objective's real (l_s, h_s) are the same pyramid: l_s + h_s = I_s
    stages = real_stages(x, 3)
    assert stages[0][0] is None
    assert torch.equal(stages[0][1], coeffs[0])
    for s in (1, 2):
        torch.testing.assert_close(stages[s][1], coeffs[s], rtol=0, atol=0)
    torch.testing.assert_close(stages[2][0] + stages[2][1], x, rtol=0, atol=8 * torch.finfo(torch.float64).eps)


def test_sampler_chains_the_stages() -> None:
    torch.manual_seed(0)
    G, D = LAPGANConfig(**TINY).build(SPEC).values()
    assert G.sizes == [4, 8, 16]
    assert G.z_dim == 3 + 8 * 8 + 16 * 16
    z = G.sample_z(5, torch.Generator().manual_seed(1))
    G.eval()
    stages = G.stages(z)
    assert stages[0][2].shape == (5, 1, 4, 4)
    assert stages[0][2].abs().max() <= 1
    for s in (1, 2):
        low, h, image = stages[s]
        assert image.shape == (5, 1, 4 << s, 4 << s)
        torch.testing.assert_close(low, up(stages[s - 1][2]), rtol=0, atol=0)  # l_s = u(Ĩ_{s−1})
        torch.testing.assert_close(image, low + h, rtol=0, atol=0)  # Ĩ_s = l_s + h̃_s (eq. 5)
    torch.testing.assert_close(G(z), stages[2][2], rtol=0, atol=0)
    parts = G.split_z(z)
    assert [tuple(p.shape) for p in parts] == [(5, 3), (5, 1, 8, 8), (5, 1, 16, 16)]
    assert D(stages[2][2]).shape == (5, 1)
    assert D.level(0, stages[0][2]).shape == (5, 1)


def test_losses_are_the_per_stage_logistic_gan() -> None:
    torch.manual_seed(0)
    G, D = LAPGANConfig(**TINY).build(SPEC).values()
    G.eval()
    x = torch.rand(4, 1, 16, 16) * 2 - 1
    z = G.sample_z(4, torch.Generator().manual_seed(2))
    batch = Batch(real=x, z=z)
    obj = LAPGANObjective()
    reals = real_stages(x, 3)
    zs = G.split_z(z)
    fakes = [G.coarse(zs[0])] + [G.residual(s, zs[s], reals[s][0]) for s in (1, 2)]  # conditioned on REAL l_s
    d_expect = sum(F.softplus(-D.level(s, reals[s][1], reals[s][0])).mean()
                   + F.softplus(D.level(s, fakes[s], reals[s][0])).mean() for s in range(3))
    g_expect = sum(F.softplus(-D.level(s, fakes[s], reals[s][0])).mean() for s in range(3))
    d = obj.d_loss(G, D, batch)
    torch.testing.assert_close(d.total, d_expect)
    assert {"loss/d0", "loss/d1", "loss/d2"} <= set(d.logs)
    d.total.backward()
    assert all(p.grad is None for p in G.parameters())
    D.zero_grad()
    g = obj.g_loss(G, D, batch)
    torch.testing.assert_close(g.total, g_expect)
    g.total.backward()
    assert all(p.grad is not None for p in G.parameters())  # every stage learns in the one G phase
    phases = obj.phases({"G": G, "D": D}, d_steps=2)
    assert [(p.name, p.groups, p.repeats, p.needs_real) for p in phases] == [("D", ("d",), 2, True),
                                                                          ("G", ("g",), 1, True)]


SETS = ["model.options={'levels': 3, 'z_dim': 3, 'g_hidden': [8], 'd_hidden': [8], 'g_channels': 4, 'g_layers': 2, "
        "'d_channels': 4, 'kernel': 3}", "data.options={'dataset': 'mnist32', 'dataset_options': {'limit': 64}}",
        "train.batch_size=8", "train.ema=0.9", "train.ema_start=0", "log.eval_samples=40", "log.tensorboard=False",
        "train.checkpoint_every=2", "log.sample_every=2"]


def test_trains_resumes_exactly_and_draws_each_stage(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sets = [a for s in SETS for a in ("--set", s)]
    straight = tmp_path / "straight"
    a, b = train_straight_and_resumed("lapgan-mnist", sets, 4, 2, tmp_path)
    assert sorted(a["models"]) == ["D", "G", "G_ema"]
    assert a["spec"]["kind"] == "pyramid"
    assert_same_models(a, b)
    assert (straight / "samples" / "pyramid-final.png").is_file()
    assert (straight / "samples" / "pyramid-step-0000002.png").is_file()
    final = (straight / "eval" / "final.json").read_text()
    assert '"confident_percent"' in final
    assert '"fid"' in final
    assert main(["sample", str(straight), "--n", "3", "--format", "npz", "--out", str(tmp_path / "s.npz")]) == 0
    capsys.readouterr()


def test_bad_options_are_one_line_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    sets = [a for s in SETS for a in ("--set", s)]
    rc = main(["train", "lapgan-mnist", *sets, "--set", "model.options.levels=6", "--dry-run"])
    one_line_error(capsys, rc, "do not halve 5 times", "model.options.levels")
    rc = main(["train", "lapgan-mnist", "--set", "model.options.kernel=4", "--dry-run"])
    one_line_error(capsys, rc, "kernel must be odd")
    rc = main(["train", "lapgan-mnist", "--set", "data.options.dataset=nope", "--dry-run"])
    one_line_error(capsys, rc, "unknown dataset 'nope'")


def test_conv_coarse_stage_is_a_small_dcgan_at_the_base_size() -> None:
    torch.manual_seed(0)
    G, D = LAPGANConfig(**TINY, coarse="conv", coarse_channels=4).build(DataSpec((1, 32, 32))).values()
    assert G.sizes == [8, 16, 32]
    # G_0: Linear(3 → 2·4·4·4) → [N, 8, 4, 4] → ConvT → [N, 4, 8, 8] → Conv3x3 → [N, 1, 8, 8]
    assert [type(m).__name__ for m in G.coarse.modules() if isinstance(m, (torch.nn.Linear, torch.nn.Conv2d,
            torch.nn.ConvTranspose2d))] == ["Linear", "ConvTranspose2d", "Conv2d"]
    z = G.sample_z(4, torch.Generator().manual_seed(1))
    G.eval()
    stages = G.stages(z)
    assert stages[0][2].shape == (4, 1, 8, 8)
    assert stages[0][2].abs().max() <= 1  # tanh
    assert G(z).shape == (4, 1, 32, 32)
    assert D.level(0, stages[0][2]).shape == (4, 1)
    # D_0: Conv s2 [N, 4, 4, 4] → Conv s2 [N, 8, 2, 2] → Linear(32 → 1)
    assert D.coarse.body[-1].in_features == 2 * 4 * 2 * 2
    # the mlp default is unchanged: the coarse G is an MLP
    G_mlp = LAPGANConfig(**TINY).build(SPEC)["G"]
    assert not any(isinstance(m, torch.nn.Conv2d) for m in G_mlp.coarse.modules())


def test_conv_coarse_trains_and_resumes_exactly(tmp_path: Path) -> None:
    sets = [a for s in SETS for a in ("--set", s)] + ["--set", "model.options.coarse=conv",
                                                      "--set", "model.options.coarse_channels=4"]
    a, b = train_straight_and_resumed("lapgan-mnist", sets, 4, 2, tmp_path)
    assert_same_models(a, b)


def test_conv_coarse_bad_options_are_one_line_errors(capsys: pytest.CaptureFixture[str]) -> None:
    rc = main(["train", "lapgan-mnist", "--set", "model.options.coarse=big", "--dry-run"])
    one_line_error(capsys, rc, "unknown coarse 'big'")
    rc = main(["train", "lapgan-mnist", "--set", "model.options.coarse=conv", "--set", "model.options.levels=5",
               "--dry-run"])
    one_line_error(capsys, rc, "multiple of 4", "model.options.coarse=mlp")
