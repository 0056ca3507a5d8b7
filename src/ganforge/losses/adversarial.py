"""Adversarial losses as pure functions of discriminator logits (never probabilities).

Sign convention: every function returns a quantity to *minimise*. Logits are the pre-sigmoid outputs ``l``, with
D(x) = σ(l). Using ``softplus`` keeps every term finite for any logit: −log σ(l) = softplus(−l) and
−log(1 − σ(l)) = softplus(l). Inputs are ``[N, 1]`` (or any shape; the mean is taken over all elements).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

# ---- logistic (Goodfellow et al. 2014) -------------------------------------------------------------------------


def d_logistic(real_logits: Tensor, fake_logits: Tensor, real_target: float = 1.0, real_noise: Tensor | None = None,
               fake_noise: Tensor | None = None) -> Tensor:
    """Binary cross-entropy of D: −E[t log D(x) + (1−t) log(1−D(x))] on real (t≈1) and fake (t≈0) samples.

    Goodfellow et al. (2014), eq. 1, with two optional training tricks:
    - one-sided label smoothing (Salimans et al. 2016, §3.4): real target ``real_target`` (e.g. 0.9), fake stays 0;
    - label noise as in the keras.io GAN: ``real_noise``/``fake_noise`` tensors added to the targets.
    The cross-entropy with target t on logit l is t·softplus(−l) + (1−t)·softplus(l); with the plain targets
    (1 and 0) it is E softplus(−l_real) + E softplus(l_fake), computed so. (Bit for bit the same value and gradients
    as the general form for finite logits: t = 1 multiplies exactly and the (1 − t) = 0 terms add exact zeros.)
    """
    if real_target == 1.0 and real_noise is None and fake_noise is None:
        return F.softplus(-real_logits).mean() + F.softplus(fake_logits).mean()
    t_real = torch.full_like(real_logits, real_target)
    t_fake = torch.zeros_like(fake_logits)
    if real_noise is not None:
        t_real = t_real + real_noise
    if fake_noise is not None:
        t_fake = t_fake + fake_noise
    return bce_with_logits(real_logits, t_real) + bce_with_logits(fake_logits, t_fake)


def bce_with_logits(logits: Tensor, target: Tensor) -> Tensor:
    """mean(t·softplus(−l) + (1−t)·softplus(l)); valid for soft targets t outside [0, 1] too (label noise)."""
    return (target * F.softplus(-logits) + (1 - target) * F.softplus(logits)).mean()


def g_minimax(fake_logits: Tensor) -> Tensor:
    """E log(1 − D(G(z))) = −E softplus(l): the saturating cost of the zero-sum game (C_G = −C_D's fake term)."""
    return -F.softplus(fake_logits).mean()


def g_nonsaturating(fake_logits: Tensor) -> Tensor:
    """−E log D(G(z)) = E softplus(−l): the heuristic cost that keeps gradients when D rejects fakes."""
    return F.softplus(-fake_logits).mean()


def g_max_likelihood(fake_logits: Tensor) -> Tensor:
    """−½ E exp(σ⁻¹(D(G(z)))) = −½ E exp(l): the maximum-likelihood cost (Goodfellow 2016 tutorial, §3.2.3).

    σ⁻¹(D) is the logit itself, so no clamp of D is needed. Logits are capped at 80 (D(G(z)) = 1 − 2e-35) so the
    float32 value stays finite (exp overflows above ~88.7); beyond the cap D is fooled and the gradient is zero.
    """
    return -0.5 * torch.exp(fake_logits.clamp(max=80.0)).mean()


G_COSTS = {"minimax": g_minimax, "nonsaturating": g_nonsaturating, "max_likelihood": g_max_likelihood}

# ---- Wasserstein (Arjovsky et al. 2017) ----------------------------------------------------------------------


def d_wasserstein(real_scores: Tensor, fake_scores: Tensor) -> Tensor:
    """Critic loss E[D(G(z))] − E[D(x)]: minimising it maximises the Kantorovich–Rubinstein estimate (WGAN eq. 3)."""
    return fake_scores.mean() - real_scores.mean()


def g_wasserstein(fake_scores: Tensor) -> Tensor:
    """Generator loss −E[D(G(z))]."""
    return -fake_scores.mean()


# ---- hinge (Lim & Ye 2017; Miyato et al. 2018) -------------------------------------------------------------------


def d_hinge(real_logits: Tensor, fake_logits: Tensor) -> Tensor:
    """E[max(0, 1 − D(x))] + E[max(0, 1 + D(G(z)))]."""
    return F.relu(1 - real_logits).mean() + F.relu(1 + fake_logits).mean()


def g_hinge(fake_logits: Tensor) -> Tensor:
    """−E[D(G(z))]: the generator side of the hinge game (same as the Wasserstein generator loss)."""
    return -fake_logits.mean()


# ---- least squares (Mao et al. 2017, eq. 9 with a=0, b=c=1) ------------------------------------------------------
# ``scale``: the paper's ½ by default; the pix2pix/CycleGAN code's G loss is the unhalved mean (scale 1) and its D
# loss is halved once over both terms, which is this one (a power-of-two scale commutes with float rounding).


def d_least_squares(real_logits: Tensor, fake_logits: Tensor, scale: float = 0.5) -> Tensor:
    """scale · (E[(D(x) − 1)²] + E[D(G(z))²])."""
    return scale * ((real_logits - 1).square().mean() + fake_logits.square().mean())


def g_least_squares(fake_logits: Tensor, scale: float = 0.5) -> Tensor:
    """scale · E[(D(G(z)) − 1)²]."""
    return scale * (fake_logits - 1).square().mean()
