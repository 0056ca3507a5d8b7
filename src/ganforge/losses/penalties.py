"""Discriminator regularisers as pure functions: gradient penalty (WGAN-GP), R1, and WGAN weight clipping.

Penalties return *unweighted* values; the objective applies the weight (and any lazy-regularisation scaling). Nothing
here knows about optimisers, phases or the training loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import torch
from torch import Tensor, nn


def per_sample_shape(x: Tensor) -> tuple[int, ...]:
    """``[N, 1, ..., 1]``: one value per sample of ``x [N, *shape]``, broadcastable over its features (GP's ε)."""
    return (x.shape[0],) + (1,) * (x.dim() - 1)


def gradient_penalty(
    D_fn: Callable[[Tensor], Tensor],
    real: Tensor,
    fake: Tensor,
    generator: torch.Generator | None = None,
    one_sided: bool = False,
    center: float = 1.0,
    eps: Tensor | None = None,
) -> Tensor:
    """E[(‖∇_x̂ D(x̂)‖₂ − center)²] on random interpolates x̂ = ε x + (1 − ε) x̃ (Gulrajani et al. 2017, Alg. 1, l. 6–7).

    Args:
        D_fn: critic as a callable ``x [N, *shape] -> scores [N, 1]`` (or any shape whose sum is the per-batch total).
            Conditional callers close over the labels, e.g. ``lambda x: D(x, labels)``.
        real: real samples ``[N, *shape]``.
        fake: generated samples, same shape as ``real``. Both are detached: the penalty regularises D only.
        generator: RNG for ε ~ U[0, 1], one draw per sample, so the penalty is reproducible.
        one_sided: penalise only gradient norms above ``center``: E[max(0, ‖∇‖ − center)²] (Gulrajani et al. §4,
            Petzka et al. 2018).
        center: target norm (1 for the 1-Lipschitz critic of WGAN-GP; 0 gives a zero-centred penalty).
        eps: the interpolation weights ``[N, 1, ...]`` if the caller draws them (``Batch.uniform``); else drawn here.

    Returns a scalar built with ``create_graph=True``, so it can be backpropagated into D's parameters.
    """
    if real.shape != fake.shape:
        raise ValueError(f"real and fake must have the same shape, got {tuple(real.shape)} and {tuple(fake.shape)}")
    if real.dim() < 1 or real.shape[0] == 0:
        raise ValueError(f"expected a non-empty batch [N, *shape], got shape {tuple(real.shape)}")
    if not (math.isfinite(center) and center >= 0):
        raise ValueError(f"center must be a finite number >= 0, got {center}")
    # ε is drawn on the RNG's own device and then moved: a CPU torch.Generator can drive a CUDA batch.
    eps_shape = per_sample_shape(real)  # one ε per sample, broadcast over features
    if eps is None:
        rng_device = generator.device if generator is not None else real.device
        eps = torch.rand(eps_shape, generator=generator, device=rng_device)
    elif tuple(eps.shape) != eps_shape:
        raise ValueError(f"eps must have shape {eps_shape} (one weight per sample), got {tuple(eps.shape)}")
    eps = eps.to(device=real.device, dtype=real.dtype)
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)  # x̂ = ε x + (1 − ε) x̃
    scores = D_fn(x_hat)
    # Each score depends only on its own sample, so ∇ of the sum gives every per-sample gradient in one pass.
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    norms = torch.linalg.vector_norm(grad.flatten(1), dim=1)  # ‖∇_x̂ D(x̂)‖₂ per sample, [N]
    excess = norms - center
    if one_sided:
        excess = excess.clamp(min=0)  # max(0, ‖∇‖ − 1)
    return excess.square().mean()


def r1_penalty(real: Tensor, real_logits: Tensor) -> Tensor:
    """E‖∇_x D(x)‖² on real data (Mescheder et al. 2018, eq. 9 without the γ/2 factor).

    ``real`` must require grad and ``real_logits = D(real)`` must have been computed from it. Built with
    ``create_graph=True`` so the penalty can be backpropagated into D.
    """
    if not real.requires_grad:
        raise ValueError("r1_penalty needs real.requires_grad=True before computing real_logits = D(real)")
    (grad,) = torch.autograd.grad(real_logits.sum(), real, create_graph=True)
    return grad.square().flatten(1).sum(1).mean()


@torch.no_grad()
def clip_weights_(module: nn.Module, clip: float) -> None:
    """Clamp every parameter of ``module`` to [−clip, clip] in place (WGAN, Arjovsky et al. 2017, Algorithm 1, l. 7).

    Call after each critic update. Clipping is a crude way to keep the critic K-Lipschitz for some K.
    """
    if not (math.isfinite(clip) and clip > 0):
        raise ValueError(f"clip must be a finite number > 0, got {clip}")
    for p in module.parameters():
        p.clamp_(-clip, clip)
