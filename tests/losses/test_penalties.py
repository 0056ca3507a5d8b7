"""Tests for ganforge/losses/penalties.py: WGAN-GP gradient penalty (two- and one-sided), R1 and weight clipping,
each against a value and a parameter gradient derived by hand for critics whose input gradient is known in closed
form. Everything runs in float64 on a handful of points.
"""

from __future__ import annotations

import pytest
import torch
from torch import nn
from torch.testing import assert_close

from ganforge.losses.penalties import clip_weights_, gradient_penalty, r1_penalty

DT = torch.float64


class Quadratic(nn.Module):
    """D(x) = Σ_k w_k x_k² + b: ∇_x D(x) = 2 w ⊙ x, so every gradient norm is known in closed form."""

    def __init__(self, w: list[float]) -> None:
        super().__init__()
        self.w = nn.Parameter(torch.tensor(w, dtype=DT))
        self.b = nn.Parameter(torch.tensor(0.3, dtype=DT))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return ((self.w * x.square()).sum(1) + self.b).unsqueeze(1)  # [N, 1]


def _linear(w: list[float], b: float = 0.5) -> nn.Linear:
    """D(x) = w·x + b: ∇_x D = w everywhere, so the gradient penalty is (‖w‖ − c)² whatever the interpolates."""
    D = nn.Linear(len(w), 1).double()
    with torch.no_grad():
        D.weight.copy_(torch.tensor([w], dtype=DT))
        D.bias.fill_(b)
    return D


def _no_grad(p: torch.Tensor) -> bool:
    """True if autograd left ``p`` without gradient: never reached (None) or exactly zero."""
    return p.grad is None or not p.grad.any()


def _points(n: int = 5, f: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(n, f, generator=g, dtype=DT), torch.randn(n, f, generator=g, dtype=DT) + 1.0


# ---- gradient penalty ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("w", [[0.3, -0.4, 1.2], [0.1, 0.2, -0.2]])  # ‖w‖ = 1.3 (> 1) and 0.3 (< 1)
def test_gp_linear_critic_value_and_parameter_gradient(w: list[float]) -> None:
    D = _linear(w)
    real, fake = _points()
    gp = gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(1))
    w_t = torch.tensor(w, dtype=DT)
    norm = w_t.norm()
    assert_close(gp, (norm - 1) ** 2)
    gp.backward()
    # d/dw (‖w‖ − 1)² = 2(‖w‖ − 1) w / ‖w‖; the bias does not enter ∇_x D
    assert_close(D.weight.grad, (2 * (norm - 1) * w_t / norm).view(1, -1))
    assert _no_grad(D.bias)


def test_gp_one_sided_linear_critic() -> None:
    real, fake = _points()
    # ‖w‖ = 0.3 < 1: the one-sided penalty max(0, ‖∇‖ − 1)² is 0, with zero gradient
    D = _linear([0.1, 0.2, -0.2])
    gp = gradient_penalty(D, real, fake, one_sided=True)
    assert gp.item() == 0.0
    gp.backward()
    assert_close(D.weight.grad, torch.zeros(1, 3, dtype=DT))
    # ‖w‖ = 1.3 > 1: identical to the two-sided penalty
    D = _linear([0.3, -0.4, 1.2])
    assert_close(gradient_penalty(D, real, fake, one_sided=True), torch.tensor(0.09, dtype=DT))


def test_gp_zero_centred_linear_critic() -> None:
    D = _linear([0.3, -0.4, 1.2])
    real, fake = _points()
    assert_close(gradient_penalty(D, real, fake, center=0.0), torch.tensor(1.69, dtype=DT))  # ‖w‖² = 1.3²


def test_gp_flattens_image_shaped_samples() -> None:
    """For x [N, C, H, W] the norm is over all C·H·W features of a sample: a linear critic gives (‖W‖_F − 1)²."""
    g = torch.Generator().manual_seed(3)
    W = torch.randn(2, 3, 4, generator=g, dtype=DT)
    real, fake = torch.randn(4, 2, 3, 4, generator=g, dtype=DT), torch.randn(4, 2, 3, 4, generator=g, dtype=DT)
    gp = gradient_penalty(lambda x: (x * W).sum((1, 2, 3)).unsqueeze(1), real, fake)
    assert_close(gp, (W.norm() - 1) ** 2)


def _quadratic_gp_reference(w: torch.Tensor, real: torch.Tensor, fake: torch.Tensor, seed: int) -> torch.Tensor:
    """mean_i (‖2 w ⊙ x̂_i‖ − 1)² with x̂_i = ε_i x_i + (1 − ε_i) x̃_i, ε_i ~ U[0, 1] drawn as the penalty documents."""
    eps = torch.rand(real.shape[0], 1, generator=torch.Generator().manual_seed(seed)).to(DT)
    x_hat = eps * real + (1 - eps) * fake
    return ((2 * w * x_hat).norm(dim=1) - 1).square().mean()


