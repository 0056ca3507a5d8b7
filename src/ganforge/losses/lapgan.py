"""The LAPGAN objective (Denton et al. 2015, §3.2): one GAN per pyramid level, each trained on the real pyramid.

For a real image the objective builds its pyramid (``models/lapgan.py``): the coarse image I_K and per finer stage s
the low-pass l_s = u(I_{s−1}) of the *real* coarser image and the real residual h_s = I_s − l_s. Each stage is a
(conditional) GAN with the logistic loss (eq. 1–2):

    stage 0:  D_0 on I_K vs G_0(z_0)
    stage s:  D_s on (h_s, l_s) vs (G_s(z_s, l_s), l_s)         (l_s from the real image, as in the paper's training)

Because every stage is conditioned on real coarse images during training, the stages do not depend on one another:
the paper trains them separately. Here they train *jointly*, every stage every step: the D phase sums the stages' D
losses and the G phase their G losses (non-saturating −log D(G(·)), the paper's practice). The two optimiser groups
"g" and "d" hold every stage's parameters; the summed losses have separate parameters per stage and Adam's update is
per parameter, so this is exactly one Adam per stage at the same hyper-parameters run side by side. Per-stage losses
are logged (``loss/d0``, ``loss/g1``, ...). Sampling chains the stages from G_0's sample (``LaplacianGenerator``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from ganforge.losses import adversarial
from ganforge.losses.objectives import Batch, LossTerms, Nets, Objective, Phase
from ganforge.models.lapgan import down, up
from ganforge.registry import OBJECTIVES


def real_stages(x: Tensor, levels: int) -> list[tuple[Tensor | None, Tensor]]:
    """Per stage, coarse to fine: (l_s, h_s) of the real images ``x``; stage 0 is (None, I_K)."""
    images = [x]
    for _ in range(levels - 1):
        images.append(down(images[-1]))
    images.reverse()  # coarse to fine: I_K, ..., I_0
    return [(None, images[0])] + [(up(images[s - 1]), images[s] - up(images[s - 1])) for s in range(1, levels)]


@OBJECTIVES.register("lapgan")
@dataclass
class LAPGANObjective(Objective):
    """Options: none beyond the schedule (``train.d_steps``); the per-stage losses are the paper's logistic GAN."""

    def phases(self, nets: Nets, d_steps: int) -> list[Phase]:
        G, D = nets["G"], nets["D"]
        return [Phase("D", ("d",), lambda b: self.d_loss(G, D, b), repeats=d_steps),
                Phase("G", ("g",), lambda b: self.g_loss(G, D, b), needs_real=True)]  # G_s is conditioned on real l_s

    @staticmethod
    def _fakes(G: nn.Module, batch: Batch, reals: list[tuple[Tensor | None, Tensor]]) -> list[Tensor]:
        """Per stage: G_0(z_0), then h̃_s = G_s(z_s, l_s) on the real low-pass images."""
        zs = G.split_z(batch.z)
        return [G.coarse(zs[0])] + [G.residual(s, zs[s], reals[s][0]) for s in range(1, len(reals))]

    def d_loss(self, G: nn.Module, D: nn.Module, batch: Batch) -> LossTerms:
        reals = real_stages(batch.real, G.levels)
        with torch.no_grad():
            fakes = self._fakes(G, batch, reals)
        total, logs = torch.zeros((), device=batch.real.device), {}
        for s, ((low, h), fake) in enumerate(zip(reals, fakes, strict=True)):
            real_logits, fake_logits = D.level(s, h, low).float(), D.level(s, fake.float(), low).float()
            loss = adversarial.d_logistic(real_logits, fake_logits)  # −log D − log(1 − D(G))
            logs[f"loss/d{s}"] = loss.detach()
            logs[f"score/real{s}"] = torch.sigmoid(real_logits.detach()).mean()
            logs[f"score/fake{s}"] = torch.sigmoid(fake_logits.detach()).mean()
            total = total + loss
        logs["loss/d"] = total.detach()
        return LossTerms(total, logs)

    def g_loss(self, G: nn.Module, D: nn.Module, batch: Batch) -> LossTerms:
        reals = real_stages(batch.real, G.levels)
        fakes = self._fakes(G, batch, reals)
        total, logs = torch.zeros((), device=batch.real.device), {}
        for s, ((low, _), fake) in enumerate(zip(reals, fakes, strict=True)):
            loss = adversarial.g_nonsaturating(D.level(s, fake.float(), low).float())  # −log D(G(z))
            logs[f"loss/g{s}"] = loss.detach()
            total = total + loss
        logs["loss/g"] = total.detach()
        return LossTerms(total, logs)
