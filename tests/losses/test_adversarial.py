"""Tests for ganforge/losses/adversarial.py (pure losses of logits) and the "logistic" objective's options.

Every reference is the textbook formula written with plain torch ops on D = σ(l) (not the softplus forms the module
uses), in float64 so the comparison is tight.
"""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from ganforge.losses import adversarial as A
from ganforge.losses.objectives import Batch, LogisticObjective
from ganforge.options import ConfigError, build_options
from ganforge.registry import OBJECTIVES

# Moderate logits (|l| <= 3) so that the naive log(σ(l)) references are themselves accurate.
REAL = torch.tensor([[2.0], [-0.5], [0.3], [1.7], [-3.0]], dtype=torch.float64)
FAKE = torch.tensor([[-1.2], [0.8], [-2.5], [0.1], [2.2]], dtype=torch.float64)


def bce_ref(logits: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """−mean[t log D + (1 − t) log(1 − D)] with D = σ(l)."""
    d = torch.sigmoid(logits)
    return -(target * torch.log(d) + (1 - target) * torch.log(1 - d)).mean()


# ---- pure functions against their formulas ------------------------------------------------------------------------


def test_d_logistic_plain_is_goodfellow_eq1() -> None:
    # −E log D(x) − E log(1 − D(G(z)))  (Goodfellow et al. 2014, eq. 1, as a loss for D)
    ref = -torch.log(torch.sigmoid(REAL)).mean() - torch.log(1 - torch.sigmoid(FAKE)).mean()
    assert_close(A.d_logistic(REAL, FAKE), ref)


def test_d_logistic_one_sided_label_smoothing() -> None:
    # real target 0.9, fake target stays 0 (Salimans et al. 2016, §3.4)
    ref = bce_ref(REAL, torch.full_like(REAL, 0.9)) + bce_ref(FAKE, torch.zeros_like(FAKE))
    assert_close(A.d_logistic(REAL, FAKE, real_target=0.9), ref)
    assert not torch.allclose(A.d_logistic(REAL, FAKE, real_target=0.9), A.d_logistic(REAL, FAKE))


def test_d_logistic_label_noise_added_to_targets() -> None:
    rn = torch.linspace(0, 0.05, 5, dtype=torch.float64).view(5, 1)
    fn = torch.linspace(0.05, 0, 5, dtype=torch.float64).view(5, 1)
    ref = bce_ref(REAL, 0.9 + rn) + bce_ref(FAKE, fn)
    assert_close(A.d_logistic(REAL, FAKE, 0.9, rn, fn), ref)


def test_bce_with_logits_matches_torch_for_soft_targets() -> None:
    t = torch.tensor([[0.0], [0.3], [1.0], [1.04], [0.95]], dtype=torch.float64)  # 1.04: target pushed past 1 by noise
    assert_close(A.bce_with_logits(REAL, t), bce_ref(REAL, t))
    assert_close(A.bce_with_logits(REAL, t), nn.functional.binary_cross_entropy_with_logits(REAL, t))


def test_g_minimax_is_mean_log_one_minus_d() -> None:
    assert_close(A.g_minimax(FAKE), torch.log(1 - torch.sigmoid(FAKE)).mean())


def test_g_nonsaturating_is_minus_log_d() -> None:
    assert_close(A.g_nonsaturating(FAKE), -torch.log(torch.sigmoid(FAKE)).mean())


def test_g_max_likelihood_is_minus_half_exp_logit_of_d() -> None:
    # Goodfellow (2016) tutorial §3.2.3: J = −½ E exp(σ⁻¹(D(G(z)))); σ⁻¹(D) = log(D / (1 − D)) so exp(σ⁻¹(D)) = D/(1−D)
    d = torch.sigmoid(FAKE)
    assert_close(A.g_max_likelihood(FAKE), -0.5 * torch.exp(torch.log(d / (1 - d))).mean())
    assert_close(A.g_max_likelihood(FAKE), -0.5 * (d / (1 - d)).mean())


def test_generator_cost_gradients_saturate_as_the_tutorial_says() -> None:
    """d/dl per sample: minimax −σ(l), non-saturating −(1 − σ(l)), max-likelihood −½ e^l (Goodfellow 2016, Fig. 16)."""
    n = FAKE.shape[0]
    expected = {
        "minimax": -torch.sigmoid(FAKE) / n,
        "nonsaturating": -(1 - torch.sigmoid(FAKE)) / n,
        "max_likelihood": -0.5 * torch.exp(FAKE) / n,
    }
    for name, fn in A.G_COSTS.items():
        lg = FAKE.clone().requires_grad_(True)
        (grad,) = torch.autograd.grad(fn(lg), lg)
        assert_close(grad, expected[name], msg=name)
    # where D confidently rejects a fake (l = −10) the minimax gradient vanishes and the non-saturating one does not
    lg = torch.tensor([-10.0], dtype=torch.float64, requires_grad=True)
    (g_mm,) = torch.autograd.grad(A.g_minimax(lg), lg)
    (g_ns,) = torch.autograd.grad(A.g_nonsaturating(lg), lg)
    assert abs(g_mm.item()) < 1e-4 < 0.99 < abs(g_ns.item())


def test_wasserstein_hinge_least_squares_formulas() -> None:
    r, f = REAL, FAKE
    assert_close(A.d_wasserstein(r, f), f.mean() - r.mean())
    assert_close(A.g_wasserstein(f), -f.mean())
    assert_close(A.d_hinge(r, f), torch.clamp(1 - r, min=0).mean() + torch.clamp(1 + f, min=0).mean())
    assert_close(A.g_hinge(f), -f.mean())
    assert_close(A.d_least_squares(r, f), 0.5 * ((r - 1) ** 2).mean() + 0.5 * (f**2).mean())
    assert_close(A.g_least_squares(f), 0.5 * ((f - 1) ** 2).mean())


# ---- numerical stability at extreme logits -------------------------------------------------------------------------

EXTREME = [100.0, -100.0]


def _value_and_grad(fn, *logits: torch.Tensor) -> tuple[torch.Tensor, list[torch.Tensor]]:
    leaves = [lg.clone().requires_grad_(True) for lg in logits]
    value = fn(*leaves)
    return value, list(torch.autograd.grad(value, leaves))


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_logistic_losses_finite_at_plus_minus_100(dtype: torch.dtype) -> None:
    lg = torch.tensor([[100.0], [-100.0]], dtype=dtype)
    noise = torch.full_like(lg, 0.05)
    cases = {
        "d_logistic": (lambda r, f: A.d_logistic(r, f), lg, lg.flip(0)),
        "d_logistic_smooth_noise": (lambda r, f: A.d_logistic(r, f, 0.9, noise, noise), lg, lg.flip(0)),
        "g_minimax": (A.g_minimax, lg),
        "g_nonsaturating": (A.g_nonsaturating, lg),
        "d_hinge": (A.d_hinge, lg, lg),
        "d_least_squares": (A.d_least_squares, lg, lg),
        "d_wasserstein": (A.d_wasserstein, lg, lg),
    }
    for name, (fn, *args) in cases.items():
        value, grads = _value_and_grad(fn, *args)
        assert torch.isfinite(value), name
        assert all(torch.isfinite(g).all() for g in grads), name
    # exact values where the softplus form is exact: softplus(100) = 100, softplus(−100) ≈ 3.7e-44 ≈ 0
    assert_close(A.g_nonsaturating(torch.tensor([-100.0], dtype=dtype)), torch.tensor(100.0, dtype=dtype))
    assert_close(A.g_minimax(torch.tensor([100.0], dtype=dtype)), torch.tensor(-100.0, dtype=dtype))
    assert_close(A.d_logistic(torch.tensor([-100.0], dtype=dtype), torch.tensor([100.0], dtype=dtype)),
                 torch.tensor(200.0, dtype=dtype))
    assert A.d_logistic(torch.tensor([100.0], dtype=dtype), torch.tensor([-100.0], dtype=dtype)).item() < 1e-30


def test_max_likelihood_finite_at_plus_minus_100_in_float64() -> None:
    for v in EXTREME:
        lg = torch.tensor([v], dtype=torch.float64)
        value, (grad,) = _value_and_grad(A.g_max_likelihood, lg)
        assert torch.isfinite(value)
        assert torch.isfinite(grad).all()
        assert_close(value, -0.5 * torch.exp(lg.clamp(max=80.0)).sum())  # the cap at logit 80 (see the loss)
    value, (grad,) = _value_and_grad(A.g_max_likelihood, torch.tensor([-100.0]))  # float32, lg = −100: ~0, finite
    assert torch.isfinite(value)
    assert torch.isfinite(grad).all()


def test_max_likelihood_finite_at_plus_100_in_float32() -> None:
    # logits are capped at 80 (e^100 would overflow float32): the value stays finite, the gradient is zero there
    value, (grad,) = _value_and_grad(A.g_max_likelihood, torch.tensor([100.0]))
    assert torch.isfinite(value)
    assert value.item() == pytest.approx(-0.5 * math.exp(80.0), rel=1e-6)
    assert grad.item() == 0.0


# ---- the "logistic" objective's options ---------------------------------------------------------------------------


def _fixed_nets() -> tuple[nn.Module, nn.Module]:
    """G(z) = A z + a and D(x) = w·x + b with fixed float64 weights."""
    G, D = nn.Linear(2, 2).double(), nn.Linear(2, 1).double()
    with torch.no_grad():
        G.weight.copy_(torch.tensor([[1.0, 0.5], [-0.3, 2.0]]))
        G.bias.copy_(torch.tensor([0.1, -0.2]))
        D.weight.copy_(torch.tensor([[0.7, -1.1]]))
        D.bias.copy_(torch.tensor([0.2]))
    return G, D


def _batch(seed: int = 0) -> Batch:
    g = torch.Generator().manual_seed(123)
    real = torch.randn(6, 2, generator=g, dtype=torch.float64)
    z = torch.randn(6, 2, generator=g, dtype=torch.float64)
    return Batch(real=real, z=z, generator=torch.Generator().manual_seed(seed))


def test_logistic_objective_is_registered() -> None:
    assert OBJECTIVES.get("logistic") is LogisticObjective


@pytest.mark.parametrize("g_cost", ["minimax", "nonsaturating", "max_likelihood"])
def test_logistic_g_cost_option_selects_formula(g_cost: str) -> None:
    G, D = _fixed_nets()
    batch = _batch()
    d_fake = torch.sigmoid(D(G(batch.z)))
    ref = {
        "minimax": torch.log(1 - d_fake).mean(),
        "nonsaturating": -torch.log(d_fake).mean(),
        "max_likelihood": -0.5 * (d_fake / (1 - d_fake)).mean(),
    }[g_cost]
    terms = LogisticObjective(g_cost=g_cost).g_loss(G, D, Batch(real=None, z=batch.z))  # G phase: no real batch
    assert_close(terms.total, ref)
    assert_close(terms.logs["loss/g"], ref.detach())


@pytest.mark.parametrize(("smoothing", "noise"), [(0.0, 0.0), (0.1, 0.0), (0.0, 0.05), (0.1, 0.05)])
def test_logistic_d_loss_smoothing_and_noise_follow_formula(smoothing: float, noise: float) -> None:
    G, D = _fixed_nets()
    batch = _batch(seed=7)
    real_logits, fake_logits = D(batch.real), D(G(batch.z))
    # the objective draws real noise then fake noise, each [N, 1] ~ U(0, 1), from batch.generator
    g = torch.Generator().manual_seed(7)
    u_real, u_fake = torch.rand(6, 1, generator=g), torch.rand(6, 1, generator=g)
    t_real = 1 - smoothing + noise * u_real.double()
    t_fake = noise * u_fake.double()
    ref = bce_ref(real_logits, t_real) + bce_ref(fake_logits, t_fake)
    terms = LogisticObjective(label_smoothing=smoothing, label_noise=noise).d_loss(G, D, batch)
    assert_close(terms.total, ref)
    assert_close(terms.logs["score/real"], torch.sigmoid(real_logits).mean().detach())
    assert_close(terms.logs["score/fake"], torch.sigmoid(fake_logits).mean().detach())
    # each option shifts the loss by exactly what the formula says: bce(l, t) = softplus(l) − t·l, so changing the
    # targets by Δt changes the loss by −mean(Δt·l)
    plain = LogisticObjective().d_loss(G, D, _batch(seed=7)).total
    shift = -((t_real - 1) * real_logits).mean() - (t_fake * fake_logits).mean()
    assert_close(terms.total - plain, shift)
    if smoothing or noise:
        assert abs(shift.item()) > 1e-6


def test_logistic_d_loss_only_trains_d() -> None:
    G, D = _fixed_nets()
    LogisticObjective().d_loss(G, D, _batch()).total.backward()
    assert G.weight.grad is None
    assert D.weight.grad is not None


@pytest.mark.parametrize(
    ("options", "match"),
    [
        ({"g_cost": "wasserstein"}, "unknown g_cost"),
        ({"label_smoothing": 1.0}, "label_smoothing"),
        ({"label_smoothing": -0.1}, "label_smoothing"),
        ({"label_noise": -0.01}, "label_noise"),
    ],
)
def test_logistic_invalid_options_raise_one_line_value_error(options: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match) as info:
        LogisticObjective(**options)
    assert "\n" not in str(info.value)
    with pytest.raises(ConfigError, match=match):  # the same through the config path
        build_options(LogisticObjective, options, "objective")
