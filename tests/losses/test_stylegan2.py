"""The StyleGAN2 objective against its equations: the path-length penalty vs an explicit Jacobian, lazy R1 (scaled
by its interval, through the augmentation), the ADA p update, the EMA ramp-up, and exact resume of a run whose
checkpoint falls between lazy phases, with p and pl_mean in the objective state."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch
from torch import nn

from ganforge.data.base import DataSpec
from ganforge.losses.objectives import Batch
from ganforge.losses.stylegan2 import StyleGAN2Objective, ada_adjust, mode_seeking_penalty, path_lengths
from ganforge.models.augment import augment
from ganforge.models.stylegan2 import StyleGAN2Config
from ganforge.training.run import Run
from helpers import tiny_config

TINY = dict(z_dim=4, w_dim=4, mapping_layers=2, channel_base=32, channel_max=4)


def tiny_nets(res: int = 8) -> dict[str, nn.Module]:
    torch.manual_seed(0)
    return StyleGAN2Config(**TINY).build(DataSpec((1, res, res)))


def test_path_lengths_match_explicit_jacobian() -> None:
    G = tiny_nets()["G"].double()
    for layer in G.convs:
        layer.noise_strength.data.fill_(0.3)
    z = torch.randn(3, 4, dtype=torch.float64)
    ws = G.styles(z).detach().clone().requires_grad_(True)  # [N, L, w_dim]
    img = G.synthesis(ws, "const")
    y = torch.randn_like(img) / 8  # N(0, I) / sqrt(H·W)
    got = path_lengths(img, ws, y)
    J = torch.autograd.functional.jacobian(lambda w: G.synthesis(w, "const"), ws)  # [N, C, H, W, N, L, w_dim]
    for n in range(3):
        Jn = J[n, :, :, :, n].reshape(-1, ws.shape[1] * ws.shape[2])  # [C·H·W, L·w_dim]: sample n's own block
        Jty = (Jn.t() @ y[n].reshape(-1)).reshape(ws.shape[1], ws.shape[2])  # J_wᵀ y, one row per layer
        want = Jty.square().sum(1).mean().sqrt()
        torch.testing.assert_close(got[n], want, rtol=1e-9, atol=1e-12)


def test_g_reg_penalty_and_running_mean() -> None:
    nets = tiny_nets()
    obj = StyleGAN2Objective(pl_weight=2.0, pl_every=4, pl_decay=0.01, pl_batch_shrink=2, style_mixing=0.0)
    batch = Batch(real=None, z=torch.randn(8, 4), generator=torch.Generator().manual_seed(0))
    terms = obj.g_reg(nets["G"], nets["D"], batch)
    a = float(obj.pl_mean)
    assert a > 0
    assert float(terms.logs["reg/pl_mean"]) == a
    # loss = pl_weight · pl_every · mean((‖J^T y‖ − a)²), a = 0 + 0.01 · (mean length − 0)
    lengths_mean = a / 0.01
    assert float(terms.total.detach()) == pytest.approx(8 * float(terms.logs["reg/pl"]))
    # the penalty is the mean of (length − a)² ≥ (mean length − a)² (Jensen)
    assert float(terms.logs["reg/pl"]) >= (lengths_mean - a) ** 2 * (1 - 1e-6)
    obj.g_reg(nets["G"], nets["D"], Batch(real=None, z=torch.randn(8, 4), generator=torch.Generator()))
    assert float(obj.pl_mean) != a  # the running mean moved again


def test_lazy_r1_scaled_by_interval_through_augmentation() -> None:
    nets = tiny_nets()
    D = nets["D"]
    x = torch.rand(4, 1, 8, 8) * 2 - 1
    obj = StyleGAN2Objective(r1_gamma=0.5, r1_every=16, augment_p=0.8)
    terms = obj.d_reg(nets["G"], D, Batch(real=x, z=None, generator=torch.Generator().manual_seed(9)))
    xr = x.clone().requires_grad_(True)
    logits = D(augment(xr, torch.tensor(0.8), obj.ops, torch.Generator().manual_seed(9)))
    (grad,) = torch.autograd.grad(logits.sum(), xr)  # ∇_x D(A(x)): w.r.t. the un-augmented reals
    r1 = grad.square().sum(dim=(1, 2, 3)).mean()
    torch.testing.assert_close(terms.logs["reg/r1"], r1, rtol=1e-5, atol=1e-8)
    torch.testing.assert_close(terms.total, 0.5 * 0.5 * 16 * r1, rtol=1e-5, atol=1e-8)


def test_ada_p_update_rule() -> None:
    p = torch.tensor(0.3)
    assert float(ada_adjust(p, torch.tensor(0.8), 0.6, 64 * 4, 500)) == pytest.approx(0.3 + 256 / 500_000)
    assert float(ada_adjust(p, torch.tensor(0.2), 0.6, 64 * 4, 500)) == pytest.approx(0.3 - 256 / 500_000)
    assert float(ada_adjust(torch.tensor(0.0), torch.tensor(-1.0), 0.6, 256, 500)) == 0.0  # clamped at 0
    assert float(ada_adjust(torch.tensor(1.0), torch.tensor(1.0), 0.6, 256, 500)) == 1.0  # and at 1


class ConstD(nn.Module):
    """A 'discriminator' whose logits are a fixed sign: r_t = E[sign(D(x))] = ±1."""

    def __init__(self, sign: float) -> None:
        super().__init__()
        self.sign = sign
        self.w = nn.Parameter(torch.ones(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.sign * self.w * (1 + x.flatten(1).mean(1, keepdim=True).abs())


def test_ada_p_moves_every_interval_towards_target() -> None:
    G = tiny_nets()["G"]
    obj = StyleGAN2Objective(ada_target=0.6, ada_interval=4, ada_kimg=1.0)
    gen = torch.Generator().manual_seed(0)
    for step in range(8):  # D overfits (r_t = 1 > 0.6): p rises by 4·8/1000 at steps 3 and 7
        terms = obj.d_loss(G, ConstD(1.0), Batch(real=torch.zeros(8, 1, 8, 8), z=torch.randn(8, 4), generator=gen,
                                                 step=step))
        assert float(terms.logs["ada/rt"]) == 1.0
        assert float(obj.p) == pytest.approx(0.032 * ((step + 1) // 4))
    for step in range(8, 12):  # r_t = −1 < 0.6: p falls back
        obj.d_loss(G, ConstD(-1.0), Batch(real=torch.zeros(8, 1, 8, 8), z=torch.randn(8, 4), generator=gen,
                                          step=step))
    assert float(obj.p) == pytest.approx(0.032)
    assert float(obj.state_dict()["ada_count"]) == 0


def test_ema_rampup() -> None:
    obj = StyleGAN2Objective(ema_rampup=0.05)
    assert obj.ema_decay(0.999, 0, 32) == 0.0  # the first step copies G
    assert obj.ema_decay(0.999, 10, 32) == pytest.approx(0.5 ** (1 / 0.5))  # half-life 0.05·320 images = 16 = B/2
    assert obj.ema_decay(0.999, 10**6, 32) == 0.999  # capped by train.ema
    assert StyleGAN2Objective(ema_rampup=0.0).ema_decay(0.99, 0, 32) == 0.99


@pytest.mark.parametrize(("opts", "msg"), [({"r1_every": 0}, "r1_every"), ({"ada_target": 1.5}, "ada_target"),
                                          ({"augment_pipeline": "x"}, "augmentation pipeline"),
                                          ({"ada_kimg": 0.0}, "ada_kimg")])
def test_bad_options(opts: dict, msg: str) -> None:
    with pytest.raises(ValueError, match=msg) as exc:
        StyleGAN2Objective(**opts)
    assert "\n" not in str(exc.value)


SETS = ["model.name=stylegan2", "model.options={'z_dim': 4, 'w_dim': 4, 'mapping_layers': 2, 'channel_base': 32, "
        "'channel_max': 4}", "objective.name=stylegan2",
        "objective.options={'r1_gamma': 1.0, 'r1_every': 3, 'pl_every': 2, 'ada_target': 0.6, 'ada_interval': 2, "
        "'ada_kimg': 0.05, 'augment_p': 0.5}", "data.name=lfw", "data.options={'limit': 16}", "train.batch_size=4",
        "train.ema=0.9",         "optim.g.lr=0.002", "optim.d.lr=0.002", "train.checkpoint_every=5"]


def test_exact_resume_through_lazy_phases_with_p_and_pl_mean(tmp_path: Path) -> None:
    Run(tiny_config(*SETS, "train.steps=7"), tmp_path / "a").train()
    Run(tiny_config(*SETS, "train.steps=5"), tmp_path / "b").train()  # stops mid-interval: R1 at 3/6, PL at 4/6
    Run(tiny_config(*SETS, "train.steps=7"), tmp_path / "b", resume="latest").train()
    a = torch.load(tmp_path / "a" / "checkpoints" / "latest.pt", weights_only=True)
    b = torch.load(tmp_path / "b" / "checkpoints" / "latest.pt", weights_only=True)
    oa, ob = a["trainer"]["objective"], b["trainer"]["objective"]
    # p started at augment_p = 0.5 and moved by ±8/50 per interval; the sign accumulator is mid-interval at the end
    assert float(oa["p"]) != 0.5
    assert float(oa["pl_mean"]) > 0
    assert int(oa["ada_count"]) == 4
    for key in ("p", "pl_mean", "ada_signs", "ada_count"):
        assert torch.equal(oa[key], ob[key]), key
    for net in ("G", "D", "G_ema"):
        for k, v in a["models"][net].items():
            assert torch.equal(v, b["models"][net][k]), f"{net}.{k}"


def test_g_phase_draws_its_own_fresh_z(tmp_path: Path) -> None:
    """NVlabs' loop draws separate z for the G and D phases every step; so must ours (no shared or reused z)."""
    run = Run(tiny_config(*SETS, "train.steps=2"), tmp_path / "run")
    phases = {p.name: p for p in run.trainer.phases}
    seen = []
    for _ in range(2):
        seen += [run.trainer.make_batch(phases["D"]).z, run.trainer.make_batch(phases["G"]).z]
        run.trainer.train_step()
    for i, a in enumerate(seen):  # same draw path, so exact inequality is meaningful: no two z batches coincide
        for b in seen[i + 1:]:
            assert a.shape == b.shape
            assert not torch.equal(a, b)


