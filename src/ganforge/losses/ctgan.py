"""CTGAN's objective (Xu et al. 2019, §4.3-4.4; the ``ctgan`` package's ``CTGAN.fit``): WGAN-GP with a PacGAN
critic, the conditional vector with training-by-sampling, and the generator's conditional cross-entropy.

Critic step (×``train.d_steps``; ctgan: 1):
    cond, mask ~ training-by-sampling; real rows r drawn to match the *shuffled* conditions cond' (ConditionalSource)
    r̂ = activate(G(z, cond)),  L_D = −(E[D(r ⊕ cond')] − E[D(r̂ ⊕ cond)]) + λ·GP,  λ = 10
    GP = E_packs[(‖∇_x̂ D(x̂)‖₂ − 1)²] with x̂ = ε x + (1 − ε) x̃ and ONE ε per pack of ``pac`` rows, the norm taken over
         the whole packed input (ctgan's ``calc_gradient_penalty``)
Generator step: new cond, mask;  L_G = −E[D(r̂ ⊕ cond)] + H,  H = (1/N) Σ_rows Σ_i m_i · CE(raw_{d_i}, k*_i)
    (the cross-entropy between G's logits of the conditioned discrete column and the asked category; §4.3).
Adam(2e-4, β = (0.5, 0.9), weight decay 1e-6) for both networks is set by the presets (``optim.g`` / ``optim.d``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ganforge.losses.objectives import Batch, LossTerms, Nets, Objective, Phase, check_weight
from ganforge.registry import OBJECTIVES

if TYPE_CHECKING:
    from ganforge.models.ctgan import TableLayout
    from ganforge.training.draws import Draws


def pac_gradient_penalty(D: nn.Module, real: Tensor, fake: Tensor, eps: Tensor, pac: int) -> Tensor:
    """ctgan's penalty: ``real``/``fake`` ``[N, d]``, ``eps [N / pac, 1]`` (one weight per pack) →
    mean over packs of (‖∇ D(x̂)‖₂ − 1)², the gradient of each pack flattened to ``[pac · d]``."""
    eps = eps.repeat_interleave(pac, dim=0)  # [N, 1]: the same ε for the pac rows of a pack
    x_hat = (eps * real.detach() + (1 - eps) * fake.detach()).requires_grad_(True)
    scores = D(x_hat)  # [N / pac, 1]
    (grad,) = torch.autograd.grad(scores.sum(), x_hat, create_graph=True)
    return ((grad.reshape(-1, pac * real.shape[1]).norm(2, dim=1) - 1) ** 2).mean()


def conditional_loss(raw: Tensor, cond: Tensor, mask: Tensor, layout: TableLayout) -> Tensor:
    """H = Σ_rows Σ_i m_i CE(raw[:, d_i], argmax cond[:, d_i]) / N (ctgan's ``_cond_loss``); 0 without discrete
    columns. ``raw [N, D]`` logits, ``cond [N, C]``, ``mask [N, M]``."""
    spans = layout.discrete_spans()
    if not spans:
        return raw.new_zeros(())
    losses, c_st = [], 0
    for st, ed in spans:
        target = cond[:, c_st:c_st + (ed - st)].argmax(dim=1)
        losses.append(F.cross_entropy(raw[:, st:ed], target, reduction="none"))
        c_st += ed - st
    return (torch.stack(losses, dim=1) * mask).sum() / raw.shape[0]


@OBJECTIVES.register("ctgan")
@dataclass
class CTGANObjective(Objective):
    """CTGAN (see the module docstring). ``gp_weight`` λ (10), ``cond_weight`` the weight of H (1 in ctgan)."""

    gp_weight: float = 10.0
    cond_weight: float = 1.0

    def __post_init__(self) -> None:
        check_weight("gp_weight", self.gp_weight)
        check_weight("cond_weight", self.cond_weight)

    @property
    def needs_double_backward(self) -> bool:
        return self.gp_weight > 0

    def phases(self, nets: Nets, d_steps: int) -> list[Phase]:
        G, D = nets["G"], nets["D"]
        return [Phase("D", ("d",), lambda b: self.d_loss(G, D, b), repeats=d_steps,
                      double_backward=self.needs_double_backward),
                Phase("G", ("g",), lambda b: self.g_loss(G, D, b), needs_real=False)]

    def make_batch(self, draw: Draws, nets: Nets, phase: Phase, step: int) -> Batch:
        """D phase: conditions, their matching (shuffled) real rows and z; G phase: new conditions and z."""
        if phase.needs_real:
            s = draw.sample()
            real, extras = s["x"], {k: s[k] for k in ("cond", "cond_real", "mask")}
        else:
            c = draw.source.conditions(draw.batch_size)  # Source.conditions: None for a stream that has none
            if c is None:
                raise ValueError("objective ctgan needs a table dataset (training-by-sampling); use data.name=table, "
                                 "nasscds, health-insurance, cps1988 or prism")
            real, extras = None, {k: draw.dist.shard(c[k]) for k in ("cond", "mask")}
        z = draw.latent(nets["G"])
        return Batch(real=real, z=z, generator=draw.rng, rank=draw.rank, world_size=draw.world_size, step=step,
                     extras=extras)

    def _fake(self, G: nn.Module, batch: Batch) -> tuple[Tensor, Tensor]:
        """(raw logits, activated rows) for ``batch.z`` and the batch's conditional vector."""
        raw = G.raw(batch.z, batch.extras["cond"])
        return raw, G.activate(raw, batch.uniform(raw.shape))

    def d_loss(self, G: nn.Module, D: nn.Module, batch: Batch) -> LossTerms:
        with torch.no_grad():  # D's step never reaches G (ctgan zeroes G's gradients before its own step)
            _, fake = self._fake(G, batch)
        fake_cat = torch.cat([fake, batch.extras["cond"]], dim=1)  # [N, D + C]
        real_cat = torch.cat([batch.real, batch.extras["cond_real"]], dim=1)
        real_scores, fake_scores = D(real_cat), D(fake_cat)  # [N / pac, 1]
        loss = -(real_scores.mean() - fake_scores.mean())
        logs = {"loss/d": loss.detach(), "wasserstein": -loss.detach()}
        if self.gp_weight > 0:
            eps = batch.uniform((real_cat.shape[0] // D.pac, 1))
            gp = pac_gradient_penalty(D, real_cat, fake_cat, eps, D.pac)
            logs["reg/gp"] = gp.detach()
            loss = loss + self.gp_weight * gp
        return LossTerms(loss, logs)

    def g_loss(self, G: nn.Module, D: nn.Module | None, batch: Batch) -> LossTerms:
        raw, fake = self._fake(G, batch)
        adv = -D(torch.cat([fake, batch.extras["cond"]], dim=1)).mean()
        cond = conditional_loss(raw, batch.extras["cond"], batch.extras["mask"], G.layout)
        return LossTerms(adv + self.cond_weight * cond, {"loss/g": adv.detach(), "loss/cond": cond.detach()})
