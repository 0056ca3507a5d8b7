"""WGAN-GP for fields with a continuous condition vector and a mask of valid cells.

The generic objectives draw integer class labels; a physical condition (scenario, month, year …) is a float vector
per sample, and fields can have missing cells. This objective draws ``x``, its ``mask`` and ``cond`` from the data
source, generates for the *batch's own* conditions (the empirical condition distribution: continuous conditions
cannot be drawn uniformly), and shows D every field through the real mask — masked cells carry no signal, so they
are excluded from the loss:

    L_D = E[D(G(z, c)·m, m, c)] − E[D(x·m, m, c)] + λ·E[(‖∇_x̂ D(x̂, m, c)‖ − 1)²]   (Gulrajani et al. 2017, Alg. 1)
    L_G = −E[D(G(z, c)·m, m, c)]
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import torch
from torch import nn

from ganforge.losses import penalties
from ganforge.losses.objectives import Batch, LossTerms, Nets, Objective, Phase, check_weight, full_precision
from ganforge.registry import OBJECTIVES

if TYPE_CHECKING:
    from ganforge.training.draws import Draws


@OBJECTIVES.register("field-wgan-gp")
@dataclass
class FieldWGANGP(Objective):
    """Options: ``gp_weight`` λ (10). Critic steps per G step: ``train.d_steps`` (5 in the paper)."""

    gp_weight: float = 10.0

    def __post_init__(self) -> None:
        check_weight("gp_weight", self.gp_weight)

    @property
    def needs_double_backward(self) -> bool:
        return self.gp_weight > 0

    def make_batch(self, draw: Draws, nets: Nets, phase: Phase, step: int) -> Batch:
        """Every phase reads a data batch (G needs its masks and conditions), then z."""
        data = draw.sample()
        z = draw.latent(nets["G"])
        return Batch(real=data["x"], z=z, generator=draw.rng, rank=draw.rank, world_size=draw.world_size, step=step,
                     extras={"mask": data["mask"], "cond": data["cond"]})

    def phases(self, nets: Nets, d_steps: int) -> list[Phase]:
        G, D = nets["G"], nets["D"]
        return [Phase("D", ("d",), lambda b: self.d_loss(G, D, b), repeats=d_steps,
                      double_backward=self.needs_double_backward),
                Phase("G", ("g",), lambda b: self.g_loss(G, D, b))]

    def d_loss(self, G: nn.Module, D: nn.Module, batch: Batch) -> LossTerms:
        mask, cond = batch.extras["mask"], batch.extras["cond"]
        with torch.no_grad():
            fake = full_precision(G(batch.z, cond))
        real_s = full_precision(D(batch.real, mask, cond))
        fake_s = full_precision(D(fake, mask, cond))
        loss = fake_s.mean() - real_s.mean()
        logs = {"loss/d": loss.detach(), "wasserstein": -loss.detach()}
        total = loss
        if self.gp_weight > 0:
            eps = batch.uniform(penalties.per_sample_shape(batch.real))
            gp = penalties.gradient_penalty(lambda x: D(x, mask, cond), batch.real * mask, fake * mask, eps=eps)
            total = total + self.gp_weight * gp
            logs["reg/gp"] = gp.detach()
        return LossTerms(total, logs)

    def g_loss(self, G: nn.Module, D: nn.Module | None, batch: Batch) -> LossTerms:
        mask, cond = batch.extras["mask"], batch.extras["cond"]
        loss = -full_precision(D(full_precision(G(batch.z, cond)), mask, cond)).mean()
        return LossTerms(loss, {"loss/g": loss.detach()})
