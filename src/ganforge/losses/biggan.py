"""BigGAN's objective (Brock et al. 2019): the hinge loss of ``HingeObjective`` plus orthogonal regularisation of G.

BigGAN §3.1 ("a modified orthogonal regularization"), for every weight matrix W of G:

    R_β(W) = β ‖Wᵀ W ⊙ (1 − I)‖²_F,     β = 1e-4

i.e. only the *off-diagonal* inner products between filters are pushed to 0 — the filter norms are left free (the
original Brock et al. 2017 term β‖WᵀW − I‖²_F also pins them to 1, which hurt). Here a weight is reshaped to
``W [out, in·kh·kw]`` (one filter per row, as BigGAN's code does), so the Gram matrix of filters is ``W Wᵀ``
``[out, out]``. Every G parameter with two or more dimensions is regularised except embedding tables (BigGAN's
code exempts the shared class embedding); with spectral norm that is the unnormalised weight the optimiser updates.
The regulariser is added to G's loss at every step (``loss/g`` stays the adversarial part; ``reg/ortho`` is the
unweighted sum Σ_W ‖W Wᵀ ⊙ (1 − I)‖²_F).

Gradient scale: BigGAN-PyTorch (``utils.ortho``) does not differentiate the penalty; it adds
``2β (W Wᵀ ⊙ (1 − I)) W`` to each weight's gradient. Autograd of β‖W Wᵀ ⊙ (1 − I)‖²_F gives twice that,
4β (W Wᵀ ⊙ (1 − I)) W (each off-diagonal pair (i, j) appears twice in the Gram matrix), so G's loss gets
(β / 2) · Σ_W ‖…‖²_F: the reference's update at the paper's β = 1e-4.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ganforge.losses import adversarial
from ganforge.losses.gan_objectives import HingeObjective, ScoreLosses
from ganforge.losses.objectives import Batch, LossTerms, check_choice, check_weight
from ganforge.registry import OBJECTIVES

# the adversarial part: (D loss of real and fake logits, G loss of fake logits)
LOSSES: dict[str, ScoreLosses] = {"hinge": (adversarial.d_hinge, adversarial.g_hinge),
          "nonsaturating": (adversarial.d_logistic, adversarial.g_nonsaturating)}


def orthogonal_penalty(weight: Tensor) -> Tensor:
    """‖W Wᵀ ⊙ (1 − I)‖²_F for ``weight`` reshaped to ``[out, rest]`` (rows = filters): the squared off-diagonal
    entries of the filters' Gram matrix.

    The off-diagonal sum is ‖W Wᵀ‖²_F − Σ_i ‖w_i‖⁴, and ‖W Wᵀ‖²_F = tr((W Wᵀ)²) = tr((Wᵀ W)²) = ‖Wᵀ W‖²_F, so a tall
    W (out > rest: BigGAN's dense layer, [c0·h0·w0, z chunk] = [3136, 52] in biggan-mnist) is computed from the
    [rest, rest] Gram matrix instead of the [out, out] one — 3136² → 52² entries, the same value and gradient
    (autograd: 4 W (Wᵀ W) − 4 diag(‖w_i‖²) W = 4 (W Wᵀ ⊙ (1 − I)) W). The dense layer's [3136, 3136] Gram made
    about half of biggan-mnist's CPU time per step."""
    w = weight.flatten(1)  # [out, in·kh·kw]
    if w.shape[0] > w.shape[1]:
        sq_norms = w.square().sum(dim=1)  # ‖w_i‖² [out]: the Gram diagonal
        return (w.T @ w).square().sum() - sq_norms.square().sum()
    gram = w @ w.T  # [out, out]
    off = gram * (1 - torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device))
    return off.square().sum()


def regularised_weights(G: nn.Module) -> list[Tensor]:
    """G's parameters that the orthogonal regulariser sees: ≥ 2 dimensions, not an embedding table."""
    skip = {id(p) for m in G.modules() if isinstance(m, nn.Embedding) for p in m.parameters(recurse=False)}
    return [p for p in G.parameters() if p.dim() >= 2 and id(p) not in skip]


def orthogonal_regularisation(G: nn.Module) -> Tensor:
    """Σ_W ‖W Wᵀ ⊙ (1 − I)‖²_F over ``regularised_weights(G)`` (unweighted)."""
    weights = regularised_weights(G)
    if not weights:
        raise ValueError("orthogonal regularisation found no weight matrices in G; "
                         "set objective.options.ortho_weight=0")
    return torch.stack([orthogonal_penalty(w) for w in weights]).sum()


@OBJECTIVES.register("biggan")
@dataclass
class BigGANObjective(HingeObjective):
    """Hinge loss (D: E[max(0, 1 − D(x))] + E[max(0, 1 + D(G(z)))], G: −E[D(G(z))]) + ``ortho_weight`` / 2 ·
    Σ_W ‖W Wᵀ ⊙ (1 − I)‖²_F on G (BigGAN §3.1, β = 1e-4; the 1/2 makes the gradient BigGAN-PyTorch's
    2β (W Wᵀ ⊙ (1 − I)) W, see the module docstring). Optional R1 as every hinge objective. ``loss:
    nonsaturating`` swaps the hinge pair for the logistic GAN's (the conditional DCGAN's loss; issue 24's
    comparison of the two, docs/sagan_biggan.md)."""

    ortho_weight: float = 1e-4  # β
    # hinge (the paper) | nonsaturating: D's logistic loss E softplus(−D(x)) + E softplus(D(G(z))) and G's
    # −E log σ(D(G(z))) (Goodfellow et al. 2014) — the conditional DCGAN's loss (issue 24, docs/sagan_biggan.md)
    loss: str = "hinge"

    def __post_init__(self) -> None:
        super().__post_init__()
        check_weight("ortho_weight", self.ortho_weight)
        check_choice("loss", self.loss, tuple(LOSSES))

    def score_losses(self) -> ScoreLosses:
        """The (D, G) loss pair ``loss`` names; ``HingeObjective``'s d_loss (with optional R1) and g_loss use it."""
        return LOSSES[self.loss]

    def g_loss(self, G: nn.Module, D: nn.Module | None, batch: Batch) -> LossTerms:
        terms = super().g_loss(G, D, batch)  # the chosen generator loss, logged as loss/g
        if self.ortho_weight == 0:
            return terms
        reg = orthogonal_regularisation(G)
        terms.logs["reg/ortho"] = reg.detach()
        # ∂/∂W of (β/2)‖W Wᵀ ⊙ (1 − I)‖² = 2β (W Wᵀ ⊙ (1 − I)) W, BigGAN-PyTorch's utils.ortho
        return LossTerms(terms.total + 0.5 * self.ortho_weight * reg, terms.logs)
