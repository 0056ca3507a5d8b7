"""Tests for ganforge/losses/gan_objectives.py: every objective's D and G losses against its formula written with plain
torch ops on fixed float64 networks, the regularisers (GP with analytic input gradients, eager and lazy R1), weight
clipping, the logged Wasserstein estimate, the phases built from each objective, and option validation.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch.testing import assert_close

from ganforge.losses import gan_objectives as GO
from ganforge.losses.objectives import Batch, LogisticObjective
from ganforge.models.base import Generator
from ganforge.options import ConfigError, build_options
from ganforge.registry import OBJECTIVES
from helpers import TanhCritic

DT = torch.float64
N = 6


def _generator() -> nn.Linear:
    """G(z) = A z + a, fixed."""
    G = nn.Linear(2, 2).double()
    with torch.no_grad():
        G.weight.copy_(torch.tensor([[1.0, 0.5], [-0.3, 2.0]]))
        G.bias.copy_(torch.tensor([0.4, -0.2]))
    return G


def _batch(seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(42)
    real = torch.randn(N, 2, generator=g, dtype=DT) + torch.tensor([1.0, -1.0], dtype=DT)
    z = torch.randn(N, 2, generator=g, dtype=DT)
    return Batch(real=real, z=z, generator=torch.Generator().manual_seed(seed))


def _logits(G: nn.Module, D: nn.Module, batch: Batch) -> tuple[Tensor, Tensor, Tensor]:
    """(fake, D(real), D(fake)) computed directly, for the references."""
    with torch.no_grad():
        fake = G(batch.z)
        return fake, D(batch.real), D(fake)


def _eps(seed: int) -> Tensor:
    """The GP's ε ~ U[0, 1], [N, 1], as drawn from a fresh generator with ``seed``."""
    return torch.rand(N, 1, generator=torch.Generator().manual_seed(seed)).to(DT)


def test_registered_names() -> None:
    assert OBJECTIVES.get("wgan") is GO.WGANObjective
    assert OBJECTIVES.get("wgan-gp") is GO.WGANGPObjective
    assert OBJECTIVES.get("hinge") is GO.HingeObjective
    assert OBJECTIVES.get("lsgan") is GO.LeastSquaresObjective
    assert OBJECTIVES.get("acgan") is GO.ACGANObjective


# ---- WGAN (clipping) ------------------------------------------------------------------------------------------------


def test_wgan_losses_and_wasserstein_log() -> None:
    G, D, batch = _generator(), TanhCritic(), _batch()
    _, r, f = _logits(G, D, batch)
    obj = GO.WGANObjective()
    d = obj.d_loss(G, D, batch)
    assert_close(d.total, f.mean() - r.mean())  # E[D(G(z))] − E[D(x)]
    assert_close(d.logs["wasserstein"], r.mean() - f.mean())  # E[D(x)] − E[D(G(z))]
    assert d.logs["wasserstein"].ndim == 0
    assert not d.logs["wasserstein"].requires_grad
    assert_close(d.logs["score/real"], r.mean())
    assert_close(d.logs["score/fake"], f.mean())
    g = obj.g_loss(G, D, Batch(real=None, z=batch.z))
    assert_close(g.total, -f.mean())
    assert not obj.needs_double_backward
    assert obj.reg_every == 0


def test_wgan_d_loss_trains_d_only_and_g_loss_reaches_g() -> None:
    G, D, batch = _generator(), TanhCritic(), _batch()
    GO.WGANObjective().d_loss(G, D, batch).total.backward()
    assert G.weight.grad is None
    assert D.l1.weight.grad is not None
    GO.WGANObjective().g_loss(G, D, batch).total.backward()
    assert G.weight.grad is not None


def test_wgan_after_d_step_clips_every_parameter_and_phase_wires_it() -> None:
    G, D = _generator(), TanhCritic()
    obj = GO.WGANObjective(clip=0.05)
    phases = obj.phases({"G": G, "D": D}, d_steps=5)
    assert [(p.name, p.repeats) for p in phases] == [("D", 5), ("G", 1)]
    before = [p.detach().clone() for p in D.parameters()]
    assert max(b.abs().max().item() for b in before) > 0.05  # something to clip
    phases[0].after_step()
    for b, p in zip(before, D.parameters(), strict=True):
        assert p.abs().max().item() <= 0.05
        assert_close(p.detach(), b.clamp(-0.05, 0.05), rtol=0, atol=0)