def test_gp_quadratic_critic_value_and_gradient_on_interpolates() -> None:
    """A critic whose gradient varies with x checks the interpolation, the per-sample ε and the parameter gradient."""
    D = Quadratic([0.4, -0.7, 0.2])
    real, fake = _points(n=6)
    gp = gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(11))
    w = D.w.detach().clone()
    assert_close(gp, _quadratic_gp_reference(w, real, fake, seed=11))

    # hand-derived parameter gradient: with u_i = 2 w ⊙ x̂_i,
    #   d/dw_k mean_i (‖u_i‖ − 1)² = mean_i 2(‖u_i‖ − 1) · 4 w_k x̂_ik² / ‖u_i‖
    eps = torch.rand(6, 1, generator=torch.Generator().manual_seed(11)).to(DT)
    x_hat = eps * real + (1 - eps) * fake
    u_norm = (2 * w * x_hat).norm(dim=1, keepdim=True)
    expected = (2 * (u_norm - 1) * 4 * w * x_hat.square() / u_norm).mean(0)
    gp.backward()
    assert_close(D.w.grad, expected)
    assert _no_grad(D.b)

    # and against central finite differences of the penalty as a function of w (same ε each time)
    def gp_of(w_vec: torch.Tensor) -> torch.Tensor:
        with torch.no_grad():
            D.w.copy_(w_vec)
        return gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(11)).detach()

    h = 1e-6
    fd = torch.stack([(gp_of(w + h * e) - gp_of(w - h * e)) / (2 * h) for e in torch.eye(3, dtype=DT)])
    assert_close(fd, expected, rtol=1e-6, atol=1e-8)


def test_gp_is_reproducible_and_depends_on_the_rng() -> None:
    D = Quadratic([0.4, -0.7, 0.2])
    real, fake = _points(n=6)
    a = gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(5))
    b = gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(5))
    c = gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(6))
    assert a.item() == b.item()
    assert a.item() != c.item()


def test_gp_does_not_backpropagate_into_samples() -> None:
    """The penalty regularises D only: real and fake are detached, so G receives no gradient."""
    G = nn.Linear(2, 3).double()
    fake = G(torch.ones(5, 2, dtype=DT))
    real, _ = _points()
    D = Quadratic([0.4, -0.7, 0.2])
    gradient_penalty(D, real, fake).backward()
    assert G.weight.grad is None
    assert D.w.grad is not None


def test_gp_rejects_bad_inputs() -> None:
    D = _linear([1.0, 0.0, 0.0])
    real, fake = _points()
    with pytest.raises(ValueError, match="same shape"):
        gradient_penalty(D, real, fake[:3])
    with pytest.raises(ValueError, match="center"):
        gradient_penalty(D, real, fake, center=-1.0)


# ---- R1 ----------------------------------------------------------------------------------------------------------


def test_r1_value_and_parameter_gradient_on_quadratic() -> None:
    """D(x) = Σ w_k x_k² + b: R1 = mean_i ‖2 w ⊙ x_i‖² = mean_i Σ_k 4 w_k² x_ik², dR1/dw_k = mean_i 8 w_k x_ik²."""
    D = Quadratic([0.4, -0.7, 0.2])
    x, _ = _points(n=7)
    real = x.clone().requires_grad_(True)
    r1 = r1_penalty(real, D(real))
    w = D.w.detach().clone()
    assert_close(r1, (4 * w.square() * x.square()).sum(1).mean())
    r1.backward()
    assert_close(D.w.grad, (8 * w * x.square()).mean(0))
    assert _no_grad(D.b)


def test_r1_of_squared_norm_function() -> None:
    """D(x) = ‖x‖²: ∇D = 2x, so R1 = 4·mean ‖x‖²; on image-shaped samples the sum runs over every feature."""
    x = torch.arange(24, dtype=DT).view(2, 3, 2, 2) / 10
    real = x.clone().requires_grad_(True)
    logits = real.square().sum((1, 2, 3)).unsqueeze(1)
    assert_close(r1_penalty(real, logits), 4 * x.square().sum((1, 2, 3)).mean())


def test_r1_needs_real_requiring_grad() -> None:
    x, _ = _points()
    with pytest.raises(ValueError, match="requires_grad"):
        r1_penalty(x, _linear([1.0, 0.0, 0.0])(x))


# ---- weight clipping --------------------------------------------------------------------------------------------


def test_clip_weights_clamps_every_parameter() -> None:
    torch.manual_seed(0)
    D = nn.Sequential(nn.Linear(3, 8), nn.LeakyReLU(0.2), nn.Linear(8, 1))
    with torch.no_grad():
        for p in D.parameters():
            p.mul_(10)
    before = [p.detach().clone() for p in D.parameters()]
    clip_weights_(D, 0.01)
    for b, p in zip(before, D.parameters(), strict=True):
        assert p.abs().max().item() <= 0.01
        assert_close(p.detach(), b.clamp(-0.01, 0.01), rtol=0, atol=0)  # values inside [−c, c] untouched


@pytest.mark.parametrize("clip", [0.0, -0.1, float("inf"), float("nan")])
def test_clip_weights_rejects_bad_clip(clip: float) -> None:
    with pytest.raises(ValueError, match="clip"):
        clip_weights_(nn.Linear(2, 1), clip)


def test_gp_with_caller_drawn_eps_equals_generator_draw_and_checks_shape() -> None:
    """``eps`` from the caller (Batch.uniform under data parallelism) gives the same penalty as the same numbers
    drawn inside; a wrongly shaped ``eps`` is a one-line error."""
    D = Quadratic([0.4, -0.7, 0.2])
    real, fake = _points(n=6)
    eps = torch.rand(6, 1, generator=torch.Generator().manual_seed(11))
    assert_close(gradient_penalty(D, real, fake, eps=eps),
                 gradient_penalty(D, real, fake, generator=torch.Generator().manual_seed(11)))
    with pytest.raises(ValueError, match=r"eps must have shape \(6, 1\)"):
        gradient_penalty(D, real, fake, eps=torch.rand(6))