def test_mode_seeking_penalty_against_numpy() -> None:
    """MSGAN's 1 / (mean|x1 - x2| / mean|z1 - z2| + eps) on the batch's halves, in float64 against numpy (same
    formula, different library: a few ulps of float64 apart); a G that ignores z is penalised ~1/eps."""
    import numpy as np

    g = torch.Generator().manual_seed(0)
    x, z = torch.randn(6, 1, 4, 4, generator=g, dtype=torch.float64), torch.randn(6, 8, generator=g,
                                                                                     dtype=torch.float64)
    xn, zn = x.numpy(), z.numpy()
    want = 1.0 / (np.abs(xn[:3] - xn[3:]).mean() / np.abs(zn[:3] - zn[3:]).mean() + 1e-5)
    assert float(mode_seeking_penalty(x, z)) == pytest.approx(want, rel=1e-12)
    same = x[:1].expand(6, -1, -1, -1)  # every z drawn to one image: the collapse the term fights
    assert float(mode_seeking_penalty(same, z)) == pytest.approx(1e5)
    with pytest.raises(ValueError, match="at least 2"):
        mode_seeking_penalty(x[:1], z[:1])
    with pytest.raises(ValueError, match="mode_seeking"):
        StyleGAN2Objective(mode_seeking=-1.0)