# ---- WGAN-GP ------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("one_sided", [False, True])
def test_wgan_gp_d_loss_formula(one_sided: bool) -> None:
    G, D, batch = _generator(), TanhCritic(scale=2.0), _batch(seed=9)
    fake, r, f = _logits(G, D, batch)
    eps = _eps(9)
    x_hat = eps * batch.real + (1 - eps) * fake  # Gulrajani et al. (2017), Alg. 1, l. 6
    norms = D.input_grad(x_hat).norm(dim=1)
    excess = (norms - 1).clamp(min=0) if one_sided else norms - 1
    assert ((norms > 1).any() and (norms < 1).any()).item()  # both sides of 1 occur, so one_sided matters
    gp = excess.square().mean()
    lam, drift = 10.0, 0.001
    terms = GO.WGANGPObjective(gp_weight=lam, one_sided=one_sided, drift=drift).d_loss(G, D, batch)
    assert_close(terms.total, f.mean() - r.mean() + lam * gp + drift * r.square().mean())
    assert_close(terms.logs["reg/gp"], gp)
    assert_close(terms.logs["reg/drift"], r.square().mean())
    assert_close(terms.logs["wasserstein"], r.mean() - f.mean())
    assert_close(terms.logs["loss/d"], f.mean() - r.mean())


def test_wgan_gp_gradient_reaches_d_not_g_and_matches_finite_differences() -> None:
    G, D, batch = _generator(), TanhCritic(), _batch(seed=3)
    obj = GO.WGANGPObjective()
    obj.d_loss(G, D, batch).total.backward()
    assert G.weight.grad is None
    grad = D.l2.bias.grad.clone()  # D(x) = … + b₂: the bias only enters E[D(G(z))] − E[D(x)], which it cancels in
    assert_close(grad, torch.zeros(1, dtype=DT))
    # d/dw₂ against central differences (ε re-drawn identically from the batch seed each time)
    w = D.l2.weight.detach().clone()
    analytic = D.l2.weight.grad.clone()

    def loss_at(w2: Tensor) -> float:
        with torch.no_grad():
            D.l2.weight.copy_(w2)
        return obj.d_loss(G, D, _batch(seed=3)).total.item()

    h = 1e-6
    fd = torch.tensor([[(loss_at(w + h * e) - loss_at(w - h * e)) / (2 * h) for e in torch.eye(4, dtype=DT)]],
                      dtype=DT)
    assert_close(fd, analytic, rtol=1e-6, atol=1e-8)


def test_wgan_gp_without_penalty_is_wgan_and_g_loss() -> None:
    G, D, batch = _generator(), TanhCritic(), _batch()
    _, r, f = _logits(G, D, batch)
    obj = GO.WGANGPObjective(gp_weight=0.0)
    terms = obj.d_loss(G, D, batch)
    assert_close(terms.total, f.mean() - r.mean())
    assert "reg/gp" not in terms.logs
    assert not obj.needs_double_backward
    assert GO.WGANGPObjective().needs_double_backward
    assert_close(obj.g_loss(G, D, batch).total, -f.mean())


# ---- hinge and least squares, with R1 -----------------------------------------------------------------------------


def _hinge_ref(r: Tensor, f: Tensor) -> Tensor:
    return torch.clamp(1 - r, min=0).mean() + torch.clamp(1 + f, min=0).mean()


def _lsgan_ref(r: Tensor, f: Tensor) -> Tensor:
    return 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f**2).mean()


CASES = [
    (GO.HingeObjective, _hinge_ref, lambda f: -f.mean()),
    (GO.LeastSquaresObjective, _lsgan_ref, lambda f: 0.5 * ((f - 1) ** 2).mean()),
]
# R1 is an option of the logistic objective too: non-saturating logistic + lazy R1 is StyleGAN2's recipe
R1_CASES = [*CASES, (LogisticObjective, lambda r, f: F.softplus(-r).mean() + F.softplus(f).mean(),
                     lambda f: F.softplus(-f).mean())]


