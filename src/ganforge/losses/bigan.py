"""The BiGAN / ALI objective (Donahue et al. 2017, eq. 3; Dumoulin et al. 2017, eq. 4):

    min_{G,E} max_D  V(D, E, G) = E_x[log D(x, E(x))] + E_z[log(1 − D(G(z), z))]

D sees joint pairs: real (x, E(x)) and fake (G(z), z). At the optimum E = G⁻¹ (BiGAN Theorem 2), so G(E(x)) ≈ x
although no reconstruction loss is ever minimised. E and G are one optimiser group ("g", trained jointly with the
inverted-label — non-saturating — cost that BiGAN's code and ALI use):

    L_D  = softplus(−D(x, E(x))) + softplus(D(G(z), z))                 (the logistic loss on pairs)
    L_EG = softplus(D(x, E(x))) + softplus(−D(G(z), z))                 (labels swapped)

The phases are the adversarial default's (D, then the joint E+G step); what differs from a GAN is declared here —
networks, groups, which networks get an EMA — so the trainer, run loop and checkpoint need no edit.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn

from ganforge.losses import adversarial
from ganforge.losses.objectives import Batch, LossTerms, Nets, Objective, Phase, full_precision
from ganforge.registry import OBJECTIVES


@OBJECTIVES.register("bigan")
@dataclass
class BiGANObjective(Objective):
    """Options: none beyond the schedule (``train.d_steps``); the adversarial loss is fixed by the paper."""

    def networks(self) -> tuple[str, ...]:
        return ("G", "E", "D")

    def groups(self) -> dict[str, tuple[str, ...]]:
        return {"g": ("G", "E"), "d": ("D",)}  # E and G are updated together, by one optimiser (optim.g)

    def ema_networks(self) -> tuple[str, ...]:
        return ("G", "E")

    def phases(self, nets: Nets, d_steps: int) -> list[Phase]:
        G, E, D = nets["G"], nets["E"], nets["D"]
        return [Phase("D", ("d",), lambda b: self.d_loss_pairs(G, E, D, b), repeats=d_steps),
                Phase("EG", ("g",), lambda b: self.eg_loss(G, E, D, b))]  # reads real x for E(x)

    @staticmethod
    def _pair_logits(G: nn.Module, E: nn.Module, D: nn.Module, batch: Batch) -> tuple[torch.Tensor, torch.Tensor]:
        """D(x, E(x)) and D(G(z), z), both ``[N, 1]`` float32."""
        real = D(batch.real, full_precision(E(batch.real)))
        fake = D(full_precision(G(batch.z)), batch.z)
        return full_precision(real), full_precision(fake)

    def d_loss_pairs(self, G: nn.Module, E: nn.Module, D: nn.Module, batch: Batch) -> LossTerms:
        with torch.no_grad():  # E and G are not trained in the D step
            ex, gz = full_precision(E(batch.real)), full_precision(G(batch.z))
        real, fake = full_precision(D(batch.real, ex)), full_precision(D(gz, batch.z))
        loss = adversarial.d_logistic(real, fake)
        return LossTerms(loss, {"loss/d": loss.detach(), "score/real": torch.sigmoid(real.detach()).mean(),
                                "score/fake": torch.sigmoid(fake.detach()).mean()})

    def eg_loss(self, G: nn.Module, E: nn.Module, D: nn.Module, batch: Batch) -> LossTerms:
        real, fake = self._pair_logits(G, E, D, batch)
        loss = adversarial.d_logistic(fake, real)  # labels swapped: softplus(−fake) + softplus(real)
        return LossTerms(loss, {"loss/g": loss.detach()})