@pytest.mark.parametrize(("cls", "d_ref", "g_ref"), CASES)
def test_hinge_lsgan_losses(cls, d_ref, g_ref) -> None:
    G, D, batch = _generator(), TanhCritic(scale=3.0), _batch()
    _, r, f = _logits(G, D, batch)
    both = torch.cat([r, f])
    assert ((both > 1).any() and (both.abs() < 1).any() and (both < -1).any()).item()  # hinge kinks are exercised
    obj = cls()
    d = obj.d_loss(G, D, batch)
    assert_close(d.total, d_ref(r, f))
    assert "reg/r1" not in d.logs
    assert_close(obj.g_loss(G, D, Batch(real=None, z=batch.z)).total, g_ref(f))
    assert obj.reg_every == 0
    assert not obj.needs_double_backward


@pytest.mark.parametrize(("cls", "d_ref", "g_ref"), R1_CASES)
def test_eager_r1_adds_half_gamma_r1(cls, d_ref, g_ref) -> None:
    """r1_every in {0, 1}: d_loss = L_D + ½γ·E‖∇_x D(x)‖² (Mescheder et al. 2018, eq. 9)."""
    G, D, batch = _generator(), TanhCritic(scale=3.0), _batch()
    _, r, f = _logits(G, D, batch)
    r1 = D.input_grad(batch.real).square().sum(1).mean()
    for every in (0, 1):
        obj = cls(r1_weight=2.5, r1_every=every)
        assert obj.reg_every == 0
        assert obj.needs_double_backward
        d = obj.d_loss(G, D, batch)
        assert_close(d.total, d_ref(r, f) + 0.5 * 2.5 * r1)
        assert_close(d.logs["reg/r1"], r1)
        assert_close(d.logs["loss/d"], d_ref(r, f))
        assert [(p.name, p.double_backward) for p in obj.phases({"G": G, "D": D}, 1)] == [("D", True), ("G", False)]


@pytest.mark.parametrize(("cls", "d_ref", "g_ref"), R1_CASES)
def test_lazy_r1_scales_weight_by_interval(cls, d_ref, g_ref) -> None:
    """r1_every = k > 1: d_loss has no R1; d_reg every k steps returns ½·γ·k·R1 (Karras et al. 2020, App. B)."""
    G, D, batch = _generator(), TanhCritic(scale=3.0), _batch()
    _, r, f = _logits(G, D, batch)
    r1 = D.input_grad(batch.real).square().sum(1).mean()
    obj = cls(r1_weight=2.5, r1_every=4)
    assert obj.reg_every == 4
    assert obj.needs_double_backward
    assert_close(obj.d_loss(G, D, batch).total, d_ref(r, f))
    reg = obj.d_reg(G, D, batch)
    assert_close(reg.total, 0.5 * 2.5 * 4 * r1)
    assert_close(reg.logs["reg/r1"], r1)
    reg.total.backward()  # double backward into D's parameters works
    assert D.l1.weight.grad is not None
    assert G.weight.grad is None
    phases = obj.phases({"G": G, "D": D}, d_steps=1)
    assert [(p.name, p.every) for p in phases] == [("D", 1), ("D_reg", 4), ("G", 1)]
    assert not phases[-1].needs_real


@pytest.mark.parametrize("cls", [GO.HingeObjective, LogisticObjective, GO.ACGANObjective])
def test_no_r1_phase_without_weight(cls) -> None:
    obj = cls(r1_weight=0.0, r1_every=16)
    assert obj.reg_every == 0
    assert not obj.needs_double_backward
    phases = obj.phases({"G": _generator(), "D": TanhCritic()}, d_steps=2)
    assert [(p.name, p.repeats, p.every, p.double_backward) for p in phases] == [("D", 2, 1, False), ("G", 1, 1, False)]
    with pytest.raises(RuntimeError, match="lazy R1"):
        obj.d_reg(_generator(), TanhCritic(), _batch())


def test_logistic_stylegan2_recipe_phases() -> None:
    """Non-saturating logistic + R1 γ every 16 steps (Karras et al. 2020): phases D ×k, D_reg every 16, G; the D_reg
    phase alone differentiates through a gradient. With update=simultaneous: DG, then D_reg every 16."""
    G, D = _generator(), TanhCritic()
    obj = build_options(LogisticObjective, {"r1_weight": 10, "r1_every": 16}, "objective")
    phases = obj.phases({"G": G, "D": D}, d_steps=2)
    assert [(p.name, p.groups, p.repeats, p.every, p.double_backward) for p in phases] == [
        ("D", ("d",), 2, 1, False), ("D_reg", ("d",), 1, 16, True), ("G", ("g",), 1, 1, False)]
    simultaneous = LogisticObjective(r1_weight=10.0, r1_every=16, update="simultaneous")
    assert [(p.name, p.groups, p.every) for p in simultaneous.phases({"G": G, "D": D}, d_steps=1)] == [
        ("DG", ("d", "g"), 1), ("D_reg", ("d",), 16)]


# ---- AC-GAN -------------------------------------------------------------------------------------------------------

K = 3


class CondGenerator(Generator):
    """G(z, c) = A [z; onehot(c)] + a (a ``Generator``: that is how a network declares it takes labels)."""

    c_dim = K

    def __init__(self) -> None:
        super().__init__()
        self.lin = nn.Linear(2 + K, 2).double()
        with torch.no_grad():
            self.lin.weight.copy_(torch.linspace(-1, 1, 2 * (2 + K), dtype=DT).view(2, 2 + K))
            self.lin.bias.fill_(0.2)

    def forward(self, z: Tensor, c: Tensor) -> Tensor:
        return self.lin(torch.cat([z, F.one_hot(c, K).to(z.dtype)], 1))


def _acgan_setup() -> tuple[nn.Module, nn.Module, Batch]:
    G = CondGenerator()
    D = nn.Linear(2, 1 + K).double()  # column 0: real/fake logit, columns 1..K: class logits
    with torch.no_grad():
        D.weight.copy_(torch.tensor([[0.5, -0.4], [1.0, 0.2], [-0.7, 0.9], [0.1, -1.2]]))
        D.bias.copy_(torch.tensor([0.1, 0.0, 0.3, -0.2]))
    batch = _batch()
    batch.labels = torch.tensor([0, 1, 2, 2, 1, 0])
    batch.fake_labels = torch.tensor([2, 2, 0, 1, 0, 1])
    return G, D, batch


def _ce_ref(logits: Tensor, y: Tensor) -> Tensor:
    """−mean log softmax(logits)[y], written out."""
    p = torch.exp(logits) / torch.exp(logits).sum(1, keepdim=True)
    return -torch.log(p[torch.arange(len(y)), y]).mean()


@pytest.mark.parametrize("w", [1.0, 0.5])
def test_acgan_losses(w: float) -> None:
    G, D, batch = _acgan_setup()
    with torch.no_grad():
        fake = G(batch.z, batch.fake_labels)
        out_r, out_f = D(batch.real), D(fake)
    r0, rc, f0, fc = out_r[:, :1], out_r[:, 1:], out_f[:, :1], out_f[:, 1:]
    # Odena et al. (2017): L_S = log-likelihood of the right source, L_C = of the right class; minimised forms
    l_s_d = -torch.log(torch.sigmoid(r0)).mean() - torch.log(1 - torch.sigmoid(f0)).mean()
    l_c_d = _ce_ref(rc, batch.labels) + _ce_ref(fc, batch.fake_labels)
    obj = GO.ACGANObjective(class_weight=w)
    d = obj.d_loss(G, D, batch)
    assert_close(d.total, l_s_d + w * l_c_d)
    assert_close(d.logs["loss/d_adv"], l_s_d)
    assert_close(d.logs["loss/d_class"], l_c_d)
    assert_close(d.logs["class/acc_real"], (rc.argmax(1) == batch.labels).to(torch.float32).mean())
    assert_close(d.logs["class/acc_fake"], (fc.argmax(1) == batch.fake_labels).to(torch.float32).mean())
    g = obj.g_loss(G, D, Batch(real=None, z=batch.z, fake_labels=batch.fake_labels))
    assert_close(g.total, -torch.log(torch.sigmoid(f0)).mean() + w * _ce_ref(fc, batch.fake_labels))


def test_acgan_r1_on_the_source_logit_only() -> None:
    """AC-GAN takes R1 too: ½γ E‖∇_x l₀(x)‖² on column 0 (D(x) = W x + b, so ∇_x l₀ = W[0] for every sample)."""
    G, D, batch = _acgan_setup()
    r1 = D.weight[0].detach().square().sum()
    plain = GO.ACGANObjective().d_loss(G, D, batch)
    eager = GO.ACGANObjective(r1_weight=2.0).d_loss(G, D, batch)
    assert_close(eager.total, plain.total + 0.5 * 2.0 * r1)
    assert_close(eager.logs["reg/r1"], r1)
    lazy = GO.ACGANObjective(r1_weight=2.0, r1_every=8)
    assert_close(lazy.d_loss(G, D, batch).total, plain.total)
    assert_close(lazy.d_reg(G, D, batch).total, 0.5 * 2.0 * 8 * r1)
    assert [p.name for p in lazy.phases({"G": G, "D": D}, 1)] == ["D", "D_reg", "G"]


def test_acgan_requires_labels_and_class_logits() -> None:
    G, D, batch = _acgan_setup()
    obj = GO.ACGANObjective()
    with pytest.raises(ValueError, match="labels"):
        obj.d_loss(G, D, Batch(real=batch.real, z=batch.z, fake_labels=batch.fake_labels))
    with pytest.raises(ValueError, match=r"\[N, 1 \+ K\]"):
        obj.d_loss(G, nn.Linear(2, 1).double(), batch)


# ---- option validation ------------------------------------------------------------------------------------------

BAD = [
    ("wgan", {"clip": 0.0}, "clip"),
    ("wgan", {"clip": -0.01}, "clip"),
    ("wgan", {"clip": float("inf")}, "clip"),
    ("wgan-gp", {"gp_weight": -1.0}, "gp_weight"),
    ("wgan-gp", {"gp_weight": float("nan")}, "gp_weight"),
    ("wgan-gp", {"drift": -0.001}, "drift"),
    ("hinge", {"r1_weight": -1.0}, "r1_weight"),
    ("hinge", {"r1_every": -2}, "r1_every"),
    ("lsgan", {"r1_weight": float("nan")}, "r1_weight"),
    ("acgan", {"class_weight": -0.5}, "class_weight"),
    ("acgan", {"r1_weight": -1.0}, "r1_weight"),
    ("logistic", {"r1_weight": float("inf")}, "r1_weight"),
    ("logistic", {"r1_every": -1}, "r1_every"),
    ("logistic", {"update": "async"}, "update"),
    ("logistic", {"d_batch": "stacked"}, "d_batch"),
    ("logistic", {"d_fakes_from": "ema"}, "d_fakes_from"),
    ("logistic", {"update": "simultaneous", "d_fakes_from": "eval"}, "d_fakes_from"),
    ("logistic", {"update": "simultaneous", "shared_z": True}, "shared_z"),
]


@pytest.mark.parametrize(("name", "options", "match"), BAD)
def test_invalid_options_raise_one_line_value_error(name: str, options: dict, match: str) -> None:
    cls = OBJECTIVES.get(name)
    with pytest.raises(ValueError, match=match) as info:
        cls(**options)
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match=match):
        build_options(cls, options, "objective")


def test_options_build_from_config_dict() -> None:
    obj = build_options(GO.HingeObjective, {"r1_weight": 10, "r1_every": 16}, "objective")
    assert obj.r1_weight == 10.0
    assert obj.reg_every == 16
    assert build_options(GO.WGANGPObjective, {"one_sided": True}, "objective").one_sided
